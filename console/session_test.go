package console_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/console"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
	"github.com/autodebit/autodebit/metrics"
	"github.com/autodebit/autodebit/postgres"
	"github.com/autodebit/autodebit/sqldb"
	"github.com/autodebit/autodebit/sqlite"
	"github.com/autodebit/autodebit/storetest"
)

// database opens stores on one database, again and again: two open at once
// are two engine processes (replicas); one opened after the other was
// closed is a restart.
type database struct {
	name string
	open func(tb testing.TB) *sqldb.Store
}

// newDatabase returns a fresh database of the named kind, skipping
// PostgreSQL without AUTODEBIT_TEST_POSTGRES_URL.
func newDatabase(tb testing.TB, kind string) database {
	tb.Helper()
	ctx := context.Background()
	var open func() (*sqldb.Store, error)
	switch kind {
	case "sqlite":
		path := filepath.Join(tb.TempDir(), "autodebit.db")
		open = func() (*sqldb.Store, error) { return sqlite.Open(ctx, path, storetest.Config()) }
	case "postgres":
		u := storetest.PostgresSchemaURL(tb)
		open = func() (*sqldb.Store, error) { return postgres.Open(ctx, u, storetest.Config()) }
	}
	return database{kind, func(tb testing.TB) *sqldb.Store {
		tb.Helper()
		s, err := open()
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	}}
}

var testKeyPair = sync.OnceValues(antom.GenerateKeyPair)

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

