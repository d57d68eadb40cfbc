package http_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	adhttp "github.com/autodebit/autodebit/http"
	"github.com/autodebit/autodebit/webhook"
)

// doKey is do with the API key and, when set, an Idempotency-Key.
func doKey(tb testing.TB, s *adhttp.Server, method, path, body, idemKey string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w
}

func decode[T any](tb testing.TB, w *httptest.ResponseRecorder) T {
	tb.Helper()
	var v T
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		tb.Fatalf("decode %T: %v", v, err)
	}
	return v
}

// The server's engine runs the default URL policy (public addresses only)
// and the real resolver, so these tests use IP literals: nothing is looked
// up. 203.0.113.0/24 is a documentation range, public by the policy.

func TestWebhookEndpoints_Lifecycle(t *testing.T) {
	s, logs, _ := newServer(t, nil, nil)
	w := doKey(t, s, "POST", "/v1/webhook-endpoints", `{"url":"https://203.0.113.10/hooks","eventTypes":["charge.succeeded","refund.failed"],"description":"Orders"}`, "")
	if w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	created := decode[adhttp.WebhookEndpointWithSecret](t, w)
	if !strings.HasPrefix(created.ID, "we_") || !created.Enabled || created.URL != "https://203.0.113.10/hooks" ||
		strings.Join(created.EventTypes, ",") != "charge.succeeded,refund.failed" || created.Description != "Orders" {
		t.Fatalf("created %+v", created)
	}
	if key, err := webhook.ParseSecret(created.Secret); err != nil || len(key) != 32 {
		t.Fatalf("secret %q: %v", created.Secret, err)
	}
	secret := created.Secret
	noSecret := func(what string, w *httptest.ResponseRecorder) {
		t.Helper()
		if body := w.Body.String(); strings.Contains(body, "secret\"") || strings.Contains(body, secret) || strings.Contains(body, "whsec_") {
			t.Fatalf("%s shows a secret: %s", what, body)
		}
	}

	w = doKey(t, s, "GET", "/v1/webhook-endpoints/"+created.ID, "", "")
	noSecret("GET", w)
	if got := decode[adhttp.WebhookEndpoint](t, w); got.ID != created.ID || got.PreviousSecretExpiresAt != nil {
		t.Fatalf("GET: %+v", got)
	}
	w = doKey(t, s, "GET", "/v1/webhook-endpoints", "", "")
	noSecret("list", w)
	if list := decode[adhttp.List[adhttp.WebhookEndpoint]](t, w); list.Total != 1 || len(list.Data) != 1 || list.Data[0].ID != created.ID {
		t.Fatalf("list: %+v", list)
	}

	// PATCH: absent fields stay; [] means every type.
	w = doKey(t, s, "PATCH", "/v1/webhook-endpoints/"+created.ID, `{"enabled":false,"eventTypes":[]}`, "")
	noSecret("PATCH", w)
	if w.Code != 200 {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	if got := decode[adhttp.WebhookEndpoint](t, w); got.Enabled || got.DisabledReason == "" || len(got.EventTypes) != 0 || got.EventTypes == nil ||
		got.URL != created.URL || got.Description != "Orders" {
		t.Fatalf("PATCH: %+v", got)
	}
	for _, c := range []struct{ query, want string }{{"?enabled=true", `"total":0`}, {"?enabled=false", `"total":1`}} {
		if w := doKey(t, s, "GET", "/v1/webhook-endpoints"+c.query, "", ""); !strings.Contains(w.Body.String(), c.want) {
			t.Fatalf("list %s: %s, want %s", c.query, w.Body, c.want)
		}
	}
	w = doKey(t, s, "PATCH", "/v1/webhook-endpoints/"+created.ID, `{"enabled":true}`, "")
	if got := decode[adhttp.WebhookEndpoint](t, w); !got.Enabled || got.DisabledReason != "" {
		t.Fatalf("re-enabled: %+v", got)
	}

	w = doKey(t, s, "POST", "/v1/webhook-endpoints/"+created.ID+"/rotate-secret", "", "")
	if w.Code != 200 {
		t.Fatalf("rotate: %d %s", w.Code, w.Body)
	}
	rotated := decode[adhttp.WebhookEndpointWithSecret](t, w)
	if rotated.Secret == secret || rotated.PreviousSecretExpiresAt == nil || !rotated.PreviousSecretExpiresAt.After(rotated.UpdatedAt) {
		t.Fatalf("rotated: %+v", rotated)
	}
	if _, err := webhook.ParseSecret(rotated.Secret); err != nil {
		t.Fatal(err)
	}
	w = doKey(t, s, "GET", "/v1/webhook-endpoints/"+created.ID, "", "")
	if body := w.Body.String(); strings.Contains(body, rotated.Secret) || !strings.Contains(body, "previousSecretExpiresAt") {
		t.Fatalf("GET after rotation: %s", body)
	}

	w = doKey(t, s, "DELETE", "/v1/webhook-endpoints/"+created.ID, "", "")
	noSecret("DELETE", w)
	if w.Code != 200 {
		t.Fatalf("DELETE: %d %s", w.Code, w.Body)
	}
	for _, path := range []string{"/v1/webhook-endpoints/" + created.ID, "/v1/webhook-endpoints/" + created.ID + "/rotate-secret"} {
		method := "GET"
		if strings.HasSuffix(path, "rotate-secret") {
			method = "POST"
		}
		if w := doKey(t, s, method, path, "", ""); w.Code != 404 {
			t.Fatalf("%s %s after delete: %d %s", method, path, w.Code, w.Body)
		}
	}
	// The timeline outlives the endpoint and holds no secret.
	w = doKey(t, s, "GET", "/v1/webhook-endpoints/"+created.ID+"/timeline", "", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"total":5`) || strings.Contains(w.Body.String(), "whsec_") {
		t.Fatalf("timeline: %d %s", w.Code, w.Body)
	}
	if w := doKey(t, s, "GET", "/v1/webhook-endpoints/we_never/timeline", "", ""); w.Code != 404 {
		t.Fatalf("timeline of an unknown endpoint: %d", w.Code)
	}
	for _, sec := range []string{secret, rotated.Secret} {
		if strings.Contains(logs.String(), strings.TrimPrefix(sec, "whsec_")) {
			t.Fatalf("a secret is in the logs:\n%s", logs)
		}
	}
}

func TestWebhookEndpoints_BadInput(t *testing.T) {
	s, _, _ := newServer(t, nil, nil)
	for _, c := range []struct{ method, path, body, want string }{
		{"POST", "/v1/webhook-endpoints", `{}`, `Field "url" is required.`},
		{"POST", "/v1/webhook-endpoints", `{"url":"hooks.example/x"}`, "must be an absolute http:// or https:// URL"},
		{"POST", "/v1/webhook-endpoints", `{"url":"https://u:p@203.0.113.10/x"}`, "must not hold a user name or password"},
		{"POST", "/v1/webhook-endpoints", `{"url":"http://10.0.0.5/x"}`, `host "10.0.0.5" is (or resolves to) 10.0.0.5, a private`},
		{"POST", "/v1/webhook-endpoints", `{"url":"http://127.0.0.1:9999/x"}`, "--webhook-allow-private"},
		{"POST", "/v1/webhook-endpoints", `{"url":"https://203.0.113.10/x","eventTypes":"charge.succeeded"}`, `Field "eventTypes" must be an array, not a string.`},
		{"POST", "/v1/webhook-endpoints", `{"url":"https://203.0.113.10/x","eventTypes":["charge"]}`, `event type "charge" is not an event type`},
		{"POST", "/v1/webhook-endpoints", `{"url":"https://203.0.113.10/x","secret":"whsec_mine"}`, `Unknown field "secret".`},
		{"POST", "/v1/webhook-endpoints", `{"url":"https://203.0.113.10/x","description":"` + strings.Repeat("d", 257) + `"}`, "at most 256 characters"},
		{"GET", "/v1/webhook-endpoints?enabled=yes", ``, `Query parameter "enabled" must be true or false.`},
		{"GET", "/v1/webhook-endpoints/we_nope", ``, "not found"},
		{"PATCH", "/v1/webhook-endpoints/we_nope", `{"enabled":true}`, "not found"},
		{"DELETE", "/v1/webhook-endpoints/we_nope", ``, "not found"},
		{"POST", "/v1/webhook-endpoints/we_nope/rotate-secret", ``, "not found"},
		{"GET", "/v1/events/evt_nope/deliveries", ``, "not found"},
		{"POST", "/v1/events/evt_nope/redeliver", ``, "not found"},
		{"POST", "/v1/events/evt_nope/redeliver", `{"endpoint":"we_1"}`, `Unknown field "endpoint".`},
		{"POST", "/v1/events/evt_nope/redeliver", `{"endpointId":1}`, `Field "endpointId" must be a string`},
	} {
		w := doKey(t, s, c.method, c.path, c.body, "")
		var e apiError
		json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code < 400 || !strings.Contains(e.Error.Message, c.want) {
			t.Errorf("%s %s %s: %d %s, want an error with %q", c.method, c.path, c.body, w.Code, w.Body, c.want)
		}
	}
	if w := doKey(t, s, "GET", "/v1/webhook-endpoints", "", ""); !strings.Contains(w.Body.String(), `"total":0`) {
		t.Fatalf("bad input created something: %s", w.Body)
	}

	// A PATCH with a bad field changes nothing, not even the good fields.
	created := decode[adhttp.WebhookEndpointWithSecret](t, doKey(t, s, "POST", "/v1/webhook-endpoints", `{"url":"https://203.0.113.10/x"}`, ""))
	w := doKey(t, s, "PATCH", "/v1/webhook-endpoints/"+created.ID, `{"description":"new","eventTypes":["Charge.Succeeded"]}`, "")
	if w.Code != 400 {
		t.Fatalf("PATCH with a bad event type: %d %s", w.Code, w.Body)
	}
	if got := decode[adhttp.WebhookEndpoint](t, doKey(t, s, "GET", "/v1/webhook-endpoints/"+created.ID, "", "")); got.Description != "" || !got.UpdatedAt.Equal(created.UpdatedAt) {
		t.Fatalf("after a refused PATCH: %+v", got)
	}
}

func TestWebhookEndpoints_Idempotency(t *testing.T) {
	s, _, _ := newServer(t, nil, nil)
	body := `{"url":"https://203.0.113.10/x","eventTypes":["charge.failed"]}`
	first := doKey(t, s, "POST", "/v1/webhook-endpoints", body, "ep-1")
	again := doKey(t, s, "POST", "/v1/webhook-endpoints", body, "ep-1")
	if first.Code != 201 || again.Code != 201 || first.Body.String() != again.Body.String() ||
		first.Header().Get(adhttp.ReplayedHeader) != "" || again.Header().Get(adhttp.ReplayedHeader) != "true" {
		t.Fatalf("replay: %d %s / %d %s (%q)", first.Code, first.Body, again.Code, again.Body, again.Header().Get(adhttp.ReplayedHeader))
	}
	if w := doKey(t, s, "POST", "/v1/webhook-endpoints", `{"url":"https://203.0.113.11/x"}`, "ep-1"); w.Code != 409 {
		t.Fatalf("same key, other body: %d %s", w.Code, w.Body)
	}
	if w := doKey(t, s, "GET", "/v1/webhook-endpoints", "", ""); !strings.Contains(w.Body.String(), `"total":1`) {
		t.Fatalf("list: %s", w.Body)
	}
}
