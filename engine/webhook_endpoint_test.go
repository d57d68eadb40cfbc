package engine_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/engine"
	"github.com/autodebit/autodebit/sqldb"
	"github.com/autodebit/autodebit/storetest"
	"github.com/autodebit/autodebit/webhook"
)

// hosts is a fake resolver for the webhook URL policy: the tests never
// touch the network.
var hosts = map[string][]string{
	"hooks.shop.example":    {"203.0.113.10", "2001:db8::10"},
	"intranet.shop.example": {"10.1.2.3"},
	"mixed.shop.example":    {"203.0.113.11", "192.168.1.20"}, // one private address is enough to refuse
	"mapped.shop.example":   {"::ffff:127.0.0.1"},
	"cgnat.shop.example":    {"100.64.1.1"},
}

func fakeLookup(_ context.Context, host string) ([]netip.Addr, error) {
	addrs, ok := hosts[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

// endpointEngine is an engine for webhook endpoint tests, on a fresh store
// and a clock the test moves; nothing in it calls Antom.
type endpointEngine struct {
	eng   *engine.Engine
	store *sqldb.Store
	now   time.Time
	logs  *bytes.Buffer
}

func newEndpointEngine(t *testing.T, open storetest.Opener, policy engine.WebhookURLPolicy) *endpointEngine {
	t.Helper()
	keys(t)
	ee := &endpointEngine{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), logs: new(bytes.Buffer)}
	now := func() time.Time { return ee.now }
	ee.store = open.Open(t, sqldb.Config{TokenKey: make([]byte, sqldb.TokenKeySize), NowFunc: now})
	var err error
	ee.eng, err = engine.New(engine.Config{Store: ee.store, Antom: mustAntomClient(t), PublicURL: "http://127.0.0.1", NowFunc: now,
		WebhookURLPolicy: policy, WebhookLookupFunc: fakeLookup, Logger: slog.New(slog.NewTextHandler(ee.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return ee
}

// checkNoSecretsLeaked fails if a secret shows in the endpoint's timeline or
// in the engine's logs.
func (ee *endpointEngine) checkNoSecretsLeaked(t *testing.T, id string, secrets ...string) {
	t.Helper()
	entries, err := ee.store.FindTimeline(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, e := range entries {
		text.WriteString(e.Request + e.Response + e.Error)
	}
	text.WriteString(ee.logs.String())
	for _, s := range secrets {
		if body := strings.TrimPrefix(s, webhook.SecretPrefix); strings.Contains(text.String(), body[:12]) {
			t.Fatalf("a secret shows in the timeline or the logs:\n%s", text.String())
		}
	}
}

func TestWebhookEndpoint_CreateUpdateDelete(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		ee := newEndpointEngine(t, open, "")
		ctx := context.Background()
		w, err := ee.eng.CreateWebhookEndpoint(ctx, engine.WebhookEndpointInput{
			URL: "https://hooks.shop.example/autodebit", EventTypes: []string{"charge.succeeded"}, Description: "Orders",
		})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(w.ID, autodebit.WebhookEndpointIDPrefix) || !w.Enabled || w.Version != 1 {
			t.Fatalf("created %+v", *w)
		}
		if key, err := webhook.ParseSecret(w.Secret); err != nil || len(key) != webhook.SecretBytes {
			t.Fatalf("secret %q: %d bytes, %v", w.Secret, len(key), err)
		}
		stored, err := ee.store.FindWebhookEndpointByID(ctx, w.ID)
		if err != nil || stored.Secret != w.Secret || stored.URL != w.URL {
			t.Fatalf("stored %+v, %v", stored, err)
		}
		created := w.Secret

		// Disable, then re-enable after failures: FailingSince and the
		// reason are cleared.
		off := false
		w, err = ee.eng.UpdateWebhookEndpoint(ctx, w.ID, engine.WebhookEndpointUpdate{Enabled: &off})
		if err != nil || w.Enabled || w.DisabledReason != engine.DisabledByMerchant {
			t.Fatalf("disabled: %+v, %v", w, err)
		}
		mustTxE(t, ee.store, func(tx autodebit.Tx) error {
			w, err := tx.FindWebhookEndpointForUpdate(ctx, w.ID)
			if err != nil {
				return err
			}
			w.FailingSince, w.DisabledReason = ee.now.Add(-5*24*time.Hour), "Deliveries failed for 5 days."
			return tx.UpdateWebhookEndpoint(ctx, w)
		})
		on := true
		newURL, types, desc := "https://hooks.shop.example/v2", []string{}, ""
		w, err = ee.eng.UpdateWebhookEndpoint(ctx, w.ID, engine.WebhookEndpointUpdate{Enabled: &on, URL: &newURL, EventTypes: &types, Description: &desc})
		if err != nil {
			t.Fatal(err)
		}
		if !w.Enabled || !w.FailingSince.IsZero() || w.DisabledReason != "" || w.URL != newURL || w.EventTypes != nil || w.Description != "" {
			t.Fatalf("re-enabled: %+v", *w)
		}
		if w.Secret != created {
			t.Fatal("an update changed the secret")
		}
		// An update that changes nothing writes nothing.
		version := w.Version
		if w, err = ee.eng.UpdateWebhookEndpoint(ctx, w.ID, engine.WebhookEndpointUpdate{URL: &newURL}); err != nil || w.Version != version {
			t.Fatalf("no-op update: version %d → %d, %v", version, w.Version, err)
		}

		// Bad input is refused, naming the problem, and changes nothing.
		for name, u := range map[string]engine.WebhookEndpointUpdate{
			"relative url":     {URL: ptr("/hook")},
			"private url":      {URL: ptr("https://intranet.shop.example/hook")},
			"bad event type":   {EventTypes: &[]string{"charge"}},
			"long description": {Description: ptr(strings.Repeat("x", 257))},
		} {
			_, err := ee.eng.UpdateWebhookEndpoint(ctx, w.ID, u)
			if autodebit.ErrorCode(err) != autodebit.EINVALID {
				t.Errorf("%s: %v, want invalid", name, err)
			}
		}
		if got, _ := ee.store.FindWebhookEndpointByID(ctx, w.ID); got.Version != version || got.URL != newURL {
			t.Fatalf("after refused updates: %+v", *got)
		}
		if _, err := ee.eng.UpdateWebhookEndpoint(ctx, "we_nope", engine.WebhookEndpointUpdate{Enabled: &on}); autodebit.ErrorCode(err) != autodebit.ENOTFOUND {
			t.Fatalf("update unknown: %v", err)
		}

		deleted, err := ee.eng.DeleteWebhookEndpoint(ctx, w.ID)
		if err != nil || deleted.ID != w.ID {
			t.Fatalf("delete: %+v, %v", deleted, err)
		}
		if _, err := ee.store.FindWebhookEndpointByID(ctx, w.ID); autodebit.ErrorCode(err) != autodebit.ENOTFOUND {
			t.Fatalf("after delete: %v", err)
		}
		if _, err := ee.eng.DeleteWebhookEndpoint(ctx, w.ID); autodebit.ErrorCode(err) != autodebit.ENOTFOUND {
			t.Fatalf("delete again: %v", err)
		}

		// Each change is on the endpoint's timeline, which outlives it.
		entries, err := ee.store.FindTimeline(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range entries {
			kinds = append(kinds, strings.Fields(e.Response)[0])
		}
		if got := strings.Join(kinds, " "); got != "CREATED UPDATED UPDATED DELETED" {
			t.Fatalf("timeline %q", got)
		}
		ee.checkNoSecretsLeaked(t, w.ID, created)
	})
}

func mustTxE(t *testing.T, s autodebit.Store, fn func(tx autodebit.Tx) error) {
	t.Helper()
	if err := s.WithTx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookEndpoint_Idempotency(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		ee := newEndpointEngine(t, open, "")
		ctx := context.Background()
		in := engine.WebhookEndpointInput{URL: "https://hooks.shop.example/a", EventTypes: []string{"refund.failed", "charge.failed"}, IdempotencyKey: "we-1"}
		first, err := ee.eng.CreateWebhookEndpoint(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		// The same request (event types in any order) replays the endpoint
		// and its secret: the first answer may have been lost.
		in.EventTypes = []string{"charge.failed", "refund.failed"}
		rctx, replayed := engine.WithReplayReport(ctx)
		again, err := ee.eng.CreateWebhookEndpoint(rctx, in)
		if err != nil || again.ID != first.ID || again.Secret != first.Secret || !*replayed {
			t.Fatalf("replay: %v (replayed %t), %v", again, *replayed, err)
		}
		other := in
		other.URL = "https://hooks.shop.example/b"
		if _, err := ee.eng.CreateWebhookEndpoint(ctx, other); autodebit.ErrorCode(err) != autodebit.ECONFLICT {
			t.Fatalf("same key, other URL: %v, want conflict", err)
		}
		// Once rotated, a replay does not hand out the new secret.
		if _, err := ee.eng.RotateWebhookEndpointSecret(ctx, first.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := ee.eng.CreateWebhookEndpoint(ctx, in); autodebit.ErrorCode(err) != autodebit.ECONFLICT {
			t.Fatalf("replay after rotation: %v, want conflict", err)
		}
		if _, total, _ := ee.store.FindWebhookEndpoints(ctx, autodebit.WebhookEndpointFilter{}); total != 1 {
			t.Fatalf("%d endpoints, want 1", total)
		}
	})
}

func TestWebhookEndpoint_RotateSecret(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		ee := newEndpointEngine(t, open, "")
		ctx := context.Background()
		w, err := ee.eng.CreateWebhookEndpoint(ctx, engine.WebhookEndpointInput{URL: "https://hooks.shop.example/a"})
		if err != nil {
			t.Fatal(err)
		}
		first := w.Secret
		if got := w.SigningSecrets(ee.now); len(got) != 1 || got[0] != first {
			t.Fatalf("signing secrets before rotation: %d", len(got))
		}
		ee.now = ee.now.Add(time.Hour)
		r, err := ee.eng.RotateWebhookEndpointSecret(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Secret == first || r.PreviousSecret != first || !r.PreviousSecretExpiresAt.Equal(ee.now.Add(24*time.Hour)) {
			t.Fatalf("rotated: new same as old %t, previous kept %t, expires %v", r.Secret == first, r.PreviousSecret == first, r.PreviousSecretExpiresAt)
		}
		if _, err := webhook.ParseSecret(r.Secret); err != nil {
			t.Fatal(err)
		}
		stored, err := ee.store.FindWebhookEndpointByID(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Both sign for 24 hours, then only the new one.
		if got := stored.SigningSecrets(ee.now.Add(24*time.Hour - time.Second)); len(got) != 2 || got[0] != r.Secret || got[1] != first {
			t.Fatalf("signing secrets during the overlap: %d", len(got))
		}
		if got := stored.SigningSecrets(ee.now.Add(24 * time.Hour)); len(got) != 1 || got[0] != r.Secret {
			t.Fatalf("signing secrets after the overlap: %d", len(got))
		}
		// Rotating again keeps only the latest previous secret.
		second := r.Secret
		r, err = ee.eng.RotateWebhookEndpointSecret(ctx, w.ID)
		if err != nil || r.PreviousSecret != second || r.Secret == second || r.Secret == first {
			t.Fatalf("second rotation: %v", err)
		}
		if _, err := ee.eng.RotateWebhookEndpointSecret(ctx, "we_nope"); autodebit.ErrorCode(err) != autodebit.ENOTFOUND {
			t.Fatalf("rotate unknown: %v", err)
		}

		// A confirmation sent twice rotates once: the second names the
		// rotation it saw, which is no longer the latest.
		seen := r.PreviousSecretExpiresAt
		ee.now = ee.now.Add(time.Minute)
		once, err := ee.eng.RotateWebhookEndpointSecretOnce(ctx, w.ID, seen)
		if err != nil || once.PreviousSecret != r.Secret {
			t.Fatalf("rotate once: %v", err)
		}
		if _, err := ee.eng.RotateWebhookEndpointSecretOnce(ctx, w.ID, seen); autodebit.ErrorCode(err) != autodebit.ECONFLICT {
			t.Fatalf("the same rotation again: %v, want ECONFLICT", err)
		}
		if got, _ := ee.store.FindWebhookEndpointByID(ctx, w.ID); got.Secret != once.Secret || got.PreviousSecret != r.Secret {
			t.Fatalf("a refused rotation changed the secrets")
		}
		fresh, err := ee.eng.CreateWebhookEndpoint(ctx, engine.WebhookEndpointInput{URL: "https://hooks.shop.example/b"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ee.eng.RotateWebhookEndpointSecretOnce(ctx, fresh.ID, time.Time{}); err != nil {
			t.Fatalf("first rotation of a new endpoint: %v", err)
		}
		if _, err := ee.eng.RotateWebhookEndpointSecretOnce(ctx, fresh.ID, time.Time{}); autodebit.ErrorCode(err) != autodebit.ECONFLICT {
			t.Fatalf("first rotation sent twice: %v, want ECONFLICT", err)
		}
		ee.checkNoSecretsLeaked(t, w.ID, first, second, r.Secret, once.Secret)
	})
}

func TestWebhookEndpoint_URLPolicy(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		ctx := context.Background()
		public := newEndpointEngine(t, open, engine.WebhookURLsPublic)
		anyURL := newEndpointEngine(t, open, engine.WebhookURLsAny)
		for _, c := range []struct {
			url        string
			publicCode string // under WebhookURLsPublic; WebhookURLsAny resolves nothing and takes them all
		}{
			{"https://hooks.shop.example/a", ""},
			{"http://203.0.113.5:8443/a", ""},
			{"https://[2001:db8::5]/a", ""},
			{"http://127.0.0.1:9000/a", autodebit.EINVALID},
			{"http://localhost.shop.example/a", autodebit.EINVALID}, // no such host
			{"http://10.0.0.1/a", autodebit.EINVALID},
			{"http://172.16.5.4/a", autodebit.EINVALID},
			{"http://192.168.0.1/a", autodebit.EINVALID},
			{"http://169.254.169.254/latest/meta-data", autodebit.EINVALID}, // cloud metadata
			{"http://0.0.0.0:8080/a", autodebit.EINVALID},
			{"http://[::1]/a", autodebit.EINVALID},
			{"http://[fe80::1]/a", autodebit.EINVALID},
			{"http://[fd00::1]/a", autodebit.EINVALID},
			{"http://[::ffff:10.0.0.1]/a", autodebit.EINVALID},
			{"https://intranet.shop.example/a", autodebit.EINVALID},
			{"https://mixed.shop.example/a", autodebit.EINVALID},
			{"https://mapped.shop.example/a", autodebit.EINVALID},
			{"https://cgnat.shop.example/a", autodebit.EINVALID},
			// IPv6 forms that carry a private IPv4 address, and reserved ranges.
			{"http://[64:ff9b::a9fe:a9fe]/a", autodebit.EINVALID}, // NAT64 of 169.254.169.254
			{"http://[64:ff9b:1::a00:1]/a", autodebit.EINVALID},
			{"http://[2002:a00:1::1]/a", autodebit.EINVALID}, // 6to4 of 10.0.0.1
			{"http://[::7f00:1]/a", autodebit.EINVALID},      // IPv4-compatible 127.0.0.1
			{"http://[fec0::1]/a", autodebit.EINVALID},
			{"http://240.0.0.1/a", autodebit.EINVALID},
			{"http://198.18.0.1/a", autodebit.EINVALID},
			{"http://192.0.0.8/a", autodebit.EINVALID},
			{"http://[64:ff9b::cb00:710a]/a", ""}, // NAT64 of a public address
		} {
			_, err := public.eng.CreateWebhookEndpoint(ctx, engine.WebhookEndpointInput{URL: c.url})
			if got := autodebit.ErrorCode(err); got != c.publicCode {
				t.Errorf("public policy, %s: %v, want %q", c.url, err, c.publicCode)
			} else if err != nil && !strings.Contains(autodebit.ErrorMessage(err), "host") {
				t.Errorf("public policy, %s: message %q does not name the host", c.url, autodebit.ErrorMessage(err))
			}
			if _, err := anyURL.eng.CreateWebhookEndpoint(ctx, engine.WebhookEndpointInput{URL: c.url}); err != nil {
				t.Errorf("any policy, %s: %v", c.url, err)
			}
		}
		if _, total, _ := public.store.FindWebhookEndpoints(ctx, autodebit.WebhookEndpointFilter{}); total != 4 {
			t.Fatalf("public policy stored %d endpoints, want the 4 public ones", total)
		}
		// A DNS failure other than "no such host" is worth a retry.
		broken, err := engine.New(engine.Config{Store: public.store, Antom: mustAntomClient(t), PublicURL: "http://127.0.0.1",
			WebhookLookupFunc: func(context.Context, string) ([]netip.Addr, error) {
				return nil, &net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}
			}, Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := broken.CreateWebhookEndpoint(ctx, engine.WebhookEndpointInput{URL: "https://hooks.shop.example/b"}); autodebit.ErrorCode(err) != autodebit.EUNAVAILABLE {
			t.Fatalf("DNS failure: %v, want unavailable", err)
		}
	})
}

func mustAntomClient(t *testing.T) *antom.Client {
	t.Helper()
	keys(t)
	c, err := antom.NewClient(antom.Config{BaseURL: "http://127.0.0.1:1", ClientID: "client_1", PrivateKey: merchantKey,
		AntomPublicKey: &antomKey.PublicKey, ObserveFunc: engine.Observe})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWebhookEndpoint_PolicyConfig(t *testing.T) {
	_, err := engine.New(engine.Config{Store: storetest.OpenSQLite(t, storetest.Config()), Antom: mustAntomClient(t),
		PublicURL: "http://127.0.0.1", WebhookURLPolicy: "private-too"})
	if err == nil || !strings.Contains(err.Error(), "WebhookURLPolicy") {
		t.Fatalf("unknown policy: %v", err)
	}
}
