package antom_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

const (
	sandboxClientID = "SANDBOX_5YTEST00000000000"
	liveClientID    = "5YTEST00000000000"
)

// Keys: the merchant key is the shared vector's; the "Antom" key is made once
// per test binary.
var (
	keysOnce    sync.Once
	merchantKey *rsa.PrivateKey
	antomKey    *rsa.PrivateKey
	otherKey    *rsa.PrivateKey // neither merchant nor Antom
)

func mustKeys(tb testing.TB) {
	tb.Helper()
	keysOnce.Do(func() {
		f := loadVectors(tb)
		var err error
		if merchantKey, err = antom.ParsePrivateKey("merchant private key", f.PrivateKey); err != nil {
			tb.Fatal(err)
		}
		kp, err := antom.GenerateKeyPair()
		if err != nil {
			tb.Fatal(err)
		}
		antomKey = kp.PrivateKey
		kp, err = antom.GenerateKeyPair()
		if err != nil {
			tb.Fatal(err)
		}
		otherKey = kp.PrivateKey
	})
	if merchantKey == nil || antomKey == nil {
		tb.Fatal("test keys unavailable")
	}
}

// recorded is one request the fake Antom received.
type recorded struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// fakeAntom is an httptest server that checks every request as Antom would
// and answers with a response signed by the Antom key. Respond decides the
// answer; nil means the sample response of the API, signed.
type fakeAntom struct {
	tb       testing.TB
	srv      *httptest.Server
	clientID string
	respond  func(w http.ResponseWriter, r *http.Request, api string, body []byte)

	mu   sync.Mutex
	reqs []recorded
	hits atomic.Int32
}

var sigSyntax = regexp.MustCompile(`^algorithm=RSA256,keyVersion=1,signature=[A-Za-z0-9%]+$`)

func newFakeAntom(tb testing.TB, clientID string) *fakeAntom {
	tb.Helper()
	mustKeys(tb)
	f := &fakeAntom{tb: tb, clientID: clientID}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAntom) serve(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.tb.Errorf("read request body: %v", err)
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
	f.mu.Unlock()

	api := f.check(r, body)
	if f.respond != nil {
		f.respond(w, r, api, body)
		return
	}
	f.writeSigned(w, r, http.StatusOK, readFile(f.tb, "testdata/"+sampleResponse[api]), antomKey)
}

// check verifies method, path, headers and signature of a request and
// returns the API it is for.
func (f *fakeAntom) check(r *http.Request, body []byte) string {
	tb := f.tb
	if r.Method != http.MethodPost {
		tb.Errorf("method=%s, want POST", r.Method)
	}
	prefix := antom.PathPrefix(f.clientID)
	if strings.HasPrefix(f.clientID, "SANDBOX_") && prefix != "/ams/sandbox/api" || !strings.HasPrefix(f.clientID, "SANDBOX_") && prefix != "/ams/api" {
		tb.Errorf("PathPrefix(%q)=%q", f.clientID, prefix)
	}
	var api string
	for _, a := range antom.APIs() {
		if p, _ := antom.APIPath(a); r.URL.Path == prefix+p {
			api = a
		}
	}
	if api == "" {
		tb.Errorf("path=%s is no API below %s", r.URL.Path, prefix)
	}
	if r.URL.RawQuery != "" {
		tb.Errorf("query=%q, want none", r.URL.RawQuery)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json; charset=UTF-8" {
		tb.Errorf("Content-Type=%q", got)
	}
	if got := r.Header.Get("Client-Id"); got != f.clientID {
		tb.Errorf("Client-Id=%q, want %q", got, f.clientID)
	}
	rt := r.Header.Get("Request-Time")
	if ms, err := strconv.ParseInt(rt, 10, 64); err != nil || len(rt) != 13 || ms <= 0 {
		tb.Errorf("Request-Time=%q, want epoch milliseconds", rt)
	}
	sig := r.Header.Get("Signature")
	if !sigSyntax.MatchString(sig) {
		tb.Errorf("Signature=%q does not match %s", sig, sigSyntax)
	}
	if err := antom.Verify(&merchantKey.PublicKey, http.MethodPost, r.URL.RequestURI(), f.clientID, rt, body, sig); err != nil {
		tb.Errorf("request signature: %v", err)
	}
	if !json.Valid(body) {
		tb.Errorf("body is not JSON: %s", body)
	}
	return api
}

// writeSigned answers with body, signed by key as Antom signs responses.
func (f *fakeAntom) writeSigned(w http.ResponseWriter, r *http.Request, status int, body []byte, key *rsa.PrivateKey) {
	f.writeSignedAs(w, r, f.clientID, status, body, key)
}

// writeSignedAs is writeSigned with the response's Client-Id.
func (f *fakeAntom) writeSignedAs(w http.ResponseWriter, r *http.Request, clientID string, status int, body []byte, key *rsa.PrivateKey) {
	respTime := "2019-11-27T12:00:02.125+08:00"
	sig, err := antom.Sign(key, http.MethodPost, r.URL.RequestURI(), clientID, respTime, body)
	if err != nil {
		f.tb.Errorf("sign response: %v", err)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Client-Id", clientID)
	w.Header().Set("Response-Time", respTime)
	w.Header().Set("Signature", antom.SignatureHeader("1", sig))
	w.WriteHeader(status)
	w.Write(body)
}

func (f *fakeAntom) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// client returns a Client for the fake with a pinned clock.
func (f *fakeAntom) client(tb testing.TB, mod ...func(*antom.Config)) *antom.Client {
	tb.Helper()
	cfg := antom.Config{
		BaseURL:        f.srv.URL,
		ClientID:       f.clientID,
		PrivateKey:     merchantKey,
		AntomPublicKey: &antomKey.PublicKey,
		NowFunc:        func() time.Time { return testNow },
		Timeout:        5 * time.Second,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := antom.NewClient(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// testNow is the pinned clock: 30s before pay.request.json's paymentExpiryTime.
var testNow = time.Date(2019, 11, 27, 12, 0, 1, 0, time.FixedZone("", 8*3600))

func readFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// assertGolden compares got with testdata/golden/name, rewriting it with -update.
func assertGolden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want := readFile(tb, path)
	if !bytes.Equal(got, want) {
		tb.Fatalf("body differs from %s (run go test -update)\n got: %s\nwant: %s", path, got, want)
	}
}

// assertAllStrings fails unless every non-array value in the JSON is a
// string (objects and arrays are walked), and every amount value is a string
// of minor units.
func assertAllStrings(tb testing.TB, body []byte) {
	tb.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		tb.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if cur, ok := v["currency"]; ok {
				s, _ := v["value"].(string)
				if _, err := antom.ParseMinorUnits(s); err != nil || cur == "" {
					tb.Errorf("%s is not an amount in minor units: %v", path, v)
				}
			}
			for k, e := range v {
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range v {
				walk(path+"["+strconv.Itoa(i)+"]", e)
			}
		case string:
		default:
			tb.Errorf("%s is %T %v, want a string", path, v, v)
		}
	}
	walk("$", v)
}

// closedURL returns the URL of a port nothing listens on.
func closedURL(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// hijackClose reads the request then drops the connection without answering.
func hijackClose(tb testing.TB) func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
	return func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			tb.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	}
}

func ctxT(tb testing.TB) context.Context {
	tb.Helper()
	return tb.Context()
}
