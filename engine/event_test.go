package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/client"
	"github.com/autodebit/autodebit/engine"
	"github.com/autodebit/autodebit/storetest"
)

// get reads path from the REST API and returns its body, compacted.
func (s *stack) get(path string) []byte {
	s.tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.tb.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		s.tb.Fatalf("GET %s: %v", path, err)
	}
	return out.Bytes()
}

// events returns an object's events, oldest first.
func (s *stack) events(objectID string) []*autodebit.Event {
	s.tb.Helper()
	evs, total, err := s.store.FindEvents(context.Background(), autodebit.EventFilter{ObjectID: objectID})
	if err != nil || total != len(evs) {
		s.tb.Fatalf("events of %s: total %d of %d, %v", objectID, total, len(evs), err)
	}
	slices.SortFunc(evs, func(a, b *autodebit.Event) int { return int(a.Sequence - b.Sequence) })
	return evs
}

// wantEvents checks that an object has exactly the events want, in order,
// numbered 1, 2, …, and that the last one's data.object is what GET path
// returns now.
func (s *stack) wantEvents(objectID, path string, want ...autodebit.EventType) {
	s.tb.Helper()
	evs := s.events(objectID)
	var got []autodebit.EventType
	for i, e := range evs {
		got = append(got, e.Type)
		if e.Sequence != int64(i+1) {
			s.tb.Errorf("event %d of %s has sequence %d, want %d", i, objectID, e.Sequence, i+1)
		}
	}
	if !slices.Equal(got, want) {
		s.tb.Fatalf("events of %s: %v, want %v", objectID, got, want)
	}
	if len(evs) == 0 {
		return
	}
	if g, w := string(evs[len(evs)-1].Data), string(s.get(path)); g != w {
		s.tb.Fatalf("data.object of %s's %s event differs from its GET:\n event %s\n GET   %s", objectID, want[len(want)-1], g, w)
	}
}

func TestEvents_LinkChargeRefundRevoke(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		s.wantEvents(tok.AuthorizationID, "/v1/authorizations/"+tok.AuthorizationID, autodebit.EventAuthorizationActive)
		s.wantEvents(tok.ID, "/v1/tokens/"+tok.ID) // a new token is told by its authorization's event

		c := s.mustCharge(tok.ID, 1500, "PHP")
		s.wantEvents(c.ID, "/v1/charges/"+c.ID, autodebit.EventChargeSucceeded)
		// Pay's answer or its notification settles it, whichever is first;
		// the event says which, as GET does.
		var obj struct{ Status, SettledBy string }
		json.Unmarshal(s.events(c.ID)[0].Data, &obj)
		if obj.Status != "SUCCESS" || obj.SettledBy == "" {
			t.Fatalf("data.object says %+v, want SUCCESS with who settled it", obj)
		}

		r, err := s.eng.CreateRefund(ctx, engine.RefundInput{ChargeID: c.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 500}})
		if err != nil || r.Status != autodebit.RefundSuccess {
			t.Fatalf("refund = %+v, %v", r, err)
		}
		s.wantEvents(r.ID, "/v1/refunds/"+r.ID, autodebit.EventRefundSucceeded)
		// The refund changes the charge's refundedAmount, not its status:
		// no new charge event.
		if n := len(s.events(c.ID)); n != 1 {
			t.Fatalf("charge has %d events after a refund, want 1", n)
		}

		if _, err := s.sim.UpdateAccount("GCASH", defaultGCashLogin, antomsim.AccountUpdate{Balance: ptr(int64(100))}); err != nil {
			t.Fatal(err)
		}
		declined := s.mustCharge(tok.ID, 1500, "PHP")
		s.wantEvents(declined.ID, "/v1/charges/"+declined.ID, autodebit.EventChargeFailed)
		if _, err := s.sim.UpdateAccount("GCASH", defaultGCashLogin, antomsim.AccountUpdate{Balance: ptr(int64(1_000_000))}); err != nil {
			t.Fatal(err)
		}

		s.setPayMode(antomsim.PayModeProcessing)
		pending := s.mustCharge(tok.ID, 1500, "PHP")
		s.wantEvents(pending.ID, "/v1/charges/"+pending.ID) // INIT: nothing final yet
		if _, err := s.eng.CancelCharge(ctx, pending.ID); err != nil {
			t.Fatal(err)
		}
		s.wantEvents(pending.ID, "/v1/charges/"+pending.ID, autodebit.EventChargeCancelled)
		s.advance(time.Minute) // the close's notifications change nothing
		time.Sleep(100 * time.Millisecond)
		s.wantEvents(pending.ID, "/v1/charges/"+pending.ID, autodebit.EventChargeCancelled)

		if _, err := s.eng.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		s.wantEvents(tok.ID, "/v1/tokens/"+tok.ID, autodebit.EventTokenRevoked)
		var revoked struct{ Status, RevokedBy string }
		json.Unmarshal(s.events(tok.ID)[0].Data, &revoked)
		if revoked.Status != "REVOKED" || revoked.RevokedBy != autodebit.RevokedByMerchant {
			t.Fatalf("token.revoked says %+v, want REVOKED by merchant", revoked)
		}
		// Revoking again changes nothing and tells nothing.
		if _, err := s.eng.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		s.wantEvents(tok.ID, "/v1/tokens/"+tok.ID, autodebit.EventTokenRevoked)
		s.checkTruth()
	})
}

