package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSimCommand runs `autodebit sim` on a free port with keys from files,
// checks the printed settings and calls the control API.
func TestSimCommand(t *testing.T) {
	kp, err := antom.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pubFile := filepath.Join(dir, "merchant.pub")
	if err := os.WriteFile(pubFile, []byte(kp.PublicKeyPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := newRootCommand()
	out := &syncBuffer{}
	root.SetOut(out)
	root.SetArgs([]string{"sim", "--addr", "127.0.0.1:0", "--client-id", "SANDBOX_CMD", "--seed", "42",
		"--time-scale", "60", "--merchant-public-key", "@" + pubFile, "--private-key", kp.PrivateKeyBase64,
		"--notify-url", "http://127.0.0.1:1/notify"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	re := regexp.MustCompile(`listening on (http://\S+)`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("sim exited: %v\n%s", err, out.String())
		default:
		}
	}
	if base == "" {
		t.Fatalf("no listening line in %q", out.String())
	}
	// The banner is printed in several writes after the listening line:
	// wait for its last one, the control key.
	keyLine := regexp.MustCompile(`Control key \(new for this run\): (\S+)`)
	for deadline := time.Now().Add(10 * time.Second); !keyLine.MatchString(out.String()) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	text := out.String()
	for _, want := range []string{"SANDBOX_CMD", kp.PublicKeyBase64, "Seed 42", "time scale 60", "http://127.0.0.1:1/notify"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "NOT verified") {
		t.Errorf("output says signatures are not verified:\n%s", text)
	}
	key := keyLine.FindStringSubmatch(text)
	if key == nil {
		t.Fatalf("no control key in the output:\n%s", text)
	}
	if st, _ := simGet(t, base+"/sim/v1/clock", "", nil); st != http.StatusUnauthorized {
		t.Fatalf("GET /sim/v1/clock without the key = %d, want 401", st)
	}
	st, body := simGet(t, base+"/sim/v1/clock", "", map[string]string{"Authorization": "Bearer " + key[1]})
	var clock struct {
		Scale float64 `json:"scale"`
		Seed  int64   `json:"seed"`
	}
	json.Unmarshal([]byte(body), &clock)
	if st != 200 || clock.Scale != 60 || clock.Seed != 42 {
		t.Fatalf("clock = %d %+v", st, clock)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop")
	}
}

func TestSimConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    simFlags
		want string
	}{
		{"TimeScale", simFlags{timeScale: 0}, "--time-scale"},
		{"BadPrivateKey", simFlags{timeScale: 1, privateKey: "bm90IGEga2V5"}, "--private-key"},
		{"MissingKeyFile", simFlags{timeScale: 1, merchantPublicKey: "@/nonexistent/key"}, "merchant-public-key"},
		{"ShortControlKey", simFlags{timeScale: 1, controlKey: "short"}, "--control-key must be at least 16 characters"},
		{"ControlKeyWithSpace", simFlags{timeScale: 1, controlKey: "a key with spaces in it"}, "--control-key"},
		{"PublicURL", simFlags{timeScale: 1, publicURL: "sim.example:8081"}, "--public-url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := simConfig(tc.f, "http://127.0.0.1:1")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %s", err, tc.want)
			}
		})
	}
}

// startSim runs `autodebit sim args…` on a free loopback port and returns
// its base URL and output; it stops with the test.
func startSim(t *testing.T, env map[string]string, args ...string) (string, *syncBuffer) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	root := newRootCommand()
	out := &syncBuffer{}
	root.SetOut(out)
	root.SetArgs(append([]string{"sim", "--addr", "127.0.0.1:0"}, args...))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	re := regexp.MustCompile(`(?s)listening on (http://\S+)\n.*Control key`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1], out
		}
		select {
		case err := <-done:
			t.Fatalf("sim exited: %v\n%s", err, out.String())
		default:
		}
	}
	t.Fatalf("sim did not start:\n%s", out.String())
	return "", nil
}

