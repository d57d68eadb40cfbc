package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/engine"
	"github.com/autodebit/autodebit/storetest"
)

// jan31 starts the simulated clock on a month's last day, so that monthly
// periods show the calendar's clamping.
var jan31 = time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)

func subStack(t *testing.T, open storetest.Opener, opt stackOptions) *stack {
	t.Helper()
	eng := opt.engine
	opt.start = jan31
	// Months pass on the clock: keep the events the tests read (the
	// cleanup job runs when a process starts).
	opt.engine = func(c *engine.Config) {
		c.EventRetention = 10 * 366 * 24 * time.Hour
		if eng != nil {
			eng(c)
		}
	}
	return newStack(t, open, opt)
}

func php(v int64) autodebit.Amount { return autodebit.Amount{Currency: "PHP", Value: v} }

func (s *stack) subscribe(in engine.SubscriptionInput) *autodebit.Subscription {
	s.tb.Helper()
	sub, err := s.eng.CreateSubscription(context.Background(), in)
	if err != nil {
		s.tb.Fatalf("CreateSubscription: %v", err)
	}
	return sub
}

func (s *stack) sub(id string) *autodebit.Subscription {
	s.tb.Helper()
	sub, err := s.store.FindSubscriptionByID(context.Background(), id)
	if err != nil {
		s.tb.Fatal(err)
	}
	return sub
}

// subCharges returns a subscription's charges by period, each period's
// oldest first (on a stopped clock several may share a creation time).
func (s *stack) subCharges(id string) []*autodebit.Charge {
	s.tb.Helper()
	cs, _, err := s.store.FindCharges(context.Background(), autodebit.ChargeFilter{SubscriptionID: id})
	if err != nil {
		s.tb.Fatal(err)
	}
	slices.Reverse(cs)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Period < cs[j].Period })
	return cs
}

// settleRenewals waits until no renewal charge is INIT, advancing the clock
// by step between looks (so that processing payments finish and orders
// close).
func (s *stack) settleRenewals(step time.Duration) {
	s.tb.Helper()
	open, _, err := s.store.FindCharges(context.Background(), autodebit.ChargeFilter{Status: autodebit.ChargeInit})
	if err != nil {
		s.tb.Fatal(err)
	}
	for _, c := range open {
		if c.SubscriptionID != "" {
			s.waitCharge(c.ID, step)
		}
	}
}

// renewAt moves the clock to t, runs RenewDue and waits for what became due
// to settle. It returns how many renewal charges were made from the call
// on: the periodic job (RenewSubscriptionsArgs) may run RenewDue at the
// same moment, so the count is read from the database, whoever made them.
func (s *stack) renewAt(t time.Time, step time.Duration) int {
	s.tb.Helper()
	before := s.renewalCount()
	s.advanceTo(t)
	if _, err := s.eng.RenewDue(context.Background()); err != nil {
		s.tb.Fatalf("RenewDue: %v", err)
	}
	s.settleRenewals(step)
	return s.renewalCount() - before
}

// renew is renewAt at the current time.
func (s *stack) renew(step time.Duration) int {
	s.tb.Helper()
	return s.renewAt(s.sim.Now(), step)
}

// renewalCount counts the charges made by subscriptions.
func (s *stack) renewalCount() int {
	s.tb.Helper()
	subs, _, err := s.store.FindSubscriptions(context.Background(), autodebit.SubscriptionFilter{})
	if err != nil {
		s.tb.Fatal(err)
	}
	n := 0
	for _, sub := range subs {
		n += len(s.subCharges(sub.ID))
	}
	return n
}

// antomClient is a new Antom client on the stack's simulator, for another
// engine process on the same store.
func (s *stack) antomClient() *antom.Client {
	s.tb.Helper()
	c, err := antom.NewClient(antom.Config{
		BaseURL: s.simSrv.URL, ClientID: s.sim.ClientID(), PrivateKey: merchantKey, AntomPublicKey: s.sim.AntomPublicKey(),
		Timeout: 5 * time.Second, NowFunc: s.sim.Now, ObserveFunc: engine.Observe,
	})
	if err != nil {
		s.tb.Fatal(err)
	}
	return c
}