// A notification settles a charge (or refund, or ends a token) with exactly
// one event; its replays and duplicates add none.
func TestEvents_NotificationsEmitOnceAndReplaysNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		s.setFaults(antomsim.Faults{Notify: map[string][]antomsim.NotifyFault{"*": {{Kind: antomsim.FaultDuplicate, Probability: 1}}}})
		tok := s.link("cus_1", "GCASH")
		s.setPayMode(antomsim.PayModeProcessing)
		c := s.mustCharge(tok.ID, 1500, "PHP")
		// Block the inquiry so the notification is what settles it.
		s.setFaults(antomsim.Faults{
			API:    map[string][]antomsim.APIFault{antom.APIInquiryPayment: {{Kind: antomsim.FaultHTTP5xx, Probability: 1}}},
			Notify: map[string][]antomsim.NotifyFault{"*": {{Kind: antomsim.FaultDuplicate, Probability: 1}}},
		})
		s.advance(5 * time.Second)
		got := s.waitCharge(c.ID, 0)
		if got.SettledBy != autodebit.SettledByNotification {
			t.Fatalf("charge settled by %s, want notification", got.SettledBy)
		}
		s.wantEvents(c.ID, "/v1/charges/"+c.ID, autodebit.EventChargeSucceeded)
		// The same notification again: acknowledged, nothing new.
		s.notify("/antom/notify/payment", paymentResult(got.PaymentRequestID, got.PaymentID, "1500"))
		s.setFaults(antomsim.Faults{})
		s.advance(time.Minute)
		time.Sleep(100 * time.Millisecond)
		s.wantEvents(c.ID, "/v1/charges/"+c.ID, autodebit.EventChargeSucceeded)

		// The wallet unlinks: token.revoked by the wallet, once, even when
		// TOKEN_CANCELED is delivered again.
		if _, err := s.sim.CancelToken(tok.AccessToken, "user unlinked"); err != nil {
			t.Fatal(err)
		}
		s.waitFor("token REVOKED", func() bool {
			t, _ := s.store.FindTokenByID(context.Background(), tok.ID)
			return t.Status == autodebit.TokenRevoked
		})
		s.notify("/antom/notify/authorization", `{"authorizationNotifyType":"TOKEN_CANCELED","accessToken":"`+tok.AccessToken+`","reason":"user unlinked","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."}}`)
		s.wantEvents(tok.ID, "/v1/tokens/"+tok.ID, autodebit.EventTokenRevoked)
		var obj struct{ RevokedBy string }
		json.Unmarshal(s.events(tok.ID)[0].Data, &obj)
		if obj.RevokedBy != autodebit.RevokedByWallet {
			t.Fatalf("token.revoked says revokedBy %q, want wallet", obj.RevokedBy)
		}
	})
}

func TestEvents_RefundSettledLater(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		c := s.mustCharge(tok.ID, 1500, "PHP")
		// The refund's answer is lost; notifyRefund or the inquiry settles it,
		// and whichever is second tells nothing.
		s.setFaults(antomsim.Faults{API: map[string][]antomsim.APIFault{antom.APIRefund: {{Kind: antomsim.FaultTimeout, Probability: 1, Times: 4, Latency: antomsim.Duration(10 * time.Millisecond)}}}})
		r, err := s.eng.CreateRefund(ctx, engine.RefundInput{ChargeID: c.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 1500}})
		if err != nil {
			t.Fatal(err)
		}
		s.setFaults(antomsim.Faults{})
		s.advance(15 * time.Second)
		s.waitFor("refund SUCCESS", func() bool {
			got, _ := s.store.FindRefundByID(ctx, r.ID)
			return got.Status == autodebit.RefundSuccess
		})
		s.advance(30 * time.Second)
		time.Sleep(100 * time.Millisecond)
		s.wantEvents(r.ID, "/v1/refunds/"+r.ID, autodebit.EventRefundSucceeded)
	})
}

