package antomsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/clock"
)

func down(*antom.Notification) (int, []byte) { return 500, []byte("down") }

func ack(*antom.Notification) (int, []byte) {
	return 200, []byte(`{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}`)
}

// dump is everything the simulator shows about its state, as JSON.
func dump(tb testing.TB, s *antomsim.Sim) string {
	tb.Helper()
	b, err := json.MarshalIndent(map[string]any{
		"accounts": s.Accounts(), "authorizations": s.Authorizations(), "tokens": s.Tokens(),
		"payments": s.Payments(), "refunds": s.Refunds(), "notifications": s.Notifications(antomsim.NotificationFilter{}),
		"settings": s.Settings(), "faults": s.Faults(), "faultStats": s.FaultStats(), "now": s.Now(), "seed": s.Seed(),
	}, "", " ")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// closeEnv stops e's server and simulator, as a restart does.
func closeEnv(tb testing.TB, e *env) {
	tb.Helper()
	e.srv.Close()
	if err := e.sim.Close(); err != nil {
		tb.Fatal(err)
	}
}

// TestState_SurvivesRestart: a simulator started on the state file of one
// that stopped has every account, consult, token, payment, refund and
// notification of it; the token still charges, IDs do not repeat, and what
// was waiting (resends, a PROCESSING payment, a QR code's expiry) still
// happens.
func TestState_SurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "sim.json")
	withFile := func(c *antomsim.Config) { c.StateFile = file }
	e := newEnv(t, withFile)
	e.notify.setAnswer(down)
	tok := e.link(t, "GCASH", "")
	slow := e.link(t, "GCASH", "09170000001")
	mode, delay := antomsim.PayModeProcessing, antomsim.Duration(30*time.Second)
	if _, err := e.sim.UpdateAccount("GCASH", "09170000001", antomsim.AccountUpdate{PayMode: &mode, ProcessingDelay: &delay}); err != nil {
		t.Fatal(err)
	}
	p1, err := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100_00)))
	if err != nil || !p1.Result.Succeeded() {
		t.Fatalf("pay p1 = %v %+v", err, p1)
	}
	if r, err := e.client.Refund(ctx, &antom.RefundRequest{RefundRequestID: "r1", PaymentID: p1.PaymentID, RefundAmount: php(30_00)}); err != nil || !r.Result.Succeeded() {
		t.Fatalf("refund = %v %+v", err, r)
	}
	if p2, _ := e.client.Pay(ctx, payReq("p2", slow.AccessToken, "GCASH", php(5_00))); p2.Result.ResultCode != antom.CodePaymentInProcess {
		t.Fatalf("pay p2 = %+v", p2.Result)
	}
	c, err := e.client.Consult(ctx, consultReq("GCASH", "state-waiting"))
	if err != nil || !c.Result.Succeeded() {
		t.Fatalf("consult = %v %+v", err, c)
	}
	if err := e.sim.SetFaults(antomsim.Faults{API: map[string][]antomsim.APIFault{antom.APIRevoke: {{Kind: antomsim.FaultUnknown, Probability: 1, Times: 1}}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.SetSettings(antomsim.Settings{PayMode: antomsim.PayModeInstant}); err != nil {
		t.Fatal(err)
	}
	e.settle(t)
	if n := e.sim.Notifications(antomsim.NotificationFilter{Status: antomsim.NotifyPending}); len(n) != 4 {
		t.Fatalf("%d pending notifications before the restart, want 4 (2 AUTHCODE_CREATED, PAYMENT_RESULT, REFUND_RESULT)", len(n))
	}
	before := dump(t, e.sim)
	closeEnv(t, e)
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}

	e2 := newEnv(t, withFile)
	if after := dump(t, e2.sim); after != before {
		t.Fatalf("state after the restart differs:\nbefore: %s\nafter:  %s", before, after)
	}
	p3, err := e2.client.Pay(ctx, payReq("p3", tok.AccessToken, "GCASH", php(1_00)))
	if err != nil || !p3.Result.Succeeded() {
		t.Fatalf("pay with the token after the restart = %v %+v", err, p3)
	}
	if p3.PaymentID == p1.PaymentID {
		t.Errorf("paymentId %s repeats after the restart", p3.PaymentID)
	}
	if again := e2.link(t, "GCASH", ""); again.AccessToken == tok.AccessToken || again.AccessToken == slow.AccessToken {
		t.Errorf("access token %s repeats after the restart", again.AccessToken)
	}

	// The first receiver still gets the resends of what it missed.
	e.sim = e2.sim
	e.start()
	e.notify.setAnswer(ack)
	e2.notify.setAnswer(ack)
	e2.advance(t, 2*time.Minute)
	if p, _ := e2.sim.Payment("p2"); p.Status != antom.PaymentStatusSuccess || p.Debits != 1 {
		t.Errorf("p2 after its processing delay = %s, %d debits; want SUCCESS, 1", p.Status, p.Debits)
	}
	for _, n := range e2.sim.Notifications(antomsim.NotificationFilter{}) {
		if n.Status != antomsim.NotifyDelivered {
			t.Errorf("notification %s %s %s is %s after %d attempts, want DELIVERED", n.ID, n.Type, n.Subject, n.Status, len(n.Attempts))
		}
	}
	if got := len(e.notify.ofType(antom.AuthCodeCreated)); got != 4 {
		t.Errorf("first receiver got %d AUTHCODE_CREATED, want 4 (2 failed sends, 2 resends)", got)
	}
	e2.advance(t, 15*time.Minute)
	auths := e2.sim.Authorizations()
	if i := slices.IndexFunc(auths, func(a antomsim.Authorization) bool { return a.AuthState == "state-waiting" }); i < 0 || auths[i].Status != antomsim.AuthExpired {
		t.Errorf("waiting QR code after its expiry: %+v", auths)
	}
}

// TestState_ResendsWhatWasInFlight: a notification whose attempt was in
// flight when the file was written (so it has no attempt scheduled) is
// attempted again after a restart, on the resend schedule.
func TestState_ResendsWhatWasInFlight(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "sim.json")
	withFile := func(c *antomsim.Config) { c.StateFile = file }
	e := newEnv(t, withFile)
	e.notify.setAnswer(down)
	e.link(t, "GCASH", "")
	e.settle(t)
	closeEnv(t, e)
	var v map[string]any
	b, err := os.ReadFile(file)
	if err == nil {
		err = json.Unmarshal(b, &v)
	}
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := v["attempts"].([]any); len(a) != 1 {
		t.Fatalf("state file has %d scheduled attempts, want 1", len(a))
	}
	delete(v, "attempts")
	b, _ = json.Marshal(v)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}

	e2 := newEnv(t, withFile)
	e.sim = e2.sim
	e.start()
	e.notify.setAnswer(ack)
	e2.advance(t, 2*time.Minute)
	n := e2.sim.Notifications(antomsim.NotificationFilter{Type: antom.AuthCodeCreated})
	if len(n) != 1 || n[0].Status != antomsim.NotifyDelivered || len(n[0].Attempts) != 2 ||
		!n[0].Attempts[1].ScheduledTime.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("notification after the restart: %+v", n)
	}
}

