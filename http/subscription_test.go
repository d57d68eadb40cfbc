package http_test

import (
	"strings"
	"testing"
)

// TestServer_SubscriptionInput sends bad subscription requests: each is a
// 400 (or 404) naming what is wrong, and nothing is created.
func TestServer_SubscriptionInput(t *testing.T) {
	s, _, _ := newServer(t, nil, nil)
	key := "Bearer " + testAPIKey
	amount := `"amount":{"currency":"PHP","value":"1500"}`
	for _, c := range []struct {
		body   string
		status int
		want   string
	}{
		{`{` + amount + `,"interval":"month"}`, 400, `Field "tokenId" is required.`},
		{`{"tokenId":"tok_x","interval":"month"}`, 400, `Field "amount" is required.`},
		{`{"tokenId":"tok_x",` + amount + `}`, 400, `Field "interval" is required: day, week, month or year.`},
		{`{"tokenId":"tok_x",` + amount + `,"interval":"fortnight"}`, 400, `interval "fortnight" is not one of day, week, month or year`},
		{`{"tokenId":"tok_x",` + amount + `,"interval":"month","intervalCount":40}`, 400, `intervalCount must be between 1 and 36`},
		{`{"tokenId":"tok_x",` + amount + `,"interval":"month","intervalCount":"2"}`, 400, `Field "intervalCount" must be an integer, not a string.`},
		{`{"tokenId":"tok_x",` + amount + `,"interval":"month","startAt":"tomorrow"}`, 400, `Field "startAt" must be an RFC 3339 time`},
		{`{"tokenId":"tok_x",` + amount + `,"interval":"month","startAt":"2001-01-01T00:00:00Z"}`, 400, `is in the past`},
		{`{"tokenId":"tok_x",` + amount + `,"interval":"month","timeZone":"Atlantis/Capital"}`, 400, `Time zone "Atlantis/Capital" is not an IANA time zone name`},
		{`{"tokenId":"tok_x",` + amount + `,"interval":"month","retrySchedule":["24h","soon"]}`, 400, `retrySchedule[1] "soon" is not a duration`},
		{`{"tokenId":"tok_x",` + amount + `,"interval":"month","retrySchedule":"24h"}`, 400, `Field "retrySchedule" must be an array`},
		{`{"tokenId":"tok_x",` + amount + `,"interval":"month","retrySchedule":["0s"]}`, 400, `retrySchedule[0] is 0s`},
		{`{"tokenId":"tok_x",` + amount + `,"interval":"month","cycles":-1}`, 400, `cycles must be between 1 and 10000`},
		{`{"tokenId":"tok_x",` + amount + `,"interval":"month","trial":"7d"}`, 400, `Unknown field "trial".`},
		{`{"tokenId":"tok_x",` + amount + `,"interval":"month"}`, 404, `Token not found.`},
	} {
		w, e := do(t, s, "POST", "/v1/subscriptions", key, c.body)
		if w.Code != c.status || !strings.Contains(e.Error.Message, c.want) {
			t.Errorf("POST %s: %d %q, want %d with %q", c.body, w.Code, e.Error.Message, c.status, c.want)
		}
	}
	if w, _ := do(t, s, "GET", "/v1/subscriptions", key, ""); !strings.Contains(w.Body.String(), `"total":0`) {
		t.Errorf("after bad input: %s, want nothing created", w.Body)
	}
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/v1/subscriptions?status=trialing", `Query parameter "status" is not a subscription status`},
		{"GET", "/v1/subscriptions/sub_nope", "Subscription not found."},
		{"GET", "/v1/subscriptions/sub_nope/charges", "Subscription not found."},
		{"GET", "/v1/subscriptions/sub_nope/charges?status=PAID", `Query parameter "status" is not a charge status`},
		{"GET", "/v1/subscriptions/sub_nope/timeline", "Subscription not found."},
		{"POST", "/v1/subscriptions/sub_nope/pause", "Subscription not found."},
		{"POST", "/v1/subscriptions/sub_nope/resume", "Subscription not found."},
		{"POST", "/v1/subscriptions/sub_nope/cancel", "Subscription not found."},
	} {
		if w, e := do(t, s, c.method, c.path, key, ""); w.Code/100 != 4 || !strings.Contains(e.Error.Message, c.want) {
			t.Errorf("%s %s: %d %q, want %q", c.method, c.path, w.Code, e.Error.Message, c.want)
		}
	}
	if w, e := do(t, s, "POST", "/v1/subscriptions/sub_nope/cancel", key, `{"why":"x"}`); w.Code != 400 || !strings.Contains(e.Error.Message, `Unknown field "why"`) {
		t.Errorf("cancel with an unknown field: %d %q", w.Code, e.Error.Message)
	}
}
