package antomsim_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/autodebit/autodebit/antomsim"
)

const testSecret = "simk_test-control-secret-0123456789"

// send makes a request to the simulator with the given headers (and Host
// when host is not empty) and returns the status and body.
func (e *env) send(tb testing.TB, method, path, host, body string, hdr map[string]string) (*http.Response, string) {
	tb.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		tb.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// consult makes a pending QR code and returns the code.
func (e *env) consult(tb testing.TB) string {
	tb.Helper()
	c, err := e.client.Consult(context.Background(), consultReq("GCASH", "guard"))
	if err != nil || !c.Result.Succeeded() {
		tb.Fatalf("consult: %v %+v", err, c)
	}
	text := c.AuthCodeForm.Text()
	return text[strings.LastIndex(text, "/")+1:]
}

func errorOf(tb testing.TB, body string) string {
	tb.Helper()
	var ce antomsim.ControlError
	if err := json.Unmarshal([]byte(body), &ce); err != nil || ce.Error == "" {
		tb.Fatalf("body %q is not a control error", body)
	}
	return ce.Error
}

func TestControlSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *antomsim.Config) { c.ControlSecret = testSecret })
	tok := e.link(t, "GCASH", "")
	bearer := func(k string) map[string]string { return map[string]string{"Authorization": k} }
	for name, tc := range map[string]struct {
		hdr  map[string]string
		want string
	}{
		"no key":     {nil, "Authorization: Bearer <control key>"},
		"wrong key":  {bearer("Bearer simk_not-the-right-one-000000"), "not this simulator's"},
		"not bearer": {bearer("Basic " + testSecret), `must be "Bearer <control key>"`},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := e.send(t, "GET", "/sim/v1/tokens", "", "", tc.hdr)
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(errorOf(t, body), tc.want) {
				t.Fatalf("GET /sim/v1/tokens = %d %s, want 401 naming %q", resp.StatusCode, body, tc.want)
			}
			if strings.Contains(body, tok.AccessToken) {
				t.Fatalf("the refused answer holds the access token: %s", body)
			}
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("no WWW-Authenticate header")
			}
			// A refused change changes nothing.
			resp, body = e.send(t, "PUT", "/sim/v1/faults", "", `{"api":{"pay":[{"kind":"unknown","probability":1}]}}`, tc.hdr)
			if resp.StatusCode != http.StatusUnauthorized || e.sim.Faults().API != nil {
				t.Fatalf("PUT /sim/v1/faults = %d %s, faults %+v; want 401 and none set", resp.StatusCode, body, e.sim.Faults())
			}
			resp, _ = e.send(t, "POST", "/sim/v1/tokens/"+tok.AccessToken+"/cancel", "", "", tc.hdr)
			if resp.StatusCode != http.StatusUnauthorized || e.sim.Tokens()[0].Status != antomsim.TokenActive {
				t.Fatalf("cancel = %d, token %s; want 401 and ACTIVE", resp.StatusCode, e.sim.Tokens()[0].Status)
			}
		})
	}
	t.Run("right key", func(t *testing.T) {
		resp, body := e.send(t, "GET", "/sim/v1/tokens", "", "", bearer("Bearer "+testSecret))
		if resp.StatusCode != 200 || !strings.Contains(body, tok.AccessToken) {
			t.Fatalf("GET /sim/v1/tokens = %d %s", resp.StatusCode, body)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}
		resp, body = e.send(t, "PUT", "/sim/v1/faults", "", `{"api":{"pay":[{"kind":"unknown","probability":1}]}}`, bearer("Bearer "+testSecret))
		if resp.StatusCode != 200 || len(e.sim.Faults().API["pay"]) != 1 {
			t.Fatalf("PUT /sim/v1/faults = %d %s", resp.StatusCode, body)
		}
	})
	t.Run("Go methods need no key", func(t *testing.T) {
		if err := e.sim.SetFaults(antomsim.Faults{}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.sim.CancelToken(tok.AccessToken, "test"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestControlSecret_Short(t *testing.T) {
	t.Parallel()
	_, err := antomsim.New(antomsim.Config{ControlSecret: "short"})
	if err == nil || !strings.Contains(err.Error(), "ControlSecret must be at least 16 characters") {
		t.Fatalf("err = %v, want a refusal naming ControlSecret", err)
	}
}

// TestHome_ListsQRCodesOnlyWithKey: the home page lists waiting QR codes only
// to someone holding the control key, and ?key= turns into a read-only cookie.
func TestHome_ListsQRCodesOnlyWithKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *antomsim.Config) { c.ControlSecret = testSecret })
	code := e.consult(t)

	resp, body := e.send(t, "GET", "/", "", "", nil)
	if resp.StatusCode != 200 || strings.Contains(body, code) || strings.Contains(body, "/sim/v1/") || !strings.Contains(body, "?key=") {
		t.Fatalf("home page without the key = %d, want no QR code, no control links and how to get them:\n%s", resp.StatusCode, body)
	}
	resp, body = e.send(t, "GET", "/?key=simk_wrong-key-00000000000000", "", "", nil)
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, code) || resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("home page with a wrong key = %d %v:\n%s", resp.StatusCode, resp.Header, body)
	}

	resp, _ = e.send(t, "GET", "/?key="+url.QueryEscape(testSecret), "", "", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("home page with the key = %d, Location %q; want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode || strings.Contains(cookies[0].Value, testSecret) {
		t.Fatalf("cookies = %+v, want one HttpOnly SameSite=Strict cookie that is not the key", cookies)
	}
	cookie := map[string]string{"Cookie": cookies[0].Name + "=" + cookies[0].Value}
	resp, body = e.send(t, "GET", "/", "", "", cookie)
	if resp.StatusCode != 200 || !strings.Contains(body, "/qr/"+code) {
		t.Fatalf("home page with the cookie = %d, want the QR code %s listed:\n%s", resp.StatusCode, code, body)
	}
	// The cookie reads the control API (the home page's links) but changes nothing.
	if resp, body = e.send(t, "GET", "/sim/v1/accounts", "", "", cookie); resp.StatusCode != 200 {
		t.Fatalf("GET /sim/v1/accounts with the cookie = %d %s", resp.StatusCode, body)
	}
	resp, body = e.send(t, "POST", "/sim/v1/authorizations/"+code, "", `{"action":"approve"}`, cookie)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(errorOf(t, body), "only reads") {
		t.Fatalf("approve with the cookie = %d %s, want 401", resp.StatusCode, body)
	}
	if a := e.sim.Authorizations()[0]; a.Status != antomsim.AuthPending {
		t.Fatalf("authorization is %s after a refused approve", a.Status)
	}
}