func readREADME(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// advanceTo moves the clock to t (if it is ahead).
func (s *stack) advanceTo(t time.Time) {
	s.tb.Helper()
	if d := t.Sub(s.sim.Now()); d > 0 {
		s.advance(d)
	}
}

// events returns the types of an object's events, in sequence.
func (s *stack) eventTypes(objectID string) []string {
	s.tb.Helper()
	evs, _, err := s.store.FindEvents(context.Background(), autodebit.EventFilter{ObjectID: objectID})
	if err != nil {
		s.tb.Fatal(err)
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].Sequence < evs[j].Sequence })
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e.Type)
	}
	return out
}

func (s *stack) setBalance(v int64) {
	s.tb.Helper()
	if _, err := s.sim.UpdateAccount("GCASH", defaultGCashLogin, antomsim.AccountUpdate{Balance: &v}); err != nil {
		s.tb.Fatal(err)
	}
}

func (s *stack) setFailCode(code string) {
	s.tb.Helper()
	if _, err := s.sim.UpdateAccount("GCASH", defaultGCashLogin, antomsim.AccountUpdate{FailCode: &code}); err != nil {
		s.tb.Fatal(err)
	}
}

// checkOnePerPeriod checks, against the simulator's truth, that no period
// of any subscription was paid twice, that the store agrees with the
// simulator on every renewal charge, and that cyclesCompleted counts the
// paid periods.
func (s *stack) checkOnePerPeriod() {
	s.tb.Helper()
	ctx := context.Background()
	payments := map[string]antomsim.Payment{}
	for _, p := range s.sim.Payments() {
		payments[p.PaymentRequestID] = p
	}
	subs, _, err := s.store.FindSubscriptions(ctx, autodebit.SubscriptionFilter{})
	if err != nil {
		s.tb.Fatal(err)
	}
	for _, sub := range subs {
		kept := map[int]int{} // period → payments Antom kept
		paid := map[int]int{} // period → SUCCESS charges
		for _, c := range s.subCharges(sub.ID) {
			p, ok := payments[c.PaymentRequestID]
			if ok && p.Debits > 1 {
				s.tb.Errorf("payment %s debited %d times", p.PaymentRequestID, p.Debits)
			}
			if ok && p.Status == antom.PaymentStatusSuccess {
				kept[c.Period]++
			}
			if c.Status == autodebit.ChargeSuccess {
				paid[c.Period]++
			}
		}
		total := 0
		for period, n := range kept {
			if n > 1 {
				s.tb.Errorf("subscription %s period %d: Antom kept %d payments", sub.ID, period, n)
			}
		}
		for period, n := range paid {
			total += n
			if n > 1 {
				s.tb.Errorf("subscription %s period %d: %d SUCCESS charges", sub.ID, period, n)
			}
		}
		if sub.CyclesCompleted != total {
			s.tb.Errorf("subscription %s: cyclesCompleted %d, %d periods paid", sub.ID, sub.CyclesCompleted, total)
		}
	}
}

// TestSubscription_year charges a monthly subscription for a year of
// simulated time: twelve charges, one per period, on the calendar's days
// (Jan 31, Feb 28, Mar 31, Apr 30, …), then completed.
func TestSubscription_year(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := subStack(t, open, stackOptions{})
		tok := s.link("cus_sub", "GCASH")
		sub := s.subscribe(engine.SubscriptionInput{TokenID: tok.ID, Amount: php(1500), Interval: autodebit.IntervalMonth, Cycles: 12, Description: "Gym"})
		if sub.Status != autodebit.SubscriptionActive || sub.Period != 1 || sub.LastChargeID == "" || !sub.NextChargeAt.IsZero() {
			t.Fatalf("created %+v: want active, period 1 charging now", sub)
		}
		s.settleRenewals(0)
		for range 11 {
			next := s.sub(sub.ID)
			if next.Status != autodebit.SubscriptionActive || next.NextChargeAt.IsZero() {
				t.Fatalf("between periods: %+v", next)
			}
			// Nothing is due a second before.
			if n := s.renewAt(next.NextChargeAt.Add(-time.Second), 0); n != 0 {
				t.Fatalf("RenewDue charged %d before period %d started", n, next.Period)
			}
			if n := s.renewAt(next.NextChargeAt, 0); n != 1 {
				t.Fatalf("RenewDue charged %d at period %d's start, want 1", n, next.Period)
			}
		}
		got := s.sub(sub.ID)
		if got.Status != autodebit.SubscriptionCompleted || got.CyclesCompleted != 12 || !got.NextChargeAt.IsZero() {
			t.Fatalf("after 12 periods: %+v", got)
		}
		charges := s.subCharges(sub.ID)
		if len(charges) != 12 {
			t.Fatalf("%d charges, want 12", len(charges))
		}
		wantDays := []string{"01-31", "02-28", "03-31", "04-30", "05-31", "06-30", "07-31", "08-31", "09-30", "10-31", "11-30", "12-31"}
		for i, c := range charges {
			if c.Status != autodebit.ChargeSuccess || c.Period != i+1 || c.PeriodStart.Format("01-02") != wantDays[i] ||
				c.Description != "Gym" || c.Amount != php(1500) {
				t.Errorf("charge %d: %s period %d starting %s (%s %s), want SUCCESS period %d on %s", i, c.Status, c.Period,
					c.PeriodStart.Format(time.RFC3339), c.Description, c.Amount, i+1, wantDays[i])
			}
			if i > 0 && !c.PeriodStart.Equal(charges[i-1].PeriodEnd) {
				t.Errorf("period %d starts %s, period %d ended %s", c.Period, c.PeriodStart, i, charges[i-1].PeriodEnd)
			}
		}
		if got, want := s.eventTypes(sub.ID), []string{"subscription.created", "subscription.completed"}; !slices.Equal(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
		// Nothing more is ever due.
		s.advance(90 * 24 * time.Hour)
		if n := s.renew(0); n != 0 {
			t.Fatalf("a completed subscription charged %d more", n)
		}
		s.checkOnePerPeriod()
		s.checkTruth()
	})
}

