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

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
	"github.com/autodebit/autodebit/storetest"
)

// clock is a pinned, movable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

// counts collects CountFunc's calls.
type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) Count(surface, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[surface+"/"+result]++
}

func (c *counts) Get(key string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.m[key] }

// warnings counts the Warn lines of a JSON log.
func warnings(tb testing.TB, log *bytes.Buffer) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			tb.Fatalf("log line %q: %v", line, err)
		}
		if rec["level"] == "WARN" {
			out = append(out, rec)
		}
	}
	return out
}

func from(addr string) *http.Request {
	r := httptest.NewRequest("GET", "/v1/charges", nil)
	r.RemoteAddr = addr
	return r
}

func TestAuthLimiter(t *testing.T) {
	t.Parallel()

	t.Run("Burst", func(t *testing.T) {
		t.Parallel()
		clk, n := newClock(), &counts{}
		var log bytes.Buffer
		l := adhttp.NewAuthLimiter(adhttp.AuthLimitConfig{NowFunc: clk.Now, CountFunc: n.Count, Logger: slog.New(slog.NewJSONHandler(&log, nil))})
		a, b := from("203.0.113.7:4000"), from("198.51.100.2:4000")
		for i := range 10 {
			if _, refused := l.Check(a, adhttp.SurfaceConsole); refused {
				t.Fatalf("failure %d refused, want the first 10 checked", i+1)
			}
			l.Fail(a, adhttp.SurfaceConsole)
		}
		wait, refused := l.Check(a, adhttp.SurfaceConsole)
		if !refused || wait != time.Minute {
			t.Fatalf("11th attempt: refused=%v wait=%v, want refused for a minute", refused, wait)
		}
		if got := adhttp.RetryAfterSeconds(wait); got != "60" {
			t.Fatalf("Retry-After %q, want 60", got)
		}
		// Another port of the same host is the same client; another host is not.
		if _, refused := l.Check(from("203.0.113.7:5000"), adhttp.SurfaceAPI); !refused {
			t.Fatal("same host, other port: not refused")
		}
		if _, refused := l.Check(b, adhttp.SurfaceConsole); refused {
			t.Fatal("another address is refused")
		}
		clk.Advance(59 * time.Second)
		if wait, refused := l.Check(a, adhttp.SurfaceConsole); !refused || wait != time.Second {
			t.Fatalf("59s later: refused=%v wait=%v, want refused for 1s more", refused, wait)
		}
		clk.Advance(time.Second)
		if _, refused := l.Check(a, adhttp.SurfaceConsole); refused {
			t.Fatal("a minute later: still refused")
		}
		l.Fail(a, adhttp.SurfaceConsole)
		if got, want := n.Get("console/rejected"), 11; got != want {
			t.Errorf("console/rejected=%d, want %d", got, want)
		}
		if got, want := n.Get("console/limited"), 2; got != want {
			t.Errorf("console/limited=%d, want %d", got, want)
		}
		if got, want := n.Get("api/limited"), 1; got != want {
			t.Errorf("api/limited=%d, want %d", got, want)
		}

		// One warning for the whole burst, however many refusals.
		w := warnings(t, &log)
		if len(w) != 1 || w[0]["client"] != "203.0.113.7" || w[0]["failures"] != float64(10) {
			t.Fatalf("warnings %v, want one for 203.0.113.7 after 10 failures", w)
		}
		// A burst ends when no failure of the address is within the window;
		// the next one warns again.
		clk.Advance(time.Minute)
		for range 10 {
			l.Fail(a, adhttp.SurfaceConsole)
		}
		for range 5 {
			l.Check(a, adhttp.SurfaceConsole)
		}
		if w := warnings(t, &log); len(w) != 2 {
			t.Fatalf("%d warnings after a second burst, want 2", len(w))
		}
		if strings.Contains(log.String(), "198.51.100.2") {
			t.Fatal("an address that never failed was logged")
		}
	})

	t.Run("SlidingWindow", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		l := adhttp.NewAuthLimiter(adhttp.AuthLimitConfig{NowFunc: clk.Now, Logger: slog.New(slog.DiscardHandler)})
		a := from("203.0.113.7:4000")
		for i := range 10 {
			if _, refused := l.Check(a, adhttp.SurfaceAPI); refused {
				t.Fatalf("failure %d refused", i+1)
			}
			l.Fail(a, adhttp.SurfaceAPI)
			clk.Advance(5 * time.Second)
		}
		// 10 failures at 0s, 5s, … 45s; now is 50s: the oldest counts for 10s more.
		if wait, refused := l.Check(a, adhttp.SurfaceAPI); !refused || wait != 10*time.Second {
			t.Fatalf("11th attempt within a minute: refused=%v wait=%v, want refused for 10s", refused, wait)
		}
		clk.Advance(10 * time.Second)
		if _, refused := l.Check(a, adhttp.SurfaceAPI); refused {
			t.Fatal("refused once the oldest failure is a minute old")
		}
		l.Fail(a, adhttp.SurfaceAPI)
		if wait, refused := l.Check(a, adhttp.SurfaceAPI); !refused || wait != 5*time.Second {
			t.Fatalf("after one more failure: refused=%v wait=%v, want refused for 5s (until the 5s one is old)", refused, wait)
		}
	})

	t.Run("Bounded", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		l := adhttp.NewAuthLimiter(adhttp.AuthLimitConfig{Burst: 2, MaxClients: 3, NowFunc: clk.Now, Logger: slog.New(slog.DiscardHandler)})
		addrs := []string{"192.0.2.1:1", "192.0.2.2:1", "192.0.2.3:1", "192.0.2.4:1", "192.0.2.5:1"}
		for _, a := range addrs {
			l.Fail(from(a), adhttp.SurfaceAPI)
			l.Fail(from(a), adhttp.SurfaceAPI)
		}
		if l.Len() != 3 {
			t.Fatalf("%d addresses remembered, want at most 3", l.Len())
		}
		// The least recently failed are forgotten first.
		for i, a := range addrs {
			_, refused := l.Check(from(a), adhttp.SurfaceAPI)
			if want := i >= 2; refused != want {
				t.Errorf("%s refused=%v, want %v", a, refused, want)
			}
		}
		// Addresses with no failure within the window are forgotten.
		clk.Advance(time.Minute)
		for range 3 {
			l.Check(from("192.0.2.9:1"), adhttp.SurfaceAPI)
		}
		if l.Len() != 0 {
			t.Fatalf("%d addresses remembered a minute later, want 0", l.Len())
		}
	})

	t.Run("ClientAddr", func(t *testing.T) {
		t.Parallel()
		plain := adhttp.NewAuthLimiter(adhttp.AuthLimitConfig{})
		proxied := adhttp.NewAuthLimiter(adhttp.AuthLimitConfig{TrustForwardedFor: true})
		for _, c := range []struct {
			remote, fwd    string
			plain, proxied string
		}{
			{"203.0.113.7:4000", "", "203.0.113.7", "203.0.113.7"},
			{"203.0.113.7:4000", "198.51.100.9", "203.0.113.7", "198.51.100.9"},
			// The proxy appends the client it saw: only the last entry counts.
			{"10.0.0.1:4000", "1.2.3.4, 198.51.100.9", "10.0.0.1", "198.51.100.9"},
			{"10.0.0.1:4000", "not-an-address", "10.0.0.1", "10.0.0.1"},
			// One IPv6 client holds a whole /64.
			{"[2001:db8:1:2:3:4:5:6]:443", "", "2001:db8:1:2::/64", "2001:db8:1:2::/64"},
			{"[::ffff:203.0.113.7]:443", "", "203.0.113.7", "203.0.113.7"},
		} {
			r := from(c.remote)
			if c.fwd != "" {
				r.Header.Set("X-Forwarded-For", c.fwd)
			}
			if got := plain.ClientAddr(r); got != c.plain {
				t.Errorf("%s %q: %q, want %q", c.remote, c.fwd, got, c.plain)
			}
			if got := proxied.ClientAddr(r); got != c.proxied {
				t.Errorf("%s %q trusting X-Forwarded-For: %q, want %q", c.remote, c.fwd, got, c.proxied)
			}
		}
	})
}