// TestWallet_WorksWithoutKey: the buyer's wallet page at the QR URL needs no
// control key, and its own form POST (same origin) approves.
func TestWallet_WorksWithoutKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *antomsim.Config) { c.ControlSecret = testSecret })
	code := e.consult(t)
	if resp, body := e.send(t, "GET", "/qr/"+code, "", "", nil); resp.StatusCode != 200 || !strings.Contains(body, "Agree") {
		t.Fatalf("GET /qr/%s = %d:\n%s", code, resp.StatusCode, body)
	}
	if resp, _ := e.send(t, "GET", "/qr/"+code+".png", "", "", nil); resp.StatusCode != 200 {
		t.Fatalf("GET /qr/%s.png = %d", code, resp.StatusCode)
	}
	resp, body := e.send(t, "POST", "/qr/"+code, "", "action=approve&userLoginId=09171234567", map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Origin": e.srv.URL, "Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != 200 || !strings.Contains(body, "Linked") || e.sim.Authorizations()[0].Status != antomsim.AuthApproved {
		t.Fatalf("approve on the wallet page = %d:\n%s", resp.StatusCode, body)
	}
	// A script's JSON POST, with no Origin, works too.
	code = e.consult(t)
	if resp, body := e.send(t, "POST", "/qr/"+code, "", `{"action":"deny"}`, map[string]string{"Content-Type": "application/json"}); resp.StatusCode != 200 {
		t.Fatalf("JSON deny = %d %s", resp.StatusCode, body)
	}
}

