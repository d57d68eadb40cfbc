package antomsim_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
)

func TestAPIFaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	payFault := func(f antomsim.APIFault) antomsim.Faults {
		return antomsim.Faults{API: map[string][]antomsim.APIFault{antom.APIPay: {f}}}
	}
	t.Run("UnknownNotCommitted", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		e.sim.SetFaults(payFault(antomsim.APIFault{Kind: antomsim.FaultUnknown, Probability: 1, Times: 1}))
		r, err := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100)))
		if err != nil || r.Result.ResultCode != antom.CodeUnknownException || !r.Result.Unknown() {
			t.Fatalf("pay = %v %+v", err, r)
		}
		if n := len(e.sim.Payments()); n != 0 {
			t.Fatalf("%d payments after an uncommitted U", n)
		}
		if r, _ := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100))); !r.Result.Succeeded() {
			t.Fatalf("retry = %+v", r.Result)
		}
		if st := e.sim.FaultStats(); st["api.unknown"] != 1 || len(st) != 1 {
			t.Fatalf("FaultStats = %v, want one api.unknown", st)
		}
		var st map[string]int
		if e.control(t, "GET", "/sim/v1/faults/stats", nil, &st); st["api.unknown"] != 1 {
			t.Fatalf("GET /sim/v1/faults/stats = %v", st)
		}
	})
	t.Run("UnknownAfterCommit", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		e.sim.SetFaults(payFault(antomsim.APIFault{Kind: antomsim.FaultUnknownAfterCommit, Probability: 1, Times: 1, ResultCode: "REQUEST_TRAFFIC_EXCEED_LIMIT"}))
		r, _ := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100)))
		if r.Result.ResultCode != "REQUEST_TRAFFIC_EXCEED_LIMIT" || !r.Result.Unknown() {
			t.Fatalf("pay = %+v", r.Result)
		}
		if p, _ := e.sim.Payment("p1"); p.Status != antom.PaymentStatusSuccess || p.Debits != 1 {
			t.Fatalf("truth = %+v", p)
		}
		if r, _ := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100))); !r.Result.Succeeded() {
			t.Fatalf("retry = %+v", r.Result)
		}
		if p, _ := e.sim.Payment("p1"); p.Debits != 1 {
			t.Fatalf("debited %d times", p.Debits)
		}
	})
	t.Run("TimeoutAfterCommit", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		e.sim.SetFaults(payFault(antomsim.APIFault{Kind: antomsim.FaultTimeout, Probability: 1, Times: 1, Latency: antomsim.Duration(10 * time.Millisecond)}))
		_, err := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100)))
		if !errors.Is(err, antom.ErrMaybeSent) {
			t.Fatalf("pay err = %v, want ErrMaybeSent", err)
		}
		if p, _ := e.sim.Payment("p1"); p.Status != antom.PaymentStatusSuccess {
			t.Fatalf("truth = %+v", p)
		}
	})
	t.Run("HTTP5xx", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		e.sim.SetFaults(antomsim.Faults{API: map[string][]antomsim.APIFault{"*": {{Kind: antomsim.FaultHTTP5xx, Probability: 1, Status: 502}}}})
		_, err := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100)))
		var re *antom.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 502 {
			t.Fatalf("pay err = %v", err)
		}
		if n := len(e.sim.Payments()); n != 0 {
			t.Fatalf("%d payments after a 5xx", n)
		}
	})
	t.Run("Latency", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		e.sim.SetFaults(payFault(antomsim.APIFault{Kind: antomsim.FaultLatency, Probability: 1, Latency: antomsim.Duration(80 * time.Millisecond)}))
		start := time.Now()
		r, err := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100)))
		if err != nil || !r.Result.Succeeded() || time.Since(start) < 80*time.Millisecond {
			t.Fatalf("pay = %v %+v after %s", err, r, time.Since(start))
		}
	})
	t.Run("OtherAPIsUntouched", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		e.sim.SetFaults(payFault(antomsim.APIFault{Kind: antomsim.FaultHTTP5xx, Probability: 1}))
		e.link(t, "GCASH", "") // consult and applyToken work
	})
	t.Run("SeedRepeats", func(t *testing.T) {
		t.Parallel()
		run := func() string {
			e := newEnv(t, nil)
			tok := e.link(t, "GCASH", "")
			e.sim.SetFaults(antomsim.Faults{Seed: 5, API: map[string][]antomsim.APIFault{antom.APIPay: {{Kind: antomsim.FaultUnknown, Probability: 0.3}}}})
			out := ""
			for i := range 30 {
				r, _ := e.client.Pay(ctx, payReq("p"+string(rune('A'+i)), tok.AccessToken, "GCASH", php(100)))
				out += r.Result.ResultStatus
			}
			return out
		}
		a, b := run(), run()
		if a != b {
			t.Fatalf("run 1 %s, run 2 %s", a, b)
		}
		t.Logf("pattern %s", a)
	})
	t.Run("Validate", func(t *testing.T) {
		e := newEnv(t, nil)
		for _, f := range []antomsim.Faults{
			{API: map[string][]antomsim.APIFault{"payy": {{Kind: antomsim.FaultUnknown, Probability: 1}}}},
			{API: map[string][]antomsim.APIFault{"pay": {{Kind: "boom", Probability: 1}}}},
			{API: map[string][]antomsim.APIFault{"pay": {{Kind: antomsim.FaultUnknown, Probability: 0}}}},
			{API: map[string][]antomsim.APIFault{"pay": {{Kind: antomsim.FaultHTTP5xx, Probability: 1, Status: 404}}}},
			{Notify: map[string][]antomsim.NotifyFault{"payment": {{Kind: "lose", Probability: 1}}}},
			{Notify: map[string][]antomsim.NotifyFault{"pay": {{Kind: antomsim.FaultDrop, Probability: 1}}}},
		} {
			if err := e.sim.SetFaults(f); !errors.Is(err, antomsim.ErrInvalid) {
				t.Errorf("SetFaults(%+v) = %v, want ErrInvalid", f, err)
			}
		}
	})
}
