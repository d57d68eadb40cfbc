package main

import (
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// clientFrom returns an HTTP client whose connections come from the
// loopback address ip (Linux routes all of 127/8 to lo), with cookies and
// no redirects followed.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{DialContext: d.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// TestServe_AuthLimit checks serve's wiring: the console and the API share
// one budget of failures per address, failures are counted on /metrics,
// and the burst is logged once.
func TestServe_AuthLimit(t *testing.T) {
	m, logs := startMain(t)
	attacker, other := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	get := func(c *http.Client, path, key string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", m.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for i := range 10 {
		if status, _ := get(attacker, "/v1/charges", "wrong-key-wrong-key"); status != http.StatusUnauthorized {
			t.Fatalf("wrong key %d: %d, want 401", i+1, status)
		}
	}
	// The console counts against the same budget: the login is refused.
	resp, err := attacker.Get(m.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	nonce := regexp.MustCompile(`name="nonce" value="([^"]+)"`).FindSubmatch(page)
	if nonce == nil {
		t.Fatalf("no nonce on the login page:\n%s", page)
	}
	resp, err = attacker.PostForm(m.URL+"/login", url.Values{"nonce": {string(nonce[1])}, "apiKey": {m.APIKey}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("console login after 10 wrong API keys: %d Retry-After=%q, want 429", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	status, body := get(other, "/metrics", m.APIKey)
	if status != http.StatusOK {
		t.Fatalf("/metrics from another address: %d", status)
	}
	for _, want := range []string{
		`autodebit_auth_failures_total{result="rejected",surface="api"} 10`,
		`autodebit_auth_failures_total{result="limited",surface="console"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if n := strings.Count(logs.String(), "too many failed authentications"); n != 1 {
		t.Errorf("%d warnings about the burst, want 1\n%s", n, logs)
	}
	if strings.Contains(logs.String(), "wrong-key-wrong-key") {
		t.Error("a wrong key was logged")
	}
}