// newConsole returns a console on store that never reaches Antom (nothing
// a login does calls it).
func newConsole(tb testing.TB, store *sqldb.Store, cfg console.Config) *console.Handler {
	tb.Helper()
	kp, err := testKeyPair()
	if err != nil {
		tb.Fatal(err)
	}
	client, err := antom.NewClient(antom.Config{BaseURL: "http://127.0.0.1:1", ClientID: "SANDBOX_TEST", PrivateKey: kp.PrivateKey, AntomPublicKey: &kp.PrivateKey.PublicKey})
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	eng, err := engine.New(engine.Config{Store: store, Antom: client, PublicURL: "http://127.0.0.1:8080", Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Engine = eng
	if cfg.APIKey == "" {
		cfg.APIKey = apiKey
	}
	if cfg.Logger == nil {
		cfg.Logger = log
	}
	h, err := console.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// visitor is a browser at one client address, talking to a handler
// directly. It keeps cookies by name.
type visitor struct {
	tb      testing.TB
	addr    string
	cookies map[string]string
}

func newVisitor(tb testing.TB, addr string) *visitor {
	return &visitor{tb: tb, addr: addr, cookies: map[string]string{}}
}

func (v *visitor) do(h http.Handler, method, path string, form url.Values) *httptest.ResponseRecorder {
	v.tb.Helper()
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	r.RemoteAddr = v.addr
	for name, value := range v.cookies {
		r.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(v.cookies, c.Name)
		} else {
			v.cookies[c.Name] = c.Value
		}
	}
	return w
}

// login posts the login form with key and returns the answer.
func (v *visitor) login(h http.Handler, key string) *httptest.ResponseRecorder {
	v.tb.Helper()
	page := v.do(h, "GET", "/login", nil).Body.String()
	return v.do(h, "POST", "/login", url.Values{"nonce": {find(v.tb, nonceRe, page)}, "apiKey": {key}, "next": {"/tokens"}})
}

func (v *visitor) mustLogin(h http.Handler) {
	v.tb.Helper()
	if w := v.login(h, apiKey); w.Code != http.StatusSeeOther {
		v.tb.Fatalf("login: %d, want 303\n%s", w.Code, w.Body)
	}
}

// loggedIn reports whether the visitor's session lets it see /tokens.
func (v *visitor) loggedIn(h http.Handler) bool {
	v.tb.Helper()
	w := v.do(h, "GET", "/tokens", nil)
	switch {
	case w.Code == http.StatusOK:
		return true
	case w.Code == http.StatusSeeOther && strings.HasPrefix(w.Header().Get("Location"), "/login"):
		return false
	}
	v.tb.Fatalf("GET /tokens: %d %s\n%s", w.Code, w.Header().Get("Location"), w.Body)
	return false
}

func (v *visitor) logout(h http.Handler) {
	v.tb.Helper()
	csrf := find(v.tb, csrfRe, v.do(h, "GET", "/tokens", nil).Body.String())
	if w := v.do(h, "POST", "/logout", url.Values{"csrf": {csrf}}); w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "logged-out") {
		v.tb.Fatalf("logout: %d %s\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
}

// thief returns a visitor elsewhere holding a copy of v's session cookie.
func (v *visitor) thief() *visitor {
	t := newVisitor(v.tb, "192.0.2.66:1234")
	t.cookies["autodebit_session"] = v.cookies["autodebit_session"]
	return t
}

func TestSessions(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()

			// A logout revokes the session in the database: a copy of the
			// cookie is refused by this process, by another process on the
			// same database, and after a restart. A session that was not
			// logged out survives the restart.
			t.Run("LogoutHoldsAcrossReplicasAndRestart", func(t *testing.T) {
				t.Parallel()
				db := newDatabase(t, kind)
				storeA, storeB := db.open(t), db.open(t)
				a, b := newConsole(t, storeA, console.Config{}), newConsole(t, storeB, console.Config{})

				operator, other := newVisitor(t, "203.0.113.1:1000"), newVisitor(t, "203.0.113.2:1000")
				operator.mustLogin(a)
				other.mustLogin(b)
				stolen := operator.thief()
				if !stolen.loggedIn(a) || !stolen.loggedIn(b) || !other.loggedIn(a) {
					t.Fatal("a session does not work on both replicas")
				}
				operator.logout(a)
				if operator.loggedIn(a) {
					t.Fatal("the logged-out browser is still in")
				}
				if stolen.loggedIn(a) {
					t.Fatal("a copy of the cookie still works on the replica that logged out")
				}
				if stolen.loggedIn(b) {
					t.Fatal("a copy of the cookie still works on another replica")
				}

				storeA.Close()
				storeB.Close()
				c := newConsole(t, db.open(t), console.Config{})
				if stolen.loggedIn(c) {
					t.Fatal("a copy of the cookie works again after a restart")
				}
				if !other.loggedIn(c) {
					t.Fatal("a session that was not logged out did not survive the restart")
				}
			})

			t.Run("Expiry", func(t *testing.T) {
				t.Parallel()
				db := newDatabase(t, kind)
				store := db.open(t)
				clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
				h := newConsole(t, store, console.Config{NowFunc: clk.Now, SessionTTL: time.Hour})
				old := newVisitor(t, "203.0.113.1:1000")
				old.mustLogin(h)
				clk.Advance(time.Hour - time.Second)
				if !old.loggedIn(h) {
					t.Fatal("refused before its expiry")
				}
				clk.Advance(time.Second)
				if old.loggedIn(h) {
					t.Fatal("an expired session is accepted")
				}
				// The next login deletes the expired session.
				clk.Advance(time.Second)
				newVisitor(t, "203.0.113.2:1000").mustLogin(h)
				if n := countSessions(t, store); n != 1 {
					t.Fatalf("%d sessions stored after a login, want 1 (the expired one deleted)", n)
				}
			})

			t.Run("APIKeyChangeEndsSessions", func(t *testing.T) {
				t.Parallel()
				db := newDatabase(t, kind)
				store := db.open(t)
				before := newConsole(t, store, console.Config{})
				v := newVisitor(t, "203.0.113.1:1000")
				v.mustLogin(before)
				after := newConsole(t, db.open(t), console.Config{APIKey: "another-api-key-0123456789"})
				if v.loggedIn(after) {
					t.Fatal("a session made under the old API key works after the key changed")
				}
				if w := newVisitor(t, "203.0.113.2:1000").login(after, "another-api-key-0123456789"); w.Code != http.StatusSeeOther {
					t.Fatalf("login with the new key: %d", w.Code)
				}
			})

			t.Run("SecretNotStored", func(t *testing.T) {
				t.Parallel()
				store := newDatabase(t, kind).open(t)
				v := newVisitor(t, "203.0.113.1:1000")
				v.mustLogin(newConsole(t, store, console.Config{}))
				secret, err := base64.RawURLEncoding.DecodeString(v.cookies["autodebit_session"])
				if err != nil || len(secret) != 32 {
					t.Fatalf("session cookie %q: want 32 random bytes, base64", v.cookies["autodebit_session"])
				}
				var hash string
				if err := store.DB().QueryRow("SELECT secret_hash FROM console_sessions").Scan(&hash); err != nil {
					t.Fatal(err)
				}
				for _, leak := range []string{v.cookies["autodebit_session"], hex.EncodeToString(secret)} {
					if strings.Contains(hash, leak) {
						t.Fatalf("the stored hash %q contains the secret", hash)
					}
				}
				if len(hash) != 64 {
					t.Fatalf("stored hash %q, want 64 hex digits", hash)
				}
			})
		})
	}
}

// revokeFails is a session store whose revocations fail, as with the
// database down.
type revokeFails struct{ *sqldb.Store }

