package client_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/client"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
	"github.com/autodebit/autodebit/storetest"
)

// newTestServer serves the API of an engine on a fresh SQLite store whose
// Antom cannot be reached, for calls that need no Antom, and returns a
// client of it and the store.
func newTestServer(t *testing.T, configure func(*engine.Config)) (*client.Client, autodebit.Store) {
	t.Helper()
	kp, err := antom.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	ac, err := antom.NewClient(antom.Config{BaseURL: "http://127.0.0.1:1", ClientID: "client_1", PrivateKey: kp.PrivateKey,
		AntomPublicKey: &kp.PrivateKey.PublicKey, ObserveFunc: engine.Observe})
	if err != nil {
		t.Fatal(err)
	}
	store := storetest.OpenSQLite(t, storetest.Config())
	cfg := engine.Config{Store: store, Antom: ac, PublicURL: "http://127.0.0.1"}
	if configure != nil {
		configure(&cfg)
	}
	eng, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const key = "client-test-api-key-0123"
	srv, err := adhttp.NewServer(adhttp.Config{Engine: eng, APIKey: key, Verifier: &antom.NotificationVerifier{}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return client.New(hs.URL, key), store
}

// TestClient_Subscriptions runs every subscription call against a server
// whose token was stored directly (no Antom call is made: the first period
// starts tomorrow).
func TestClient_Subscriptions(t *testing.T) {
	c, store := newTestServer(t, nil)
	ctx := context.Background()

	tok := &autodebit.Token{CustomerID: "cus_1", Wallet: "GCASH", AccessToken: "2811" + autodebit.NewID("at"), UserLoginID: "63****1234"}
	err := store.WithTx(ctx, func(tx autodebit.Tx) error {
		a := &autodebit.Authorization{CustomerID: "cus_1", Wallet: "GCASH", AuthState: autodebit.NewAuthState(), QRText: "q", QRImageURL: "q.png",
			ExpiresAt: time.Now().Add(time.Minute)}
		if err := tx.CreateAuthorization(ctx, a); err != nil {
			return err
		}
		tok.AuthorizationID = a.ID
		return tx.CreateToken(ctx, tok)
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	none := []string{}
	p := client.SubscriptionParams{TokenID: tok.ID, Amount: adhttp.Amount{Currency: "PHP", Value: "1500"}, Interval: "week", IntervalCount: 2,
		StartAt: start.Format(time.RFC3339), Cycles: 6, TimeZone: "Asia/Manila", RetrySchedule: &none, IdempotencyKey: "k1"}
	sub, err := c.CreateSubscription(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Status != "active" || sub.Interval != "week" || sub.IntervalCount != 2 || len(sub.RetrySchedule) != 0 || sub.NextChargeAt == nil ||
		!sub.NextChargeAt.Equal(start) || sub.Period.Number != 1 || !sub.Period.End.Equal(start.AddDate(0, 0, 14)) || sub.TimeZone != "Asia/Manila" {
		t.Fatalf("created %+v", sub)
	}
	if again, err := c.CreateSubscription(ctx, p); err != nil || again.ID != sub.ID {
		t.Fatalf("replay: %+v, %v", again, err)
	}
	p.Cycles = 7
	if _, err := c.CreateSubscription(ctx, p); client.ErrorCode(err) != autodebit.ECONFLICT {
		t.Fatalf("same key, other cycles: %v", err)
	}
	if list, err := c.Subscriptions(ctx, client.ListParams{TokenID: tok.ID, Status: "active"}); err != nil || list.Total != 1 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if got, err := c.PauseSubscription(ctx, sub.ID); err != nil || got.Status != "paused" || got.NextChargeAt != nil {
		t.Fatalf("pause: %+v, %v", got, err)
	}
	if got, err := c.ResumeSubscription(ctx, sub.ID); err != nil || got.Status != "active" || !got.NextChargeAt.Equal(start) {
		t.Fatalf("resume before the first period: %+v, %v; want period 1 still next", got, err)
	}
	if got, err := c.CancelSubscription(ctx, sub.ID, "moved away"); err != nil || got.Status != "cancelled" || got.CancelReason != "moved away" {
		t.Fatalf("cancel: %+v, %v", got, err)
	}
	if charges, err := c.SubscriptionCharges(ctx, sub.ID, 0); err != nil || charges.Total != 0 {
		t.Fatalf("charges: %+v, %v", charges, err)
	}
	tl, err := c.Timeline(ctx, sub.ID)
	if err != nil || tl.Total != 4 {
		t.Fatalf("timeline: %+v, %v; want created, paused, resumed, cancelled", tl, err)
	}
	if _, err := c.Subscription(ctx, "sub_nope"); client.ErrorCode(err) != autodebit.ENOTFOUND {
		t.Fatalf("unknown: %v", err)
	}
}
