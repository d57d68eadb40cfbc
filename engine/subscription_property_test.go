package engine_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/engine"
	"github.com/autodebit/autodebit/storetest"
)

// TestProperty_SubscriptionsOneSuccessPerPeriod drives subscriptions
// through random Antom answers (balances, pay modes, failure codes, U,
// lost and timed-out pays, 5xx), notification faults (lost, duplicated,
// delayed, reordered), clock jumps from seconds to weeks, renewal passes,
// pause, resume and cancel, and crashes with a restart on the same
// database. After every step: no period has two charges in flight or two
// successes, a subscription waiting on a charge has no schedule, final
// statuses stay, and cyclesCompleted counts the paid periods. At the end,
// with the faults off and everything settled, every charge equals Antom's
// truth and Antom kept at most one payment per period.
func TestProperty_SubscriptionsOneSuccessPerPeriod(t *testing.T) {
	defer fewerRapidChecks(6, 40)()
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		rapid.Check(t, func(rt *rapid.T) {
			checkSubscriptions(t, rt, open)
		})
	})
}

var renewalFailCodes = []string{"", "", antom.CodeUserBalanceNotEnough, engine.CodeRiskReject, engine.CodeUserKYCNotQualified}

func checkSubscriptions(t *testing.T, rt *rapid.T, open storetest.Opener) {
	ctx := context.Background()
	s := newStackOn(t, rt, open, stackOptions{
		sim: func(c *antomsim.Config) { c.Start = jan31 },
		engine: func(c *engine.Config) {
			c.CallTimeout = 2 * time.Second
			c.EventRetention = 10 * 366 * 24 * time.Hour
		},
	})
	tok := s.link("cus_prop_sub", "GCASH")

	var subs []string
	finalCharges := map[string]autodebit.ChargeStatus{}
	finalSubs := map[string]autodebit.SubscriptionStatus{}
	var notifyFault antomsim.NotifyFault
	setFaults := func(pay antomsim.APIFault) {
		f := antomsim.Faults{Seed: 11}
		if pay.Kind != "" {
			f.API = map[string][]antomsim.APIFault{antom.APIPay: {pay}}
		}
		if notifyFault.Kind != "" {
			f.Notify = map[string][]antomsim.NotifyFault{"*": {notifyFault}}
		}
		s.setFaults(f)
	}
	pickSub := func(rt *rapid.T) (string, bool) {
		if len(subs) == 0 {
			return "", false
		}
		return rapid.SampledFrom(subs).Draw(rt, "subscription"), true
	}
	account := func(u antomsim.AccountUpdate) {
		if _, err := s.sim.UpdateAccount("GCASH", defaultGCashLogin, u); err != nil {
			rt.Fatal(err)
		}
	}

	rt.Repeat(map[string]func(*rapid.T){
		"subscribe": func(rt *rapid.T) {
			in := engine.SubscriptionInput{
				TokenID:  tok.ID,
				Amount:   php(rapid.Int64Range(100, 5000).Draw(rt, "value")),
				Interval: rapid.SampledFrom([]autodebit.Interval{autodebit.IntervalDay, autodebit.IntervalWeek, autodebit.IntervalMonth}).Draw(rt, "interval"),
				Cycles:   rapid.SampledFrom([]int{0, 1, 3}).Draw(rt, "cycles"),
				StartAt:  s.sim.Now().Add(time.Duration(rapid.IntRange(0, 48).Draw(rt, "startHours")) * time.Hour),
				RetrySchedule: rapid.SampledFrom([][]time.Duration{nil, {}, {time.Hour}, {time.Hour, 6 * time.Hour}}).
					Draw(rt, "retries"),
			}
			sub, err := s.eng.CreateSubscription(ctx, in)
			if err != nil {
				rt.Fatalf("CreateSubscription: %v", err)
			}
			subs = append(subs, sub.ID)
		},
		"account": func(rt *rapid.T) {
			mode := rapid.SampledFrom([]string{antomsim.PayModeInstant, antomsim.PayModeProcessing, antomsim.PayModeStuck}).Draw(rt, "payMode")
			balance := rapid.SampledFrom([]int64{0, 2000, 1_000_000_00}).Draw(rt, "balance")
			code := rapid.SampledFrom(renewalFailCodes).Draw(rt, "failCode")
			account(antomsim.AccountUpdate{PayMode: &mode, Balance: &balance, FailCode: &code})
		},
		"payFault": func(rt *rapid.T) {
			kind := rapid.SampledFrom(payFaults).Draw(rt, "payFault")
			setFaults(antomsim.APIFault{Kind: kind, Probability: rapid.SampledFrom([]float64{0.5, 1}).Draw(rt, "payProbability"),
				Times: rapid.IntRange(1, 3).Draw(rt, "times"), Latency: antomsim.Duration(5 * time.Millisecond)})
		},
		"notifyFault": func(rt *rapid.T) {
			notifyFault = antomsim.NotifyFault{
				Kind:        rapid.SampledFrom(notifyFaults).Draw(rt, "notifyFault"),
				Probability: rapid.SampledFrom([]float64{0.3, 1}).Draw(rt, "probability"),
				Delay:       antomsim.Duration(20 * time.Second),
			}
			setFaults(antomsim.APIFault{})
		},
		"advance": func(rt *rapid.T) {
			unit := rapid.SampledFrom([]time.Duration{time.Second, time.Minute, time.Hour, 24 * time.Hour}).Draw(rt, "unit")
			// Up to 40 of a unit, but 10 days at most: a jump charges every
			// daily period it passes, each with its inquiries (a job
			// snoozed, and River records a snooze up to 250ms later), so a
			// longer jump costs minutes here and adds nothing that
			// TestSubscription_catchUp doesn't check.
			most := 40
			if unit == 24*time.Hour {
				most = 10
			}
			s.advance(time.Duration(rapid.IntRange(1, most).Draw(rt, "units")) * unit)
			time.Sleep(20 * time.Millisecond)
		},
		"renew": func(rt *rapid.T) {
			if _, err := s.eng.RenewDue(ctx); err != nil {
				rt.Fatalf("RenewDue: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		},
		"pause": func(rt *rapid.T) {
			if id, ok := pickSub(rt); ok {
				if _, err := s.eng.PauseSubscription(ctx, id); err != nil && autodebit.ErrorCode(err) != autodebit.ECONFLICT {
					rt.Fatalf("PauseSubscription: %v", err)
				}
			}
		},
		"resume": func(rt *rapid.T) {
			if id, ok := pickSub(rt); ok {
				if _, err := s.eng.ResumeSubscription(ctx, id); err != nil && autodebit.ErrorCode(err) != autodebit.ECONFLICT {
					rt.Fatalf("ResumeSubscription: %v", err)
				}
			}
		},
		"cancel": func(rt *rapid.T) {
			if id, ok := pickSub(rt); ok && rapid.IntRange(0, 3).Draw(rt, "cancelOdds") == 0 {
				if _, err := s.eng.CancelSubscription(ctx, id, ""); err != nil && autodebit.ErrorCode(err) != autodebit.ECONFLICT {
					rt.Fatalf("CancelSubscription: %v", err)
				}
			}
		},
		"crash": func(rt *rapid.T) {
			s.crash()
			s.start()
		},
		"": func(rt *rapid.T) {
			s.checkSubscriptionInvariants(rt, subs, finalCharges, finalSubs)
		},
	})

	// Converge: faults off, money on hand, every order closes and every
	// renewal that falls due meanwhile settles too.
	notifyFault = antomsim.NotifyFault{}
	setFaults(antomsim.APIFault{})
	mode, balance, none := antomsim.PayModeInstant, int64(1_000_000_00), ""
	account(antomsim.AccountUpdate{PayMode: &mode, Balance: &balance, FailCode: &none})
	deadline := time.Now().Add(40 * time.Second)
	for {
		open, _, err := s.store.FindCharges(ctx, autodebit.ChargeFilter{Status: autodebit.ChargeInit})
		if err != nil {
			rt.Fatal(err)
		}
		if len(open) == 0 {
			break
		}
		if time.Now().After(deadline) {
			rt.Fatalf("%d charges still INIT after 40s", len(open))
		}
		s.advance(20 * time.Second)
		time.Sleep(50 * time.Millisecond)
	}
	s.checkSubscriptionInvariants(rt, subs, finalCharges, finalSubs)
	s.checkOnePerPeriod()
	s.checkTruth()
}

// checkSubscriptionInvariants checks what must hold in every committed
// state, whatever happened.
func (s *stack) checkSubscriptionInvariants(rt *rapid.T, subs []string, finalCharges map[string]autodebit.ChargeStatus, finalSubs map[string]autodebit.SubscriptionStatus) {
	for _, id := range subs {
		sub, charges := s.subWithCharges(rt, id)
		if was, ok := finalSubs[id]; ok && sub.Status != was {
			rt.Fatalf("subscription %s went from %s to %s", id, was, sub.Status)
		}
		if sub.Status.Final() {
			finalSubs[id] = sub.Status
		}
		inFlight, paid := map[int]int{}, map[int]int{}
		successes := 0
		for _, c := range charges {
			if was, ok := finalCharges[c.ID]; ok && c.Status != was {
				rt.Fatalf("charge %s went from %s to %s", c.ID, was, c.Status)
			}
			if c.Status.Final() {
				finalCharges[c.ID] = c.Status
			}
			switch c.Status {
			case autodebit.ChargeInit:
				inFlight[c.Period]++
				if c.Period == sub.Period && !sub.NextChargeAt.IsZero() {
					rt.Fatalf("subscription %s is scheduled at %s while charge %s of its period %d is in flight", id, sub.NextChargeAt, c.ID, c.Period)
				}
			case autodebit.ChargeSuccess:
				paid[c.Period]++
				successes++
			}
			if c.Period > sub.Period {
				rt.Fatalf("charge %s is for period %d, ahead of subscription %s at period %d", c.ID, c.Period, id, sub.Period)
			}
			if inFlight[c.Period]+paid[c.Period] > 1 || paid[c.Period] > 1 {
				rt.Fatalf("subscription %s period %d: %d in flight, %d paid", id, c.Period, inFlight[c.Period], paid[c.Period])
			}
		}
		if sub.CyclesCompleted != successes {
			rt.Fatalf("subscription %s: cyclesCompleted %d, %d SUCCESS charges", id, sub.CyclesCompleted, successes)
		}
		if sub.Cycles > 0 && successes > sub.Cycles {
			rt.Fatalf("subscription %s of %d cycles paid %d periods", id, sub.Cycles, successes)
		}
	}
}

// subWithCharges reads subscription id and its charges as of one moment:
// jobs and notifications keep settling between steps, and the renewal or
// the settlement of a charge writes the subscription in the same
// transaction, so charges read between two equal reads of the subscription
// belong with it.
func (s *stack) subWithCharges(rt *rapid.T, id string) (*autodebit.Subscription, []*autodebit.Charge) {
	for range 200 {
		before := s.sub(id)
		charges := s.subCharges(id)
		if after := s.sub(id); reflect.DeepEqual(before, after) {
			return after, charges
		}
		time.Sleep(5 * time.Millisecond)
	}
	rt.Fatalf("subscription %s kept changing while its charges were read", id)
	return nil, nil
}
