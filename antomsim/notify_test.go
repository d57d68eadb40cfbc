package antomsim_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
)

// TestNotify_RetrySchedule: a merchant that never acks gets the first send
// and seven resends at 2m, 10m, 10m, 1h, 2h, 6h, 15h, then nothing; the
// 24h schedule runs on an advanced clock, without waiting it out.
func TestNotify_RetrySchedule(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.notify.setAnswer(func(*antom.Notification) (int, []byte) { return 500, []byte("down") })
	tok := e.link(t, "GCASH", "")
	r, _ := e.client.Pay(context.Background(), payReq("p1", tok.AccessToken, "GCASH", php(100)))
	start := time.Now()
	e.advance(t, 48*time.Hour)
	advanced := time.Since(start)
	ns := e.sim.Notifications(antomsim.NotificationFilter{Subject: "p1"})
	if len(ns) != 1 {
		t.Fatalf("%d notifications", len(ns))
	}
	n := ns[0]
	want := []time.Duration{0, 2 * time.Minute, 12 * time.Minute, 22 * time.Minute, 82 * time.Minute,
		202 * time.Minute, 562 * time.Minute, 1462 * time.Minute}
	if n.Status != antomsim.NotifyFailed || len(n.Attempts) != len(want) {
		t.Fatalf("status %s after %d attempts", n.Status, len(n.Attempts))
	}
	paid := t0 // the token was linked and paid at t0
	for i, a := range n.Attempts {
		if got := a.ScheduledTime.Sub(paid); got != want[i] || a.Number != i+1 || a.Acked || a.StatusCode != 500 {
			t.Errorf("attempt %d at +%s (status %d), want +%s", a.Number, got, a.StatusCode, want[i])
		}
	}
	if got := len(e.notify.ofType(antom.NotifyTypePaymentResult)); got != 8 {
		t.Fatalf("receiver got %d, want 8", got)
	}
	// Not a speed check: waiting out the schedule, even at the time scale,
	// would take 24 minutes; an advance takes well under a second.
	if r.PaymentID == "" || advanced > 30*time.Second {
		t.Fatalf("payment %q; the advance took %s", r.PaymentID, advanced)
	}
}

func TestNotify_AckRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		ok     bool
	}{
		{"ExactAck", 200, `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}`, true},
		{"WrongMessage", 200, `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"ok"}}`, false},
		{"EmptyBody", 200, ``, false},
		{"Non200", 201, `{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}`, false},
		{"PlainText", 200, `OK`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.notify.setAnswer(func(*antom.Notification) (int, []byte) { return tc.status, []byte(tc.body) })
			e.link(t, "GCASH", "")
			e.settle(t)
			n := e.sim.Notifications(antomsim.NotificationFilter{Type: antom.AuthCodeCreated})[0]
			if tc.ok != (n.Status == antomsim.NotifyDelivered) || len(n.Attempts) != 1 {
				t.Fatalf("status %s after %d attempts", n.Status, len(n.Attempts))
			}
		})
	}
	t.Run("AckOnThirdAttempt", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		var calls atomic.Int32
		e.notify.setAnswer(func(*antom.Notification) (int, []byte) {
			if calls.Add(1) < 3 {
				return 503, nil
			}
			return 200, antom.AckBody
		})
		e.link(t, "GCASH", "")
		e.advance(t, 24*time.Hour)
		n := e.sim.Notifications(antomsim.NotificationFilter{})[0]
		if n.Status != antomsim.NotifyDelivered || len(n.Attempts) != 3 || calls.Load() != 3 {
			t.Fatalf("status %s after %d attempts, %d calls", n.Status, len(n.Attempts), calls.Load())
		}
	})
	t.Run("NoURL", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *antomsim.Config) { c.NotifyURL = "" })
		e.link(t, "GCASH", "")
		e.settle(t)
		if n := e.sim.Notifications(antomsim.NotificationFilter{})[0]; n.Status != antomsim.NotifyNoURL || len(n.Attempts) != 0 {
			t.Fatalf("notification = %+v", n)
		}
	})
	t.Run("URLFromRequest", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		other := newReceiver(t)
		other.verifier = &antom.NotificationVerifier{ClientID: e.sim.ClientID(), AntomPublicKey: e.sim.AntomPublicKey()}
		tok := e.link(t, "GCASH", "")
		req := payReq("p1", tok.AccessToken, "GCASH", php(100))
		req.PaymentNotifyURL = other.srv.URL + "/pay?x=1"
		e.client.Pay(context.Background(), req)
		e.settle(t)
		got := other.all()
		if len(got) != 1 || got[0].Path != "/pay?x=1" || len(e.notify.ofType(antom.NotifyTypePaymentResult)) != 0 {
			t.Fatalf("other got %d, default got %d", len(got), len(e.notify.ofType(antom.NotifyTypePaymentResult)))
		}
	})
}

