package engine_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/clock"
	"github.com/autodebit/autodebit/engine"
	"github.com/autodebit/autodebit/storetest"
)

// These tests move the one clock as POST /v1/clock/advance does (see
// stack.advance) and look at the result the moment the advance returns,
// never waiting: an advance answers only once what fell due has run.

// A charge left INIT (no answer, no notification, inquiries failing) is
// inquired on each of its backoff times and cancelled after its order's
// close, all within one advance of two minutes.
func TestClock_AdvanceInquiresAndCancelsInitCharge(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		tok := s.link("cus_1", "GCASH")
		s.setPayMode(antomsim.PayModeStuck)
		s.setFaults(antomsim.Faults{
			API:    map[string][]antomsim.APIFault{antom.APIInquiryPayment: {{Kind: antomsim.FaultHTTP5xx, Probability: 1}}},
			Notify: map[string][]antomsim.NotifyFault{"*": {{Kind: antomsim.FaultDrop, Probability: 1}}},
		})
		c := s.mustCharge(tok.ID, 1500, "PHP")
		if c.Status != autodebit.ChargeInit {
			t.Fatalf("charge %s, want INIT", c.Status)
		}
		s.advance(time.Second) // before its first inquiry (2s)
		if got := s.charge(c.ID); got.InquiryCount != 0 || got.Status != autodebit.ChargeInit {
			t.Fatalf("after 1s: %s with %d inquiries, want INIT with none", got.Status, got.InquiryCount)
		}
		s.advance(2 * time.Minute)
		got := s.charge(c.ID)
		if got.Status != autodebit.ChargeCancelled || got.SettledBy != autodebit.SettledByCancel {
			t.Fatalf("after 2m: charge %s by %q, want CANCELLED by cancel", got.Status, got.SettledBy)
		}
		if got.InquiryCount < 4 {
			t.Fatalf("%d inquiries before the cancel, want one per backoff step (2s, 4s, 8s, 16s, …)", got.InquiryCount)
		}
		if got.SettledAt.Before(got.ExpiresAt.Add(30 * time.Second)) {
			t.Fatalf("cancelled at %s, before the expiry %s plus the 30s close grace", got.SettledAt, got.ExpiresAt)
		}
		s.setFaults(antomsim.Faults{})
		s.checkTruth()
	})
}

// An authorization with no authCode expires on an advance of its 15
// minutes, with its event, and not a moment before.
func TestClock_AdvanceExpiresAuthorization(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		a, err := s.eng.CreateAuthorization(ctx, "cus_1", "GCASH")
		if err != nil {
			t.Fatal(err)
		}
		s.advance(autodebit.AuthorizationTTL - time.Second)
		if got, _ := s.store.FindAuthorizationByID(ctx, a.ID); got.Status != autodebit.AuthorizationPending {
			t.Fatalf("a second before its expiry: %s", got.Status)
		}
		s.advance(time.Second)
		if got, _ := s.store.FindAuthorizationByID(ctx, a.ID); got.Status != autodebit.AuthorizationExpired {
			t.Fatalf("at its expiry: %s, want EXPIRED", got.Status)
		}
		s.wantEvents(a.ID, "/v1/authorizations/"+a.ID, autodebit.EventAuthorizationExpired)
	})
}

// A webhook delivery whose retry is an hour away is retried by an advance
// of that hour, not by one a second short of it.
func TestClock_AdvanceRunsWebhookRetry(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newWebhookStack(t, open, func(c *engine.Config) { c.WebhookRetryDelays = []time.Duration{time.Hour} })
		rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		})
		s.endpoint(rc.srv.URL)
		// A clock off the microsecond (steps to the simulator's times put it
		// there): the retry's job and nextAttemptAt must still agree.
		s.clk.Add(777 * time.Nanosecond)
		ev := s.publish(autodebit.EventChargeSucceeded, "chg_1")
		d := s.waitAttempts(s.onlyDelivery(ev.ID).ID, 1)
		s.wantScheduled(d)
		wait := d.NextAttemptAt.Sub(s.clk.Now())
		if wait < time.Hour || wait > time.Hour+12*time.Minute {
			t.Fatalf("retry in %s, want an hour plus up to 20%%", wait)
		}
		s.advance(wait - time.Second)
		if got := s.attempts(d.ID); len(got) != 1 {
			t.Fatalf("a second before the retry: %d attempts, want 1", len(got))
		}
		s.advance(time.Second)
		got, err := s.store.FindDeliveryByID(context.Background(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != autodebit.DeliveryDelivered || got.Attempts != 2 || len(rc.requests()) != 2 {
			t.Fatalf("after the hour: delivery %s after %d attempts, receiver got %d; want delivered after 2", got.Status, got.Attempts, len(rc.requests()))
		}
	})
}

// A month's advance runs the periodic work on the one clock: the events
// cleanup deletes what the retention left behind, and River's periodic
// jobs are not inserted once per interval jumped over.
func TestClock_AdvanceAMonth(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		old := s.publish(autodebit.EventChargeSucceeded, "chg_old")
		s.advance(engine.DefaultEventRetention - time.Hour)
		if _, err := s.store.FindEventByID(ctx, old.ID); err != nil {
			t.Fatalf("an event within its retention is gone: %v", err)
		}
		s.advance(2 * time.Hour)
		if _, err := s.store.FindEventByID(ctx, old.ID); autodebit.ErrorCode(err) != autodebit.ENOTFOUND {
			t.Fatalf("an event past its retention: %v, want it deleted", err)
		}
		res, err := s.runner.Client().JobList(ctx, river.NewJobListParams().Kinds(engine.SweepArgs{}.Kind()).First(10000))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(res.Jobs); n > 20 {
			t.Fatalf("%d sweep jobs after a month's advance, want a few, not one per 5s jumped", n)
		}
	})
}