// TestSubscription_dunning: a short balance makes the period past_due and
// retries it on the schedule; a top-up recovers it (active again); retries
// that run out make it unpaid, and the next period is charged on schedule.
// The classification runs whichever path settles the charge: here pay's
// answer and, with processing payments, the notification.
func TestSubscription_dunning(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		for _, mode := range []string{antomsim.PayModeInstant, antomsim.PayModeProcessing} {
			t.Run(mode, func(t *testing.T) {
				s := subStack(t, open, stackOptions{})
				tok := s.link("cus_dun", "GCASH")
				s.setPayMode(mode)
				step := time.Duration(0)
				if mode == antomsim.PayModeProcessing {
					step = 10 * time.Second
				}
				s.setBalance(1000)
				sub := s.subscribe(engine.SubscriptionInput{TokenID: tok.ID, Amount: php(1500), Interval: autodebit.IntervalMonth,
					RetrySchedule: []time.Duration{24 * time.Hour, 72 * time.Hour}})
				s.settleRenewals(step)
				got := s.sub(sub.ID)
				if got.Status != autodebit.SubscriptionPastDue || got.FailureCode != antom.CodeUserBalanceNotEnough || got.Attempt != 1 {
					t.Fatalf("after a short balance: %+v", got)
				}
				first := s.subCharges(sub.ID)[0]
				if want := first.SettledAt.Add(24 * time.Hour); !got.NextChargeAt.Equal(want.UTC().Truncate(time.Microsecond)) {
					t.Fatalf("retry at %s, want a day after the failure %s", got.NextChargeAt, want)
				}
				// Retry 1 fails too; retry 2, after a top-up, succeeds.
				if n := s.renewAt(got.NextChargeAt, step); n != 1 {
					t.Fatalf("retry 1: %d charges", n)
				}
				if got = s.sub(sub.ID); got.Status != autodebit.SubscriptionPastDue || got.Attempt != 2 {
					t.Fatalf("after retry 1: %+v", got)
				}
				s.setBalance(100_000)
				if n := s.renewAt(got.NextChargeAt, step); n != 1 {
					t.Fatalf("retry 2: %d charges", n)
				}
				if got = s.sub(sub.ID); got.Status != autodebit.SubscriptionActive || got.Period != 2 || got.CyclesCompleted != 1 || got.FailureCode != "" {
					t.Fatalf("after the top-up: %+v", got)
				}
				if !got.NextChargeAt.Equal(got.PeriodStart(2)) {
					t.Fatalf("period 2 due %s, want its start %s", got.NextChargeAt, got.PeriodStart(2))
				}
				// Period 2: every attempt fails; after the schedule, unpaid.
				s.setBalance(0)
				for attempt := 1; attempt <= 3; attempt++ {
					if n := s.renewAt(s.sub(sub.ID).NextChargeAt, step); n != 1 {
						t.Fatalf("period 2 attempt %d: %d charges", attempt, n)
					}
				}
				if got = s.sub(sub.ID); got.Status != autodebit.SubscriptionUnpaid || got.Period != 3 || got.CyclesCompleted != 1 {
					t.Fatalf("after the retries ran out: %+v", got)
				}
				// Period 3 is charged at its start and recovers the subscription.
				s.setBalance(100_000)
				if n := s.renewAt(got.NextChargeAt, step); n != 1 {
					t.Fatalf("period 3: %d charges", n)
				}
				if got = s.sub(sub.ID); got.Status != autodebit.SubscriptionActive || got.CyclesCompleted != 2 {
					t.Fatalf("after period 3: %+v", got)
				}
				want := []string{"subscription.created", "subscription.past_due", "subscription.active", "subscription.past_due",
					"subscription.unpaid", "subscription.active"}
				if got := s.eventTypes(sub.ID); !slices.Equal(got, want) {
					t.Errorf("events %v, want %v", got, want)
				}
				charges := s.subCharges(sub.ID)
				if len(charges) != 7 {
					t.Fatalf("%d charges, want 3 + 3 + 1", len(charges))
				}
				if mode == antomsim.PayModeProcessing {
					// pay answered U: a notification or an inquiry settled
					// each, and the dunning followed all the same.
					for _, c := range charges {
						if c.SettledBy == autodebit.SettledByPay {
							t.Errorf("charge %s settled by pay in processing mode", c.ID)
						}
					}
				}
				s.checkOnePerPeriod()
				s.checkTruth()
			})
		}
	})
}