func TestEvents_AuthorizationsFailAndExpire(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{engine: func(c *engine.Config) { c.AuthCodeWindow = 500 * time.Millisecond }})
		ctx := context.Background()

		// Consult fails: stored FAILED in one transaction, with its event.
		s.setFaults(antomsim.Faults{API: map[string][]antomsim.APIFault{antom.APIConsult: {{Kind: antomsim.FaultHTTP5xx, Probability: 1}}}})
		if _, err := s.eng.CreateAuthorization(ctx, "cus_consult", "GCASH"); autodebit.ErrorCode(err) != autodebit.EUNAVAILABLE {
			t.Fatalf("err = %v, want EUNAVAILABLE", err)
		}
		s.setFaults(antomsim.Faults{})
		list, _, err := s.store.FindAuthorizations(ctx, autodebit.AuthorizationFilter{CustomerID: "cus_consult"})
		if err != nil || len(list) != 1 {
			t.Fatalf("authorizations %v, %v", list, err)
		}
		s.wantEvents(list[0].ID, "/v1/authorizations/"+list[0].ID, autodebit.EventAuthorizationFailed)

		// applyToken refused: AUTHORIZED tells nothing, FAILED does.
		a, err := s.eng.CreateAuthorization(ctx, "cus_1", "GCASH")
		if err != nil {
			t.Fatal(err)
		}
		s.notify("/antom/notify/authorization", `{"authorizationNotifyType":"AUTHCODE_CREATED","authCode":"FORGED0000","authState":"`+authState(t, s, a.ID)+`","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."}}`)
		s.waitFor("authorization FAILED", func() bool {
			got, _ := s.store.FindAuthorizationByID(ctx, a.ID)
			return got.Status == autodebit.AuthorizationFailed
		})
		s.wantEvents(a.ID, "/v1/authorizations/"+a.ID, autodebit.EventAuthorizationFailed)

		// No authCode in 15 minutes: expired.
		b, err := s.eng.CreateAuthorization(ctx, "cus_2", "GCASH")
		if err != nil {
			t.Fatal(err)
		}
		s.wantEvents(b.ID, "/v1/authorizations/"+b.ID)
		s.advance(autodebit.AuthorizationTTL)
		s.waitFor("authorization EXPIRED", func() bool {
			got, _ := s.store.FindAuthorizationByID(ctx, b.ID)
			return got.Status == autodebit.AuthorizationExpired
		})
		s.wantEvents(b.ID, "/v1/authorizations/"+b.ID, autodebit.EventAuthorizationExpired)
	})
}

// A token whose access token expired ends EXPIRED with token.expired, and a
// pay answered INVALID_ACCESS_TOKEN fails the charge and revokes the token
// in one transaction, each with its event.
func TestEvents_TokensExpireOrDie(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{sim: func(c *antomsim.Config) {
			c.DefaultTokenValidity = antomsim.TokenValidity{AccessToken: time.Hour, RefreshToken: 2 * time.Hour}
		}})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		s.advance(time.Hour)
		if _, err := s.eng.CreateCharge(ctx, engine.ChargeInput{TokenID: tok.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 1500}}); autodebit.ErrorCode(err) != autodebit.ECONFLICT {
			t.Fatalf("charge on an expired token: err = %v, want ECONFLICT", err)
		}
		s.wantEvents(tok.ID, "/v1/tokens/"+tok.ID, autodebit.EventTokenExpired)

		// Antom forgets a token (cancelled there without telling us).
		dead := s.link("cus_2", "GCASH")
		s.setFaults(antomsim.Faults{Notify: map[string][]antomsim.NotifyFault{"*": {{Kind: antomsim.FaultDrop, Probability: 1}}}})
		if _, err := s.sim.CancelToken(dead.AccessToken, "gone"); err != nil {
			t.Fatal(err)
		}
		c := s.mustCharge(dead.ID, 1500, "PHP")
		if c.Status != autodebit.ChargeFail || c.ResultCode != antom.CodeInvalidAccessToken {
			t.Fatalf("charge = %s %s, want FAIL INVALID_ACCESS_TOKEN", c.Status, c.ResultCode)
		}
		s.wantEvents(c.ID, "/v1/charges/"+c.ID, autodebit.EventChargeFailed)
		s.wantEvents(dead.ID, "/v1/tokens/"+dead.ID, autodebit.EventTokenRevoked)
		var obj struct{ RevokedBy string }
		json.Unmarshal(s.events(dead.ID)[0].Data, &obj)
		if obj.RevokedBy != autodebit.RevokedByAntom {
			t.Fatalf("token.revoked says revokedBy %q, want antom", obj.RevokedBy)
		}
	})
}