// TestState_RefusesBadFile: a state file that is not one, or is of another
// format version, stops New with an error naming it, and is left as it was.
func TestState_RefusesBadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, tc := range map[string]struct{ body, want string }{
		"not JSON":      {`{"version":1,"accounts":[`, "is not a simulator state"},
		"empty":         {``, "is not a simulator state"},
		"other version": {`{"version":99}`, "format version 99"},
		"dangling token": {`{"version":1,"rng":"` + rngOf(t) + `","tokens":[{"accessToken":"x","wallet":"GCASH","userLoginId":"nobody","qrCode":"q"}]}`,
			"unknown account"},
	} {
		file := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
		if err := os.WriteFile(file, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		sim, err := antomsim.New(antomsim.Config{ManualClock: true, StateFile: file})
		if err == nil {
			sim.Close()
			t.Errorf("%s: New started", name)
			continue
		}
		if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want the file's name and %q", name, err, tc.want)
		}
		if b, _ := os.ReadFile(file); !bytes.Equal(b, []byte(tc.body)) {
			t.Errorf("%s: the file was changed to %s", name, b)
		}
	}
	if _, err := antomsim.New(antomsim.Config{ManualClock: true, StateFile: filepath.Join(dir, "missing", "sim.json")}); err == nil {
		t.Errorf("New started with a state file it cannot write")
	}
}

// rngOf returns the rng field of a fresh state file.
func rngOf(tb testing.TB) string {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), "sim.json")
	sim, err := antomsim.New(antomsim.Config{ManualClock: true, StateFile: file})
	if err != nil {
		tb.Fatal(err)
	}
	sim.Close()
	var v struct {
		RNG string `json:"rng"`
	}
	b, _ := os.ReadFile(file)
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatal(err)
	}
	return v.RNG
}

