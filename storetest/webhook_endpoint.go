package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/sqldb"
	"github.com/autodebit/autodebit/webhook"
)

func newWebhookEndpoint(tb testing.TB, url string) *autodebit.WebhookEndpoint {
	tb.Helper()
	secret, err := webhook.NewSecret()
	if err != nil {
		tb.Fatal(err)
	}
	return &autodebit.WebhookEndpoint{URL: url, Description: "Orders service", Enabled: true, Secret: secret, RequestHash: "hash"}
}

func mustCreateWebhookEndpoint(tb testing.TB, s autodebit.Store, w *autodebit.WebhookEndpoint) *autodebit.WebhookEndpoint {
	tb.Helper()
	mustTx(tb, s, func(tx autodebit.Tx) error { return tx.CreateWebhookEndpoint(context.Background(), w) })
	return w
}

func testWebhookEndpoint(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("CreateFind", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		w := newWebhookEndpoint(t, "https://shop.example/webhooks?src=autodebit")
		w.EventTypes = []string{"charge.succeeded", "charge.failed"}
		w.IdempotencyKey = "we-key-1"
		mustCreateWebhookEndpoint(t, s, w)
		if !strings.HasPrefix(w.ID, autodebit.WebhookEndpointIDPrefix) || w.Version != 1 || w.CreatedAt.IsZero() || !w.UpdatedAt.Equal(w.CreatedAt) {
			t.Fatalf("created %+v", *w)
		}
		got, err := s.FindWebhookEndpointByID(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, w)
		if got, err = s.FindWebhookEndpointByIdempotencyKey(ctx, "we-key-1"); err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, w)
		mustTx(t, s, func(tx autodebit.Tx) error {
			got, err := tx.FindWebhookEndpointForUpdate(ctx, w.ID)
			if err == nil {
				wantEqual(t, got, w)
			}
			return err
		})
		_, err = s.FindWebhookEndpointByID(ctx, "we_nope")
		wantCode(t, err, autodebit.ENOTFOUND)
		_, err = s.FindWebhookEndpointByIdempotencyKey(ctx, "")
		wantCode(t, err, autodebit.ENOTFOUND)

		// Every type (no list) reads back as no list.
		all := mustCreateWebhookEndpoint(t, s, newWebhookEndpoint(t, "http://10.0.0.7:8080/hook"))
		if got, err := s.FindWebhookEndpointByID(ctx, all.ID); err != nil || got.EventTypes != nil || !got.Subscribes("token.revoked") {
			t.Fatalf("endpoint for every type: %+v, %v", got, err)
		}
	})

	t.Run("SecretsSealedAtRest", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		w := mustCreateWebhookEndpoint(t, s, newWebhookEndpoint(t, "https://shop.example/webhooks"))
		w.PreviousSecret, w.PreviousSecretExpiresAt = w.Secret, t0.Add(24*time.Hour)
		next, err := webhook.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		w.Secret = next
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateWebhookEndpoint(ctx, w) })

		for _, col := range []struct{ column, secret string }{{"secret", w.Secret}, {"previous_secret", w.PreviousSecret}} {
			raw := rawString(t, s, "webhook_endpoints", col.column, w.ID)
			if !strings.HasPrefix(raw, "v1.") {
				t.Errorf("%s column = %q, want a sealed value", col.column, raw)
			}
			body := strings.TrimPrefix(col.secret, webhook.SecretPrefix)
			if strings.Contains(raw, col.secret) || strings.Contains(raw, body) || strings.Contains(raw, body[:16]) {
				t.Errorf("%s column holds the secret in the clear: %q", col.column, raw)
			}
		}
		// No other column holds either secret.
		var row string
		if err := s.DB().QueryRow(`SELECT url || description || event_types || COALESCE(idempotency_key, '') || request_hash || disabled_reason
			FROM webhook_endpoints WHERE id = $1`, w.ID).Scan(&row); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(row, strings.TrimPrefix(w.Secret, webhook.SecretPrefix)) || strings.Contains(row, strings.TrimPrefix(w.PreviousSecret, webhook.SecretPrefix)) {
			t.Fatalf("a plain column holds a secret: %q", row)
		}
		got, err := s.FindWebhookEndpointByID(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, w)

		// A sealed secret copied into another row (or the other column)
		// does not open there.
		other := mustCreateWebhookEndpoint(t, s, newWebhookEndpoint(t, "https://other.example/webhooks"))
		if _, err := s.DB().Exec("UPDATE webhook_endpoints SET secret = $1 WHERE id = $2", rawString(t, s, "webhook_endpoints", "secret", w.ID), other.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FindWebhookEndpointByID(ctx, other.ID); err == nil {
			t.Fatal("a secret sealed for another endpoint opened")
		}
		if _, err := s.DB().Exec("UPDATE webhook_endpoints SET secret = previous_secret WHERE id = $1", w.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FindWebhookEndpointByID(ctx, w.ID); err == nil {
			t.Fatal("a previous secret opened as the current one")
		}
	})

	t.Run("Subscribers", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		on := newWebhookEndpoint(t, "https://shop.example/a")
		on.EventTypes = []string{"charge.succeeded"}
		mustCreateWebhookEndpoint(t, s, on)
		off := newWebhookEndpoint(t, "https://shop.example/b")
		off.Enabled, off.DisabledReason = false, "Disabled by the merchant."
		mustCreateWebhookEndpoint(t, s, off)
		all := mustCreateWebhookEndpoint(t, s, newWebhookEndpoint(t, "https://shop.example/c"))
		// A secret that no longer opens does not stop the fan-out.
		if _, err := s.DB().Exec(`UPDATE webhook_endpoints SET secret = 'v1.garbage' WHERE id = $1`, all.ID); err != nil {
			t.Fatal(err)
		}
		var got []*autodebit.WebhookEndpoint
		mustTx(t, s, func(tx autodebit.Tx) (err error) {
			got, err = tx.FindWebhookSubscribers(ctx)
			return err
		})
		if len(got) != 2 || got[0].ID != on.ID || got[1].ID != all.ID {
			t.Fatalf("subscribers = %v, want %s then %s", got, on.ID, all.ID)
		}
		if got[0].Secret != "" || !got[0].Subscribes("charge.succeeded") || got[0].Subscribes("refund.failed") || !got[1].Subscribes("refund.failed") {
			t.Fatalf("subscribers = %+v %+v: want event types and no secret", *got[0], *got[1])
		}
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		var made []*autodebit.WebhookEndpoint
		for i := range 4 {
			w := newWebhookEndpoint(t, "https://shop.example/hook")
			w.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
			w.Enabled = i%2 == 0
			if !w.Enabled {
				w.DisabledReason = "Disabled by the merchant."
			}
			made = append(made, mustCreateWebhookEndpoint(t, s, w))
		}
		ids := func(ws []*autodebit.WebhookEndpoint) string {
			var out []string
			for _, w := range ws {
				out = append(out, w.ID)
			}
			return strings.Join(out, ",")
		}
		check := func(f autodebit.WebhookEndpointFilter, wantTotal int, want ...*autodebit.WebhookEndpoint) {
			t.Helper()
			got, total, err := s.FindWebhookEndpoints(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if total != wantTotal || ids(got) != ids(want) {
				t.Fatalf("filter %+v: %s (total %d), want %s (total %d)", f, ids(got), total, ids(want), wantTotal)
			}
		}
		yes, no := true, false
		check(autodebit.WebhookEndpointFilter{}, 4, made[3], made[2], made[1], made[0])
		check(autodebit.WebhookEndpointFilter{Enabled: &yes}, 2, made[2], made[0])
		check(autodebit.WebhookEndpointFilter{Enabled: &no}, 2, made[3], made[1])
		check(autodebit.WebhookEndpointFilter{Limit: 2, Offset: 1}, 4, made[2], made[1])
		got, _, err := s.FindWebhookEndpoints(ctx, autodebit.WebhookEndpointFilter{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got[0], made[3])
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		w := mustCreateWebhookEndpoint(t, s, newWebhookEndpoint(t, "https://shop.example/webhooks"))
		stale := *w
		w.URL, w.Description, w.EventTypes = "https://shop.example/v2/webhooks", "", []string{"refund.succeeded"}
		w.Enabled, w.DisabledReason, w.FailingSince = false, "Failing for 5 days.", t0
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateWebhookEndpoint(ctx, w) })
		if w.Version != 2 {
			t.Fatalf("Version=%d, want 2", w.Version)
		}
		got, err := s.FindWebhookEndpointByID(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, w)

		// Compare-and-set: a write from the stale copy fails and changes nothing.
		stale.Description = "stale"
		err = s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateWebhookEndpoint(ctx, &stale) })
		wantCode(t, err, autodebit.ECONFLICT)
		if got, _ := s.FindWebhookEndpointByID(ctx, w.ID); got.Description != "" || got.Version != 2 {
			t.Fatalf("after a stale update: %+v", *got)
		}
		missing := *w
		missing.ID = "we_missing"
		err = s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateWebhookEndpoint(ctx, &missing) })
		wantCode(t, err, autodebit.ENOTFOUND)

		// An invalid update is refused before it is written.
		bad := *w
		bad.URL = "ftp://shop.example/"
		err = s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateWebhookEndpoint(ctx, &bad) })
		wantCode(t, err, autodebit.EINVALID)
		if got, _ := s.FindWebhookEndpointByID(ctx, w.ID); got.URL != w.URL || got.Version != 2 {
			t.Fatalf("after an invalid update: %+v", *got)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		w := mustCreateWebhookEndpoint(t, s, newWebhookEndpoint(t, "https://shop.example/webhooks"))
		keep := mustCreateWebhookEndpoint(t, s, newWebhookEndpoint(t, "https://shop.example/other"))
		// A rolled-back delete deletes nothing.
		err := s.WithTx(ctx, func(tx autodebit.Tx) error {
			if _, err := tx.DeleteWebhookEndpoint(ctx, w.ID); err != nil {
				return err
			}
			return autodebit.Errorf(autodebit.ECONFLICT, "roll back")
		})
		wantCode(t, err, autodebit.ECONFLICT)
		if _, err := s.FindWebhookEndpointByID(ctx, w.ID); err != nil {
			t.Fatalf("after a rolled-back delete: %v", err)
		}
		// The delete returns the endpoint as it was, secret included.
		var gone *autodebit.WebhookEndpoint
		mustTx(t, s, func(tx autodebit.Tx) (err error) { gone, err = tx.DeleteWebhookEndpoint(ctx, w.ID); return err })
		if gone == nil || gone.ID != w.ID || gone.URL != w.URL || gone.Secret != w.Secret || gone.Version != w.Version {
			t.Fatalf("DeleteWebhookEndpoint returned %+v, want %+v", gone, w)
		}
		_, err = s.FindWebhookEndpointByID(ctx, w.ID)
		wantCode(t, err, autodebit.ENOTFOUND)
		err = s.WithTx(ctx, func(tx autodebit.Tx) error { _, err := tx.DeleteWebhookEndpoint(ctx, w.ID); return err })
		wantCode(t, err, autodebit.ENOTFOUND)
		if _, total, err := s.FindWebhookEndpoints(ctx, autodebit.WebhookEndpointFilter{}); err != nil || total != 1 {
			t.Fatalf("after delete: total %d, %v; want 1 (%s kept)", total, err, keep.ID)
		}
	})

	t.Run("IdempotencyKeyUnique", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a := newWebhookEndpoint(t, "https://shop.example/a")
		a.IdempotencyKey = "same"
		mustCreateWebhookEndpoint(t, s, a)
		b := newWebhookEndpoint(t, "https://shop.example/b")
		b.IdempotencyKey = "same"
		err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateWebhookEndpoint(ctx, b) })
		wantCode(t, err, autodebit.ECONFLICT)
		// Endpoints without a key do not collide.
		mustCreateWebhookEndpoint(t, s, newWebhookEndpoint(t, "https://shop.example/c"))
		mustCreateWebhookEndpoint(t, s, newWebhookEndpoint(t, "https://shop.example/d"))
		if _, total, _ := s.FindWebhookEndpoints(ctx, autodebit.WebhookEndpointFilter{}); total != 3 {
			t.Fatalf("total %d, want 3", total)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for name, change := range map[string]func(w *autodebit.WebhookEndpoint){
			"no URL":                         func(w *autodebit.WebhookEndpoint) { w.URL = "" },
			"relative URL":                   func(w *autodebit.WebhookEndpoint) { w.URL = "/webhooks" },
			"other scheme":                   func(w *autodebit.WebhookEndpoint) { w.URL = "ftp://shop.example/hook" },
			"user info":                      func(w *autodebit.WebhookEndpoint) { w.URL = "https://user:pass@shop.example/hook" },
			"URL too long":                   func(w *autodebit.WebhookEndpoint) { w.URL = "https://shop.example/" + strings.Repeat("a", 2048) },
			"description too long":           func(w *autodebit.WebhookEndpoint) { w.Description = strings.Repeat("é", 257) },
			"control character":              func(w *autodebit.WebhookEndpoint) { w.Description = "a\x00b" },
			"bad event type":                 func(w *autodebit.WebhookEndpoint) { w.EventTypes = []string{"Charge.Succeeded"} },
			"repeated event type":            func(w *autodebit.WebhookEndpoint) { w.EventTypes = []string{"charge.failed", "charge.failed"} },
			"no secret":                      func(w *autodebit.WebhookEndpoint) { w.Secret = "" },
			"previous secret without expiry": func(w *autodebit.WebhookEndpoint) { w.PreviousSecret = w.Secret },
			"ID without prefix":              func(w *autodebit.WebhookEndpoint) { w.ID = "chg_1" },
		} {
			w := newWebhookEndpoint(t, "https://shop.example/webhooks")
			change(w)
			err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateWebhookEndpoint(ctx, w) })
			if autodebit.ErrorCode(err) != autodebit.EINVALID {
				t.Errorf("%s: error %v, want invalid", name, err)
			}
		}
		if _, total, _ := s.FindWebhookEndpoints(ctx, autodebit.WebhookEndpointFilter{}); total != 0 {
			t.Fatalf("%d endpoints stored from invalid input", total)
		}
		// A description of exactly 256 characters, multi-byte, is fine.
		w := newWebhookEndpoint(t, "https://shop.example/webhooks")
		w.Description = strings.Repeat("é", 256)
		mustCreateWebhookEndpoint(t, s, w)
	})

	t.Run("OtherStoreSeesChanges", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		w := mustCreateWebhookEndpoint(t, s, newWebhookEndpoint(t, "https://shop.example/webhooks"))
		// Another Store on the same database with the same token key (another
		// engine process) opens the secret; one with another key cannot.
		other, err := sqldb.New(s.DB(), s.Dialect(), s.RiverDriver(), Config())
		if err != nil {
			t.Fatal(err)
		}
		if got, err := other.FindWebhookEndpointByID(ctx, w.ID); err != nil || got.Secret != w.Secret {
			t.Fatalf("other store: %v, %v", got, err)
		}
		cfg := Config()
		cfg.TokenKey = []byte(strings.Repeat("k", sqldb.TokenKeySize))
		wrong, err := sqldb.New(s.DB(), s.Dialect(), s.RiverDriver(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wrong.FindWebhookEndpointByID(ctx, w.ID); err == nil {
			t.Fatal("a store with another token key opened the secret")
		}
	})
}