// TestSubscription_classes: a code that retrying cannot fix makes the
// period unpaid at once; one that says the token is dead cancels the
// subscription (and ends the token).
func TestSubscription_classes(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := subStack(t, open, stackOptions{})
		tok := s.link("cus_cls", "GCASH")
		s.setFailCode(engine.CodeUserKYCNotQualified)
		sub := s.subscribe(engine.SubscriptionInput{TokenID: tok.ID, Amount: php(1500), Interval: autodebit.IntervalWeek})
		s.settleRenewals(0)
		got := s.sub(sub.ID)
		if got.Status != autodebit.SubscriptionUnpaid || got.Period != 2 || got.Attempt != 0 || got.FailureCode != engine.CodeUserKYCNotQualified {
			t.Fatalf("after a final code: %+v", got)
		}
		s.setFailCode(antom.CodeInvalidAccessToken)
		if n := s.renewAt(got.NextChargeAt, 0); n != 1 {
			t.Fatalf("period 2: %d charges", n)
		}
		got = s.sub(sub.ID)
		if got.Status != autodebit.SubscriptionCancelled || !strings.Contains(got.CancelReason, antom.CodeInvalidAccessToken) || !got.NextChargeAt.IsZero() {
			t.Fatalf("after INVALID_ACCESS_TOKEN: %+v", got)
		}
		if tk, _ := s.store.FindTokenByID(context.Background(), tok.ID); tk.Status == autodebit.TokenActive {
			t.Fatalf("token still ACTIVE after INVALID_ACCESS_TOKEN")
		}
		if want := []string{"subscription.created", "subscription.unpaid", "subscription.cancelled"}; !slices.Equal(s.eventTypes(sub.ID), want) {
			t.Errorf("events %v, want %v", s.eventTypes(sub.ID), want)
		}
	})
}

