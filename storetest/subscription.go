package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/autodebit/autodebit"
)

func newSubscription(tok *autodebit.Token) *autodebit.Subscription {
	return &autodebit.Subscription{
		TokenID: tok.ID, CustomerID: tok.CustomerID, Wallet: tok.Wallet,
		Amount: autodebit.Amount{Currency: "PHP", Value: 1500}, Description: "Monthly plan",
		Interval: autodebit.IntervalMonth, IntervalCount: 1, StartAt: t0, RetrySchedule: autodebit.DefaultRetrySchedule,
		NextChargeAt: t0, RequestHash: "hash",
	}
}

func mustCreateSubscription(tb fataler, s autodebit.Store, sub *autodebit.Subscription) *autodebit.Subscription {
	tb.Helper()
	mustTx(tb, s, func(tx autodebit.Tx) error { return tx.CreateSubscription(context.Background(), sub) })
	return sub
}

// newPeriodCharge is a renewal charge for period n of sub.
func newPeriodCharge(tok *autodebit.Token, sub *autodebit.Subscription, n int) *autodebit.Charge {
	c := newCharge(tok, sub.Amount.Value)
	p := sub.PeriodOf(n)
	c.SubscriptionID, c.Period, c.PeriodStart, c.PeriodEnd = sub.ID, p.Number, p.Start, p.End
	return c
}

func settle(tb fataler, s autodebit.Store, id string, status autodebit.ChargeStatus) error {
	tb.Helper()
	return s.WithTx(context.Background(), func(tx autodebit.Tx) error {
		_, err := tx.SettleCharge(context.Background(), id, autodebit.ChargeSettlement{Status: status, SettledBy: autodebit.SettledByInquiry})
		return err
	})
}

