package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/autodebit/autodebit/client"
)

// TestAPI_BadInput sends malformed and rule-breaking requests to the REST
// API: each gets a 4xx JSON error whose message names what is wrong, and
// nothing is stored or sent to Antom.
func TestAPI_BadInput(t *testing.T) {
	m, _ := startMain(t)
	ctx := context.Background()
	tok := link(t, m, "cus_bad")
	chargesBefore := countCharges(t, m)
	paymentsBefore := len(m.Sim.Payments())
	authsBefore := len(m.Sim.Authorizations())

	raw := func(method, path, key, body string, header ...string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(method, m.URL+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var e struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("%s %s: error body is not JSON: %s", method, path, b)
		}
		return resp.StatusCode, e.Error.Code, e.Error.Message
	}

	for _, c := range []struct {
		name, method, path, key, body string
		status                        int
		want                          string // in the message
	}{
		{"no key", "GET", "/v1/charges", "", "", 401, "Authorization: Bearer"},
		{"wrong key", "GET", "/v1/charges", "nope-nope-nope-nope", "", 401, "API key"},
		{"not JSON", "POST", "/v1/charges", m.APIKey, "{", 400, "not valid JSON"},
		{"empty body", "POST", "/v1/charges", m.APIKey, "", 400, "empty"},
		{"unknown field", "POST", "/v1/charges", m.APIKey, `{"tokenId":"` + tok + `","amount":{"currency":"PHP","value":"100"},"tip":"1"}`, 400, `"tip"`},
		{"numeric value", "POST", "/v1/charges", m.APIKey, `{"tokenId":"` + tok + `","amount":{"currency":"PHP","value":1500}}`, 400, "amount.value"},
		{"decimal value", "POST", "/v1/charges", m.APIKey, `{"tokenId":"` + tok + `","amount":{"currency":"PHP","value":"15.00"}}`, 400, "amount.value"},
		{"negative value", "POST", "/v1/charges", m.APIKey, `{"tokenId":"` + tok + `","amount":{"currency":"PHP","value":"-1"}}`, 400, "amount.value"},
		{"no amount", "POST", "/v1/charges", m.APIKey, `{"tokenId":"` + tok + `"}`, 400, `"amount"`},
		{"no token", "POST", "/v1/charges", m.APIKey, `{"amount":{"currency":"PHP","value":"1500"}}`, 400, "tokenId"},
		{"unknown token", "POST", "/v1/charges", m.APIKey, `{"tokenId":"tok_nope","amount":{"currency":"PHP","value":"1500"}}`, 404, "not found"},
		{"wallet currency", "POST", "/v1/charges", m.APIKey, `{"tokenId":"` + tok + `","amount":{"currency":"USD","value":"1500"}}`, 400, "USD"},
		{"below minimum", "POST", "/v1/charges", m.APIKey, `{"tokenId":"` + tok + `","amount":{"currency":"PHP","value":"99"}}`, 400, "minimum"},
		{"trailing data", "POST", "/v1/charges", m.APIKey, `{"tokenId":"` + tok + `","amount":{"currency":"PHP","value":"1500"}} {}`, 400, "after the JSON"},
		{"huge body", "POST", "/v1/charges", m.APIKey, `{"tokenId":"` + strings.Repeat("x", 70000) + `"}`, 400, "over"},
		{"bad wallet", "POST", "/v1/authorizations", m.APIKey, `{"customerId":"c","wallet":"PAYPAL"}`, 400, "PAYPAL"},
		{"no customer", "POST", "/v1/authorizations", m.APIKey, `{"wallet":"GCASH"}`, 400, "customerId"},
		{"bad status filter", "GET", "/v1/charges?status=PAID", m.APIKey, "", 400, "status"},
		{"bad limit", "GET", "/v1/charges?limit=-1", m.APIKey, "", 400, "limit"},
		{"bad date", "GET", "/v1/charges?createdAfter=yesterday", m.APIKey, "", 400, "createdAfter"},
		{"unknown route", "GET", "/v1/nothing", m.APIKey, "", 404, "No API route"},
		{"metrics without key", "GET", "/metrics", "", "", 401, "Authorization: Bearer"},
		{"NUL in customer", "POST", "/v1/authorizations", m.APIKey, `{"customerId":"c\u0000","wallet":"GCASH"}`, 400, "printable"},
		{"control in description", "POST", "/v1/charges", m.APIKey, `{"tokenId":"` + tok + `","amount":{"currency":"PHP","value":"1500"},"description":"a\u0007b"}`, 400, "printable"},
		{"bidi override in customer", "POST", "/v1/authorizations", m.APIKey, `{"customerId":"cus_\u202Egpj","wallet":"GCASH"}`, 400, "invisible or direction-changing characters (U+202E)"},
		{"zero-width space in customer", "POST", "/v1/authorizations", m.APIKey, `{"customerId":"cus_\u200Bbad","wallet":"GCASH"}`, 400, "(U+200B)"},
		{"BOM in customer", "POST", "/v1/authorizations", m.APIKey, `{"customerId":"\uFEFFcus_bad","wallet":"GCASH"}`, 400, "(U+FEFF)"},
		{"bidi isolate in description", "POST", "/v1/charges", m.APIKey, `{"tokenId":"` + tok + `","amount":{"currency":"PHP","value":"1500"},"description":"a\u2067b"}`, 400, "printable"},
		{"refund unknown charge", "POST", "/v1/charges/chg_nope/refunds", m.APIKey, `{"amount":{"currency":"PHP","value":"100"}}`, 404, "not found"},
	} {
		status, code, msg := raw(c.method, c.path, c.key, c.body)
		if status != c.status || code == "" || !strings.Contains(msg, c.want) {
			t.Errorf("%s: HTTP %d %s %q, want %d and a message with %q", c.name, status, code, msg, c.status, c.want)
		}
	}

	// Same Idempotency-Key, different body: 409, and the first charge stands.
	body := `{"tokenId":"` + tok + `","amount":{"currency":"PHP","value":"1500"}}`
	if status, _, msg := raw("POST", "/v1/charges", m.APIKey, body, "Idempotency-Key", "k-1"); status != 201 {
		t.Fatalf("first charge: %d %s", status, msg)
	}
	if status, _, _ := raw("POST", "/v1/charges", m.APIKey, body, "Idempotency-Key", "k-1"); status != 201 {
		t.Fatalf("same key, same body: %d", status)
	}
	other := strings.Replace(body, "1500", "1600", 1)
	if status, code, msg := raw("POST", "/v1/charges", m.APIKey, other, "Idempotency-Key", "k-1"); status != 409 || !strings.Contains(msg, "k-1") {
		t.Fatalf("same key, other body: %d %s %q, want 409", status, code, msg)
	}

	if n := countCharges(t, m); n != chargesBefore+1 {
		t.Errorf("charges: %d, want %d", n, chargesBefore+1)
	}
	if n := len(m.Sim.Payments()); n != paymentsBefore+1 {
		t.Errorf("payments at Antom: %d, want %d", n, paymentsBefore+1)
	}
	if n := len(m.Sim.Authorizations()); n != authsBefore {
		t.Errorf("consults at Antom: %d, want %d", n, authsBefore)
	}
	if list, err := client.New(m.URL, m.APIKey).Tokens(ctx, client.ListParams{}); err != nil || len(list.Data) != 1 {
		t.Errorf("tokens = %v, %v", list, err)
	}
}