// TestState_Encrypted: with a StateKey the file holds no access token in
// clear, opens again with the same key, and is refused with another key,
// with none, or when a file in clear is found instead.
func TestState_Encrypted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "sim.json")
	key := bytes.Repeat([]byte{7}, 32)
	e := newEnv(t, func(c *antomsim.Config) { c.StateFile, c.StateKey = file, key })
	tok := e.link(t, "GCASH", "")
	closeEnv(t, e)
	if b, err := os.ReadFile(file); err != nil || bytes.Contains(b, []byte(tok.AccessToken)) || bytes.Contains(b, []byte("09171234567")) {
		t.Fatalf("state file %v holds the access token or the login in clear:\n%s", err, b)
	}
	e2 := newEnv(t, func(c *antomsim.Config) { c.StateFile, c.StateKey = file, key })
	if toks := e2.sim.Tokens(); len(toks) != 1 || toks[0].AccessToken != tok.AccessToken {
		t.Fatalf("tokens after the restart: %+v", toks)
	}
	closeEnv(t, e2)

	plain := filepath.Join(dir, "plain.json")
	sim, err := antomsim.New(antomsim.Config{ManualClock: true, StateFile: plain})
	if err != nil {
		t.Fatal(err)
	}
	sim.Close()
	for name, tc := range map[string]struct {
		file string
		key  []byte
		want string
	}{
		"other key":     {file, bytes.Repeat([]byte{8}, 32), "does not open with this StateKey"},
		"no key":        {file, nil, "is encrypted"},
		"file in clear": {plain, key, "is not encrypted"},
		"short key":     {file, key[:16], "StateKey is 16 bytes"},
	} {
		sim, err := antomsim.New(antomsim.Config{ManualClock: true, StateFile: tc.file, StateKey: tc.key})
		if err == nil {
			sim.Close()
			t.Errorf("%s: New started", name)
		} else if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

// The state reaches the file shortly after a change, without Close: a
// simulator killed (kill -9) after that finds it again. (The file is read
// from a copy: the running simulator holds the state file's lock.)
func TestState_WrittenWithoutClose(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "s.json")
	s, err := antomsim.New(antomsim.Config{ManualClock: true, StateFile: f})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateAccount(antomsim.Account{Wallet: "GCASH", UserLoginID: "09990000001"}); err != nil {
		t.Fatal(err)
	}
	var b []byte
	deadline := time.Now().Add(10 * time.Second)
	for !bytes.Contains(b, []byte("09990000001")) {
		if time.Now().After(deadline) {
			t.Fatal("the change never reached the state file without Close")
		}
		time.Sleep(10 * time.Millisecond)
		b, _ = os.ReadFile(f)
	}
	copyFile := filepath.Join(dir, "copy.json")
	if err := os.WriteFile(copyFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := antomsim.New(antomsim.Config{ManualClock: true, StateFile: copyFile})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if !slices.ContainsFunc(s2.Accounts(), func(a antomsim.Account) bool { return a.UserLoginID == "09990000001" }) {
		t.Fatal("the account written without Close is not restored")
	}
}

// Two simulators never share one state file: the second is refused until
// the first closes.
func TestState_OneSimulatorPerFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "s.json")
	s, err := antomsim.New(antomsim.Config{ManualClock: true, StateFile: f})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := antomsim.New(antomsim.Config{ManualClock: true, StateFile: f}); err == nil || !strings.Contains(err.Error(), "in use by another simulator") {
		t.Fatalf("second simulator on one state file: err = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := antomsim.New(antomsim.Config{ManualClock: true, StateFile: f})
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	s2.Close()
}

// A shared clock moved by clock.Advance over its waiters (serve's one
// clock) reaches the state file without Close, even when nothing fell due
// on the simulator's side: a kill after `clock advance 30d` restarts at
// the advanced time.
func TestState_SharedClockAdvanceWrittenWithoutClose(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "s.json")
	start := time.Date(2027, 1, 31, 10, 0, 0, 0, time.UTC)
	clk := clock.NewManual(start)
	s, err := antomsim.New(antomsim.Config{Clock: clk, StateFile: f})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	time.Sleep(500 * time.Millisecond) // past the save of the start
	want := start.Add(30 * 24 * time.Hour)
	if _, err := clock.Advance(context.Background(), clk, 30*24*time.Hour, s); err != nil {
		t.Fatal(err)
	}
	var saved struct {
		Clock struct{ Now time.Time }
	}
	deadline := time.Now().Add(10 * time.Second)
	var b []byte
	for !saved.Clock.Now.Equal(want) {
		if time.Now().After(deadline) {
			t.Fatalf("the state file keeps the clock at %s without Close, want %s", saved.Clock.Now, want)
		}
		time.Sleep(10 * time.Millisecond)
		b, _ = os.ReadFile(f)
		json.Unmarshal(b, &saved)
	}
	copyFile := filepath.Join(dir, "copy.json")
	if err := os.WriteFile(copyFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	clk2 := clock.NewManual(start)
	s2, err := antomsim.New(antomsim.Config{Clock: clk2, StateFile: copyFile})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := clk2.Now(); !got.Equal(want) {
		t.Fatalf("restarted from the file written without Close at %s, want %s", got, want)
	}
}