func TestQRCodes_AreRandom(t *testing.T) {
	t.Parallel()
	// Two simulators with one seed repeat their IDs, but not their QR codes.
	a, b := newEnv(t, nil).consult(t), newEnv(t, nil).consult(t)
	if a == b || len(a) != 32 {
		t.Fatalf("QR codes %q and %q under one seed; want two different 128-bit codes", a, b)
	}
}

// TestGuard_ForeignHost: a request naming another host (a page rebound to
// 127.0.0.1 by DNS) is refused on every route; loopback names, BaseURL's
// host and AllowedHosts are served.
func TestGuard_ForeignHost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *antomsim.Config) {
		c.BaseURL = "http://sim.test:8081"
		c.AllowedHosts = []string{"Sim.Example"}
	})
	code := e.consult(t)
	port := e.srv.URL[strings.LastIndex(e.srv.URL, ":"):]
	for _, host := range []string{"evil.example" + port, "evil.example", "127.0.0.1.evil.example", "localhost.evil.example" + port, "sim.test.evil.example"} {
		for _, path := range []string{"/", "/qr/" + code, "/sim/v1/clock", "/ams/api/v1/payments/pay"} {
			resp, body := e.send(t, "GET", path, host, "", nil)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(errorOf(t, body), "Host") {
				t.Fatalf("GET %s with Host %s = %d %s, want 403", path, host, resp.StatusCode, body)
			}
		}
	}
	for _, host := range []string{"127.0.0.1" + port, "localhost" + port, "LOCALHOST", "[::1]" + port, "sim.test:8081", "sim.example" + port} {
		if resp, body := e.send(t, "GET", "/qr/"+code, host, "", nil); resp.StatusCode != 200 {
			t.Fatalf("GET /qr with Host %s = %d %s", host, resp.StatusCode, body)
		}
	}
}

// TestGuard_CrossOrigin: a browser's state-changing request from another
// origin is refused and changes nothing, even with the control key.
func TestGuard_CrossOrigin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *antomsim.Config) { c.ControlSecret = testSecret })
	code := e.consult(t)
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for name, hdr := range map[string]map[string]string{
		"Origin":                   {"Origin": "http://evil.example"},
		"Origin null":              {"Origin": "null"},
		"Sec-Fetch-Site cross":     {"Sec-Fetch-Site": "cross-site"},
		"Sec-Fetch-Site same-site": {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"},
	} {
		for k, v := range form {
			hdr[k] = v
		}
		resp, body := e.send(t, "POST", "/qr/"+code, "", "action=approve", hdr)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(errorOf(t, body), "cross-origin") {
			t.Fatalf("%s: cross-origin approve = %d %s, want 403", name, resp.StatusCode, body)
		}
		hdr["Authorization"] = "Bearer " + testSecret
		resp, body = e.send(t, "PUT", "/sim/v1/settings", "", `{"payMode":"stuck"}`, hdr)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: cross-origin PUT settings = %d %s, want 403", name, resp.StatusCode, body)
		}
	}
	if a := e.sim.Authorizations()[0]; a.Status != antomsim.AuthPending || e.sim.Settings().PayMode != antomsim.PayModeInstant {
		t.Fatalf("after refused requests: authorization %s, pay mode %s", a.Status, e.sim.Settings().PayMode)
	}
	// Opening the QR link from another site (the merchant's page) still works.
	if resp, _ := e.send(t, "GET", "/qr/"+code, "", "", map[string]string{"Sec-Fetch-Site": "cross-site"}); resp.StatusCode != 200 {
		t.Fatalf("cross-site GET of the wallet page = %d", resp.StatusCode)
	}
}