// TestAPI_SecurityHeaders checks a sample of the routes serve answers -
// API, errors, receivers, QR images, health, metrics, the OpenAPI document
// and the console - for the headers every response must carry.
func TestAPI_SecurityHeaders(t *testing.T) {
	m, _ := startMain(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		method, path string
		key          bool
		status       int
		noStore      bool
		console      bool // the console's own Content-Security-Policy
	}{
		{"GET", "/v1/charges", true, 200, true, false},
		{"GET", "/v1/charges", false, 401, true, false},
		{"GET", "/v1/tokens/tok_nope", true, 404, true, false},
		{"POST", "/v1/charges", true, 400, true, false},
		{"POST", "/antom/notify/payment", false, 400, true, false},
		{"GET", "/metrics", true, 200, true, false},
		{"GET", "/healthz", false, 200, true, false},
		{"GET", "/openapi.json", false, 200, false, false},
		{"GET", "/qr/auth_nope.png", false, 404, false, false},
		{"GET", "/login", false, 200, true, true},
		{"GET", "/charges", false, 303, false, true},
		{"GET", "/assets/console.css", false, 200, false, true},
	} {
		req, _ := http.NewRequest(c.method, m.URL+c.path, strings.NewReader("{"))
		if c.key {
			req.Header.Set("Authorization", "Bearer "+m.APIKey)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		name, h := c.method+" "+c.path, resp.Header
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", name, resp.StatusCode, c.status)
		}
		if got := h.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options = %q, want nosniff", name, got)
		}
		if got := h.Values("X-Frame-Options"); len(got) != 1 || got[0] != "DENY" {
			t.Errorf("%s: X-Frame-Options = %q, want DENY", name, got)
		}
		wantDefault := "default-src 'none'"
		if c.console {
			wantDefault = "default-src 'self'"
		}
		if csp := h.Values("Content-Security-Policy"); len(csp) != 1 || !strings.Contains(csp[0], wantDefault) || !strings.Contains(csp[0], "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy = %q, want one policy with %s and frame-ancestors 'none'", name, csp, wantDefault)
		}
		if got := h.Get("Cache-Control"); c.noStore && got != "no-store" {
			t.Errorf("%s: Cache-Control = %q, want no-store", name, got)
		}
	}
}