// TestSubscription_tokenEnds: revoking the token (by the merchant, or from
// the wallet) cancels its subscriptions in the same transaction, with the
// reason; they are never charged again.
func TestSubscription_tokenEnds(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := subStack(t, open, stackOptions{})
		ctx := context.Background()
		merchant := s.link("cus_tok", "GCASH")
		later := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		a := s.subscribe(engine.SubscriptionInput{TokenID: merchant.ID, Amount: php(1500), Interval: autodebit.IntervalMonth, StartAt: later})
		b := s.subscribe(engine.SubscriptionInput{TokenID: merchant.ID, Amount: php(500), Interval: autodebit.IntervalDay, StartAt: later})
		paused := s.subscribe(engine.SubscriptionInput{TokenID: merchant.ID, Amount: php(500), Interval: autodebit.IntervalDay, StartAt: later})
		if _, err := s.eng.PauseSubscription(ctx, paused.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.eng.RevokeToken(ctx, merchant.ID); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{a.ID, b.ID, paused.ID} {
			got := s.sub(id)
			if got.Status != autodebit.SubscriptionCancelled || got.CancelReason != "the token was revoked by merchant" {
				t.Fatalf("subscription %s after the revoke: %s %q", id, got.Status, got.CancelReason)
			}
			// The token's event and the subscription's committed together.
			types := s.eventTypes(id)
			if types[len(types)-1] != "subscription.cancelled" {
				t.Fatalf("events of %s: %v", id, types)
			}
		}
		wallet := s.link("cus_tok", "GCASH")
		c := s.subscribe(engine.SubscriptionInput{TokenID: wallet.ID, Amount: php(1500), Interval: autodebit.IntervalMonth, StartAt: later})
		if _, err := s.sim.CancelToken(wallet.AccessToken, "unlinked in the app"); err != nil {
			t.Fatal(err)
		}
		s.waitFor("the wallet's cancel", func() bool { return s.sub(c.ID).Status == autodebit.SubscriptionCancelled })
		if got := s.sub(c.ID); got.CancelReason != "the token was revoked by wallet: unlinked in the app" {
			t.Fatalf("cancel reason %q", got.CancelReason)
		}
		if n := s.renewAt(later.Add(time.Hour), 0); n != 0 {
			t.Fatalf("cancelled subscriptions charged %d times", n)
		}
	})
}

// TestSubscription_pauseResume: a paused subscription is not charged; on
// resume, the periods that started while it was paused are skipped and
// charging goes on from the first period starting at or after the resume.
func TestSubscription_pauseResume(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := subStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_pause", "GCASH")
		sub := s.subscribe(engine.SubscriptionInput{TokenID: tok.ID, Amount: php(1500), Interval: autodebit.IntervalMonth, Cycles: 4})
		s.settleRenewals(0)
		p, err := s.eng.PauseSubscription(ctx, sub.ID)
		if err != nil || p.Status != autodebit.SubscriptionPaused || !p.NextChargeAt.IsZero() || p.PausedAt.IsZero() {
			t.Fatalf("pause: %+v, %v", p, err)
		}
		if again, err := s.eng.PauseSubscription(ctx, sub.ID); err != nil || again.Version != p.Version {
			t.Fatalf("pausing again changed it: %+v, %v", again, err)
		}
		if n := s.renewAt(time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC), 0); n != 0 { // past Feb 28 and Mar 31
			t.Fatalf("a paused subscription was charged %d times", n)
		}
		r, err := s.eng.ResumeSubscription(ctx, sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != autodebit.SubscriptionActive || r.Period != 4 || !r.NextChargeAt.Equal(time.Date(2026, 4, 30, 9, 0, 0, 0, time.UTC)) {
			t.Fatalf("resumed: %+v; want period 4 (Apr 30) next", r)
		}
		if n := s.renewAt(r.NextChargeAt, 0); n != 1 {
			t.Fatalf("period 4: %d charges", n)
		}
		got := s.sub(sub.ID)
		if got.Status != autodebit.SubscriptionCompleted || got.CyclesCompleted != 2 {
			t.Fatalf("after the last period: %+v; want completed with 2 periods paid (2 and 3 skipped)", got)
		}
		want := []string{"subscription.created", "subscription.paused", "subscription.resumed", "subscription.completed"}
		if types := s.eventTypes(sub.ID); !slices.Equal(types, want) {
			t.Errorf("events %v, want %v", types, want)
		}
		for name, call := range map[string]func() (*autodebit.Subscription, error){
			"pause":  func() (*autodebit.Subscription, error) { return s.eng.PauseSubscription(ctx, sub.ID) },
			"resume": func() (*autodebit.Subscription, error) { return s.eng.ResumeSubscription(ctx, sub.ID) },
			"cancel": func() (*autodebit.Subscription, error) { return s.eng.CancelSubscription(ctx, sub.ID, "") },
		} {
			if _, err := call(); autodebit.ErrorCode(err) != autodebit.ECONFLICT {
				t.Errorf("%s a completed subscription: %v, want ECONFLICT", name, err)
			}
		}
		if _, err := s.eng.PauseSubscription(ctx, "sub_nope"); autodebit.ErrorCode(err) != autodebit.ENOTFOUND {
			t.Errorf("pause an unknown subscription: %v", err)
		}
	})
}

