package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/sqldb"
)

// newDeliveryPair stores an endpoint and an event for deliveries to join.
func newDeliveryPair(tb testing.TB, s autodebit.Store) (*autodebit.WebhookEndpoint, *autodebit.Event) {
	tb.Helper()
	w := mustCreateWebhookEndpoint(tb, s, newWebhookEndpoint(tb, "https://shop.example/webhooks"))
	e := mustCreateEvent(tb, s, newEvent(autodebit.EventChargeSucceeded, "chg_1", t0))
	return w, e
}

func testDelivery(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("CreateFindUpdate", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		w, e := newDeliveryPair(t, s)
		d := &autodebit.Delivery{EventID: e.ID, EndpointID: w.ID, NextAttemptAt: t0}
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.CreateDelivery(ctx, d) })
		if !strings.HasPrefix(d.ID, autodebit.DeliveryIDPrefix) || d.Status != autodebit.DeliveryPending || d.Version != 1 || d.CreatedAt.IsZero() {
			t.Fatalf("created %+v", *d)
		}
		got, err := s.FindDeliveryByID(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, d)

		// One delivery per (event, endpoint).
		err = s.WithTx(ctx, func(tx autodebit.Tx) error {
			return tx.CreateDelivery(ctx, &autodebit.Delivery{EventID: e.ID, EndpointID: w.ID, NextAttemptAt: t0})
		})
		wantCode(t, err, autodebit.ECONFLICT)

		mustTx(t, s, func(tx autodebit.Tx) error {
			cur, err := tx.FindDeliveryForUpdate(ctx, d.ID)
			if err != nil {
				return err
			}
			cur.Status, cur.Attempts, cur.NextAttemptAt, cur.DeliveredAt, cur.LastStatusCode = autodebit.DeliveryDelivered, 1, time.Time{}, t0.Add(time.Second), 204
			if err := tx.UpdateDelivery(ctx, cur); err != nil {
				return err
			}
			*d = *cur
			return nil
		})
		got, err = s.FindDeliveryByID(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, d)
		if got.Version != 2 || !got.NextAttemptAt.IsZero() {
			t.Fatalf("updated %+v", *got)
		}

		// A stale version is a conflict; an unknown delivery is not found.
		stale := *d
		stale.Version = 1
		wantCode(t, s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateDelivery(ctx, &stale) }), autodebit.ECONFLICT)
		stale.ID = "dlv_nope"
		wantCode(t, s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateDelivery(ctx, &stale) }), autodebit.ENOTFOUND)
		_, err = s.FindDeliveryByID(ctx, "dlv_nope")
		wantCode(t, err, autodebit.ENOTFOUND)
	})

	t.Run("RetentionKeepsPending", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		w, e := newDeliveryPair(t, s)
		d := &autodebit.Delivery{EventID: e.ID, EndpointID: w.ID, NextAttemptAt: t0}
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.CreateDelivery(ctx, d) })
		del := func() int {
			var n int
			mustTx(t, s, func(tx autodebit.Tx) (err error) {
				n, err = tx.DeleteEventsBefore(ctx, t0.Add(time.Hour), 10)
				return err
			})
			return n
		}
		if n := del(); n != 0 {
			t.Fatalf("retention deleted %d events with a pending delivery", n)
		}
		if _, err := s.FindDeliveryByID(ctx, d.ID); err != nil {
			t.Fatalf("the pending delivery is gone: %v", err)
		}
		mustTx(t, s, func(tx autodebit.Tx) error {
			cur, err := tx.FindDeliveryForUpdate(ctx, d.ID)
			if err != nil {
				return err
			}
			cur.Status, cur.NextAttemptAt, cur.DeliveredAt = autodebit.DeliveryDelivered, time.Time{}, t0
			return tx.UpdateDelivery(ctx, cur)
		})
		if n := del(); n != 1 {
			t.Fatalf("retention deleted %d events once delivered, want 1", n)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		w, e := newDeliveryPair(t, s)
		for name, d := range map[string]*autodebit.Delivery{
			"no event":       {EndpointID: w.ID, NextAttemptAt: t0},
			"no endpoint":    {EventID: e.ID, NextAttemptAt: t0},
			"not due":        {EventID: e.ID, EndpointID: w.ID},
			"created final":  {EventID: e.ID, EndpointID: w.ID, Status: autodebit.DeliveryFailed},
			"unknown status": {EventID: e.ID, EndpointID: w.ID, Status: "sent", NextAttemptAt: t0},
		} {
			err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateDelivery(ctx, d) })
			if autodebit.ErrorCode(err) != autodebit.EINVALID {
				t.Errorf("%s: error %v, want EINVALID", name, err)
			}
		}
		// The foreign keys hold: no delivery of an unknown event.
		err := s.WithTx(ctx, func(tx autodebit.Tx) error {
			return tx.CreateDelivery(ctx, &autodebit.Delivery{EventID: "evt_nope", EndpointID: w.ID, NextAttemptAt: t0})
		})
		if err == nil {
			t.Fatal("a delivery of an unknown event was stored")
		}
		if _, n, err := s.FindDeliveries(ctx, autodebit.DeliveryFilter{}); err != nil || n != 0 {
			t.Fatalf("deliveries after refused creates: %d, %v", n, err)
		}
		_, _, err = s.FindDeliveries(ctx, autodebit.DeliveryFilter{Status: "sent"})
		wantCode(t, err, autodebit.EINVALID)
	})

	t.Run("Filter", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		w1, e1 := newDeliveryPair(t, s)
		w2 := mustCreateWebhookEndpoint(t, s, newWebhookEndpoint(t, "https://other.example/hooks"))
		e2 := mustCreateEvent(t, s, newEvent(autodebit.EventChargeFailed, "chg_2", t0.Add(time.Second)))
		var ids []string
		mustTx(t, s, func(tx autodebit.Tx) error {
			for i, pair := range [][2]string{{e1.ID, w1.ID}, {e1.ID, w2.ID}, {e2.ID, w1.ID}} {
				d := &autodebit.Delivery{EventID: pair[0], EndpointID: pair[1], NextAttemptAt: t0, CreatedAt: t0.Add(time.Duration(i) * time.Second)}
				if err := tx.CreateDelivery(ctx, d); err != nil {
					return err
				}
				ids = append(ids, d.ID)
			}
			return nil
		})
		for _, c := range []struct {
			f    autodebit.DeliveryFilter
			want []string
		}{
			{autodebit.DeliveryFilter{EventID: e1.ID}, ids[:2]},
			{autodebit.DeliveryFilter{EndpointID: w1.ID}, []string{ids[0], ids[2]}},
			{autodebit.DeliveryFilter{Status: autodebit.DeliveryPending, Limit: 1, Offset: 1}, ids[1:2]},
			{autodebit.DeliveryFilter{Status: autodebit.DeliveryDelivered}, nil},
		} {
			got, _, err := s.FindDeliveries(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, d := range got {
				gotIDs = append(gotIDs, d.ID)
			}
			if strings.Join(gotIDs, ",") != strings.Join(c.want, ",") {
				t.Errorf("FindDeliveries(%+v) = %v, want %v", c.f, gotIDs, c.want)
			}
		}

		// Deleting an endpoint deletes its deliveries, and their attempts.
		mustTx(t, s, func(tx autodebit.Tx) error {
			return tx.CreateDeliveryAttempt(ctx, &autodebit.DeliveryAttempt{DeliveryID: ids[1], Attempt: 1, StartedAt: t0})
		})
		mustTx(t, s, func(tx autodebit.Tx) error { _, err := tx.DeleteWebhookEndpoint(ctx, w2.ID); return err })
		if _, n, err := s.FindDeliveries(ctx, autodebit.DeliveryFilter{EventID: e1.ID}); err != nil || n != 1 {
			t.Fatalf("deliveries of %s after deleting %s: %d, %v", e1.ID, w2.ID, n, err)
		}
		if as, err := s.FindDeliveryAttempts(ctx, ids[1]); err != nil || len(as) != 0 {
			t.Fatalf("attempts of a deleted delivery: %v, %v", as, err)
		}
		// And retention deleting an event deletes its deliveries, once
		// none is pending (RetentionKeepsPending).
		left, _, err := s.FindDeliveries(ctx, autodebit.DeliveryFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range left {
			mustTx(t, s, func(tx autodebit.Tx) error {
				cur, err := tx.FindDeliveryForUpdate(ctx, d.ID)
				if err != nil || cur.Status != autodebit.DeliveryPending {
					return err
				}
				cur.Status, cur.NextAttemptAt = autodebit.DeliveryFailed, time.Time{}
				return tx.UpdateDelivery(ctx, cur)
			})
		}
		mustTx(t, s, func(tx autodebit.Tx) error {
			_, err := tx.DeleteEventsBefore(ctx, t0.Add(time.Hour), 10)
			return err
		})
		if _, n, err := s.FindDeliveries(ctx, autodebit.DeliveryFilter{}); err != nil || n != 0 {
			t.Fatalf("deliveries after deleting their events: %d, %v", n, err)
		}
	})

	// A delivery created while its endpoint is being deleted (by a
	// transaction that read the endpoint as a subscriber before the delete
	// locked it) is deleted too, locked in the lock order like the others
	// (sqldb's lockDeliveriesOf: the delete's second round), and both
	// transactions succeed. SQLite runs one write transaction at a time:
	// there is nothing to interleave.
	t.Run("DeleteEndpointRacesNewDelivery", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		if s.Dialect() != sqldb.Postgres {
			return
		}
		w, e := newDeliveryPair(t, s)
		old := &autodebit.Delivery{EventID: e.ID, EndpointID: w.ID, NextAttemptAt: t0}
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.CreateDelivery(ctx, old) })
		e2 := mustCreateEvent(t, s, newEvent(autodebit.EventChargeSucceeded, "chg_2", t0))
		created, commit := make(chan string), make(chan struct{})
		publishErr := make(chan error, 1)
		go func() {
			publishErr <- s.WithTx(ctx, func(tx autodebit.Tx) error {
				if _, err := tx.FindWebhookSubscribers(ctx); err != nil {
					return err
				}
				d := &autodebit.Delivery{EventID: e2.ID, EndpointID: w.ID, NextAttemptAt: t0}
				if err := tx.CreateDelivery(ctx, d); err != nil {
					return err
				}
				created <- d.ID
				<-commit
				return nil
			})
		}()
		added := <-created
		deleteErr := make(chan error, 1)
		go func() {
			deleteErr <- s.WithTx(ctx, func(tx autodebit.Tx) error { _, err := tx.DeleteWebhookEndpoint(ctx, w.ID); return err })
		}()
		// The delete has locked the old delivery and waits for the
		// endpoint's row, which the publishing transaction holds.
		deadline := time.Now().Add(10 * time.Second)
		for {
			var waiting int
			if err := s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'tuple' AND relation = 'webhook_endpoints'::regclass").Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			if waiting > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the delete never waited for the endpoint's row")
			}
			time.Sleep(5 * time.Millisecond)
		}
		close(commit)
		if err := <-publishErr; err != nil {
			t.Fatalf("the transaction adding a delivery: %v", err)
		}
		if err := <-deleteErr; err != nil {
			t.Fatalf("the delete: %v", err)
		}
		for _, id := range []string{old.ID, added} {
			_, err := s.FindDeliveryByID(ctx, id)
			wantCode(t, err, autodebit.ENOTFOUND)
		}
		_, err := s.FindWebhookEndpointByID(ctx, w.ID)
		wantCode(t, err, autodebit.ENOTFOUND)
	})

	t.Run("Attempts", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		w, e := newDeliveryPair(t, s)
		d := &autodebit.Delivery{EventID: e.ID, EndpointID: w.ID, NextAttemptAt: t0}
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.CreateDelivery(ctx, d) })
		a1 := &autodebit.DeliveryAttempt{DeliveryID: d.ID, Attempt: 1, StartedAt: t0}
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.CreateDeliveryAttempt(ctx, a1) })
		wantCode(t, s.WithTx(ctx, func(tx autodebit.Tx) error {
			return tx.CreateDeliveryAttempt(ctx, &autodebit.DeliveryAttempt{DeliveryID: d.ID, Attempt: 1, StartedAt: t0})
		}), autodebit.ECONFLICT)
		got, err := s.FindDeliveryAttempts(ctx, d.ID)
		if err != nil || len(got) != 1 || !got[0].Open() {
			t.Fatalf("attempts after a claim: %v, %v", got, err)
		}
		wantEqual(t, got[0], a1)

		a1.FinishedAt, a1.Duration, a1.StatusCode, a1.Error, a1.Response = t0.Add(1500*time.Millisecond), 1500*time.Millisecond, 500, "HTTP 500", "oops"
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.FinishDeliveryAttempt(ctx, a1) })
		wantCode(t, s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.FinishDeliveryAttempt(ctx, a1) }), autodebit.ECONFLICT)
		missing := *a1
		missing.Attempt = 9
		wantCode(t, s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.FinishDeliveryAttempt(ctx, &missing) }), autodebit.ENOTFOUND)
		long := *a1
		long.Response = strings.Repeat("x", autodebit.MaxDeliveryResponseBytes+1)
		wantCode(t, s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.FinishDeliveryAttempt(ctx, &long) }), autodebit.EINVALID)

		a2 := &autodebit.DeliveryAttempt{DeliveryID: d.ID, Attempt: 2, StartedAt: t0.Add(time.Minute)}
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.CreateDeliveryAttempt(ctx, a2) })
		got, err = s.FindDeliveryAttempts(ctx, d.ID)
		if err != nil || len(got) != 2 {
			t.Fatalf("attempts: %v, %v", got, err)
		}
		wantEqual(t, got[0], a1)
		wantEqual(t, got[1], a2)
		if got[0].Open() || !got[1].Open() {
			t.Fatalf("open: %v %v, want false true", got[0].Open(), got[1].Open())
		}
	})
}