// TestServer_AuthLimit checks that wrong API keys on /v1 and /metrics are
// limited per address: 401 ten times, then 429 with Retry-After whatever
// the key, while another address still gets in.
func TestServer_AuthLimit(t *testing.T) {
	t.Parallel()
	clk, n := newClock(), &counts{}
	limiter := adhttp.NewAuthLimiter(adhttp.AuthLimitConfig{NowFunc: clk.Now, CountFunc: n.Count, Logger: slog.New(slog.DiscardHandler)})
	srv := newLimitedServer(t, limiter)
	const key = "test-api-key-0123456789"
	do := func(path, addr, auth string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = addr
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		return w
	}
	const attacker, other = "203.0.113.7:4000", "198.51.100.2:4000"
	// No Authorization header at all is refused without counting.
	for range 20 {
		if w := do("/v1/charges", attacker, ""); w.Code != http.StatusUnauthorized {
			t.Fatalf("no key: %d, want 401", w.Code)
		}
	}
	for i := range 10 {
		path := "/v1/charges"
		if i%2 == 1 {
			path = "/metrics"
		}
		if w := do(path, attacker, "Bearer wrong-key-"+path); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong key %d on %s: %d, want 401", i+1, path, w.Code)
		}
	}
	for _, auth := range []string{"Bearer wrong-key", "Bearer " + key} {
		w := do("/v1/charges", attacker, auth)
		var body struct {
			Error struct{ Code, Message string }
		}
		json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "60" ||
			body.Error.Code != "rate_limited" || !strings.Contains(body.Error.Message, "try again in 60 seconds") {
			t.Fatalf("%q after 10 wrong keys: %d Retry-After=%q %+v, want 429, 60, rate_limited with a sentence",
				auth, w.Code, w.Header().Get("Retry-After"), body.Error)
		}
	}
	if w := do("/metrics", attacker, "Bearer "+key); w.Code != http.StatusTooManyRequests {
		t.Fatalf("/metrics from the limited address: %d, want 429", w.Code)
	}
	if w := do("/v1/charges", other, "Bearer "+key); w.Code != http.StatusOK {
		t.Fatalf("another address with the key: %d, want 200\n%s", w.Code, w.Body)
	}
	clk.Advance(time.Minute)
	if w := do("/v1/charges", attacker, "Bearer "+key); w.Code != http.StatusOK {
		t.Fatalf("the right key a minute later: %d, want 200", w.Code)
	}
	if got := n.Get("api/rejected"); got != 10 {
		t.Errorf("api/rejected=%d, want 10", got)
	}
	if got := n.Get("api/limited"); got != 3 {
		t.Errorf("api/limited=%d, want 3", got)
	}
}

func newLimitedServer(tb testing.TB, limiter *adhttp.AuthLimiter) *adhttp.Server {
	tb.Helper()
	kp, err := antom.GenerateKeyPair()
	if err != nil {
		tb.Fatal(err)
	}
	// Nothing here calls Antom: the client points at a closed port.
	client, err := antom.NewClient(antom.Config{BaseURL: "http://127.0.0.1:1", ClientID: "SANDBOX_TEST", PrivateKey: kp.PrivateKey, AntomPublicKey: &kp.PrivateKey.PublicKey})
	if err != nil {
		tb.Fatal(err)
	}
	store := storetest.OpenSQLite(tb, storetest.Config())
	eng, err := engine.New(engine.Config{Store: store, Antom: client, PublicURL: "http://127.0.0.1:8080", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := adhttp.NewServer(adhttp.Config{
		Engine: eng, APIKey: "test-api-key-0123456789", Limiter: limiter, Logger: slog.New(slog.DiscardHandler),
		Verifier: &antom.NotificationVerifier{ClientID: "SANDBOX_TEST", AntomPublicKey: &kp.PrivateKey.PublicKey},
		Metrics:  http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("# metrics\n")) }),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return srv
}
