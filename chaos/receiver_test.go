package chaos_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/autodebit/autodebit/chaos"
	"github.com/autodebit/autodebit/webhook"
)

func TestDrawFault_Mix(t *testing.T) {
	t.Parallel()
	f := chaos.ReceiverFaults{Fail5xx: 0.10, Timeout: 0.03, Slow: 0.10}
	rng := mrand.New(mrand.NewPCG(1, 2))
	const n = 200_000
	got := map[string]int{}
	for range n {
		got[chaos.DrawFault(rng, f)]++
	}
	for kind, want := range map[string]float64{"5xx": 0.10, "timeout": 0.03, "slow": 0.10, "ok": 0.77} {
		if p := float64(got[kind]) / n; math.Abs(p-want) > 0.005 {
			t.Errorf("%s drawn %.4f of the time, want %.2f", kind, p, want)
		}
	}
	if len(got) != 4 {
		t.Errorf("kinds drawn = %v, want ok, 5xx, timeout and slow", got)
	}
	none := map[string]int{}
	for range 1000 {
		none[chaos.DrawFault(rng, chaos.ReceiverFaults{})]++
	}
	if none["ok"] != 1000 {
		t.Errorf("no faults drew %v, want only ok", none)
	}
}

func TestNewReceiver_BadFaults(t *testing.T) {
	t.Parallel()
	for _, f := range []chaos.ReceiverFaults{{Fail5xx: 0.6, Timeout: 0.3, Slow: 0.2}, {Slow: -0.1}} {
		if rc, err := chaos.NewReceiver(f, 1); err == nil {
			rc.Close()
			t.Errorf("NewReceiver(%+v) accepted the probabilities", f)
		}
	}
}

