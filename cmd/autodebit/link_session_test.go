package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/client"
	adhttp "github.com/autodebit/autodebit/http"
)

// noFollow is a client that shows redirects instead of following them.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// browse sends one request as a browser's navigation would and returns its
// status, Location and body.
func browse(tb testing.TB, method, u string, form url.Values) (int, string, string) {
	tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// buyerLinks plays the buyer of session id: opens its page (which shows
// the QR code) and approves the attempt in the simulator.
func buyerLinks(tb testing.TB, m *Main, pageURL string) {
	tb.Helper()
	if status, _, body := browse(tb, "GET", pageURL, nil); status != 200 || !strings.Contains(body, `id="qr"`) {
		tb.Fatalf("the buyer's page: %d\n%s", status, body)
	}
	c := client.New(m.URL, m.APIKey)
	ctx := context.Background()
	list, err := c.LinkSessions(ctx, client.ListParams{Status: "open"})
	if err != nil {
		tb.Fatal(err)
	}
	for _, ls := range list.Data {
		if ls.URL != pageURL {
			continue
		}
		a, err := c.Authorization(ctx, ls.AuthorizationID)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := m.Sim.Approve(a.QR.Text, ""); err != nil {
			tb.Fatal(err)
		}
		return
	}
	tb.Fatalf("no open session has the URL %s", pageURL)
}

func TestLinkSessionCLI(t *testing.T) {
	m, _ := startMain(t)

	t.Run("WaitsUntilLinked", func(t *testing.T) {
		type result struct {
			out string
			err error
		}
		done := make(chan result, 1)
		go func() {
			out, _, err := runCLI(t, m, "", "link", "--session", "--customer", "cus_sess", "--wallet", "gcash", "--locale", "tl", "--lifetime", "2h", "--poll-interval", "20ms")
			done <- result{out, err}
		}()
		// The buyer acts once the session exists.
		var page string
		deadline := time.Now().Add(10 * time.Second)
		for page == "" && time.Now().Before(deadline) {
			list, err := client.New(m.URL, m.APIKey).LinkSessions(context.Background(), client.ListParams{CustomerID: "cus_sess"})
			if err == nil && len(list.Data) == 1 {
				page = list.Data[0].URL
			}
			time.Sleep(20 * time.Millisecond)
		}
		if page == "" {
			t.Fatal("link --session made no session")
		}
		buyerLinks(t, m, page)
		r := <-done
		if r.err != nil {
			t.Fatalf("link --session: %v\n%s", r.err, r.out)
		}
		tok := regexp.MustCompile(`Linked: token (tok_\S+)`).FindStringSubmatch(r.out)
		if !strings.Contains(r.out, "Send this link to the buyer: "+page+"\n") || !strings.Contains(r.out, "█") || tok == nil {
			t.Fatalf("output:\n%s", r.out)
		}
		// status shows the session and its timeline, like any other object.
		id := regexp.MustCompile(`Link session (ls_\S+)`).FindStringSubmatch(r.out)
		if id == nil {
			t.Fatalf("no session ID in:\n%s", r.out)
		}
		out := mustRun(t, m, "status", id[1])
		for _, want := range []string{"Link session:", id[1], "complete", "Token:", tok[1], "URL:", page, "Locale:", "tl",
			"OPEN for cus_sess", "ATTEMPT auth_", "COMPLETE: token " + tok[1]} {
			if !strings.Contains(out, want) {
				t.Fatalf("status %s lacks %q:\n%s", id[1], want, out)
			}
		}
		var got struct {
			Object   adhttp.LinkSession
			Timeline []json.RawMessage
		}
		if err := json.Unmarshal([]byte(mustRun(t, m, "status", id[1], "--json")), &got); err != nil || got.Object.ID != id[1] ||
			got.Object.Status != "complete" || got.Object.TokenID != tok[1] || len(got.Timeline) < 2 {
			t.Fatalf("status %s --json: %+v, %v", id[1], got, err)
		}
		mustFail(t, m, "", "Link session ls_nope not found", "status", "ls_nope")
	})
	t.Run("NoWaitJSON", func(t *testing.T) {
		out := mustRun(t, m, "link", "--session", "--customer", "cus_json", "--no-wait", "--json")
		var ls adhttp.LinkSession
		if err := json.Unmarshal([]byte(out), &ls); err != nil {
			t.Fatalf("%v in %q", err, out)
		}
		if ls.Status != "open" || !ls.BuyerChoosesWallet || !strings.HasPrefix(ls.URL, m.URL+"/link/") || ls.ReturnURL != m.URL+"/link/done" {
			t.Fatalf("session %+v", ls)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		mustFail(t, m, "", "autodebit: link: --customer is required", "link", "--session")
		mustFail(t, m, "", `--wallet "PAYPAL" is not a Scan to Link wallet`, "link", "--session", "--customer", "c", "--wallet", "PAYPAL")
		mustFail(t, m, "", "--return-url, --cancel-url, --locale and --lifetime need --session", "link", "--customer", "c", "--wallet", "GCASH", "--lifetime", "2h")
		mustFail(t, m, "", "from 1m to 24h", "link", "--session", "--customer", "c", "--lifetime", "48h")
		mustFail(t, m, "", `"returnUrl" must be an absolute http:// or https:// URL`, "link", "--session", "--customer", "c", "--return-url", "shop.example/linked")
		if list, err := client.New(m.URL, m.APIKey).LinkSessions(context.Background(), client.ListParams{CustomerID: "c"}); err != nil || list.Total != 0 {
			t.Fatalf("bad input made sessions: %+v, %v", list, err)
		}
	})
}

// TestDemoShop goes through the demo shop as a buyer: link a wallet on the
// link page, come back with the token, charge it with the button.
func TestDemoShop(t *testing.T) {
	m, _ := startMain(t)
	status, _, home := browse(t, "GET", m.URL+"/demo/", nil)
	if status != 200 || !strings.Contains(home, `<form method="post" action="/demo/link">`) {
		t.Fatalf("shop: %d\n%s", status, home)
	}
	status, page, _ := browse(t, "POST", m.URL+"/demo/link", url.Values{"customer": {"demo-ana"}, "wallet": {"GCASH"}})
	if status != http.StatusSeeOther || !strings.HasPrefix(page, m.URL+"/link/") {
		t.Fatalf("link a wallet: %d to %q", status, page)
	}
	buyerLinks(t, m, page)
	var back string
	deadline := time.Now().Add(10 * time.Second)
	for back == "" && time.Now().Before(deadline) {
		if status, loc, _ := browse(t, "GET", page+"/next", nil); status == http.StatusSeeOther && strings.Contains(loc, "/demo/return?") {
			back = loc
		}
		time.Sleep(20 * time.Millisecond)
	}
	if back == "" {
		t.Fatal("the page never sent the buyer back to the shop")
	}
	status, _, linked := browse(t, "GET", back, nil)
	tok := regexp.MustCompile(`<code id="token">(tok_\w+)</code>`).FindStringSubmatch(linked)
	sess := regexp.MustCompile(`<code id="session">(ls_\w+)</code>`).FindStringSubmatch(linked)
	key := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(linked)
	if status != 200 || tok == nil || sess == nil || key == nil || !strings.Contains(linked, "Charge PHP 1.00") {
		t.Fatalf("back at the shop: %d\n%s", status, linked)
	}
	form := url.Values{"link_session": {sess[1]}, "token": {tok[1]}, "key": {key[1]}}
	status, _, charged := browse(t, "POST", m.URL+"/demo/charge", form)
	if status != 200 || !strings.Contains(charged, `<b id="charge-status">SUCCESS</b>`) {
		t.Fatalf("charge: %d\n%s", status, charged)
	}
	browse(t, "POST", m.URL+"/demo/charge", form) // the same form again: the same charge
	if n := countCharges(t, m); n != 1 {
		t.Fatalf("%d charges after one form sent twice, want 1", n)
	}
	// A token the shop did not link is not charged.
	other := link(t, m, "cus_other")
	for _, f := range []url.Values{
		{"link_session": {sess[1]}, "token": {other}, "key": {"k2"}},
		{"link_session": {"ls_nope"}, "token": {other}, "key": {"k3"}},
	} {
		if status, _, body := browse(t, "POST", m.URL+"/demo/charge", f); status != 404 || !strings.Contains(body, "not a wallet the demo shop linked") {
			t.Fatalf("charge of another token: %d\n%s", status, body)
		}
	}
	if n := countCharges(t, m); n != 1 {
		t.Fatalf("%d charges, want 1", n)
	}
}

// TestLinkSessionSchemas checks the link session routes' answers against
// /openapi.json: create, read, list, timeline, cancel, and the completed
// event's data.object.
func TestLinkSessionSchemas(t *testing.T) {
	m, _ := startMain(t)
	_, raw := call(t, m, "GET", "/openapi.json", nil)
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	v := &validator{spec: spec}
	check := func(pattern string, status int, body []byte) map[string]any {
		t.Helper()
		method, path, _ := strings.Cut(pattern, " ")
		op := spec["paths"].(map[string]any)[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
		r := op["responses"].(map[string]any)[strconv.Itoa(status)]
		schema := r.(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
		var doc any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		if err := v.validate(doc, schema, "body"); err != nil {
			t.Fatalf("%s → %d does not match the spec: %v\n%s", pattern, status, err, body)
		}
		obj, _ := doc.(map[string]any)
		return obj
	}
	status, body := call(t, m, "POST", "/v1/link-sessions", map[string]string{"customerId": "cus_schema", "wallet": "GCASH", "returnUrl": "https://shop.example/linked"})
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	ls := check("POST /v1/link-sessions", 201, body)
	id, page := ls["id"].(string), ls["url"].(string)
	status, body = call(t, m, "GET", "/v1/link-sessions/"+id, nil)
	check("GET /v1/link-sessions/{id}", status, body)
	buyerLinks(t, m, page)
	deadline := time.Now().Add(10 * time.Second)
	for ls["status"] != "complete" && time.Now().Before(deadline) {
		status, body = call(t, m, "GET", "/v1/link-sessions/"+id, nil)
		ls = check("GET /v1/link-sessions/{id}", status, body)
		time.Sleep(20 * time.Millisecond)
	}
	if ls["status"] != "complete" || !strings.HasPrefix(ls["tokenId"].(string), "tok_") {
		t.Fatalf("session %v", ls)
	}
	status, body = call(t, m, "GET", "/v1/link-sessions?customerId=cus_schema", nil)
	check("GET /v1/link-sessions", status, body)
	status, body = call(t, m, "GET", "/v1/link-sessions/"+id+"/timeline", nil)
	check("GET /v1/link-sessions/{id}/timeline", status, body)
	status, body = call(t, m, "GET", "/v1/events?objectId="+id, nil)
	if evs := check("GET /v1/events", status, body); len(evs["data"].([]any)) != 1 {
		t.Fatalf("events of the session: %s", body)
	}
	status, body = call(t, m, "POST", "/v1/link-sessions", map[string]string{"customerId": "cus_schema"})
	other := check("POST /v1/link-sessions", status, body)
	status, body = call(t, m, "POST", "/v1/link-sessions/"+other["id"].(string)+"/cancel", nil)
	if got := check("POST /v1/link-sessions/{id}/cancel", status, body); got["status"] != "cancelled" {
		t.Fatalf("cancel: %s", body)
	}
}
