package antomsim_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
)

func TestControl(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)

	var acct antomsim.Account
	if st := e.control(t, "POST", "/sim/v1/accounts", `{"wallet":"KAKAOPAY","userLoginId":"kim@example.com","balance":"5000"}`, &acct); st != 201 || acct.Balance != 5000 || acct.Currency != "KRW" {
		t.Fatalf("create: %d %+v", st, acct)
	}
	if st := e.control(t, "PATCH", "/sim/v1/accounts/KAKAOPAY/kim@example.com", `{"balance":"7000","payMode":"processing","processingDelay":"3s"}`, &acct); st != 200 || acct.Balance != 7000 || acct.PayMode != "processing" || acct.ProcessingDelay != antomsim.Duration(3*time.Second) {
		t.Fatalf("patch: %d %+v", st, acct)
	}
	if st := e.control(t, "GET", "/sim/v1/accounts/KAKAOPAY/kim@example.com", nil, &acct); st != 200 || acct.Balance != 7000 {
		t.Fatalf("get: %d %+v", st, acct)
	}
	var list []antomsim.Account
	if e.control(t, "GET", "/sim/v1/accounts", nil, &list); len(list) != 8 {
		t.Fatalf("%d accounts, want 7 defaults + 1", len(list))
	}

	// Bad input: 400 with a JSON error, and nothing changes.
	before := e.sim.Accounts()
	faultsBefore := e.sim.Faults()
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/sim/v1/accounts", `{"wallet":"PAYPAL","userLoginId":"x"}`},
		{"POST", "/sim/v1/accounts", `{"wallet":"GCASH","userLoginId":""}`},
		{"POST", "/sim/v1/accounts", `{"wallet":"GCASH","userLoginId":"y","balance":100}`},
		{"POST", "/sim/v1/accounts", `{"wallet":"GCASH","userLoginId":"y","balance":"-1"}`},
		{"POST", "/sim/v1/accounts", `{"wallet":"GCASH","userLoginId":"y","extra":1}`},
		{"POST", "/sim/v1/accounts", `not json`},
		{"PATCH", "/sim/v1/accounts/KAKAOPAY/kim@example.com", `{"payMode":"sometimes"}`},
		{"PATCH", "/sim/v1/accounts/KAKAOPAY/kim@example.com", `{"processingDelay":"soon"}`},
		{"PUT", "/sim/v1/faults", `{"api":{"pay":[{"kind":"unknown","probability":2}]}}`},
		{"PUT", "/sim/v1/faults", `{"notify":{"payment":[{"kind":"explode","probability":1}]}}`},
		{"PUT", "/sim/v1/settings", `{"payMode":"later"}`},
		{"POST", "/sim/v1/clock/advance", `{"by":"-1h"}`},
		{"POST", "/sim/v1/clock/advance", `{}x`},
	} {
		var ce antomsim.ControlError
		if st := e.control(t, tc.method, tc.path, tc.body, &ce); st != 400 || ce.Error == "" {
			t.Errorf("%s %s %s: %d %q, want 400 with an error", tc.method, tc.path, tc.body, st, ce.Error)
		}
	}
	if !reflect.DeepEqual(before, e.sim.Accounts()) || !reflect.DeepEqual(faultsBefore, e.sim.Faults()) || !e.sim.Now().Equal(t0) {
		t.Fatal("bad control input changed state")
	}
	var ce antomsim.ControlError
	if st := e.control(t, "GET", "/sim/v1/accounts/GCASH/nobody", nil, &ce); st != 404 {
		t.Fatalf("unknown account: %d", st)
	}
	if st := e.control(t, "GET", "/sim/v1/nothing", nil, &ce); st != 404 || ce.Error == "" {
		t.Fatalf("unknown route: %d", st)
	}
	if st := e.control(t, "POST", "/sim/v1/accounts", `{"wallet":"KAKAOPAY","userLoginId":"kim@example.com"}`, &ce); st != 409 {
		t.Fatalf("duplicate account: %d", st)
	}

	// Faults round trip.
	var f antomsim.Faults
	if st := e.control(t, "PUT", "/sim/v1/faults", `{"api":{"pay":[{"kind":"latency","probability":0.5,"latency":"10ms"}]},"notify":{"*":[{"kind":"delay","probability":1}]},"seed":3}`, &f); st != 200 || f.Seed != 3 || f.Notify["*"][0].Delay != antomsim.Duration(time.Minute) {
		t.Fatalf("faults: %d %+v", st, f)
	}
	var cleared antomsim.Faults
	if st := e.control(t, "DELETE", "/sim/v1/faults", nil, &cleared); st != 200 || cleared.API != nil || e.sim.Faults().Notify != nil {
		t.Fatalf("delete faults: %d %+v", st, f)
	}

	// Authorization by the control API, clock advance, truth, delivery log.
	c, _ := e.client.Consult(t.Context(), consultReq("KAKAOPAY", "s"))
	var a antomsim.Authorization
	if st := e.control(t, "POST", "/sim/v1/authorizations/"+e.sim.Authorizations()[0].QRCode, `{"action":"approve","userLoginId":"kim@example.com"}`, &a); st != 200 || a.Status != antomsim.AuthApproved {
		t.Fatalf("approve: %d %+v", st, a)
	}
	_ = c
	var clock struct {
		Now time.Time `json:"now"`
	}
	if st := e.control(t, "POST", "/sim/v1/clock/advance", `{"by":"90s"}`, &clock); st != 200 || !clock.Now.Equal(t0.Add(90*time.Second)) {
		t.Fatalf("advance: %d %+v", st, clock)
	}
	var ns []antomsim.Notification
	if e.control(t, "GET", "/sim/v1/notifications?type=AUTHCODE_CREATED", nil, &ns); len(ns) != 1 || ns[0].Status != antomsim.NotifyDelivered {
		t.Fatalf("delivery log = %+v", ns)
	}
	var truth antomsim.Truth
	if e.control(t, "GET", "/sim/v1/truth", nil, &truth); len(truth.Authorizations) != 1 || len(truth.Violations) != 0 {
		t.Fatalf("truth = %+v", truth)
	}
	if st := e.control(t, "POST", "/sim/v1/settle", nil, nil); st != 200 {
		t.Fatalf("settle: %d", st)
	}
	var tokens []antomsim.Token
	if e.control(t, "GET", "/sim/v1/tokens", nil, &tokens); len(tokens) != 0 {
		t.Fatalf("tokens = %+v", tokens)
	}
	_ = antom.APIPay
}

// TestTimeScale: the clock runs at TimeScale and background delivery
// follows it without Advance.
func TestTimeScale(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *antomsim.Config) { c.ManualClock = false; c.TimeScale = 600 })
	e.notify.setAnswer(func(*antom.Notification) (int, []byte) { return 500, nil })
	start := e.sim.Now()
	e.link(t, "GCASH", "")
	// The first resend is due 2 simulated minutes later: 200ms real.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if n := e.sim.Notifications(antomsim.NotificationFilter{}); len(n) == 1 && len(n[0].Attempts) >= 2 {
			if got := n[0].Attempts[1].ScheduledTime.Sub(n[0].Attempts[0].ScheduledTime); got != 2*time.Minute {
				t.Fatalf("resend after %s", got)
			}
			if el := e.sim.Now().Sub(start); el < 2*time.Minute {
				t.Fatalf("clock moved only %s", el)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no resend at time scale 600")
}