// deliver posts the event id to the receiver signed with secret, as the
// engine does, and returns the status (0 when the client gave up).
func deliver(t *testing.T, rc *chaos.Receiver, hc *http.Client, secret, id string, tamper bool) int {
	t.Helper()
	body := fmt.Appendf(nil, `{"id":%q,"type":"charge.succeeded","createdAt":%q,"objectId":"chg_1","sequence":1,"data":{"object":{"id":"chg_1"}}}`,
		id, time.Now().UTC().Format(time.RFC3339Nano))
	sent := body // signed as it is; a tampered one is sent changed
	if tamper {
		sent = bytes.Replace(body, []byte("chg_1"), []byte("chg_2"), 1)
	}
	req, err := http.NewRequest(http.MethodPost, rc.URL(), bytes.NewReader(sent))
	if err != nil {
		t.Fatal(err)
	}
	if err := webhook.SetHeaders(req.Header, []string{secret}, id, time.Now(), body); err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		if isTimeout(err) {
			return 0
		}
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

func newReceiver(t *testing.T, f chaos.ReceiverFaults) (*chaos.Receiver, string) {
	t.Helper()
	rc, err := chaos.NewReceiver(f, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return rc, secret
}

func TestReceiver(t *testing.T) {
	t.Parallel()
	hc := &http.Client{Timeout: 10 * time.Second}
	t.Run("AcceptsAndDedupes", func(t *testing.T) {
		t.Parallel()
		rc, secret := newReceiver(t, chaos.ReceiverFaults{})
		rc.SetSecret(secret)
		for _, id := range []string{"evt_1", "evt_2", "evt_1"} {
			if st := deliver(t, rc, hc, secret, id, false); st != http.StatusNoContent {
				t.Fatalf("delivery of %s answered %d, want 204", id, st)
			}
		}
		s := rc.Stats()
		if s.Received["evt_1"] != 2 || s.Received["evt_2"] != 1 || s.Duplicates() != 1 || rc.Unique() != 2 || s.Refused != 0 {
			t.Fatalf("stats = %+v, want evt_1 twice, evt_2 once", s)
		}
		if s.Events["evt_2"] == nil || s.Events["evt_2"].ObjectID != "chg_1" || len(s.FirstAt) != 2 || s.FirstAt["evt_1"].IsZero() {
			t.Fatalf("events = %v, first accepted at %v", s.Events, s.FirstAt)
		}
	})
	t.Run("RefusesBadSignatures", func(t *testing.T) {
		t.Parallel()
		rc, secret := newReceiver(t, chaos.ReceiverFaults{})
		// Before the secret is set, and then a tampered body and a
		// delivery signed with another secret.
		if st := deliver(t, rc, hc, secret, "evt_1", false); st != http.StatusBadRequest {
			t.Fatalf("delivery before SetSecret answered %d, want 400", st)
		}
		rc.SetSecret(secret)
		if st := deliver(t, rc, hc, secret, "evt_2", true); st != http.StatusBadRequest {
			t.Fatalf("tampered delivery answered %d, want 400", st)
		}
		other, _ := webhook.NewSecret()
		if st := deliver(t, rc, hc, other, "evt_3", false); st != http.StatusBadRequest {
			t.Fatalf("delivery signed with another secret answered %d, want 400", st)
		}
		s := rc.Stats()
		if s.Refused != 3 || len(s.Reasons) != 3 || len(s.Received) != 0 {
			t.Fatalf("stats = %+v, want 3 refused and nothing received", s)
		}
	})
	t.Run("Fails5xx", func(t *testing.T) {
		t.Parallel()
		rc, secret := newReceiver(t, chaos.ReceiverFaults{Fail5xx: 1})
		rc.SetSecret(secret)
		if st := deliver(t, rc, hc, secret, "evt_1", false); st != http.StatusServiceUnavailable {
			t.Fatalf("answered %d, want 503", st)
		}
		if s := rc.Stats(); s.Faults["5xx"] != 1 || len(s.Received) != 0 {
			t.Fatalf("stats = %+v, want one 5xx and nothing received", s)
		}
	})
	t.Run("TimesOut", func(t *testing.T) {
		t.Parallel()
		// Held for a minute, longer than the sender waits: the sender
		// gives up, and the hold ends when it hangs up.
		rc, secret := newReceiver(t, chaos.ReceiverFaults{Timeout: 1, Hold: time.Minute})
		rc.SetSecret(secret)
		short := &http.Client{Timeout: time.Second}
		if st := deliver(t, rc, short, secret, "evt_1", false); st != 0 {
			t.Fatalf("answered %d, want no answer before the sender's timeout", st)
		}
		// The receiver counts the fault once it has read and verified the
		// body, which on a busy machine can come after the sender gave up.
		deadline := time.Now().Add(5 * time.Second)
		for s := rc.Stats(); s.Faults["timeout"] != 1 || len(s.Received) != 0; s = rc.Stats() {
			if time.Now().After(deadline) {
				t.Fatalf("stats = %+v, want one timeout and nothing received", s)
			}
			time.Sleep(10 * time.Millisecond)
		}
		// A sender that waits longer than the hold gets a 503.
		rc2, secret2 := newReceiver(t, chaos.ReceiverFaults{Timeout: 1, Hold: 10 * time.Millisecond})
		rc2.SetSecret(secret2)
		if st := deliver(t, rc2, hc, secret2, "evt_1", false); st != http.StatusServiceUnavailable {
			t.Fatalf("answered %d after the hold, want 503", st)
		}
	})
	t.Run("AnswersSlowly", func(t *testing.T) {
		t.Parallel()
		rc, secret := newReceiver(t, chaos.ReceiverFaults{Slow: 1, SlowMax: 20 * time.Millisecond})
		rc.SetSecret(secret)
		if st := deliver(t, rc, hc, secret, "evt_1", false); st != http.StatusNoContent {
			t.Fatalf("answered %d, want 204 after the pause", st)
		}
		if s := rc.Stats(); s.Faults["slow"] != 1 || s.Received["evt_1"] != 1 {
			t.Fatalf("stats = %+v, want one slow answer, accepted", s)
		}
	})
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	ds := []time.Duration{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	if p50, p99, p10 := chaos.Percentile(ds, 50), chaos.Percentile(ds, 99), chaos.Percentile(ds, 10); p50 != 5 || p99 != 10 || p10 != 1 {
		t.Fatalf("p50/p99/p10 = %d/%d/%d, want 5/10/1", p50, p99, p10)
	}
	if chaos.Percentile([]time.Duration(nil), 50) != 0 || ds[0] != 5 {
		t.Fatal("Percentile of nothing is not 0, or it sorted its argument")
	}
}

func TestGauge(t *testing.T) {
	t.Parallel()
	text := "# HELP autodebit_webhook_deliveries_pending Webhook deliveries still pending.\n" +
		"# TYPE autodebit_webhook_deliveries_pending gauge\n" +
		"autodebit_webhook_deliveries_pending_total 9\n" +
		"autodebit_webhook_deliveries_pending 3\n"
	if n, err := chaos.Gauge(text, "autodebit_webhook_deliveries_pending"); err != nil || n != 3 {
		t.Fatalf("Gauge = %d, %v; want 3", n, err)
	}
	if _, err := chaos.Gauge("other 1\n", "autodebit_webhook_deliveries_pending"); err == nil {
		t.Fatal("Gauge found a metric that is not there")
	}
	if _, err := chaos.Gauge("autodebit_webhook_deliveries_pending x\n", "autodebit_webhook_deliveries_pending"); err == nil {
		t.Fatal("Gauge read a value that is not a number")
	}
}
