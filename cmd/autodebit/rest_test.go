package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// rest sends a request with the API key and returns the response and its
// body.
func rest(tb testing.TB, m *Main, method, path, body string, header ...string) (*http.Response, []byte) {
	tb.Helper()
	req, _ := http.NewRequest(method, m.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+m.APIKey)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestAPI_IdempotentReplay repeats a charge and a refund with the same
// Idempotency-Key: the repeat answers the first object, marked
// Idempotent-Replayed: true, and the first answer, an answer without a key
// and a key reused with another body are not marked.
func TestAPI_IdempotentReplay(t *testing.T) {
	m, _ := startMain(t)
	tok := link(t, m, "cus_replay")
	id := func(b []byte) string {
		var v struct{ ID string }
		json.Unmarshal(b, &v)
		return v.ID
	}
	send := func(name, path, body, key string, wantStatus int, wantReplayed bool) string {
		t.Helper()
		var h []string
		if key != "" {
			h = []string{"Idempotency-Key", key}
		}
		resp, b := rest(t, m, "POST", path, body, h...)
		got := resp.Header.Get("Idempotent-Replayed")
		if resp.StatusCode != wantStatus || (got == "true") != wantReplayed || (got != "" && got != "true") {
			t.Errorf("%s: %d with Idempotent-Replayed %q, want %d and replayed %v: %s", name, resp.StatusCode, got, wantStatus, wantReplayed, b)
		}
		return id(b)
	}

	charge := `{"tokenId":"` + tok + `","amount":{"currency":"PHP","value":"1500"}}`
	first := send("first charge", "/v1/charges", charge, "replay-1", 201, false)
	if again := send("repeated charge", "/v1/charges", charge, "replay-1", 201, true); again != first {
		t.Errorf("repeated charge is %s, want the first, %s", again, first)
	}
	send("charge without a key", "/v1/charges", charge, "", 201, false)
	send("key reused with another body", "/v1/charges", strings.Replace(charge, "1500", "1600", 1), "replay-1", 409, false)

	refund := `{"amount":{"currency":"PHP","value":"100"}}`
	rf := send("first refund", "/v1/charges/"+first+"/refunds", refund, "replay-rf-1", 201, false)
	if again := send("repeated refund", "/v1/charges/"+first+"/refunds", refund, "replay-rf-1", 201, true); again != rf {
		t.Errorf("repeated refund is %s, want the first, %s", again, rf)
	}
}
