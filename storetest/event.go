package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
)

// newEvent is an event of objectID whose data is a small JSON object.
func newEvent(typ autodebit.EventType, objectID string, at time.Time) *autodebit.Event {
	return &autodebit.Event{Type: typ, ObjectID: objectID, Data: []byte(`{"id":"` + objectID + `","status":"x"}`), CreatedAt: at}
}

func mustCreateEvent(tb testing.TB, s autodebit.Store, e *autodebit.Event) *autodebit.Event {
	tb.Helper()
	mustTx(tb, s, func(tx autodebit.Tx) error { return tx.CreateEvent(context.Background(), e) })
	return e
}

func testEvent(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("CreateFind", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		// Data is kept byte for byte (key order and spacing as the view
		// wrote them), not re-encoded.
		e := &autodebit.Event{Type: autodebit.EventChargeSucceeded, ObjectID: "chg_1",
			Data: []byte(`{"status":"SUCCESS", "id":"chg_1","amount":{"value":"100","currency":"PHP"}}`), CreatedAt: t0}
		mustCreateEvent(t, s, e)
		if !strings.HasPrefix(e.ID, autodebit.EventIDPrefix) || e.Sequence != 1 || !e.CreatedAt.Equal(t0) {
			t.Fatalf("created %+v: want an evt_ ID, sequence 1 and CreatedAt %v", e, t0)
		}
		got, err := s.FindEventByID(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, e)
		if string(got.Data) != string(e.Data) {
			t.Fatalf("data %s, want %s", got.Data, e.Data)
		}
		_, err = s.FindEventByID(ctx, "evt_none")
		wantCode(t, err, autodebit.ENOTFOUND)

		now := mustCreateEvent(t, s, &autodebit.Event{Type: autodebit.EventTokenRevoked, ObjectID: "tok_1", Data: []byte(`{}`)})
		if now.CreatedAt.IsZero() || time.Since(now.CreatedAt) > time.Hour {
			t.Fatalf("CreatedAt=%v, want now", now.CreatedAt)
		}
	})

	t.Run("SequencePerObject", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		var a, b []int64
		for i := range 3 {
			a = append(a, mustCreateEvent(t, s, newEvent(autodebit.EventChargeSucceeded, "chg_a", t0.Add(time.Duration(i)*time.Second))).Sequence)
			if i < 2 {
				b = append(b, mustCreateEvent(t, s, newEvent(autodebit.EventRefundFailed, "rfd_b", t0)).Sequence)
			}
		}
		if fmt.Sprint(a) != "[1 2 3]" || fmt.Sprint(b) != "[1 2]" {
			t.Fatalf("sequences %v and %v, want [1 2 3] and [1 2]: each object counts its own", a, b)
		}
		// Two events in one transaction still take consecutive sequences.
		var two []int64
		mustTx(t, s, func(tx autodebit.Tx) error {
			for range 2 {
				e := newEvent(autodebit.EventChargeSucceeded, "chg_a", t0)
				if err := tx.CreateEvent(ctx, e); err != nil {
					return err
				}
				two = append(two, e.Sequence)
			}
			return nil
		})
		if fmt.Sprint(two) != "[4 5]" {
			t.Fatalf("sequences %v in one transaction, want [4 5]", two)
		}
	})

	t.Run("SequenceIsUnique", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		mustCreateEvent(t, s, newEvent(autodebit.EventChargeSucceeded, "chg_1", t0))
		// A second row with the same (object, sequence) is refused by the
		// index whatever writes it.
		_, err := s.DB().Exec("INSERT INTO events (id, type, object_id, sequence, data, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
			autodebit.NewID(autodebit.EventIDPrefix), "charge.failed", "chg_1", 1, "{}", rawString(t, s, "events", "created_at", mustFindOnlyEvent(t, s, "chg_1").ID))
		if err == nil {
			t.Fatal("a second event with sequence 1 of chg_1 was stored")
		}
	})

	t.Run("RollsBackWithTheChange", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := mustCreateCharge(t, s, newCharge(mustCreateToken(t, s, "cus_1"), 100))
		errBoom := errors.New("boom")
		err := s.WithTx(ctx, func(tx autodebit.Tx) error {
			if _, err := tx.SettleCharge(ctx, c.ID, autodebit.ChargeSettlement{Status: autodebit.ChargeSuccess, SettledBy: autodebit.SettledByPay}); err != nil {
				return err
			}
			if err := tx.CreateEvent(ctx, newEvent(autodebit.EventChargeSucceeded, c.ID, time.Time{})); err != nil {
				return err
			}
			if err := tx.Enqueue(ctx, autodebit.Job{Args: inquiryArgs{c.ID}}); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("WithTx=%v, want the function's error", err)
		}
		if got, err := s.FindChargeByID(ctx, c.ID); err != nil || got.Status != autodebit.ChargeInit {
			t.Fatalf("rolled-back charge %+v, %v", got, err)
		}
		if evs, total, err := s.FindEvents(ctx, autodebit.EventFilter{ObjectID: c.ID}); err != nil || total != 0 || len(evs) != 0 {
			t.Fatalf("rolled-back events %v (total %d), %v", evs, total, err)
		}
		if got := jobKinds(t, s); len(got) != 0 {
			t.Fatalf("rolled-back jobs %v", got)
		}

		// Committed, the change, its event and its job are all there, and
		// the next event after the rollback is still sequence 1.
		mustTx(t, s, func(tx autodebit.Tx) error {
			if _, err := tx.SettleCharge(ctx, c.ID, autodebit.ChargeSettlement{Status: autodebit.ChargeSuccess, SettledBy: autodebit.SettledByPay}); err != nil {
				return err
			}
			if err := tx.CreateEvent(ctx, newEvent(autodebit.EventChargeSucceeded, c.ID, time.Time{})); err != nil {
				return err
			}
			return tx.Enqueue(ctx, autodebit.Job{Args: inquiryArgs{c.ID}})
		})
		if got, err := s.FindChargeByID(ctx, c.ID); err != nil || got.Status != autodebit.ChargeSuccess {
			t.Fatalf("committed charge %+v, %v", got, err)
		}
		if e := mustFindOnlyEvent(t, s, c.ID); e.Sequence != 1 || e.Type != autodebit.EventChargeSucceeded {
			t.Fatalf("committed event %+v, want charge.succeeded sequence 1", e)
		}
		if got := jobKinds(t, s); len(got) != 1 {
			t.Fatalf("committed jobs %v, want one", got)
		}
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		e1 := mustCreateEvent(t, s, newEvent(autodebit.EventChargeSucceeded, "chg_1", t0))
		e2 := mustCreateEvent(t, s, newEvent(autodebit.EventChargeFailed, "chg_2", t0.Add(time.Second)))
		e3 := mustCreateEvent(t, s, newEvent(autodebit.EventChargeSucceeded, "chg_3", t0.Add(2*time.Second)))
		e4 := mustCreateEvent(t, s, newEvent(autodebit.EventTokenRevoked, "tok_1", t0.Add(3*time.Second)))
		ids := func(evs []*autodebit.Event) string {
			var s []string
			for _, e := range evs {
				s = append(s, e.ID)
			}
			return strings.Join(s, ",")
		}
		join := func(evs ...*autodebit.Event) string { return ids(evs) }
		for _, tc := range []struct {
			name  string
			f     autodebit.EventFilter
			want  string
			total int
		}{
			{"all, newest first", autodebit.EventFilter{}, join(e4, e3, e2, e1), 4},
			{"by type", autodebit.EventFilter{Type: autodebit.EventChargeSucceeded}, join(e3, e1), 2},
			{"by object", autodebit.EventFilter{ObjectID: "chg_2"}, join(e2), 1},
			{"created after (inclusive)", autodebit.EventFilter{CreatedAfter: t0.Add(2 * time.Second)}, join(e4, e3), 2},
			{"created before (exclusive)", autodebit.EventFilter{CreatedBefore: t0.Add(2 * time.Second)}, join(e2, e1), 2},
			{"page", autodebit.EventFilter{Limit: 2, Offset: 1}, join(e3, e2), 4},
			{"none", autodebit.EventFilter{ObjectID: "chg_none"}, "", 0},
		} {
			got, total, err := s.FindEvents(ctx, tc.f)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if ids(got) != tc.want || total != tc.total {
				t.Errorf("%s: %s (total %d), want %s (total %d)", tc.name, ids(got), total, tc.want, tc.total)
			}
		}
		_, _, err := s.FindEvents(ctx, autodebit.EventFilter{Type: "charge.exploded"})
		wantCode(t, err, autodebit.EINVALID)
	})

	t.Run("DeleteBefore", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for i := range 5 {
			mustCreateEvent(t, s, newEvent(autodebit.EventChargeSucceeded, fmt.Sprintf("chg_%d", i), t0.Add(time.Duration(i)*time.Hour)))
		}
		del := func(before time.Time, limit int) int {
			t.Helper()
			var n int
			mustTx(t, s, func(tx autodebit.Tx) error {
				var err error
				n, err = tx.DeleteEventsBefore(ctx, before, limit)
				return err
			})
			return n
		}
		// Four are older than t0+3h30m; a batch of 3 takes the oldest three.
		if n := del(t0.Add(3*time.Hour+30*time.Minute), 3); n != 3 {
			t.Fatalf("deleted %d, want 3 (the batch)", n)
		}
		if n := del(t0.Add(3*time.Hour+30*time.Minute), 3); n != 1 {
			t.Fatalf("deleted %d, want the 1 left before the cutoff", n)
		}
		left, total, err := s.FindEvents(ctx, autodebit.EventFilter{})
		if err != nil || total != 1 || left[0].ObjectID != "chg_4" {
			t.Fatalf("left %v (total %d), %v; want only chg_4's", left, total, err)
		}
		// Every event of chg_0 is gone; its next one still follows on.
		if e := mustCreateEvent(t, s, newEvent(autodebit.EventChargeFailed, "chg_0", t0.Add(5*time.Hour))); e.Sequence != 2 {
			t.Fatalf("chg_0's event after retention has sequence %d, want 2", e.Sequence)
		}
		for _, tc := range []struct {
			before time.Time
			limit  int
		}{{t0, 0}, {time.Time{}, 10}} {
			err := s.WithTx(ctx, func(tx autodebit.Tx) error { _, err := tx.DeleteEventsBefore(ctx, tc.before, tc.limit); return err })
			wantCode(t, err, autodebit.EINVALID)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for _, e := range []*autodebit.Event{
			{ObjectID: "chg_1", Data: []byte(`{}`)},                                                 // no type
			{Type: "charge.exploded", ObjectID: "chg_1", Data: []byte(`{}`)},                        // unknown type
			{Type: autodebit.EventChargeFailed, Data: []byte(`{}`)},                                 // no object
			{Type: autodebit.EventChargeFailed, ObjectID: "chg_1"},                                  // no data
			{Type: autodebit.EventChargeFailed, ObjectID: "chg_1", Data: []byte(`{"id":`)},          // not JSON
			{Type: autodebit.EventChargeFailed, ObjectID: "chg_1", Data: []byte(`["chg_1"]`)},       // not an object
			{Type: autodebit.EventChargeFailed, ObjectID: "chg_1", Data: []byte(`{}`), Sequence: 7}, // the store counts
			{ID: "chg_1", Type: autodebit.EventChargeFailed, ObjectID: "chg_1", Data: []byte(`{}`)}, // wrong prefix
		} {
			err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateEvent(ctx, e) })
			wantCode(t, err, autodebit.EINVALID)
		}
		if _, total, err := s.FindEvents(ctx, autodebit.EventFilter{}); err != nil || total != 0 {
			t.Fatalf("%d events stored after bad input, %v", total, err)
		}
		err := s.WithTx(ctx, func(tx autodebit.Tx) error {
			return tx.CreateEvent(ctx, &autodebit.Event{Type: "charge.exploded", ObjectID: "chg_1", Data: []byte(`{}`)})
		})
		if msg := err.Error(); !strings.Contains(msg, "charge.exploded") || !strings.Contains(msg, string(autodebit.EventChargeSucceeded)) {
			t.Fatalf("error %q should name the bad type and the known ones", msg)
		}
	})
}

// mustFindOnlyEvent returns objectID's one event.
func mustFindOnlyEvent(tb testing.TB, s autodebit.Store, objectID string) *autodebit.Event {
	tb.Helper()
	evs, total, err := s.FindEvents(context.Background(), autodebit.EventFilter{ObjectID: objectID})
	if err != nil || total != 1 {
		tb.Fatalf("events of %s: %v (total %d), %v; want one", objectID, evs, total, err)
	}
	return evs[0]
}