// simGet (or POST, with a body) calls the simulator with headers; a "Host"
// entry sets the Host header.
func simGet(t *testing.T, url, body string, hdr map[string]string) (int, string) {
	t.Helper()
	method := "GET"
	if body != "" {
		method = "POST"
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSimCommand_Guard: a key given in AUTODEBIT_CONTROL_KEY is used and not
// printed; a foreign Host (DNS rebinding) and a cross-origin POST are refused.
func TestSimCommand_Guard(t *testing.T) {
	const key = "my-own-control-key-0123456789"
	base, out := startSim(t, map[string]string{"AUTODEBIT_CONTROL_KEY": key}, "--public-url", "http://sim.test:9")
	if strings.Contains(out.String(), key) || !strings.Contains(out.String(), "as given (not shown)") {
		t.Fatalf("output shows the given key, or does not say it is given:\n%s", out.String())
	}
	auth := map[string]string{"Authorization": "Bearer " + key}
	if st, body := simGet(t, base+"/sim/v1/settings", "", auth); st != 200 {
		t.Fatalf("GET /sim/v1/settings with the key = %d %s", st, body)
	}
	port := base[strings.LastIndex(base, ":"):]
	for _, host := range []string{"rebind.attacker.example" + port, "0.0.0.0" + port} {
		if st, body := simGet(t, base+"/", "", map[string]string{"Host": host}); st != http.StatusForbidden || !strings.Contains(body, "Host") {
			t.Errorf("GET / with Host %s = %d %s, want 403", host, st, body)
		}
	}
	for _, host := range []string{"localhost" + port, "sim.test:9"} {
		if st, body := simGet(t, base+"/", "", map[string]string{"Host": host}); st != 200 {
			t.Errorf("GET / with Host %s = %d %s, want 200", host, st, body)
		}
	}
	hdr := map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json", "Origin": "http://attacker.example"}
	if st, body := simGet(t, base+"/sim/v1/accounts", `{"wallet":"GCASH","userLoginId":"evil"}`, hdr); st != http.StatusForbidden || !strings.Contains(body, "cross-origin") {
		t.Errorf("cross-origin POST = %d %s, want 403", st, body)
	}
	delete(hdr, "Origin")
	if st, body := simGet(t, base+"/sim/v1/accounts", `{"wallet":"GCASH","userLoginId":"script"}`, hdr); st != http.StatusCreated {
		t.Errorf("POST from a script = %d %s, want 201", st, body)
	}
	if st, body := simGet(t, base+"/sim/v1/accounts/GCASH/evil", "", auth); st != http.StatusNotFound {
		t.Errorf("the refused POST created the account: %d %s", st, body)
	}
}

// `sim --time-scale 60`, an hour ahead after an advance, serves a merchant
// on real time: the pay's paymentExpiryTime, 55s after the merchant's own
// clock, is judged against its Request-Time and accepted, and the payment's
// notification carries a request-time the merchant's default freshness
// check accepts. Before, every pay was refused a second after the start
// ("paymentExpiryTime … is not in the future") and notifications came from
// the merchant's future.
func TestSimCommand_TimeScaleServesRealTimeMerchant(t *testing.T) {
	merchant, err := antom.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	antomKeys, err := antom.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(t.TempDir(), "merchant.pub")
	if err := os.WriteFile(pubFile, []byte(merchant.PublicKeyPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	verifier := &antom.NotificationVerifier{ClientID: "SANDBOX_5X00000000SIMULATOR", AntomPublicKey: &antomKeys.PrivateKey.PublicKey}
	var mu sync.Mutex
	var verified []*antom.Notification
	var refused []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := verifier.Verify(r)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			refused = append(refused, err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		verified = append(verified, n)
		antom.WriteAck(w)
	}))
	t.Cleanup(rcv.Close)
	const key = "time-scale-control-key-0123456789"
	base, _ := startSim(t, nil, "--time-scale", "60", "--control-key", key, "--merchant-public-key", "@"+pubFile,
		"--private-key", antomKeys.PrivateKeyBase64, "--notify-url", rcv.URL+"/notify")
	auth := map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"}
	if st, body := simGet(t, base+"/sim/v1/clock/advance", `{"by":"1h"}`, auth); st != 200 {
		t.Fatalf("advance: %d %s", st, body)
	}

	ctx := context.Background()
	c, err := antom.NewClient(antom.Config{BaseURL: base, ClientID: "SANDBOX_5X00000000SIMULATOR", PrivateKey: merchant.PrivateKey,
		AntomPublicKey: &antomKeys.PrivateKey.PublicKey}) // on the wall clock
	if err != nil {
		t.Fatal(err)
	}
	consult, err := c.Consult(ctx, &antom.ConsultRequest{CustomerBelongsTo: "GCASH", AuthRedirectURL: "https://merchant.example/done",
		Scopes: []string{antom.ScopeAgreementPay}, AuthState: "state-time-scale", TerminalType: antom.TerminalTypeWeb})
	if err != nil || !consult.Result.Succeeded() {
		t.Fatalf("consult: %v %+v", err, consult)
	}
	st, body := simGet(t, consult.AuthCodeForm.Text(), `{"action":"approve","userLoginId":"09171234567"}`, map[string]string{"Content-Type": "application/json"})
	var approved struct {
		AuthCode string `json:"authCode"`
	}
	if json.Unmarshal([]byte(body), &approved); st != 200 || approved.AuthCode == "" {
		t.Fatalf("approve: %d %s", st, body)
	}
	tok, err := c.ApplyToken(ctx, &antom.ApplyTokenRequest{GrantType: antom.GrantTypeAuthorizationCode, CustomerBelongsTo: "GCASH", AuthCode: approved.AuthCode})
	if err != nil || !tok.Result.Succeeded() {
		t.Fatalf("applyToken: %v %+v", err, tok)
	}
	amount := antom.Amount{Currency: "PHP", Value: 100}
	pay, err := c.Pay(ctx, &antom.PayRequest{ProductCode: antom.ProductCodeAgreementPay, PaymentRequestID: "pay-time-scale", PaymentAmount: amount,
		PaymentMethod:     antom.PaymentMethod{PaymentMethodType: "GCASH", PaymentMethodID: tok.AccessToken},
		Order:             antom.Order{ReferenceOrderID: "order-time-scale", OrderDescription: "Test order", OrderAmount: amount},
		Env:               &antom.Env{TerminalType: antom.TerminalTypeWeb},
		PaymentExpiryTime: antom.NewTime(time.Now().Add(55 * time.Second))})
	if err != nil || !pay.Result.Succeeded() {
		t.Fatalf("pay against the fast simulator: %v %+v", err, pay)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		var got bool
		for _, n := range verified {
			got = got || n.Payment != nil
		}
		bad := append([]string(nil), refused...)
		mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("the merchant refused notifications: %v", bad)
		}
		if got {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no payment notification reached the merchant")
		}
	}
}

// sim --debug-addr serves Go's profiler, on a loopback address only.
func TestSimCommand_DebugAddr(t *testing.T) {
	root := newRootCommand()
	root.SetOut(&syncBuffer{})
	root.SetArgs([]string{"sim", "--addr", "127.0.0.1:0", "--debug-addr", "0.0.0.0:0"})
	if err := root.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("sim --debug-addr 0.0.0.0:0 = %v, want a loopback error", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	debugAddr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root = newRootCommand()
	out := &syncBuffer{}
	root.SetOut(out)
	root.SetArgs([]string{"sim", "--addr", "127.0.0.1:0", "--debug-addr", debugAddr})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	var st int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + debugAddr + "/debug/pprof/"); err == nil {
			resp.Body.Close()
			if st = resp.StatusCode; st == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("sim exited: %v\n%s", err, out.String())
		default:
		}
	}
	if st != http.StatusOK {
		t.Fatalf("GET /debug/pprof/ on --debug-addr = %d, want 200", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