// TestSubscription_catchUp: an engine down for 100 days charges each
// missed period once, in order, one per RenewDue pass, never two at once.
func TestSubscription_catchUp(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := subStack(t, open, stackOptions{})
		tok := s.link("cus_down", "GCASH")
		sub := s.subscribe(engine.SubscriptionInput{TokenID: tok.ID, Amount: php(1500), Interval: autodebit.IntervalMonth})
		s.settleRenewals(0)
		s.crash()
		// Down: nothing of the engine runs while the clock moves (an advance
		// would wait for its jobs). May 11: periods 2 (Feb 28), 3 (Mar 31)
		// and 4 (Apr 30) missed.
		s.clk.Add(100 * 24 * time.Hour)
		s.start()
		// The process's first renewal pass (the periodic job runs on start)
		// and ours may meet; whoever runs, each pass charges one period.
		for pass := 0; s.sub(sub.ID).Period <= 4; pass++ {
			if pass == 10 {
				t.Fatalf("not caught up after 10 passes: %+v", s.sub(sub.ID))
			}
			if open := s.openRenewals(sub.ID); open > 1 {
				t.Fatalf("%d charges of one subscription in flight at once", open)
			}
			s.renew(0)
		}
		if got := s.sub(sub.ID); got.Period != 5 || got.CyclesCompleted != 4 || !got.NextChargeAt.Equal(got.PeriodStart(5)) {
			t.Fatalf("caught up: %+v; want period 5 (May 31) next", got)
		}
		if n := s.renew(0); n != 0 {
			t.Fatalf("caught up, yet RenewDue charged %d (period 5 is May 31)", n)
		}
		charges := s.subCharges(sub.ID)
		for i, c := range charges {
			if c.Period != i+1 || c.Status != autodebit.ChargeSuccess {
				t.Fatalf("charge %d: period %d %s", i, c.Period, c.Status)
			}
			if i > 0 && c.CreatedAt.Before(charges[i-1].SettledAt) {
				t.Fatalf("period %d was charged before period %d settled", c.Period, i)
			}
		}
		s.checkOnePerPeriod()
	})
}

// openRenewals counts a subscription's INIT charges.
func (s *stack) openRenewals(id string) int {
	n := 0
	for _, c := range s.subCharges(id) {
		if c.Status == autodebit.ChargeInit {
			n++
		}
	}
	return n
}

// TestSubscription_replicas: several engines on one database renewing the
// same due subscriptions at once make one charge per period.
func TestSubscription_replicas(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := subStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_rep", "GCASH")
		start := jan31.Add(24 * time.Hour)
		var subs []*autodebit.Subscription
		for i := range 5 {
			subs = append(subs, s.subscribe(engine.SubscriptionInput{TokenID: tok.ID, Amount: php(int64(100 + i)), Interval: autodebit.IntervalDay, StartAt: start}))
		}
		var engines []*engine.Engine
		for range 4 {
			e, err := engine.New(engine.Config{Store: s.store, Antom: s.antomClient(), PublicURL: s.srv.URL, NowFunc: s.sim.Now, Logger: testLogger()})
			if err != nil {
				t.Fatal(err)
			}
			engines = append(engines, e)
		}
		s.advanceTo(start)
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for _, e := range engines {
			for range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n, err := e.RenewDue(ctx)
					if err != nil {
						t.Errorf("RenewDue: %v", err)
					}
					mu.Lock()
					total += n
					mu.Unlock()
				}()
			}
		}
		wg.Wait()
		s.settleRenewals(0)
		if total > len(subs) {
			t.Fatalf("12 concurrent passes report %d charges for %d due subscriptions", total, len(subs))
		}
		for _, sub := range subs {
			if cs := s.subCharges(sub.ID); len(cs) != 1 || cs[0].Status != autodebit.ChargeSuccess {
				t.Fatalf("subscription %s: %d charges", sub.ID, len(cs))
			}
		}
		s.checkOnePerPeriod()
	})
}