// The README's subscription story on the one clock: one advance of 335
// days charges the 11 remaining periods of a monthly subscription, each at
// its own period's start (not at the end of the jump); a short balance
// makes the next subscription past_due, an advance past its retry after a
// top-up recovers it, and revoking the token cancels it.
func TestClock_AdvanceRenewsSubscriptions(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := subStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_clock", "GCASH")
		sub := s.subscribe(engine.SubscriptionInput{TokenID: tok.ID, Amount: php(1500), Interval: autodebit.IntervalMonth, Cycles: 12})
		s.advance(time.Second)
		s.advance(335 * 24 * time.Hour)
		charges := s.subCharges(sub.ID)
		if got := s.sub(sub.ID); got.Status != autodebit.SubscriptionCompleted || got.CyclesCompleted != 12 || len(charges) != 12 {
			t.Fatalf("after advancing 335 days: %s with %d periods paid and %d charges, want completed with 12 and 12", got.Status, got.CyclesCompleted, len(charges))
		}
		for _, c := range charges {
			if c.Status != autodebit.ChargeSuccess {
				t.Errorf("period %d: %s, want SUCCESS", c.Period, c.Status)
			}
			// Charged and settled at its period's start: the advance
			// stopped there and waited for the charge.
			if d := c.SettledAt.Sub(c.PeriodStart); d < 0 || d > time.Second {
				t.Errorf("period %d (starting %s) settled at %s, want at its start", c.Period, c.PeriodStart, c.SettledAt)
			}
		}

		// Dunning on the clock: short for period 2, recovered on a retry.
		sub2 := s.subscribe(engine.SubscriptionInput{TokenID: tok.ID, Amount: php(1500), Interval: autodebit.IntervalMonth})
		s.advance(time.Second)
		s.setBalance(1000)
		s.advanceTo(s.sub(sub2.ID).NextChargeAt.Add(time.Minute))
		if got := s.sub(sub2.ID); got.Status != autodebit.SubscriptionPastDue || got.FailureCode != antom.CodeUserBalanceNotEnough {
			t.Fatalf("period 2 short of money: %s (%s), want past_due with USER_BALANCE_NOT_ENOUGH", got.Status, got.FailureCode)
		}
		s.setBalance(100_000)
		s.advanceTo(s.sub(sub2.ID).NextChargeAt.Add(time.Minute))
		if got := s.sub(sub2.ID); got.Status != autodebit.SubscriptionActive || got.CyclesCompleted != 2 {
			t.Fatalf("the retry after the top-up: %s with %d periods paid, want active with 2", got.Status, got.CyclesCompleted)
		}

		if _, err := s.eng.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		s.advance(time.Minute)
		if got := s.sub(sub2.ID); got.Status != autodebit.SubscriptionCancelled {
			t.Fatalf("after the token's revoke: %s, want cancelled", got.Status)
		}
		s.checkOnePerPeriod()
		s.checkTruth()
	})
}

// A job a killed process left running is run again when the next process
// starts, and an advance does not wait for it: River's rescuer would wait
// for the wall clock to pass its attempted_at (on the one clock, here a
// month ahead) plus RescueAfter.
func TestClock_AdvanceAfterAKillMidJob(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		s.advance(30 * 24 * time.Hour)
		s.crash()
		// What the kill left: a job fetched (running) and never finished.
		err := s.store.WithTx(ctx, func(tx autodebit.Tx) error {
			return tx.Enqueue(ctx, autodebit.Job{Args: engine.ExpireAuthorizationArgs{AuthorizationID: "ath_gone"}})
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.store.DB().ExecContext(ctx, "UPDATE river_job SET state = 'running', attempt = 1 WHERE kind = 'expire_authorization'"); err != nil {
			t.Fatal(err)
		}
		s.start()
		actx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if _, err := clock.Advance(actx, s.clk, time.Minute, s.sim, s.runner, s.eng); err != nil {
			t.Fatalf("advance after a kill mid-job: %v", err)
		}
		res, err := s.runner.Client().JobList(ctx, river.NewJobListParams().Kinds(engine.ExpireAuthorizationArgs{}.Kind()))
		// Run again: completed, or failed and retried (the authorization
		// is unknown), never left running.
		if err != nil || len(res.Jobs) != 1 || res.Jobs[0].State == rivertype.JobStateRunning ||
			(res.Jobs[0].State != rivertype.JobStateCompleted && len(res.Jobs[0].Errors) == 0) {
			for _, j := range res.Jobs {
				t.Logf("job %d %s scheduled %s attempt %d errors %v (clock %s)", j.ID, j.State, j.ScheduledAt, j.Attempt, j.Errors, s.clk.Now())
			}
			t.Fatalf("the job the kill left running: %d jobs, %v; want it run again", len(res.Jobs), err)
		}
	})
}
