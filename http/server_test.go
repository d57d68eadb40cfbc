package http_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
	"github.com/autodebit/autodebit/storetest"
)

const testAPIKey = "test-api-key-0123456789"

// rejections counts the rejected notifications the engine reports.
type rejections struct {
	mu sync.Mutex
	n  int
}

func (m *rejections) AntomCall(string, string, time.Duration)      {}
func (m *rejections) ChargeSettled(autodebit.ChargeStatus, string) {}
func (m *rejections) TokenIssued(time.Duration)                    {}
func (m *rejections) NotificationLag(string, time.Duration)        {}
func (m *rejections) WebhookAttempt(string, time.Duration)         {}
func (m *rejections) NotificationReceived(_ string, accepted bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !accepted {
		m.n++
	}
}

func (m *rejections) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// newServer returns a Server on a SQLite store whose Antom is unreachable:
// enough for requests that never call Antom. logs receives its JSON logs.
func newServer(tb testing.TB, now func() time.Time, extra http.Handler) (*adhttp.Server, *bytes.Buffer, *rejections) {
	tb.Helper()
	kp, err := antom.GenerateKeyPair()
	if err != nil {
		tb.Fatal(err)
	}
	client, err := antom.NewClient(antom.Config{BaseURL: "http://127.0.0.1:1", ClientID: "client_1", PrivateKey: kp.PrivateKey,
		AntomPublicKey: &kp.PrivateKey.PublicKey, ObserveFunc: engine.Observe})
	if err != nil {
		tb.Fatal(err)
	}
	logs := new(bytes.Buffer)
	log := slog.New(slog.NewJSONHandler(logs, nil))
	met := &rejections{}
	eng, err := engine.New(engine.Config{Store: storetest.OpenSQLite(tb, storetest.Config()), Antom: client, PublicURL: "http://127.0.0.1", Logger: log, Metrics: met})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := adhttp.NewServer(adhttp.Config{Engine: eng, APIKey: testAPIKey, Logger: log, NowFunc: now, Extra: extra,
		Verifier: &antom.NotificationVerifier{ClientID: "client_1", AntomPublicKey: &kp.PrivateKey.PublicKey},
		Metrics:  http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("metric 1\n")) })})
	if err != nil {
		tb.Fatal(err)
	}
	return s, logs, met
}

// logLines returns the log records with message msg.
func logLines(tb testing.TB, logs *bytes.Buffer, msg string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			tb.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// TestServer_RejectedNotificationLogIsLimited floods a notification
// receiver with unsigned requests: every one is refused and counted, but
// the log gets one line per reason and kind per RejectedLogInterval, the
// next one saying how many were held back.
func TestServer_RejectedNotificationLogIsLimited(t *testing.T) {
	c := newClock() // authlimit_test.go
	s, logs, met := newServer(t, c.Now, nil)
	send := func(path string, n int) {
		t.Helper()
		for range n {
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest("POST", path, strings.NewReader(`{"notifyType":"PAYMENT_RESULT"}`)))
			if w.Code/100 != 4 {
				t.Fatalf("unsigned notification: status %d, want 4xx", w.Code)
			}
		}
	}
	lines := func() []map[string]any { return logLines(t, logs, "notification rejected") }

	send(engine.NotifyPaymentPath, 100)
	if got := len(lines()); got != 1 {
		t.Fatalf("100 rejections logged %d lines, want 1", got)
	}
	send(engine.NotifyRefundPath, 5) // another kind has its own allowance
	if got := len(lines()); got != 2 {
		t.Fatalf("after another kind: %d lines, want 2", got)
	}
	c.Advance(adhttp.RejectedLogInterval - time.Second)
	send(engine.NotifyPaymentPath, 10)
	if got := len(lines()); got != 2 {
		t.Fatalf("within the interval: %d lines, want 2", got)
	}
	c.Advance(time.Second)
	send(engine.NotifyPaymentPath, 1)
	l := lines()
	if len(l) != 3 {
		t.Fatalf("after the interval: %d lines, want 3", len(l))
	}
	if got := l[2]["suppressed"]; got != float64(99+10) || l[2]["kind"] != antom.KindPayment {
		t.Errorf("line after the interval: %v, want kind payment and suppressed 109", l[2])
	}
	if got := met.count(); got != 116 {
		t.Errorf("metric counted %d rejections, want 116", got)
	}
}

// TestServer_SecurityHeaders checks a sample of routes, including errors
// and 404s, for the headers every response must carry.
func TestServer_SecurityHeaders(t *testing.T) {
	extra := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<p>console</p>")) })
	s, _, _ := newServer(t, nil, extra)
	for _, tc := range []struct {
		method, path string
		key          bool
		status       int
		noStore      bool
	}{
		{"GET", "/v1/charges", true, 200, true},
		{"GET", "/v1/charges", false, 401, true},
		{"GET", "/v1/charges/chg_nope", true, 404, true},
		{"GET", "/v1/nothing", true, 404, true},
		{"POST", "/v1/charges", true, 400, true},
		{"GET", "/v1/health", true, 200, true},
		{"POST", engine.NotifyPaymentPath, false, 400, true},
		{"GET", engine.NotifyPaymentPath, false, 200, true}, // no such route: Extra answers
		{"GET", "/metrics", true, 200, true},
		{"GET", "/metrics", false, 401, true},
		{"GET", "/healthz", false, 200, true},
		{"GET", "/openapi.json", false, 200, false},
		{"GET", "/qr/auth_nope.png", false, 404, false},
		{"GET", "/qr/nope", false, 404, false},
		{"GET", "/charges", false, 200, false}, // Extra: the console's place
	} {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader("{"))
		if tc.key {
			req.Header.Set("Authorization", "Bearer "+testAPIKey)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		h := w.Result().Header
		name := tc.method + " " + tc.path
		if w.Code != tc.status {
			t.Errorf("%s: status %d, want %d", name, w.Code, tc.status)
		}
		for k, want := range map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "no-referrer",
			"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		} {
			if got := h.Values(k); len(got) != 1 || got[0] != want {
				t.Errorf("%s: %s = %q, want %q", name, k, got, want)
			}
		}
		if got := h.Get("Cache-Control"); tc.noStore && got != "no-store" {
			t.Errorf("%s: Cache-Control = %q, want no-store", name, got)
		}
	}
}