// TestSubscription_create: input checks, idempotency, and the first charge
// made with the subscription.
func TestSubscription_create(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := subStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_new", "GCASH")
		in := engine.SubscriptionInput{TokenID: tok.ID, Amount: php(1500), Interval: autodebit.IntervalMonth, StartAt: jan31.Add(time.Hour),
			TimeZone: "Asia/Manila", IdempotencyKey: "plan-1"}
		rctx, replayed := engine.WithReplayReport(ctx)
		first, err := s.eng.CreateSubscription(rctx, in)
		if err != nil || *replayed {
			t.Fatalf("create: %v (replayed %v)", err, *replayed)
		}
		if first.LastChargeID != "" || !first.NextChargeAt.Equal(jan31.Add(time.Hour)) || !slices.Equal(first.RetrySchedule, autodebit.DefaultRetrySchedule) {
			t.Fatalf("created %+v: want nothing charged before startAt, the default retries", first)
		}
		rctx, replayed = engine.WithReplayReport(ctx)
		again, err := s.eng.CreateSubscription(rctx, in)
		if err != nil || again.ID != first.ID || !*replayed {
			t.Fatalf("replay: %v, %v (replayed %v)", again, err, *replayed)
		}
		other := in
		other.Amount = php(1600)
		if _, err := s.eng.CreateSubscription(ctx, other); autodebit.ErrorCode(err) != autodebit.ECONFLICT {
			t.Fatalf("same key, other amount: %v", err)
		}
		for name, tc := range map[string]struct {
			mod  func(in *engine.SubscriptionInput)
			code string
			want string
		}{
			"interval":  {func(in *engine.SubscriptionInput) { in.Interval = "fortnight" }, autodebit.EINVALID, "interval"},
			"past":      {func(in *engine.SubscriptionInput) { in.StartAt = jan31.Add(-time.Hour) }, autodebit.EINVALID, "in the past"},
			"far":       {func(in *engine.SubscriptionInput) { in.StartAt = jan31.AddDate(3, 0, 0) }, autodebit.EINVALID, "two years"},
			"zone":      {func(in *engine.SubscriptionInput) { in.TimeZone = "Moon/Base" }, autodebit.EINVALID, "Time zone"},
			"retry":     {func(in *engine.SubscriptionInput) { in.RetrySchedule = []time.Duration{-time.Hour} }, autodebit.EINVALID, "retrySchedule"},
			"currency":  {func(in *engine.SubscriptionInput) { in.Amount = autodebit.Amount{Currency: "USD", Value: 100} }, autodebit.EINVALID, "Amount"},
			"no token":  {func(in *engine.SubscriptionInput) { in.TokenID = "" }, autodebit.EINVALID, "tokenId"},
			"unknown":   {func(in *engine.SubscriptionInput) { in.TokenID = "tok_nope" }, autodebit.ENOTFOUND, ""},
			"cycles":    {func(in *engine.SubscriptionInput) { in.Cycles = -2 }, autodebit.EINVALID, "cycles"},
			"36 months": {func(in *engine.SubscriptionInput) { in.IntervalCount = 37 }, autodebit.EINVALID, "intervalCount"},
		} {
			bad := in
			bad.IdempotencyKey = ""
			tc.mod(&bad)
			_, err := s.eng.CreateSubscription(ctx, bad)
			if autodebit.ErrorCode(err) != tc.code || !strings.Contains(autodebit.ErrorMessage(err), tc.want) {
				t.Errorf("%s: %v, want %s naming %q", name, err, tc.code, tc.want)
			}
		}
		if _, n, _ := s.store.FindSubscriptions(ctx, autodebit.SubscriptionFilter{}); n != 1 {
			t.Fatalf("%d subscriptions stored, want the one (bad input changes nothing)", n)
		}
		// The event's object is the subscription as GET shows it.
		evs, _, _ := s.store.FindEvents(ctx, autodebit.EventFilter{ObjectID: first.ID})
		var view map[string]any
		if len(evs) != 1 || json.Unmarshal(evs[0].Data, &view) != nil || view["status"] != "active" || view["timeZone"] != "Asia/Manila" {
			t.Fatalf("created event: %v", evs)
		}
		// Cancel: the reason is kept; a second cancel changes nothing.
		c, err := s.eng.CancelSubscription(ctx, first.ID, "customer moved away")
		if err != nil || c.Status != autodebit.SubscriptionCancelled || c.CancelReason != "customer moved away" || !c.NextChargeAt.IsZero() {
			t.Fatalf("cancel: %+v, %v", c, err)
		}
		if again, err := s.eng.CancelSubscription(ctx, first.ID, ""); err != nil || again.Version != c.Version {
			t.Fatalf("second cancel: %+v, %v", again, err)
		}
		if _, err := s.eng.ResumeSubscription(ctx, first.ID); autodebit.ErrorCode(err) != autodebit.ECONFLICT {
			t.Fatalf("resume a cancelled subscription: %v", err)
		}
		if _, err := s.eng.CancelSubscription(ctx, first.ID, "bad\x00reason"); autodebit.ErrorCode(err) != autodebit.EINVALID {
			t.Fatalf("a control character in the reason: %v", err)
		}
		// A revoked token takes no subscription.
		if _, err := s.eng.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		other.IdempotencyKey = ""
		if _, err := s.eng.CreateSubscription(ctx, other); autodebit.ErrorCode(err) != autodebit.ECONFLICT {
			t.Fatalf("subscribe a revoked token: %v", err)
		}
	})
}