func (revokeFails) RevokeConsoleSession(context.Context, string) error {
	return errors.New("database is locked")
}

// TestLogoutStoreDown: a logout the store could not record says so and
// leaves the session (and its cookie) as it was, rather than pretending.
func TestLogoutStoreDown(t *testing.T) {
	t.Parallel()
	store := storetest.OpenSQLite(t, storetest.Config())
	h := newConsole(t, store, console.Config{Sessions: revokeFails{store}})
	v := newVisitor(t, "203.0.113.1:1000")
	v.mustLogin(h)
	csrf := find(t, csrfRe, v.do(h, "GET", "/tokens", nil).Body.String())
	w := v.do(h, "POST", "/logout", url.Values{"csrf": {csrf}})
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Header().Get("Location"), "logged-out") {
		t.Fatalf("logout with the store down: %d %s, want 500", w.Code, w.Header().Get("Location"))
	}
	if v.cookies["autodebit_session"] == "" || !v.loggedIn(h) {
		t.Fatal("a failed logout cleared the cookie, hiding that the session still works")
	}
}

func countSessions(tb testing.TB, s *sqldb.Store) int {
	tb.Helper()
	var n int
	if err := s.DB().QueryRow("SELECT COUNT(*) FROM console_sessions").Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestLoginRateLimit: the 11th wrong key from one address within a minute
// gets 429 with Retry-After, and so does the right key from there, while
// another address logs in; every failure is counted and the burst is
// logged once.
func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	var logBuf syncBuffer
	log := slog.New(slog.NewJSONHandler(&logBuf, nil))
	met := metrics.New(metrics.Config{})
	limiter := adhttp.NewAuthLimiter(adhttp.AuthLimitConfig{NowFunc: clk.Now, CountFunc: met.AuthFailure, Logger: log})
	h := newConsole(t, storetest.OpenSQLite(t, storetest.Config()), console.Config{NowFunc: clk.Now, Limiter: limiter, Logger: log})

	attacker := newVisitor(t, "203.0.113.7:4000")
	for i := range 10 {
		if w := attacker.login(h, "wrong-key-wrong-key"); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong key %d: %d, want 401", i+1, w.Code)
		}
		clk.Advance(time.Second) // ten within ten seconds
	}
	for range 3 {
		w := attacker.login(h, "wrong-key-wrong-key")
		// The oldest failure (at 0s) counts until 60s; it is 10s now.
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "50" || !strings.Contains(w.Body.String(), "Wait 50 seconds") {
			t.Fatalf("11th wrong key: %d Retry-After=%q, want 429 with Retry-After and a sentence\n%s", w.Code, w.Header().Get("Retry-After"), extract(w.Body.String()))
		}
	}
	if w := attacker.login(h, apiKey); w.Code != http.StatusTooManyRequests {
		t.Fatalf("the right key from the limited address: %d, want 429 (a refused address is not checked)", w.Code)
	}
	if attacker.cookies["autodebit_session"] != "" {
		t.Fatal("a refused login set a session")
	}
	other := newVisitor(t, "198.51.100.2:4000")
	other.mustLogin(h)
	if !other.loggedIn(h) {
		t.Fatal("another address could not log in")
	}
	// An empty key is a slip, not a guess: not counted.
	if w := newVisitor(t, "198.51.100.3:4000").login(h, ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("empty key: %d", w.Code)
	}
	clk.Advance(time.Minute)
	attacker.mustLogin(h)

	want := `
# HELP autodebit_auth_failures_total Failed authentications, by surface (api: a wrong API key on /v1 or /metrics; console: a wrong key at login) and result: rejected (checked and wrong) or limited (refused with 429, unchecked, after too many failures from the address).
# TYPE autodebit_auth_failures_total counter
autodebit_auth_failures_total{result="limited",surface="console"} 4
autodebit_auth_failures_total{result="rejected",surface="console"} 10
`
	if err := testutil.GatherAndCompare(met.Registry(), strings.NewReader(want), "autodebit_auth_failures_total"); err != nil {
		t.Fatal(err)
	}
	var warns []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logBuf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["level"] == "WARN" {
			warns = append(warns, rec)
		}
	}
	if len(warns) != 1 || warns[0]["client"] != "203.0.113.7" || warns[0]["surface"] != "console" {
		t.Fatalf("warnings %v, want one for the burst from 203.0.113.7", warns)
	}
	if strings.Contains(logBuf.String(), "wrong-key-wrong-key") || strings.Contains(logBuf.String(), apiKey) {
		t.Fatal("a key was logged")
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }
