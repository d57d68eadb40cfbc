package http_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	adhttp "github.com/autodebit/autodebit/http"
)

// apiError is the body of an error response.
type apiError struct {
	Error struct{ Code, Message string }
}

// do sends a request to s with the given Authorization header ("" for
// none) and returns the recorder and the decoded error body, if any.
func do(tb testing.TB, s *adhttp.Server, method, path, auth, body string) (*httptest.ResponseRecorder, apiError) {
	tb.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	var e apiError
	if w.Code >= 400 {
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			tb.Fatalf("%s %s: error body is not JSON: %s", method, path, w.Body)
		}
	}
	return w, e
}

// TestServer_WrongJSONTypes sends values of the wrong JSON type for every
// field of every request body: each answer names the field and the JSON it
// takes in JSON's words, never a Go type, and nothing is created.
func TestServer_WrongJSONTypes(t *testing.T) {
	s, _, _ := newServer(t, nil, nil)
	key := "Bearer " + testAPIKey
	for _, c := range []struct{ path, body, want string }{
		{"/v1/charges", `{"tokenId":"tok_x","amount":"15.00"}`, `Field "amount" must be an object {currency, value}, not a string.`},
		{"/v1/charges", `{"tokenId":"tok_x","amount":1500}`, `Field "amount" must be an object {currency, value}, not a number.`},
		{"/v1/charges", `{"tokenId":"tok_x","amount":["PHP","1500"]}`, `Field "amount" must be an object {currency, value}, not an array.`},
		{"/v1/charges", `{"tokenId":"tok_x","amount":true}`, `Field "amount" must be an object {currency, value}, not true or false.`},
		{"/v1/charges", `{"tokenId":"tok_x","amount":{"currency":"PHP","value":"1500","cents":1}}`, `Field "amount" has an unknown field "cents"; send an object {currency, value}.`},
		{"/v1/charges", `{"tokenId":"tok_x","amount":{"currency":"PHP","value":1500}}`, `Field "amount.value" must be a string of minor units such as "1500", not 1500.`},
		{"/v1/charges", `{"tokenId":"tok_x","amount":{"currency":608,"value":"1500"}}`, `Field "amount.currency" must be a string such as "PHP".`},
		{"/v1/charges", `{"tokenId":15,"amount":{"currency":"PHP","value":"1500"}}`, `Field "tokenId" must be a string, not a number.`},
		{"/v1/charges", `{"tokenId":"tok_x","amount":{"currency":"PHP","value":"1500"},"description":true}`, `Field "description" must be a string, not true or false.`},
		{"/v1/charges", `[{"tokenId":"tok_x"}]`, `Request body must be an object {tokenId, amount, description}, not an array.`},
		{"/v1/charges", `"tok_x"`, `Request body must be an object {tokenId, amount, description}, not a string.`},
		{"/v1/authorizations", `{"customerId":["cus_1"],"wallet":"GCASH"}`, `Field "customerId" must be a string, not an array.`},
		{"/v1/authorizations", `{"customerId":"cus_1","wallet":{"code":"GCASH"}}`, `Field "wallet" must be a string, not an object.`},
		{"/v1/charges/chg_x/refunds", `{"amount":"1.00"}`, `Field "amount" must be an object {currency, value}, not a string.`},
		{"/v1/charges/chg_x/refunds", `{"amount":{"currency":"PHP","value":"100"},"reason":42}`, `Field "reason" must be a string, not a number.`},
	} {
		w, e := do(t, s, "POST", c.path, key, c.body)
		if w.Code != 400 || e.Error.Code != "invalid" || e.Error.Message != c.want {
			t.Errorf("POST %s %s: %d %s %q, want 400 invalid %q", c.path, c.body, w.Code, e.Error.Code, e.Error.Message, c.want)
		}
		for _, goWord := range []string{"Go ", "struct", "int64", "http.", "json:", "*"} {
			if strings.Contains(e.Error.Message, goWord) {
				t.Errorf("POST %s %s: message %q speaks Go (%q)", c.path, c.body, e.Error.Message, goWord)
			}
		}
	}
	for _, path := range []string{"/v1/charges", "/v1/authorizations"} {
		if w, _ := do(t, s, "GET", path, key, ""); !strings.Contains(w.Body.String(), `"total":0`) {
			t.Errorf("GET %s after bad input: %s, want nothing created", path, w.Body)
		}
	}
}