// GET /v1/events and /v1/events/{id} through the Go client: PRODUCT.md's
// shape, filters, and clear refusals.
func TestEvents_API(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		api := client.New(s.srv.URL, apiKey)
		tok := s.link("cus_1", "GCASH")
		// The list is ordered by creation time: let the clock move between
		// the changes, as it does outside tests.
		s.advance(time.Second)
		c1 := s.mustCharge(tok.ID, 1500, "PHP")
		s.advance(time.Second)
		c2 := s.mustCharge(tok.ID, 1600, "PHP")

		all, err := api.Events(ctx, client.EventListParams{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range all.Data {
			got = append(got, e.Type+" "+e.ObjectID)
		}
		want := []string{"charge.succeeded " + c2.ID, "charge.succeeded " + c1.ID, "authorization.active " + tok.AuthorizationID}
		if all.Total != 3 || !slices.Equal(got, want) {
			t.Fatalf("events %v (total %d), want %v, newest first", got, all.Total, want)
		}
		page, err := api.Events(ctx, client.EventListParams{Type: "charge.succeeded", Limit: 1, Offset: 1})
		if err != nil || page.Total != 2 || len(page.Data) != 1 || page.Data[0].ObjectID != c1.ID {
			t.Fatalf("second charge.succeeded = %+v, %v; want %s's, total 2", page, err, c1.ID)
		}
		if byObj, err := api.Events(ctx, client.EventListParams{ObjectID: c2.ID}); err != nil || byObj.Total != 1 || byObj.Data[0].Sequence != 1 {
			t.Fatalf("events of %s = %+v, %v", c2.ID, byObj, err)
		}
		if later, err := api.Events(ctx, client.EventListParams{CreatedAfter: s.sim.Now().Add(time.Hour).Format(time.RFC3339)}); err != nil || later.Total != 0 {
			t.Fatalf("events created after an hour from now = %+v, %v", later, err)
		}

		one, err := api.Event(ctx, all.Data[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		raw := s.get("/v1/events/" + one.ID)
		var shape map[string]json.RawMessage
		json.Unmarshal(raw, &shape)
		var keys []string
		for k := range shape {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"createdAt", "data", "id", "objectId", "sequence", "type"}) {
			t.Fatalf("event keys %v, want PRODUCT.md's", keys)
		}
		if g, w := string(one.Data.Object), string(s.get("/v1/charges/"+c2.ID)); g != w {
			t.Fatalf("data.object %s, want GET's %s", g, w)
		}

		_, err = api.Events(ctx, client.EventListParams{Type: "charge.paid"})
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusBadRequest || !strings.Contains(ce.Message, "charge.paid") || !strings.Contains(ce.Message, "charge.succeeded") {
			t.Fatalf("unknown type: %v, want a 400 naming it and the known types", err)
		}
		if _, err := api.Event(ctx, "evt_none"); client.ErrorCode(err) != autodebit.ENOTFOUND {
			t.Fatalf("unknown event: %v, want not found", err)
		}
	})
}

// Events older than Config.EventRetention are deleted in batches, by
// CleanupEvents and by the periodic cleanup_events job; newer ones stay.
func TestEvents_Retention(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{engine: func(c *engine.Config) { c.EventRetention = 48 * time.Hour }})
		ctx := context.Background()
		now := s.sim.Now()
		add := func(objectID string, age time.Duration) {
			t.Helper()
			err := s.store.WithTx(ctx, func(tx autodebit.Tx) error {
				return tx.CreateEvent(ctx, &autodebit.Event{Type: autodebit.EventChargeSucceeded, ObjectID: objectID, Data: []byte(`{}`), CreatedAt: now.Add(-age)})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := range 5 {
			add("chg_old", 72*time.Hour+time.Duration(i)*time.Minute)
		}
		add("chg_new", 47*time.Hour)

		defer engine.SetCleanupBatch(2)()
		n, err := s.eng.CleanupEvents(ctx)
		if err != nil || n != 5 {
			t.Fatalf("CleanupEvents = %d, %v; want the 5 older than 48h, in batches of 2", n, err)
		}
		if left := s.events("chg_old"); len(left) != 0 {
			t.Fatalf("%d old events left", len(left))
		}
		if left := s.events("chg_new"); len(left) != 1 {
			t.Fatalf("%d events of chg_new left, want the one inside the retention", len(left))
		}

		// Two hours on, that one is past the retention too: the periodic job
		// (which runs when the process starts) deletes it.
		s.advance(2 * time.Hour)
		s.crash()
		s.start()
		s.waitFor("cleanup_events to delete the expired event", func() bool {
			evs, _, err := s.store.FindEvents(ctx, autodebit.EventFilter{ObjectID: "chg_new"})
			return err == nil && len(evs) == 0
		})
	})
}
