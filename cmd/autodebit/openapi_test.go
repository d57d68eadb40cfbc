package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	adhttp "github.com/autodebit/autodebit/http"
)

// TestOpenAPI checks /openapi.json against the server: the same routes
// both ways, every documented route answered by a real handler, and the
// bodies of a whole flow valid against the response schemas.
func TestOpenAPI(t *testing.T) {
	m, _ := startMain(t)
	resp, err := http.Get(m.URL + "/openapi.json") // no API key
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("/openapi.json: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	if spec["openapi"] != "3.0.3" {
		t.Fatalf("openapi = %v", spec["openapi"])
	}
	paths := spec["paths"].(map[string]any)
	var documented []string
	for p, ops := range paths {
		for method := range ops.(map[string]any) {
			documented = append(documented, strings.ToUpper(method)+" "+p)
		}
	}
	sort.Strings(documented)

	t.Run("SameRoutes", func(t *testing.T) {
		srv, err := adhttp.NewServer(adhttp.Config{Engine: m.Engine, Verifier: &antom.NotificationVerifier{}, APIKey: m.APIKey})
		if err != nil {
			t.Fatal(err)
		}
		served := srv.APIRoutes()
		if strings.Join(served, "\n") != strings.Join(documented, "\n") {
			t.Fatalf("served routes:\n%s\n\ndocumented:\n%s", strings.Join(served, "\n"), strings.Join(documented, "\n"))
		}
	})
	t.Run("EveryDocumentedRouteHasAHandler", func(t *testing.T) {
		for _, d := range documented {
			method, path, _ := strings.Cut(d, " ")
			path = strings.ReplaceAll(path, "{id}", "chg_doesnotexist")
			status, body := call(t, m, method, path, nil)
			if status == 404 && strings.Contains(string(body), "No API route") {
				t.Errorf("%s is documented but not served", d)
			}
		}
	})

	var charge map[string]any // a real charge, from FlowMatchesSchemas
	t.Run("FlowMatchesSchemas", func(t *testing.T) {
		v := &validator{spec: spec}
		check := func(pattern string, status int, body []byte) map[string]any {
			t.Helper()
			method, path, _ := strings.Cut(pattern, " ")
			op := paths[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
			r, ok := op["responses"].(map[string]any)[fmt.Sprint(status)]
			if !ok {
				r = op["responses"].(map[string]any)["default"]
			}
			schema := r.(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
			var doc any
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatalf("%s: %v", pattern, err)
			}
			if err := v.validate(doc, schema, "body"); err != nil {
				t.Fatalf("%s → %d does not match the spec: %v\n%s", pattern, status, err, body)
			}
			obj, _ := doc.(map[string]any)
			return obj
		}
		do := func(pattern, path string, body any, want int) map[string]any {
			t.Helper()
			method, _, _ := strings.Cut(pattern, " ")
			status, b := call(t, m, method, path, body)
			if status != want {
				t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, b)
			}
			return check(pattern, status, b)
		}
		auth := do("POST /v1/authorizations", "/v1/authorizations", map[string]string{"customerId": "cus_spec", "wallet": "GCASH"}, 201)
		authID := auth["id"].(string)
		if _, err := m.Sim.Approve(auth["qr"].(map[string]any)["text"].(string), ""); err != nil {
			t.Fatal(err)
		}
		var tokenID string
		// applyToken runs as a job: poll (with a pause, or a fast
		// machine gives up before the job's first poll) until it is done.
		for deadline := time.Now().Add(15 * time.Second); tokenID == "" && time.Now().Before(deadline); {
			a := do("GET /v1/authorizations/{id}", "/v1/authorizations/"+authID, nil, 200)
			if tokenID, _ = a["tokenId"].(string); tokenID == "" {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if tokenID == "" {
			t.Fatal("no token")
		}
		do("GET /v1/authorizations", "/v1/authorizations?customerId=cus_spec", nil, 200)
		do("GET /v1/authorizations/{id}/timeline", "/v1/authorizations/"+authID+"/timeline", nil, 200)
		do("GET /v1/tokens", "/v1/tokens?customerId=cus_spec", nil, 200)
		do("GET /v1/tokens/{id}", "/v1/tokens/"+tokenID, nil, 200)
		do("GET /v1/tokens/{id}/timeline", "/v1/tokens/"+tokenID+"/timeline", nil, 200)
		ch := do("POST /v1/charges", "/v1/charges", map[string]any{"tokenId": tokenID, "amount": map[string]string{"currency": "PHP", "value": "1500"}}, 201)
		chID := ch["id"].(string)
		charge = ch
		do("GET /v1/charges", "/v1/charges?status=SUCCESS", nil, 200)
		do("GET /v1/charges/{id}", "/v1/charges/"+chID, nil, 200)
		do("GET /v1/charges/{id}/timeline", "/v1/charges/"+chID+"/timeline", nil, 200)
		rf := do("POST /v1/charges/{id}/refunds", "/v1/charges/"+chID+"/refunds", map[string]any{"amount": map[string]string{"currency": "PHP", "value": "100"}}, 201)
		do("GET /v1/charges/{id}/refunds", "/v1/charges/"+chID+"/refunds", nil, 200)
		do("GET /v1/refunds/{id}", "/v1/refunds/"+rf["id"].(string), nil, 200)
		do("GET /v1/refunds/{id}/timeline", "/v1/refunds/"+rf["id"].(string)+"/timeline", nil, 200)
		do("GET /v1/health", "/v1/health", nil, 200)
		do("POST /v1/charges/{id}/cancel", "/v1/charges/"+chID+"/cancel", nil, 409) // SUCCESS: refund instead
		do("POST /v1/charges", "/v1/charges", map[string]any{"tokenId": tokenID, "amount": map[string]any{"currency": "PHP", "value": 15}}, 400)
		// Subscriptions: the first charge is made with the subscription.
		sub := do("POST /v1/subscriptions", "/v1/subscriptions", map[string]any{"tokenId": tokenID,
			"amount": map[string]string{"currency": "PHP", "value": "1500"}, "interval": "month", "cycles": 12, "timeZone": "Asia/Manila"}, 201)
		subID := sub["id"].(string)
		do("GET /v1/subscriptions", "/v1/subscriptions?status=active&customerId=cus_spec", nil, 200)
		do("GET /v1/subscriptions/{id}", "/v1/subscriptions/"+subID, nil, 200)
		do("GET /v1/subscriptions/{id}/charges", "/v1/subscriptions/"+subID+"/charges", nil, 200)
		do("GET /v1/charges", "/v1/charges?subscriptionId="+subID, nil, 200)
		do("GET /v1/subscriptions/{id}/timeline", "/v1/subscriptions/"+subID+"/timeline", nil, 200)
		do("POST /v1/subscriptions/{id}/pause", "/v1/subscriptions/"+subID+"/pause", nil, 200)
		do("POST /v1/subscriptions/{id}/resume", "/v1/subscriptions/"+subID+"/resume", nil, 200)
		do("POST /v1/subscriptions/{id}/cancel", "/v1/subscriptions/"+subID+"/cancel", map[string]string{"reason": "spec test"}, 200)
		do("POST /v1/subscriptions/{id}/pause", "/v1/subscriptions/"+subID+"/pause", nil, 409)
		do("POST /v1/subscriptions", "/v1/subscriptions", map[string]any{"tokenId": tokenID,
			"amount": map[string]string{"currency": "PHP", "value": "1500"}, "interval": "fortnight"}, 400)
		do("DELETE /v1/tokens/{id}", "/v1/tokens/"+tokenID, nil, 200)

		// Webhook endpoints: serve with the in-process simulator accepts a
		// receiver on this machine.
		we := do("POST /v1/webhook-endpoints", "/v1/webhook-endpoints", map[string]any{"url": "http://127.0.0.1:9/hooks", "eventTypes": []string{"charge.succeeded"}}, 201)
		weID := we["id"].(string)
		if s, _ := we["secret"].(string); !strings.HasPrefix(s, "whsec_") {
			t.Fatalf("created webhook endpoint without a secret: %v", we)
		}
		do("GET /v1/webhook-endpoints", "/v1/webhook-endpoints?enabled=true", nil, 200)
		do("GET /v1/webhook-endpoints/{id}", "/v1/webhook-endpoints/"+weID, nil, 200)
		do("PATCH /v1/webhook-endpoints/{id}", "/v1/webhook-endpoints/"+weID, map[string]any{"enabled": false, "description": "paused"}, 200)
		do("POST /v1/webhook-endpoints/{id}/rotate-secret", "/v1/webhook-endpoints/"+weID+"/rotate-secret", nil, 200)
		do("GET /v1/webhook-endpoints/{id}", "/v1/webhook-endpoints/"+weID, nil, 200) // disabled, with a previous secret
		do("POST /v1/webhook-endpoints", "/v1/webhook-endpoints", map[string]any{"url": "ftp://127.0.0.1/hooks"}, 400)
		do("DELETE /v1/webhook-endpoints/{id}", "/v1/webhook-endpoints/"+weID, nil, 200)
		do("GET /v1/webhook-endpoints/{id}/timeline", "/v1/webhook-endpoints/"+weID+"/timeline", nil, 200)
		do("GET /v1/clock", "/v1/clock", nil, 200)
		do("POST /v1/clock/advance", "/v1/clock/advance", map[string]string{"by": "1m"}, 200)
		do("POST /v1/clock/advance", "/v1/clock/advance", map[string]string{"by": "0d"}, 400)
	})

	t.Run("ValidatorCatchesDrift", func(t *testing.T) {
		v := &validator{spec: spec}
		ref := map[string]any{"$ref": "#/components/schemas/Charge"}
		for _, bad := range []string{`{}`, `{"id":1}`, `[]`} {
			var doc any
			json.Unmarshal([]byte(bad), &doc)
			if v.validate(doc, ref, "body") == nil {
				t.Errorf("%s validated as a Charge", bad)
			}
		}
		if charge == nil {
			t.Fatal("no charge from FlowMatchesSchemas")
		}
		for field, bad := range map[string]string{"status": "PAID", "wallet": "PAYPAL", "settledBy": "magic"} {
			doc := maps.Clone(charge)
			doc[field] = bad
			if v.validate(doc, ref, "body") == nil {
				t.Errorf("a Charge with %s %q validated", field, bad)
			}
		}
	})
}

func call(tb testing.TB, m *Main, method, path string, body any) (int, []byte) {
	tb.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, m.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+m.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// validator checks a JSON document against the OpenAPI 3.0 schema subset
// the document uses: $ref, allOf, nullable, type, format date-time, enum,
// properties, required, additionalProperties and items.
type validator struct{ spec map[string]any }

func (v *validator) validate(doc any, s map[string]any, at string) error {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		target, ok := v.spec["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any)
		if !ok {
			return fmt.Errorf("%s: unresolved %s", at, ref)
		}
		return v.validate(doc, target, at)
	}
	if doc == nil {
		if s["nullable"] == true {
			return nil
		}
		return fmt.Errorf("%s: null is not allowed", at)
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			if err := v.validate(doc, sub.(map[string]any), at); err != nil {
				return err
			}
		}
	}
	switch s["type"] {
	case "object":
		obj, ok := doc.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %T", at, doc)
		}
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := obj[r.(string)]; !ok {
				return fmt.Errorf("%s: required field %q is missing", at, r)
			}
		}
		for k, val := range obj {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if ap, ok := s["additionalProperties"].(map[string]any); ok {
					ps = ap
				} else if s["additionalProperties"] == false && props != nil {
					return fmt.Errorf("%s: field %q is not in the schema", at, k)
				} else {
					continue
				}
			}
			if err := v.validate(val, ps, at+"."+k); err != nil {
				return err
			}
		}
	case "array":
		arr, ok := doc.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %T", at, doc)
		}
		for i, it := range arr {
			if err := v.validate(it, s["items"].(map[string]any), fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "string":
		str, ok := doc.(string)
		if !ok {
			return fmt.Errorf("%s: want a string, got %T", at, doc)
		}
		if s["format"] == "date-time" && len(str) < 20 {
			return fmt.Errorf("%s: %q is not a date-time", at, str)
		}
		if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, any(str)) {
			return fmt.Errorf("%s: %q is not one of %v", at, str, enum)
		}
	case "integer":
		if f, ok := doc.(float64); !ok || f != float64(int64(f)) {
			return fmt.Errorf("%s: want an integer, got %v", at, doc)
		}
	case "number":
		if _, ok := doc.(float64); !ok {
			return fmt.Errorf("%s: want a number, got %T", at, doc)
		}
	case "boolean":
		if _, ok := doc.(bool); !ok {
			return fmt.Errorf("%s: want a boolean, got %T", at, doc)
		}
	}
	return nil
}