func TestNotify_Faults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	faults := func(kind string, f antomsim.NotifyFault) antomsim.Faults {
		return antomsim.Faults{Notify: map[string][]antomsim.NotifyFault{kind: {f}}}
	}
	t.Run("Drop", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.sim.SetFaults(faults("*", antomsim.NotifyFault{Kind: antomsim.FaultDrop, Probability: 1, Times: 2}))
		e.link(t, "GCASH", "")
		e.advance(t, 12*time.Minute)
		n := e.sim.Notifications(antomsim.NotificationFilter{})[0]
		if n.Status != antomsim.NotifyDelivered || len(n.Attempts) != 3 || n.Attempts[0].Fault != "drop" || len(e.notify.all()) != 1 {
			t.Fatalf("status %s, attempts %+v, received %d", n.Status, n.Attempts, len(e.notify.all()))
		}
	})
	t.Run("Duplicate", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.sim.SetFaults(faults(antom.KindAuthorization, antomsim.NotifyFault{Kind: antomsim.FaultDuplicate, Probability: 1}))
		e.link(t, "GCASH", "")
		e.settle(t)
		if got := e.notify.ofType(antom.AuthCodeCreated); len(got) != 2 || string(got[0].Body) != string(got[1].Body) {
			t.Fatalf("received %d", len(got))
		}
	})
	t.Run("Delay", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.sim.SetFaults(faults(antom.KindPayment, antomsim.NotifyFault{Kind: antomsim.FaultDelay, Probability: 1, Delay: antomsim.Duration(5 * time.Minute)}))
		tok := e.link(t, "GCASH", "")
		e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100)))
		e.advance(t, 5*time.Minute-time.Second)
		if got := len(e.notify.ofType(antom.NotifyTypePaymentResult)); got != 0 {
			t.Fatalf("received %d before the delay", got)
		}
		e.advance(t, time.Second)
		n := e.sim.Notifications(antomsim.NotificationFilter{Subject: "p1"})[0]
		if n.Status != antomsim.NotifyDelivered || !n.Attempts[0].ScheduledTime.Equal(t0.Add(5*time.Minute)) || n.Attempts[0].Fault != "delay" {
			t.Fatalf("notification = %+v", n)
		}
	})
	t.Run("Reorder", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		e.settle(t)
		e.sim.SetFaults(faults(antom.KindPayment, antomsim.NotifyFault{Kind: antomsim.FaultReorder, Probability: 1, Times: 1}))
		e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100)))
		e.client.Pay(ctx, payReq("p2", tok.AccessToken, "GCASH", php(100)))
		e.settle(t)
		got := e.notify.ofType(antom.NotifyTypePaymentResult)
		if len(got) != 2 || got[0].Payment.PaymentRequestID != "p2" || got[1].Payment.PaymentRequestID != "p1" {
			t.Fatalf("order = %v", ids(got))
		}
	})
	t.Run("ReorderHoldRunsOut", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		e.settle(t)
		e.sim.SetFaults(faults(antom.KindPayment, antomsim.NotifyFault{Kind: antomsim.FaultReorder, Probability: 1}))
		e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100)))
		e.settle(t)
		if n := len(e.notify.ofType(antom.NotifyTypePaymentResult)); n != 0 {
			t.Fatalf("received %d while held", n)
		}
		e.advance(t, time.Minute)
		if n := len(e.notify.ofType(antom.NotifyTypePaymentResult)); n != 1 {
			t.Fatalf("received %d after the hold", n)
		}
	})
	t.Run("SeedRepeats", func(t *testing.T) {
		t.Parallel()
		run := func() []string {
			e := newEnv(t, nil)
			e.sim.SetFaults(antomsim.Faults{Seed: 99, Notify: map[string][]antomsim.NotifyFault{"*": {{Kind: antomsim.FaultDrop, Probability: 0.5}}}})
			tok := e.link(t, "GCASH", "")
			for i := range 20 {
				e.client.Pay(ctx, payReq("p"+string(rune('a'+i)), tok.AccessToken, "GCASH", php(100)))
				e.settle(t)
			}
			var out []string
			for _, n := range e.sim.Notifications(antomsim.NotificationFilter{Kind: antom.KindPayment}) {
				out = append(out, n.Subject+":"+n.Attempts[0].Fault)
			}
			return out
		}
		a, b := run(), run()
		drops := 0
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("run 1 %v\nrun 2 %v", a, b)
			}
			if len(a[i]) > 5 && a[i][len(a[i])-4:] == "drop" {
				drops++
			}
		}
		if drops == 0 || drops == len(a) {
			t.Fatalf("%d of %d dropped with p=0.5", drops, len(a))
		}
	})
}

func ids(ns []*antom.Notification) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Payment.PaymentRequestID)
	}
	return out
}

func TestNotify_LogIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *antomsim.Config) { c.MaxLoggedNotifications = 4 })
	var first string
	for i := range 8 {
		c, err := e.client.Consult(context.Background(), consultReq("GCASH", fmt.Sprintf("s%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.sim.Approve(c.AuthCodeForm.Text(), ""); err != nil {
			t.Fatal(err)
		}
		e.settle(t)
		if i == 0 {
			first = e.sim.Notifications(antomsim.NotificationFilter{})[0].ID
		}
	}
	log := e.sim.Notifications(antomsim.NotificationFilter{})
	if len(log) > 5 || len(log) < 4 {
		t.Fatalf("log holds %d notifications, want 4 or 5", len(log))
	}
	for _, n := range log {
		if n.ID == first {
			t.Fatalf("the oldest notification %s is still logged", first)
		}
	}
}