// TestDunningTable checks the classification against the codes of
// antom-api.md's pay section, one by one, so that a change to the table is
// a change to this list too.
func TestDunningTable(t *testing.T) {
	want := map[string]engine.FailureClass{
		"USER_BALANCE_NOT_ENOUGH": "retryable", "USER_AMOUNT_EXCEED_LIMIT": "retryable", "PAYMENT_AMOUNT_EXCEED_LIMIT": "retryable",
		"PAYMENT_COUNT_EXCEED_LIMIT": "retryable", "USER_STATUS_ABNORMAL": "retryable", "RISK_REJECT": "retryable",
		"ORDER_IS_CLOSED": "retryable", "ORDER_IS_CANCELED": "retryable", "ORDER_NOT_EXIST": "retryable",
		"UNKNOWN_EXCEPTION": "retryable", "REQUEST_TRAFFIC_EXCEED_LIMIT": "retryable",
		"INVALID_ACCESS_TOKEN": "token_gone", "USER_NOT_EXIST": "token_gone",
		"PARAM_ILLEGAL": "final", "CURRENCY_NOT_SUPPORT": "final", "REPEAT_REQ_INCONSISTENT": "final",
		"USER_KYC_NOT_QUALIFIED": "final", "USER_PAYMENT_VERIFICATION_FAILED": "final", "MERCHANT_NOT_REGISTERED": "final",
		"INVALID_CONTRACT": "final", "SETTLE_CONTRACT_NOT_MATCH": "final", "NO_PAY_OPTIONS": "final",
		"PAYMENT_NOT_QUALIFIED": "final", "REGULATION_RESTRICTION": "final", "PROCESS_FAIL": "final", "SYSTEM_ERROR": "final",
		"INVALID_SIGNATURE": "final", "KEY_NOT_FOUND": "final", "CLIENT_INVALID": "final", "ACCESS_DENIED": "final",
	}
	for code, class := range want {
		if got := engine.ClassifyFailure(autodebit.ChargeFail, code); got != class {
			t.Errorf("FAIL %s is %s, want %s", code, got, class)
		}
	}
	if got := engine.DunningTable(); len(got) != len(want) {
		t.Errorf("the table has %d codes, this test %d", len(got), len(want))
	}
	if got := engine.ClassifyFailure(autodebit.ChargeFail, "SOMETHING_NEW"); got != engine.FailureFinal {
		t.Errorf("an unknown code is %s, want final", got)
	}
	for _, code := range []string{"SUCCESS", "INVALID_ACCESS_TOKEN", "USER_KYC_NOT_QUALIFIED"} {
		if got := engine.ClassifyFailure(autodebit.ChargeCancelled, code); got != engine.FailureRetryable {
			t.Errorf("CANCELLED %s is %s, want retryable (nothing was taken)", code, got)
		}
	}
	// README.md documents the same table, in its Dunning section.
	readme := readREADME(t)
	if i := strings.Index(readme, "\n### Dunning"); i >= 0 {
		readme = readme[i:]
		if j := strings.Index(readme[1:], "\n#"); j >= 0 {
			readme = readme[:j+1]
		}
	} else {
		t.Fatal("README.md has no \"### Dunning\" section")
	}
	for code, class := range want {
		line := fmt.Sprintf("`%s`", code)
		i := strings.Index(readme, line)
		if i < 0 {
			t.Errorf("README.md's dunning table does not list %s", code)
			continue
		}
		row := readme[strings.LastIndex(readme[:i], "\n")+1:]
		row = row[:strings.IndexByte(row, '\n')]
		if !strings.HasPrefix(row, "| "+string(class)+" |") {
			t.Errorf("README.md lists %s in row %q, want class %s", code, row, class)
		}
	}
}
