package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/client"
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

// apiTimeRE is the one form of every time in the API's JSON.
var apiTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// checkTimes walks a JSON document and reports every time (a field whose
// name ends in "At", or a string that parses as RFC 3339) that is not in
// apiTimeRE's form. The bodies of timeline events are Antom's, kept as
// exchanged, so it does not look into them.
func checkTimes(t *testing.T, at string, doc any) (n int) {
	t.Helper()
	switch v := doc.(type) {
	case map[string]any:
		for k, val := range v {
			if k == "request" || k == "response" {
				continue
			}
			if s, ok := val.(string); ok && strings.HasSuffix(k, "At") {
				if _, err := time.Parse(time.RFC3339Nano, s); err != nil { // else the case below checks it
					t.Errorf("%s.%s = %q, want an RFC 3339 time", at, k, s)
				}
			}
			n += checkTimes(t, at+"."+k, val)
		}
	case []any:
		for i, val := range v {
			n += checkTimes(t, fmt.Sprintf("%s[%d]", at, i), val)
		}
	case string:
		if _, err := time.Parse(time.RFC3339Nano, v); err == nil {
			n++
			if !apiTimeRE.MatchString(v) {
				t.Errorf("%s = %q, want UTC to the second", at, v)
			}
		}
	}
	return n
}

// TestAPI_TimesAndTimeline reads every kind of object after a charge and a
// refund: every time in every answer has one form (UTC, to the second), and
// the timeline's Antom bodies are JSON objects, not strings holding JSON,
// while the Go client still reads them as text.
func TestAPI_TimesAndTimeline(t *testing.T) {
	m, _ := startMain(t)
	tok := link(t, m, "cus_times")
	resp, b := rest(t, m, "POST", "/v1/charges", `{"tokenId":"`+tok+`","amount":{"currency":"PHP","value":"1500"}}`)
	var ch struct{ ID string }
	if json.Unmarshal(b, &ch); resp.StatusCode != 201 {
		t.Fatalf("charge: %d %s", resp.StatusCode, b)
	}
	resp, b = rest(t, m, "POST", "/v1/charges/"+ch.ID+"/refunds", `{"amount":{"currency":"PHP","value":"100"}}`)
	var rf struct{ ID, ChargeID string }
	if json.Unmarshal(b, &rf); resp.StatusCode != 201 {
		t.Fatalf("refund: %d %s", resp.StatusCode, b)
	}
	var auths struct{ Data []struct{ ID string } }
	_, b = rest(t, m, "GET", "/v1/authorizations?customerId=cus_times", "")
	json.Unmarshal(b, &auths)
	if len(auths.Data) != 1 {
		t.Fatalf("authorizations: %s", b)
	}
	paths := []string{"/v1/authorizations", "/v1/tokens", "/v1/charges", "/v1/charges/" + ch.ID + "/refunds", "/v1/health",
		"/v1/authorizations/" + auths.Data[0].ID, "/v1/tokens/" + tok, "/v1/charges/" + ch.ID, "/v1/refunds/" + rf.ID}
	for _, id := range []string{auths.Data[0].ID, tok, ch.ID, rf.ID} {
		paths = append(paths, "/v1/"+map[string]string{"auth": "authorizations", "tok": "tokens", "chg": "charges", "rfd": "refunds"}[id[:strings.IndexByte(id, '_')]]+"/"+id+"/timeline")
	}
	times := 0
	for _, p := range paths {
		resp, b := rest(t, m, "GET", p, "")
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", p, resp.StatusCode, b)
		}
		times += checkTimes(t, p, doc)
	}
	if times < 20 {
		t.Errorf("only %d times seen; the walk is not looking", times)
	}

	_, b = rest(t, m, "GET", "/v1/charges/"+ch.ID+"/timeline", "")
	var events struct {
		Data []struct {
			Kind              string
			Request, Response any
		}
	}
	if err := json.Unmarshal(b, &events); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, e := range events.Data {
		kinds[e.Kind] = true
		if strings.HasPrefix(e.Kind, "antom.") || strings.HasPrefix(e.Kind, "notify.") {
			_, reqObj := e.Request.(map[string]any)
			_, respObj := e.Response.(map[string]any)
			if !reqObj || !respObj {
				t.Errorf("%s event: request %T, response %T, want JSON objects", e.Kind, e.Request, e.Response)
			}
		}
		if e.Kind == "state" {
			if _, ok := e.Response.(string); !ok {
				t.Errorf("state event: response %T, want the note as a string", e.Response)
			}
		}
	}
	if !kinds["antom.pay"] || !kinds["state"] {
		t.Fatalf("charge timeline kinds %v, want antom.pay and state", kinds)
	}

	list, err := client.New(m.URL, m.APIKey).Timeline(context.Background(), ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Data {
		if e.Kind == "antom.pay" && (!strings.HasPrefix(e.Request, "{") || !json.Valid([]byte(e.Request))) {
			t.Errorf("client: antom.pay request %q, want its JSON text", e.Request)
		}
		if e.Kind == "state" && (e.Response == "" || strings.HasPrefix(e.Response, `"`)) {
			t.Errorf("client: state response %q, want the note itself", e.Response)
		}
	}
}
