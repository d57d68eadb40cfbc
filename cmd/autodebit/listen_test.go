package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autodebit/autodebit/webhook"
)

// fakeEvents serves GET /v1/events as the contract says: newest first,
// createdAt at or after createdAfter (as the other lists read it), limit and
// offset, {"data","total"}.
type fakeEvents struct {
	mu      sync.Mutex
	events  []map[string]any // in creation order
	queries []string
	polls   int              // requests at offset 0
	onPage  func(offset int) // called after serving a page, unlocked
	onPoll  func(n int)      // called at the start of poll n (1-based), unlocked
	status  int              // answer this instead, when set
}

func (f *fakeEvents) add(id, typ, objectID string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, map[string]any{
		"id": id, "type": typ, "createdAt": at.UTC().Format(time.RFC3339), "objectId": objectID, // to the second, as the API shows times
		"sequence": len(f.events) + 1, "data": map[string]any{"object": map[string]any{"id": objectID}},
	})
}

func (f *fakeEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/events" || r.Header.Get("Authorization") != "Bearer sk_test" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":"unauthorized","message":"Missing or invalid API key."}}`)
		return
	}
	q := r.URL.Query()
	offset, _ := strconv.Atoi(q.Get("offset"))
	if offset == 0 {
		f.mu.Lock()
		f.polls++
		n, hook := f.polls, f.onPoll
		f.mu.Unlock()
		if hook != nil {
			hook(n)
		}
	}
	f.mu.Lock()
	f.queries = append(f.queries, r.URL.RawQuery)
	if f.status != 0 {
		w.WriteHeader(f.status)
		f.mu.Unlock()
		return
	}
	after, err := time.Parse(time.RFC3339Nano, q.Get("createdAfter"))
	if err != nil {
		f.mu.Unlock()
		http.Error(w, `{"error":{"code":"invalid_request","message":"createdAfter is not a time"}}`, http.StatusBadRequest)
		return
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	var match []map[string]any
	for i := len(f.events) - 1; i >= 0; i-- {
		at, _ := time.Parse(time.RFC3339Nano, f.events[i]["createdAt"].(string))
		if !at.Before(after) {
			match = append(match, f.events[i])
		}
	}
	// Newest first by createdAt, as the server orders them.
	slices.SortStableFunc(match, func(a, b map[string]any) int {
		return strings.Compare(b["createdAt"].(string), a["createdAt"].(string))
	})
	page := match[min(offset, len(match)):min(offset+limit, len(match))]
	hook := f.onPage
	b, _ := json.MarshalIndent(map[string]any{"data": page, "total": len(match)}, "", "  ")
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
	if hook != nil {
		hook(offset)
	}
}

var listenT0 = time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)

// testListener is a listener on fake, starting at listenT0, that never
// really sleeps: it records the waits asked.
func testListener(t *testing.T, fake http.Handler, forwardTo string) (*listener, *bytes.Buffer, *[]time.Duration) {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	l, err := newListener(&apiOptions{server: srv.URL, apiKey: "sk_test"}, forwardTo, "", 0, time.Second, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var slept []time.Duration
	l.out, l.log = &out, &out
	l.start = listenT0
	l.sleep = func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return ctx.Err() }
	return l, &out, &slept
}

// eventIDs returns the event IDs printed, in order.
func eventIDs(out string) []string {
	return regexp.MustCompile(`evt_\w+`).FindAllString(out, -1)
}

func TestListenPolls(t *testing.T) {
	f := &fakeEvents{}
	l, out, _ := testListener(t, f, "")
	ctx := context.Background()
	poll := func() []string {
		t.Helper()
		out.Reset()
		if err := l.poll(ctx); err != nil {
			t.Fatal(err)
		}
		return eventIDs(out.String())
	}

	f.add("evt_before", "charge.succeeded", "chg_0", listenT0.Add(-time.Second)) // before the start: never shown
	f.add("evt_1", "charge.succeeded", "chg_1", listenT0.Add(1*time.Second))
	f.add("evt_2", "token.revoked", "tok_1", listenT0.Add(2*time.Second))
	if got := poll(); !slices.Equal(got, []string{"evt_1", "evt_2"}) {
		t.Fatalf("first poll printed %v, want evt_1 evt_2 oldest first", got)
	}
	if !strings.Contains(out.String(), "token.revoked") || !strings.Contains(out.String(), "tok_1") {
		t.Errorf("line lacks type or object: %q", out.String())
	}
	if got := poll(); len(got) != 0 {
		t.Fatalf("a poll with nothing new printed %v (the overlap repeats must be dropped)", got)
	}

	// 250 new events: three pages in one poll, each printed once, in order.
	var want []string
	for i := range 250 {
		id := fmt.Sprintf("evt_p%03d", i)
		f.add(id, "charge.succeeded", "chg_p", listenT0.Add(20*time.Second+time.Duration(i)*time.Millisecond))
		want = append(want, id)
	}
	f.queries = nil
	if got := poll(); !slices.Equal(got, want) {
		t.Fatalf("paged poll printed %d events, want the 250 in order; first %v", len(got), got[:min(5, len(got))])
	}
	if len(f.queries) != 3 || !strings.Contains(f.queries[2], "offset=200") || !strings.Contains(f.queries[0], "limit=100") {
		t.Errorf("queries = %q, want three pages of 100", f.queries)
	}
	// The next poll looks back the overlap before the newest event shown.
	f.queries = nil
	poll()
	high := listenT0.Add(20 * time.Second)
	if wantQ := "createdAfter=" + strings.ReplaceAll(high.Add(-10*time.Second).Format(time.RFC3339), ":", "%3A"); !strings.Contains(f.queries[0], wantQ) {
		t.Errorf("query %q, want %s (10s before the newest event)", f.queries[0], wantQ)
	}

	// An event committed late, stamped before the newest one shown but
	// within the overlap, is printed once.
	f.add("evt_late", "refund.succeeded", "ref_1", listenT0.Add(15*time.Second))
	if got := poll(); !slices.Equal(got, []string{"evt_late"}) {
		t.Fatalf("late event: printed %v, want evt_late", got)
	}
	if got := poll(); len(got) != 0 {
		t.Fatalf("late event printed again: %v", got)
	}
}

// TestListenInsertBetweenPages: events arriving while a poll pages shift
// the pages (newest first); nothing is skipped or printed twice.
func TestListenInsertBetweenPages(t *testing.T) {
	f := &fakeEvents{}
	l, out, _ := testListener(t, f, "")
	for i := range 150 {
		f.add(fmt.Sprintf("evt_a%03d", i), "charge.succeeded", "chg_a", listenT0.Add(time.Duration(i+1)*time.Millisecond))
	}
	inserted := 0
	f.onPage = func(offset int) {
		if offset == 0 && inserted < 3 {
			inserted++
			f.add(fmt.Sprintf("evt_b%d", inserted), "charge.failed", "chg_b", listenT0.Add(time.Second+time.Duration(inserted)*time.Millisecond))
		}
	}
	for range 4 { // the third insert is seen by the fourth poll
		if err := l.poll(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	got := eventIDs(out.String())
	if len(got) != 153 {
		t.Fatalf("printed %d events, want 153", len(got))
	}
	count := map[string]int{}
	for _, id := range got {
		count[id]++
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("%s printed %d times", id, n)
		}
	}
	if len(count) != 153 {
		t.Errorf("%d distinct events printed, want 153", len(count))
	}
}

// TestListenMemoryBounded: IDs older than the window are forgotten, and the
// cap holds within it.
func TestListenMemoryBounded(t *testing.T) {
	f := &fakeEvents{}
	l, out, _ := testListener(t, f, "")
	for i := range 50 {
		f.add(fmt.Sprintf("evt_%d", i), "charge.succeeded", "chg_1", listenT0.Add(time.Duration(i+1)*time.Second))
	}
	if err := l.poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Newest at 50s, window 10s: only those at 40s..50s can come back.
	if len(l.seen) != 11 {
		t.Errorf("remembers %d IDs, want the 11 within the overlap window", len(l.seen))
	}
	l.maxSeen = 4
	for i := range 20 {
		f.add(fmt.Sprintf("evt_m%d", i), "charge.succeeded", "chg_1", listenT0.Add(time.Duration(60+i)*time.Second))
	}
	out.Reset()
	if err := l.poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(l.seen) != 4 || len(eventIDs(out.String())) != 20 {
		t.Errorf("remembers %d IDs (want the cap, 4) after printing %d (want 20)", len(l.seen), len(eventIDs(out.String())))
	}
	if _, ok := l.seen["evt_m19"]; !ok {
		t.Error("the cap forgot the newest ID instead of the oldest")
	}
}

// receiver verifies every request with webhook.Verifier and answers the
// statuses in plan first, then 204.
type receiver struct {
	mu       sync.Mutex
	verifier *webhook.Verifier
	plan     []int
	got      []*webhook.Event
	bodies   [][]byte
	refused  []error
	requests int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	e, err := rc.verifier.Verify(r)
	if err != nil {
		rc.refused = append(rc.refused, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(rc.plan) > 0 {
		code := rc.plan[0]
		rc.plan = rc.plan[1:]
		w.WriteHeader(code)
		return
	}
	body, _ := io.ReadAll(r.Body) // Verify gave the body back
	rc.got = append(rc.got, e)
	rc.bodies = append(rc.bodies, body)
	w.WriteHeader(http.StatusNoContent)
}

func TestListenForwards(t *testing.T) {
	rc := &receiver{plan: []int{500, 503}}
	recv := httptest.NewServer(rc)
	defer recv.Close()
	f := &fakeEvents{}
	l, out, slept := testListener(t, f, recv.URL+"/webhooks")
	rc.verifier = &webhook.Verifier{Secrets: []string{l.secret}}

	f.add("evt_1", "charge.succeeded", "chg_1", listenT0.Add(time.Second))
	f.add("evt_2", "charge.failed", "chg_2", listenT0.Add(2*time.Second))
	if err := l.poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(rc.refused) != 0 {
		t.Fatalf("the receiver refused forwards: %v", rc.refused)
	}
	if len(rc.got) != 2 || rc.got[0].ID != "evt_1" || rc.got[1].ID != "evt_2" || rc.got[1].ObjectID != "chg_2" {
		t.Fatalf("receiver verified %+v, want evt_1 then evt_2", rc.got)
	}
	// The body is the server's event, compacted: the same fields.
	var sent map[string]any
	if err := json.Unmarshal(rc.bodies[0], &sent); err != nil || sent["type"] != "charge.succeeded" || bytes.Contains(rc.bodies[0], []byte("\n")) {
		t.Errorf("forwarded body = %s (%v)", rc.bodies[0], err)
	}
	// evt_1 failed twice (500, 503), then went through after 1s and 2s.
	if !slices.Equal(*slept, []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("waited %v between tries, want [1s 2s]", *slept)
	}
	for _, want := range []string{"[500]; try 2 of 4 again in 1s", "[503]; try 3 of 4 again in 2s", "/webhooks [204]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// A receiver that keeps failing: given up after 4 tries, the next event
	// still goes.
	rc.plan = []int{500, 500, 500, 500}
	*slept = nil
	f.add("evt_3", "charge.succeeded", "chg_3", listenT0.Add(3*time.Second))
	f.add("evt_4", "charge.succeeded", "chg_4", listenT0.Add(4*time.Second))
	out.Reset()
	if err := l.poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "gave up on evt_3 after 4 tries") || len(rc.got) != 3 || rc.got[2].ID != "evt_4" {
		t.Errorf("after giving up on evt_3: got %d events, output:\n%s", len(rc.got), out)
	}
	if !slices.Equal(*slept, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}) {
		t.Errorf("waited %v, want [1s 2s 4s]", *slept)
	}
}

// TestListenCommand runs `autodebit listen` end to end: the secret it prints
// verifies the forwards, --json prints one event per line, and ending the
// context (Ctrl-C) ends the run without an error.
func TestListenCommand(t *testing.T) {
	for _, jsonOut := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", jsonOut), func(t *testing.T) {
			rc := &receiver{}
			recv := httptest.NewServer(rc)
			defer recv.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f := &fakeEvents{}
			f.add("evt_old", "charge.succeeded", "chg_0", time.Now().Add(-time.Hour))
			f.onPoll = func(n int) {
				switch n {
				case 2:
					f.add("evt_new", "charge.succeeded", "chg_1", time.Now())
				case 4:
					cancel()
				}
			}
			srv := httptest.NewServer(f)
			defer srv.Close()
			var stdout, stderr syncBuffer
			root := newRootCommand()
			args := []string{"listen", "--server", srv.URL, "--api-key", "sk_test", "--forward-to", recv.URL, "--interval", "1ms"}
			if jsonOut {
				args = append(args, "--json")
			}
			root.SetArgs(args)
			root.SetOut(&stdout)
			root.SetErr(&stderr)
			// The receiver learns the secret from the banner, as a developer would.
			rc.verifier = &webhook.Verifier{}
			f.onPage = func(int) {
				rc.mu.Lock()
				defer rc.mu.Unlock()
				if rc.verifier.Secrets == nil {
					if s := regexp.MustCompile(`whsec_\S+`).FindString(stderr.String()); s != "" {
						rc.verifier.Secrets = []string{s}
					}
				}
			}
			if err := root.ExecuteContext(ctx); err != nil {
				t.Fatalf("listen: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "Forwarding to "+recv.URL) {
				t.Errorf("banner: %s", stderr.String())
			}
			if ids := eventIDs(stdout.String()); !slices.Equal(ids, []string{"evt_new"}) {
				t.Fatalf("printed %v, want evt_new only (evt_old is before the start)\n%s", ids, stdout.String())
			}
			if jsonOut {
				var e webhook.Event
				if err := json.Unmarshal([]byte(strings.TrimSpace(stdout.String())), &e); err != nil || e.ID != "evt_new" {
					t.Errorf("--json line %q: %v", stdout.String(), err)
				}
				if !strings.Contains(stderr.String(), "[204]") {
					t.Errorf("--json: the forward status is not on stderr: %s", stderr.String())
				}
			} else if !strings.Contains(stdout.String(), "[204]") {
				t.Errorf("the forward status is not printed: %s", stdout.String())
			}
			if len(rc.refused) != 0 || len(rc.got) != 1 || rc.got[0].ID != "evt_new" {
				t.Errorf("receiver: verified %d, refused %v", len(rc.got), rc.refused)
			}
		})
	}
}

func TestListenRefuses(t *testing.T) {
	f := &fakeEvents{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	secret, _ := webhook.NewSecret()
	run := func(key string, args ...string) (string, error) {
		var stdout, stderr syncBuffer
		root := newRootCommand()
		root.SetArgs(append([]string{"listen", "--server", srv.URL, "--api-key", key}, args...))
		root.SetOut(&stdout)
		root.SetErr(&stderr)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := root.ExecuteContext(ctx)
		return stderr.String(), err
	}
	for _, c := range []struct {
		key  string
		args []string
		want string
	}{
		{"sk_test", []string{"--forward-to", "localhost:3000/webhooks"}, `--forward-to "localhost:3000/webhooks" is not an http(s) URL`},
		{"sk_test", []string{"--forward-to", "http://localhost:3000", "--secret", "sk_live_oops"}, "--secret: webhook: the secret does not start with whsec_"},
		{"sk_test", []string{"--secret", secret}, "--secret signs forwards; give --forward-to URL too"},
		{"sk_test", []string{"--since", "-1h"}, "--since -1h0m0s is negative"},
		{"sk_test", []string{"--interval", "0s"}, "--interval 0s must be more than zero"},
		{"wrong", nil, "the server refused the API key"},
	} {
		stderr, err := run(c.key, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("listen %v: error %v, want %q", c.args, err, c.want)
		}
		if strings.Contains(err.Error()+stderr, strings.TrimPrefix(secret, "whsec_")) {
			t.Errorf("listen %v: the given secret was printed", c.args)
		}
	}
	f.status = http.StatusNotFound
	if _, err := run("sk_test"); err == nil || !strings.Contains(err.Error(), "has no GET /v1/events") {
		t.Errorf("against a server without events: %v", err)
	}
}

// TestListenKeepsGoing: after the first poll, an error is printed and the
// next poll tries again.
func TestListenKeepsGoing(t *testing.T) {
	f := &fakeEvents{}
	l, out, _ := testListener(t, f, "")
	ctx, cancel := context.WithCancel(context.Background())
	f.onPoll = func(n int) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch n {
		case 2:
			f.status = http.StatusBadGateway
		case 3:
			f.status = 0
			f.events = append(f.events, map[string]any{"id": "evt_after", "type": "charge.succeeded",
				"createdAt": listenT0.Add(time.Second).Format(time.RFC3339Nano), "objectId": "chg_1", "sequence": 1})
		case 4:
			cancel()
		}
	}
	if err := l.run(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "502 Bad Gateway") || !strings.Contains(out.String(), "trying again in 1s") || !slices.Equal(eventIDs(out.String()), []string{"evt_after"}) {
		t.Errorf("output:\n%s", out)
	}
}