// TestServer_KeyMessages checks that a missing key, another scheme and a
// wrong key get different sentences, none echoing what was sent; that the
// scheme is case-insensitive; and that wrong keys still count against the
// address's limit while missing ones do not.
func TestServer_KeyMessages(t *testing.T) {
	s, _, _ := newServer(t, nil, nil)
	for _, c := range []struct{ name, auth, want string }{
		{"missing", "", `No API key: send it as "Authorization: Bearer <api-key>".`},
		{"other scheme", "Basic c2VjcmV0LWd1ZXNz", `The Authorization header must be "Bearer <api-key>".`},
		{"bare key", "secret-guess", `The Authorization header must be "Bearer <api-key>".`},
		{"wrong key", "Bearer secret-guess", "The API key is wrong: send the one autodebit serve printed when it generated it (or was given with --api-key)."},
	} {
		w, e := do(t, s, "GET", "/v1/charges", c.auth, "")
		if w.Code != 401 || e.Error.Code != "unauthorized" || e.Error.Message != c.want {
			t.Errorf("%s: %d %s %q, want 401 unauthorized %q", c.name, w.Code, e.Error.Code, e.Error.Message, c.want)
		}
		if strings.Contains(e.Error.Message, "secret-guess") || strings.Contains(e.Error.Message, "c2VjcmV0") {
			t.Errorf("%s: the message echoes the credential: %q", c.name, e.Error.Message)
		}
		if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="autodebit"` {
			t.Errorf("%s: WWW-Authenticate = %q", c.name, got)
		}
	}
	if w, _ := do(t, s, "GET", "/v1/charges", "bearer "+testAPIKey, ""); w.Code != 200 {
		t.Errorf("lower-case scheme with the right key: %d, want 200", w.Code)
	}

	// Three wrong keys above, so seven more reach the default burst of ten.
	// Missing keys in between are refused without counting.
	for i := range 7 {
		if w, _ := do(t, s, "GET", "/v1/charges", "", ""); w.Code != 401 {
			t.Fatalf("missing key %d: %d, want 401", i, w.Code)
		}
		if w, _ := do(t, s, "GET", "/v1/charges", "Bearer wrong", ""); w.Code != 401 {
			t.Fatalf("wrong key %d: %d, want 401", i, w.Code)
		}
	}
	if w, e := do(t, s, "GET", "/v1/charges", "Bearer "+testAPIKey, ""); w.Code != 429 || e.Error.Code != "rate_limited" {
		t.Errorf("after ten wrong keys: %d %s, want 429 rate_limited", w.Code, e.Error.Code)
	}
}

// TestServer_WrongMethod asks known /v1 paths with methods they do not
// take: 405 with Allow and the API's JSON error, while unknown paths stay
// 404 and a request without the key is still 401.
func TestServer_WrongMethod(t *testing.T) {
	s, _, _ := newServer(t, nil, nil)
	key := "Bearer " + testAPIKey
	for _, c := range []struct{ method, path, allow, want string }{
		{"PUT", "/v1/charges", "GET, HEAD, POST", "Path /v1/charges takes GET or POST, not PUT."},
		{"DELETE", "/v1/charges/chg_1", "GET, HEAD", "Path /v1/charges/chg_1 takes GET, not DELETE."},
		{"GET", "/v1/charges/chg_1/cancel", "POST", "Path /v1/charges/chg_1/cancel takes POST, not GET."},
		{"PATCH", "/v1/tokens/tok_1", "GET, HEAD, DELETE", "Path /v1/tokens/tok_1 takes GET or DELETE, not PATCH."},
		{"POST", "/v1/health", "GET, HEAD", "Path /v1/health takes GET, not POST."},
		{"POST", "/v1/refunds/rfd_1/timeline", "GET, HEAD", "Path /v1/refunds/rfd_1/timeline takes GET, not POST."},
	} {
		w, e := do(t, s, c.method, c.path, key, "")
		if w.Code != 405 || e.Error.Code != "method_not_allowed" || e.Error.Message != c.want {
			t.Errorf("%s %s: %d %s %q, want 405 method_not_allowed %q", c.method, c.path, w.Code, e.Error.Code, e.Error.Message, c.want)
		}
		if got := w.Header().Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
		if got := w.Header().Get("Content-Type"); got != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want application/json", c.method, c.path, got)
		}
	}
	if w, e := do(t, s, "PUT", "/v1/nothing", key, ""); w.Code != 404 || e.Error.Code != "not_found" || w.Header().Get("Allow") != "" {
		t.Errorf("PUT /v1/nothing: %d %s Allow %q, want 404 not_found without Allow", w.Code, e.Error.Code, w.Header().Get("Allow"))
	}
	if w, _ := do(t, s, "PUT", "/v1/charges", "", ""); w.Code != 401 {
		t.Errorf("PUT /v1/charges without a key: %d, want 401", w.Code)
	}
}

// TestOpenAPI_Enums checks that every status-like field of every schema
// and the list filters carry their values as an enum, taken from the
// domain's lists.
func TestOpenAPI_Enums(t *testing.T) {
	var spec struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string
				Schema struct{ Enum []string }
			}
		}
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct{ Enum []string }
			}
		}
	}
	b, _ := json.Marshal(adhttp.OpenAPI())
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	enumerated := map[string]bool{"status": true, "wallet": true, "settledBy": true, "revokedBy": true, "direction": true, "resultStatus": true}
	seen := 0
	for name, schema := range spec.Components.Schemas {
		for field, p := range schema.Properties {
			if enumerated[field] {
				seen++
				if len(p.Enum) == 0 {
					t.Errorf("%s.%s has no enum", name, field)
				}
			}
		}
	}
	if seen < 11 {
		t.Errorf("saw %d status-like fields, want at least 11", seen)
	}
	wallets := []string{"ALIPAY_CN", "ALIPAY_HK", "DANA", "GCASH", "KAKAOPAY", "TNG", "TRUEMONEY"}
	for field, want := range map[string][]string{
		"Authorization.status":       {"PENDING", "AUTHORIZED", "ACTIVE", "FAILED", "EXPIRED"},
		"Token.status":               {"ACTIVE", "REVOKED", "EXPIRED"},
		"Token.revokedBy":            {"merchant", "wallet", "antom"},
		"Charge.status":              {"INIT", "SUCCESS", "FAIL", "CANCELLED"},
		"Charge.settledBy":           {"pay", "notification", "inquiry", "cancel"},
		"Refund.status":              {"PROCESSING", "SUCCESS", "FAIL"},
		"Charge.wallet":              wallets,
		"CreateAuthorization.wallet": wallets,
	} {
		schema, prop, _ := strings.Cut(field, ".")
		if got := spec.Components.Schemas[schema].Properties[prop].Enum; strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s enum %v, want %v", field, got, want)
		}
	}
	for path, want := range map[string]string{"/v1/charges": "INIT", "/v1/tokens": "REVOKED", "/v1/authorizations": "PENDING"} {
		filters := map[string][]string{}
		for _, p := range spec.Paths[path]["get"].Parameters {
			filters[p.Name] = p.Schema.Enum
		}
		if !strings.Contains(strings.Join(filters["status"], ","), want) || strings.Join(filters["wallet"], ",") != strings.Join(wallets, ",") {
			t.Errorf("GET %s filters: status %v, wallet %v", path, filters["status"], filters["wallet"])
		}
	}
}