func testSubscription(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("CreateFind", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		sub := newSubscription(tok)
		sub.IdempotencyKey, sub.TimeZone, sub.Cycles = "idem-1", "Asia/Manila", 12
		mustCreateSubscription(t, s, sub)
		if !strings.HasPrefix(sub.ID, autodebit.SubscriptionIDPrefix) || sub.Version != 1 || sub.Status != autodebit.SubscriptionActive || sub.Period != 1 {
			t.Fatalf("created %+v", *sub)
		}
		for name, find := range map[string]func() (*autodebit.Subscription, error){
			"ID":             func() (*autodebit.Subscription, error) { return s.FindSubscriptionByID(ctx, sub.ID) },
			"IdempotencyKey": func() (*autodebit.Subscription, error) { return s.FindSubscriptionByIdempotencyKey(ctx, "idem-1") },
		} {
			got, err := find()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			wantEqual(t, got, sub)
		}
		mustTx(t, s, func(tx autodebit.Tx) error {
			got, err := tx.FindSubscriptionForUpdate(ctx, sub.ID)
			if err == nil {
				wantEqual(t, got, sub)
			}
			return err
		})
		// No retries is an empty schedule, kept as such.
		none := newSubscription(tok)
		none.RetrySchedule = []time.Duration{}
		mustCreateSubscription(t, s, none)
		if got, err := s.FindSubscriptionByID(ctx, none.ID); err != nil || len(got.RetrySchedule) != 0 || got.RetrySchedule == nil {
			t.Fatalf("empty retry schedule read back as %#v, %v", got.RetrySchedule, err)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		_, err := s.FindSubscriptionByID(ctx, "sub_nope")
		wantCode(t, err, autodebit.ENOTFOUND)
		_, err = s.FindSubscriptionByIdempotencyKey(ctx, "")
		wantCode(t, err, autodebit.ENOTFOUND)
		err = s.WithTx(ctx, func(tx autodebit.Tx) error {
			return tx.UpdateSubscription(ctx, &autodebit.Subscription{ID: "sub_nope", TokenID: "tok_1", CustomerID: "c", Wallet: "GCASH",
				Amount: autodebit.Amount{Currency: "PHP", Value: 1}, Interval: "day", IntervalCount: 1, StartAt: t0, Status: "active", Period: 1, Version: 1})
		})
		wantCode(t, err, autodebit.ENOTFOUND)
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		for name, mod := range map[string]func(sub *autodebit.Subscription){
			"Interval":  func(sub *autodebit.Subscription) { sub.Interval = "fortnight" },
			"Count":     func(sub *autodebit.Subscription) { sub.IntervalCount = 0 },
			"Zone":      func(sub *autodebit.Subscription) { sub.TimeZone = "Nowhere/Land" },
			"NotActive": func(sub *autodebit.Subscription) { sub.Status = autodebit.SubscriptionPaused },
			"Period":    func(sub *autodebit.Subscription) { sub.Period = 3 },
			"Retry":     func(sub *autodebit.Subscription) { sub.RetrySchedule = []time.Duration{0} },
			"NoStart":   func(sub *autodebit.Subscription) { sub.StartAt = time.Time{} },
			"BadID":     func(sub *autodebit.Subscription) { sub.ID = "chg_abc" },
		} {
			sub := newSubscription(tok)
			mod(sub)
			err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateSubscription(ctx, sub) })
			if autodebit.ErrorCode(err) != autodebit.EINVALID {
				t.Errorf("%s: err=%v, want EINVALID", name, err)
			}
		}
		sub := newSubscription(tok)
		sub.TokenID = "tok_nope"
		if err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateSubscription(ctx, sub) }); err == nil {
			t.Fatal("created a subscription on a missing token")
		}
		if _, n, _ := s.FindSubscriptions(ctx, autodebit.SubscriptionFilter{}); n != 0 {
			t.Fatalf("%d subscriptions stored by refused creates", n)
		}
		dup := mustCreateSubscription(t, s, func() *autodebit.Subscription { x := newSubscription(tok); x.IdempotencyKey = "k"; return x }())
		again := newSubscription(tok)
		again.IdempotencyKey = dup.IdempotencyKey
		wantCode(t, s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateSubscription(ctx, again) }), autodebit.ECONFLICT)
	})

	t.Run("UpdateCompareAndSet", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		sub := mustCreateSubscription(t, s, newSubscription(mustCreateToken(t, s, "cus_1")))
		u := *sub
		u.Status, u.Attempt, u.NextChargeAt, u.FailureCode, u.LastChargeID = autodebit.SubscriptionPastDue, 1, t0.Add(24*time.Hour), "USER_BALANCE_NOT_ENOUGH", "chg_x"
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateSubscription(ctx, &u) })
		got, err := s.FindSubscriptionByID(ctx, sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, &u)

		stale := *sub // version 1
		stale.Status = autodebit.SubscriptionPaused
		wantCode(t, s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateSubscription(ctx, &stale) }), autodebit.ECONFLICT)

		c := u
		c.Status, c.NextChargeAt, c.CancelReason, c.CancelledAt = autodebit.SubscriptionCancelled, time.Time{}, "merchant", t0
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateSubscription(ctx, &c) })
		// A final status stays, though counters may still move (a charge in
		// flight when it was cancelled).
		back := c
		back.Status = autodebit.SubscriptionActive
		wantCode(t, s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateSubscription(ctx, &back) }), autodebit.ECONFLICT)
		paid := c
		paid.CyclesCompleted, paid.Period = 1, 2
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateSubscription(ctx, &paid) })
		// Whatever writes the row: the database itself refuses.
		if _, err := s.DB().Exec("UPDATE subscriptions SET status = 'active' WHERE id = $1", sub.ID); err == nil {
			t.Fatal("the database let a cancelled subscription become active")
		}
	})

	t.Run("ListAndDue", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok1, tok2 := mustCreateToken(t, s, "cus_1"), mustCreateToken(t, s, "cus_2")
		var subs []*autodebit.Subscription
		for i, tok := range []*autodebit.Token{tok1, tok1, tok2, tok2} {
			sub := newSubscription(tok)
			sub.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
			sub.NextChargeAt = t0.Add(time.Hour - time.Duration(i)*time.Minute)
			subs = append(subs, mustCreateSubscription(t, s, sub))
		}
		paused := *subs[3]
		paused.Status, paused.NextChargeAt, paused.PausedAt = autodebit.SubscriptionPaused, time.Time{}, t0
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateSubscription(ctx, &paused) })
		pastDue := *subs[0]
		pastDue.Status = autodebit.SubscriptionPastDue
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateSubscription(ctx, &pastDue) })

		for name, tc := range map[string]struct {
			f    autodebit.SubscriptionFilter
			want []*autodebit.Subscription
		}{
			"all":      {autodebit.SubscriptionFilter{}, []*autodebit.Subscription{subs[3], subs[2], subs[1], subs[0]}},
			"customer": {autodebit.SubscriptionFilter{CustomerID: "cus_1"}, []*autodebit.Subscription{subs[1], subs[0]}},
			"token":    {autodebit.SubscriptionFilter{TokenID: tok2.ID}, []*autodebit.Subscription{subs[3], subs[2]}},
			"status":   {autodebit.SubscriptionFilter{Status: autodebit.SubscriptionPaused}, []*autodebit.Subscription{subs[3]}},
			"page":     {autodebit.SubscriptionFilter{Limit: 2, Offset: 1}, []*autodebit.Subscription{subs[2], subs[1]}},
		} {
			got, total, err := s.FindSubscriptions(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			wantTotal := len(tc.want)
			if name == "page" {
				wantTotal = 4
			}
			if len(got) != len(tc.want) || total != wantTotal {
				t.Fatalf("%s: %d of %d, want %d of %d", name, len(got), total, len(tc.want), wantTotal)
			}
			for i := range got {
				if got[i].ID != tc.want[i].ID {
					t.Fatalf("%s: #%d is %s, want %s", name, i, got[i].ID, tc.want[i].ID)
				}
			}
		}

		// Due at or before t, longest overdue first; paused is never due.
		due, err := s.FindDueSubscriptions(ctx, t0.Add(time.Hour-time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) != 2 || due[0].ID != subs[2].ID || due[1].ID != subs[1].ID {
			t.Fatalf("due = %v, want #2 then #1 (#1 due exactly then)", ids(due))
		}
		if due, _ := s.FindDueSubscriptions(ctx, t0.Add(2*time.Hour), 1); len(due) != 1 || due[0].ID != subs[2].ID {
			t.Fatalf("limit 1: %v", ids(due))
		}
		if due, _ := s.FindDueSubscriptions(ctx, t0.Add(2*time.Hour), 10); len(due) != 3 {
			t.Fatalf("past_due and active are due, paused is not: %v", ids(due))
		}
		counts, err := s.CountSubscriptions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts[autodebit.SubscriptionActive] != 2 || counts[autodebit.SubscriptionPastDue] != 1 || counts[autodebit.SubscriptionPaused] != 1 ||
			counts[autodebit.SubscriptionCancelled] != 0 || len(counts) != len(autodebit.SubscriptionStatuses()) {
			t.Fatalf("counts = %v", counts)
		}
		b, err := s.FindBacklog(ctx)
		if err != nil {
			t.Fatal(err)
		} else if !b.NextSubscriptionChargeAt.Equal(subs[2].NextChargeAt) {
			t.Fatalf("next renewal %s, want %s", b.NextSubscriptionChargeAt, subs[2].NextChargeAt)
		}
	})

	t.Run("NextChargeAt", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		wantNext := func(want time.Time) {
			t.Helper()
			got, err := s.FindNextSubscriptionChargeAt(ctx)
			if err != nil {
				t.Fatal(err)
			} else if !got.Equal(want) {
				t.Fatalf("next charge at %s, want %s", got, want)
			}
			if b, err := s.FindBacklog(ctx); err != nil {
				t.Fatal(err)
			} else if !b.NextSubscriptionChargeAt.Equal(want) {
				t.Fatalf("backlog's next renewal %s, want %s", b.NextSubscriptionChargeAt, want)
			}
		}
		wantNext(time.Time{}) // no subscription at all
		tok := mustCreateToken(t, s, "cus_1")
		var subs []*autodebit.Subscription
		for _, at := range []time.Duration{3 * time.Hour, 2 * time.Hour, time.Hour, 90 * time.Minute} {
			sub := newSubscription(tok)
			sub.NextChargeAt = t0.Add(at)
			subs = append(subs, mustCreateSubscription(t, s, sub))
		}
		update := func(sub *autodebit.Subscription, status autodebit.SubscriptionStatus, next time.Time) {
			t.Helper()
			sub.Status, sub.NextChargeAt = status, next
			mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateSubscription(ctx, sub) })
		}
		wantNext(t0.Add(time.Hour))
		// Only the statuses that charge count, whatever else the row holds.
		update(subs[2], autodebit.SubscriptionPaused, subs[2].NextChargeAt)
		wantNext(t0.Add(90 * time.Minute))
		update(subs[3], autodebit.SubscriptionPastDue, t0.Add(100*time.Minute))
		wantNext(t0.Add(100 * time.Minute))
		update(subs[3], autodebit.SubscriptionUnpaid, t0.Add(110*time.Minute))
		wantNext(t0.Add(110 * time.Minute))
		// A charge in flight has no next charge.
		update(subs[3], autodebit.SubscriptionUnpaid, time.Time{})
		wantNext(t0.Add(2 * time.Hour))
		subs[1].CancelReason, subs[1].CancelledAt = "merchant", t0
		update(subs[1], autodebit.SubscriptionCancelled, subs[1].NextChargeAt)
		wantNext(t0.Add(3 * time.Hour))
		update(subs[0], autodebit.SubscriptionCompleted, time.Time{})
		wantNext(time.Time{})
	})

	t.Run("PeriodCharges", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		sub := mustCreateSubscription(t, s, newSubscription(tok))
		first := mustCreateCharge(t, s, newPeriodCharge(tok, sub, 1))
		got, err := s.FindChargeByID(ctx, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, first)
		if got.SubscriptionID != sub.ID || got.Period != 1 || !got.PeriodEnd.Equal(sub.PeriodStart(2)) {
			t.Fatalf("period charge read back as %+v", got)
		}
		// A second attempt while the first is in flight: refused.
		wantCode(t, s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateCharge(ctx, newPeriodCharge(tok, sub, 1)) }), autodebit.ECONFLICT)
		// Another period, and one-off charges, are free.
		second := mustCreateCharge(t, s, newPeriodCharge(tok, sub, 2))
		mustCreateCharge(t, s, newCharge(tok, 100))
		// After a FAIL the period may be retried; after a SUCCESS, never again.
		if err := settle(t, s, first.ID, autodebit.ChargeFail); err != nil {
			t.Fatal(err)
		}
		retry := mustCreateCharge(t, s, newPeriodCharge(tok, sub, 1))
		if err := settle(t, s, retry.ID, autodebit.ChargeSuccess); err != nil {
			t.Fatal(err)
		}
		wantCode(t, s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateCharge(ctx, newPeriodCharge(tok, sub, 1)) }), autodebit.ECONFLICT)
		if err := settle(t, s, second.ID, autodebit.ChargeCancelled); err != nil {
			t.Fatal(err)
		}
		mustCreateCharge(t, s, newPeriodCharge(tok, sub, 2))

		list, total, err := s.FindCharges(ctx, autodebit.ChargeFilter{SubscriptionID: sub.ID})
		if err != nil || total != 4 || len(list) != 4 {
			t.Fatalf("subscription's charges: %d of %d, %v; want 4", len(list), total, err)
		}
		if _, total, _ := s.FindCharges(ctx, autodebit.ChargeFilter{SubscriptionID: sub.ID, Period: 1}); total != 2 {
			t.Fatalf("period 1 has %d charges, want 2", total)
		}
		// A charge naming a subscription must name its period, and the reverse.
		half := newCharge(tok, 100)
		half.SubscriptionID = sub.ID
		wantCode(t, s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateCharge(ctx, half) }), autodebit.EINVALID)
	})

	// Concurrent attempts at one period (replicas renewing at once, a retry
	// meeting a manual renewal): exactly one is stored.
	t.Run("OneAttemptInFlight", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		sub := mustCreateSubscription(t, s, newSubscription(tok))
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateCharge(ctx, newPeriodCharge(tok, sub, 1)) })
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else if autodebit.ErrorCode(err) != autodebit.ECONFLICT {
				t.Fatalf("concurrent create: %v", err)
			}
		}
		if _, total, _ := s.FindCharges(ctx, autodebit.ChargeFilter{SubscriptionID: sub.ID}); won != 1 || total != 1 {
			t.Fatalf("%d creates won, %d charges stored; want 1", won, total)
		}
	})

	// Random attempts and settlements of one period, by SettleCharge and by
	// UpdateCharge: the store never holds two INIT or SUCCESS charges for
	// the period, nor a second SUCCESS, and refuses exactly what would.
	t.Run("OneSuccessPerPeriod", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		rapid.Check(t, func(rt *rapid.T) {
			sub := mustCreateSubscription(rt, s, newSubscription(tok))
			var open *autodebit.Charge // the INIT charge, if any
			paid := false
			for i := range rapid.IntRange(1, 15).Draw(rt, "steps") {
				switch op := rapid.SampledFrom([]string{"attempt", "settle", "update"}).Draw(rt, "op"); op {
				case "attempt":
					c := newPeriodCharge(tok, sub, 1)
					err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateCharge(ctx, c) })
					if open != nil || paid {
						wantCode(rt, err, autodebit.ECONFLICT)
					} else if err != nil {
						rt.Fatalf("step %d: attempt refused with none in flight and none paid: %v", i, err)
					} else {
						open = c
					}
				case "settle", "update":
					if open == nil {
						continue
					}
					to := rapid.SampledFrom([]autodebit.ChargeStatus{autodebit.ChargeSuccess, autodebit.ChargeFail, autodebit.ChargeCancelled}).Draw(rt, "to")
					var err error
					if op == "settle" {
						err = settle(rt, s, open.ID, to)
					} else {
						cur, ferr := s.FindChargeByID(ctx, open.ID)
						if ferr != nil {
							rt.Fatal(ferr)
						}
						cur.Status = to
						err = s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateCharge(ctx, cur) })
					}
					if err != nil {
						rt.Fatalf("step %d %s %s: %v", i, op, to, err)
					}
					paid, open = to == autodebit.ChargeSuccess, nil
				}
				all, _, err := s.FindCharges(ctx, autodebit.ChargeFilter{SubscriptionID: sub.ID})
				if err != nil {
					rt.Fatal(err)
				}
				live, successes := 0, 0
				for _, c := range all {
					if c.Status == autodebit.ChargeInit || c.Status == autodebit.ChargeSuccess {
						live++
					}
					if c.Status == autodebit.ChargeSuccess {
						successes++
					}
				}
				if live > 1 || successes > 1 {
					rt.Fatalf("step %d: %d charges INIT or SUCCESS, %d SUCCESS for one period", i, live, successes)
				}
			}
		})
	})
}

func ids(subs []*autodebit.Subscription) []string {
	out := make([]string, len(subs))
	for i, s := range subs {
		out[i] = s.ID
	}
	return out
}
