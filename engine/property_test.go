package engine_test

import (
	"context"
	"flag"
	"os"
	"strconv"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/engine"
	"github.com/autodebit/autodebit/storetest"
)

// TestProperty_ChargesConvergeToTruth drives random interleavings of pay
// answers (S, F, U, in process, lost, timed out after commit, 5xx),
// notification faults (lost, duplicated, delayed, reordered), clock jumps,
// cancels, refunds and crashes with a restart on the same database. After
// every step no final status has changed; at the end, with the faults off
// and every order closed, every charge equals Antom's truth and no one was
// debited twice.
//
// Each check builds a whole stack, so the number of checks is kept small
// unless -rapid.checks or RAPID_CHECKS says otherwise.
func TestProperty_ChargesConvergeToTruth(t *testing.T) {
	defer fewerRapidChecks(8, 20)()
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		rapid.Check(t, func(rt *rapid.T) {
			checkConvergence(t, rt, open)
		})
	})
}

var payFaults = []string{"", antomsim.FaultUnknown, antomsim.FaultUnknownAfterCommit, antomsim.FaultTimeout, antomsim.FaultHTTP5xx}

var notifyFaults = []string{"", antomsim.FaultDrop, antomsim.FaultDuplicate, antomsim.FaultDelay, antomsim.FaultReorder}

// fewerRapidChecks sets rapid's checks and steps per check, unless
// -rapid.checks, -rapid.steps or RAPID_CHECKS, RAPID_STEPS say otherwise,
// until the returned function restores them: each check of a property test
// that builds a whole stack costs a second or more.
func fewerRapidChecks(checks, steps int) (restore func()) {
	var undo []func()
	for _, f := range []struct {
		name, env, def string
		n              int
	}{{"rapid.checks", "RAPID_CHECKS", "100", checks}, {"rapid.steps", "RAPID_STEPS", "30", steps}} {
		if fl := flag.Lookup(f.name); fl != nil && fl.Value.String() == f.def && os.Getenv(f.env) == "" {
			flag.Set(f.name, strconv.Itoa(f.n))
			undo = append(undo, func() { flag.Set(f.name, f.def) })
		}
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}

func checkConvergence(t *testing.T, rt *rapid.T, open storetest.Opener) {
	ctx := context.Background()
	s := newStackOn(t, rt, open, stackOptions{engine: func(c *engine.Config) { c.CallTimeout = 2 * time.Second }})
	tok := s.link("cus_prop", "GCASH")
	const login = "09171234567"

	var charges []string
	finals := map[string]autodebit.ChargeStatus{}
	var notifyFault antomsim.NotifyFault
	setFaults := func(pay antomsim.APIFault) {
		f := antomsim.Faults{Seed: 7}
		if pay.Kind != "" {
			f.API = map[string][]antomsim.APIFault{antom.APIPay: {pay}}
		}
		if notifyFault.Kind != "" {
			f.Notify = map[string][]antomsim.NotifyFault{"*": {notifyFault}}
		}
		s.setFaults(f)
	}
	pick := func(rt *rapid.T, status autodebit.ChargeStatus) (*autodebit.Charge, bool) {
		if len(charges) == 0 {
			return nil, false
		}
		c := s.charge(rapid.SampledFrom(charges).Draw(rt, "charge"))
		return c, c.Status == status
	}

	rt.Repeat(map[string]func(*rapid.T){
		"charge": func(rt *rapid.T) {
			mode := rapid.SampledFrom([]string{antomsim.PayModeInstant, antomsim.PayModeProcessing, antomsim.PayModeStuck}).Draw(rt, "payMode")
			balance := rapid.SampledFrom([]int64{100, 1_000_000_00}).Draw(rt, "balance")
			if _, err := s.sim.UpdateAccount("GCASH", login, antomsim.AccountUpdate{PayMode: &mode, Balance: &balance}); err != nil {
				rt.Fatal(err)
			}
			kind := rapid.SampledFrom(payFaults).Draw(rt, "payFault")
			setFaults(antomsim.APIFault{Kind: kind, Probability: 1, Times: rapid.IntRange(1, 3).Draw(rt, "times"), Latency: antomsim.Duration(5 * time.Millisecond)})
			c, err := s.eng.CreateCharge(ctx, engine.ChargeInput{TokenID: tok.ID, Amount: autodebit.Amount{Currency: "PHP", Value: rapid.Int64Range(100, 5000).Draw(rt, "value")}})
			if err != nil {
				rt.Fatalf("CreateCharge: %v", err)
			}
			charges = append(charges, c.ID)
			setFaults(antomsim.APIFault{})
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
			s.advance(time.Duration(rapid.IntRange(0, 90).Draw(rt, "seconds")) * time.Second)
			time.Sleep(30 * time.Millisecond)
		},
		"cancel": func(rt *rapid.T) {
			if c, ok := pick(rt, autodebit.ChargeInit); ok {
				if _, err := s.eng.CancelCharge(ctx, c.ID); err != nil && autodebit.ErrorCode(err) != autodebit.ECONFLICT {
					rt.Fatalf("CancelCharge: %v", err)
				}
			}
		},
		"refund": func(rt *rapid.T) {
			if c, ok := pick(rt, autodebit.ChargeSuccess); ok && c.RefundedValue < c.Amount.Value {
				v := rapid.Int64Range(1, c.Amount.Value-c.RefundedValue).Draw(rt, "refund")
				_, err := s.eng.CreateRefund(ctx, engine.RefundInput{ChargeID: c.ID, Amount: autodebit.Amount{Currency: "PHP", Value: v}})
				if code := autodebit.ErrorCode(err); err != nil && code != autodebit.EINVALID && code != autodebit.ECONFLICT {
					rt.Fatalf("CreateRefund: %v", err)
				}
			}
		},
		"crash": func(rt *rapid.T) {
			s.crash()
			s.start()
		},
		"": func(rt *rapid.T) {
			// A final status never changes.
			for _, id := range charges {
				c := s.charge(id)
				if was, ok := finals[id]; ok && c.Status != was {
					rt.Fatalf("charge %s went from %s to %s", id, was, c.Status)
				}
				if c.Status.Final() {
					finals[id] = c.Status
				}
			}
		},
	})

	// Converge: faults off, every order closes, every resend happens.
	notifyFault = antomsim.NotifyFault{}
	setFaults(antomsim.APIFault{})
	deadline := time.Now().Add(30 * time.Second)
	for {
		open := 0
		for _, id := range charges {
			if !s.charge(id).Status.Final() {
				open++
			}
		}
		refunds, _, _ := s.store.FindRefunds(ctx, autodebit.RefundFilter{Status: autodebit.RefundProcessing})
		if open == 0 && len(refunds) == 0 {
			break
		}
		if time.Now().After(deadline) {
			rt.Fatalf("%d charges and %d refunds still open after 30s", open, len(refunds))
		}
		s.advance(20 * time.Second)
		time.Sleep(50 * time.Millisecond)
	}
	s.checkTruth()
}
