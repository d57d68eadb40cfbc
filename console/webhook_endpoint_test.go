package console_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/engine"
)

// receiver is a merchant's webhook receiver: it records every delivery and
// answers with Status (200 unless set) and a body naming it.
type receiver struct {
	URL    string
	Status atomic.Int32
	mu     sync.Mutex
	got    []delivered
}

// delivered is one POST the receiver got.
type delivered struct {
	Header http.Header
	Body   []byte
}

func newReceiver(tb testing.TB) *receiver {
	tb.Helper()
	rc := &receiver{}
	rc.Status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, delivered{Header: r.Header.Clone(), Body: body})
		rc.mu.Unlock()
		status := int(rc.Status.Load())
		w.WriteHeader(status)
		io.WriteString(w, "receiver answered "+http.StatusText(status))
	}))
	tb.Cleanup(srv.Close)
	rc.URL = srv.URL + "/hooks"
	return rc
}

// waitFor waits until the receiver got n deliveries of event id, and
// returns them.
func (rc *receiver) waitFor(tb testing.TB, id string, n int) []delivered {
	tb.Helper()
	var got []delivered
	eventually(tb, 20*time.Second, func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		got = got[:0]
		for _, d := range rc.got {
			if d.Header.Get("webhook-id") == id {
				got = append(got, d)
			}
		}
		return len(got) >= n
	}, "receiver got %d deliveries of %s, want %d", func() []any { return []any{len(got), id, n} })
	return got
}

// eventually polls ok every 20 ms until it holds or the deadline passes,
// then fails with the message.
func eventually(tb testing.TB, within time.Duration, ok func() bool, format string, args func() []any) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: "+format, append([]any{within}, args()...)...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var secretRe = regexp.MustCompile(`id="secret" class="secret" value="(whsec_[^"]+)"`)

// shows reports whether page shows secret (html/template escapes its "+").
func shows(page, secret string) bool { return strings.Contains(html.UnescapeString(page), secret) }

// findSecret returns the secret a page shows, unescaped.
func findSecret(tb testing.TB, page string) string {
	tb.Helper()
	return html.UnescapeString(find(tb, secretRe, page))
}

func TestConsoleWebhookEndpoints(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	rc := newReceiver(t)
	b := newBrowser(t, s.URL)
	csrf := b.mustLogin()
	endpoints := func() []*autodebit.WebhookEndpoint {
		t.Helper()
		eps, _, err := s.Store.FindWebhookEndpoints(ctx, autodebit.WebhookEndpointFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return eps
	}

	t.Run("SessionRequired", func(t *testing.T) {
		nb := newBrowser(t, s.URL)
		for _, path := range []string{"/webhook-endpoints", "/webhook-endpoints/new", "/webhook-endpoints/we_x", "/events", "/events/evt_x"} {
			if status, _, h := nb.do("GET", path, nil); status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login?next=") {
				t.Errorf("GET %s: %d %s, want 303 to /login", path, status, h.Get("Location"))
			}
		}
		if status, _, _ := nb.do("POST", "/webhook-endpoints", url.Values{"url": {rc.URL}}); status != http.StatusUnauthorized {
			t.Errorf("POST without a session: %d, want 401", status)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		status, page, _ := b.do("GET", "/webhook-endpoints", nil)
		if status != http.StatusOK || !strings.Contains(page, "No webhook endpoints yet") || !strings.Contains(page, `href="/webhook-endpoints/new"`) {
			t.Fatalf("list: %d\n%s", status, page)
		}
		status, page, _ = b.do("GET", "/webhook-endpoints/new", nil)
		for _, want := range []string{`name="url"`, `value="charge.succeeded"`, `value="token.revoked"`, `value="refund.failed"`, `name="key" value="console_`} {
			if status != http.StatusOK || !strings.Contains(page, want) {
				t.Errorf("new endpoint form: %d, lacks %s", status, want)
			}
		}
	})

	t.Run("CreateBadInput", func(t *testing.T) {
		for name, c := range map[string]struct {
			form url.Values
			want string
		}{
			"NoURL":        {url.Values{"url": {""}}, "url is required"},
			"NotHTTP":      {url.Values{"url": {"ftp://shop.example/hooks"}}, "absolute http:// or https:// URL"},
			"Relative":     {url.Values{"url": {"/hooks"}}, "absolute http:// or https:// URL"},
			"UserInfo":     {url.Values{"url": {"https://me:pw@shop.example/hooks"}}, "must not hold a user name or password"},
			"UnknownType":  {url.Values{"url": {rc.URL}, "eventTypes": {"charge.succeeded", "charge.paid"}}, `event type &#34;charge.paid&#34; is not an event type`},
			"TypeTwice":    {url.Values{"url": {rc.URL}, "eventTypes": {"charge.failed", "charge.failed"}}, "lists &#34;charge.failed&#34; twice"},
			"Description":  {url.Values{"url": {rc.URL}, "description": {"bad\x01text"}}, "description must be printable"},
			"LongDescript": {url.Values{"url": {rc.URL}, "description": {strings.Repeat("d", 300)}}, "at most 256 characters"},
		} {
			c.form.Set("csrf", csrf)
			status, page, _ := b.do("POST", "/webhook-endpoints", c.form)
			if status != http.StatusBadRequest || !strings.Contains(page, c.want) {
				t.Errorf("%s: %d, want 400 with %q in\n%s", name, status, c.want, extract(page))
			}
			if strings.Contains(page, "whsec_") {
				t.Errorf("%s: the refused form shows a secret", name)
			}
			// The form keeps what was typed.
			if u := c.form.Get("url"); u != "" && !strings.Contains(page, `value="`+u+`"`) {
				t.Errorf("%s: the form lost the URL %q", name, u)
			}
		}
		if eps := endpoints(); len(eps) != 0 {
			t.Fatalf("bad input made %d endpoints", len(eps))
		}
	})

	var ep *autodebit.WebhookEndpoint
	var secret string
	if !t.Run("Create", func(t *testing.T) {
		form := url.Values{"csrf": {csrf}, "url": {rc.URL}, "eventTypes": {"charge.succeeded", "refund.succeeded"},
			"description": {"Order service"}, "key": {"console_create_1"}}
		status, page, hd := b.do("POST", "/webhook-endpoints", form)
		if status != http.StatusCreated {
			t.Fatalf("create: %d\n%s", status, extract(page))
		}
		// Never cached; the console's headers as everywhere.
		if hd.Get("Cache-Control") != "no-store" || !strings.Contains(hd.Get("Content-Security-Policy"), "default-src 'self'") ||
			hd.Get("X-Frame-Options") != "DENY" || hd.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("secret page headers: %v", hd)
		}
		secret = findSecret(t, page)
		for _, want := range []string{"you won't see it again", `data-copy="secret"`, rc.URL} {
			if !strings.Contains(page, want) {
				t.Errorf("secret page lacks %q", want)
			}
		}
		eps := endpoints()
		if len(eps) != 1 {
			t.Fatalf("%d endpoints, want 1", len(eps))
		}
		ep = eps[0]
		if ep.Secret != secret || ep.URL != rc.URL || ep.Description != "Order service" || !ep.Enabled ||
			strings.Join(ep.EventTypes, ",") != "charge.succeeded,refund.succeeded" {
			t.Fatalf("endpoint %v (secret shown = stored: %v)", ep, ep.Secret == secret)
		}

		// The same form sent again (a reload, a double click) makes no second
		// endpoint and does not show the secret again.
		status, page, h := b.do("POST", "/webhook-endpoints", form)
		if status != http.StatusSeeOther || h.Get("Location") != "/webhook-endpoints/"+ep.ID+"?notice=endpoint-replayed" {
			t.Fatalf("resubmitted form: %d %s\n%s", status, h.Get("Location"), extract(page))
		}
		_, page, _ = b.do("GET", h.Get("Location"), nil)
		if shows(page, secret) || !strings.Contains(page, "its secret shown then") {
			t.Errorf("the replayed form's page shows the secret, or no notice:\n%s", extract(page))
		}
		if n := len(endpoints()); n != 1 {
			t.Fatalf("resubmitted form: %d endpoints, want 1", n)
		}
	}) {
		return
	}

	t.Run("Pages", func(t *testing.T) {
		status, page, _ := b.do("GET", "/webhook-endpoints", nil)
		if status != http.StatusOK || !strings.Contains(page, `href="/webhook-endpoints/`+ep.ID+`"`) || !strings.Contains(page, "Order service") {
			t.Errorf("list: %d\n%s", status, page)
		}
		status, page, _ = b.do("GET", "/webhook-endpoints/"+ep.ID, nil)
		for _, want := range []string{rc.URL, "<code>charge.succeeded</code>, <code>refund.succeeded</code>", `id="endpoint-status">enabled`,
			`id="failing-since">—`, "Nothing has been sent to this endpoint yet.", "State: CREATED url=" + rc.URL, `id="disable-endpoint"`} {
			if status != http.StatusOK || !strings.Contains(page, want) {
				t.Errorf("endpoint page: %d, lacks %q", status, want)
			}
		}
		for _, path := range []string{"/webhook-endpoints", "/webhook-endpoints/" + ep.ID, "/webhook-endpoints/" + ep.ID + "/edit",
			"/webhook-endpoints/" + ep.ID + "/rotate", "/webhook-endpoints/" + ep.ID + "/delete"} {
			if _, page, _ := b.do("GET", path, nil); shows(page, secret) {
				t.Errorf("%s shows the secret", path)
			}
		}
		if status, page, _ := b.do("GET", "/webhook-endpoints/we_nope", nil); status != http.StatusNotFound || !strings.Contains(page, "not found") {
			t.Errorf("unknown endpoint: %d\n%s", status, extract(page))
		}
	})

	t.Run("Edit", func(t *testing.T) {
		status, page, _ := b.do("GET", "/webhook-endpoints/"+ep.ID+"/edit", nil)
		if status != http.StatusOK || !strings.Contains(page, `value="charge.succeeded" checked`) || strings.Contains(page, `value="charge.failed" checked`) ||
			!strings.Contains(page, `value="Order service"`) || strings.Contains(page, `name="key"`) {
			t.Fatalf("edit form: %d\n%s", status, page)
		}
		status, page, _ = b.do("POST", "/webhook-endpoints/"+ep.ID, url.Values{"csrf": {csrf}, "url": {"gopher://x"}, "eventTypes": {"charge.failed"}})
		if status != http.StatusBadRequest || !strings.Contains(page, "absolute http:// or https:// URL") || !strings.Contains(page, `value="charge.failed" checked`) {
			t.Errorf("bad edit: %d\n%s", status, extract(page))
		}
		if got, _ := s.Store.FindWebhookEndpointByID(ctx, ep.ID); got.URL != rc.URL || len(got.EventTypes) != 2 || got.Version != ep.Version {
			t.Fatalf("a refused edit changed the endpoint: %v", got)
		}
		// No box checked: every event type.
		status, _, h := b.do("POST", "/webhook-endpoints/"+ep.ID, url.Values{"csrf": {csrf}, "url": {rc.URL}, "description": {"Orders"}})
		if status != http.StatusSeeOther || h.Get("Location") != "/webhook-endpoints/"+ep.ID+"?notice=endpoint-saved" {
			t.Fatalf("edit: %d %s", status, h.Get("Location"))
		}
		got, _ := s.Store.FindWebhookEndpointByID(ctx, ep.ID)
		if got.Description != "Orders" || len(got.EventTypes) != 0 || got.Secret != secret {
			t.Fatalf("after the edit: %v %q", got, got.Description)
		}
		if _, page, _ = b.do("GET", h.Get("Location"), nil); !strings.Contains(page, `id="endpoint-types">all event types`) || !strings.Contains(page, `id="notice">Saved.`) {
			t.Errorf("endpoint page after the edit:\n%s", extract(page))
		}
	})

	t.Run("Rotate", func(t *testing.T) {
		rotate := "/webhook-endpoints/" + ep.ID + "/rotate"
		status, page, _ := b.do("GET", rotate, nil)
		if status != http.StatusOK || !strings.Contains(page, "Rotate the secret?") || !strings.Contains(page, "honoured for 24 hours") {
			t.Fatalf("rotate confirmation: %d\n%s", status, extract(page))
		}
		if status, page, _ = b.do("POST", rotate, url.Values{"csrf": {csrf}}); status != http.StatusBadRequest || !strings.Contains(page, "Confirm the rotation") {
			t.Errorf("rotate without confirm: %d\n%s", status, extract(page))
		}
		if got, _ := s.Store.FindWebhookEndpointByID(ctx, ep.ID); got.Secret != secret || got.PreviousSecret != "" {
			t.Fatalf("an unconfirmed rotation changed the secret")
		}
		if status, page, _ = b.do("POST", rotate, url.Values{"csrf": {csrf}, "confirm": {"yes"}, "rotation": {"yesterday"}}); status != http.StatusBadRequest {
			t.Errorf("rotate with a bad rotation field: %d\n%s", status, extract(page))
		}
		_, page, _ = b.do("GET", rotate, nil)
		confirm := url.Values{"csrf": {csrf}, "confirm": {"yes"}, "rotation": {find(t, regexp.MustCompile(`name="rotation" value="([^"]+)"`), page)}}
		if confirm.Get("rotation") != "never" {
			t.Fatalf("the confirmation of a first rotation names %q, want never", confirm.Get("rotation"))
		}
		status, page, _ = b.do("POST", rotate, confirm)
		if status != http.StatusOK {
			t.Fatalf("rotate: %d\n%s", status, extract(page))
		}
		fresh := findSecret(t, page)
		got, _ := s.Store.FindWebhookEndpointByID(ctx, ep.ID)
		if fresh == secret || got.Secret != fresh || got.PreviousSecret != secret {
			t.Fatalf("after the rotation the store holds new=%v old=%v; page showed a new one: %v", got.Secret == fresh, got.PreviousSecret == secret, fresh != secret)
		}
		if shows(page, secret) {
			t.Errorf("the rotation page shows the old secret")
		}
		for _, want := range []string{"you won't see it again", "old secret is still honoured for 24 hours", got.PreviousSecretExpiresAt.UTC().Format("2006-01-02 15:04:05 UTC")} {
			if !strings.Contains(page, want) {
				t.Errorf("rotation page lacks %q\n%s", want, page)
			}
		}
		_, page, _ = b.do("GET", "/webhook-endpoints/"+ep.ID, nil)
		if shows(page, fresh) || shows(page, secret) || !strings.Contains(page, "the previous secret also signs until") {
			t.Errorf("endpoint page after the rotation shows a secret, or not the overlap")
		}
		// The confirmation sent again (a reload) rotates nothing: a second
		// rotation would end the overlap of the secret the receiver uses.
		status, page, _ = b.do("POST", rotate, confirm)
		if status != http.StatusConflict || !strings.Contains(page, "was rotated again since this rotation was asked for") || shows(page, fresh) {
			t.Errorf("the rotation sent twice: %d\n%s", status, extract(page))
		}
		if again, _ := s.Store.FindWebhookEndpointByID(ctx, ep.ID); again.Secret != fresh || again.PreviousSecret != secret {
			t.Fatalf("the rotation sent twice rotated again")
		}
		// A new confirmation page names this rotation, and rotates.
		_, page, _ = b.do("GET", rotate, nil)
		if !strings.Contains(page, `name="rotation" value="`+got.PreviousSecretExpiresAt.UTC().Format(time.RFC3339Nano)+`"`) {
			t.Errorf("the confirmation after a rotation does not name it:\n%s", page)
		}
		secret = fresh
	})

	t.Run("DisableAndEnable", func(t *testing.T) {
		status, _, h := b.do("POST", "/webhook-endpoints/"+ep.ID+"/disable", url.Values{"csrf": {csrf}})
		if status != http.StatusSeeOther || h.Get("Location") != "/webhook-endpoints/"+ep.ID+"?notice=endpoint-disabled" {
			t.Fatalf("disable: %d %s", status, h.Get("Location"))
		}
		if got, _ := s.Store.FindWebhookEndpointByID(ctx, ep.ID); got.Enabled || got.DisabledReason != engine.DisabledByMerchant {
			t.Fatalf("after disable: enabled %v, reason %q", got.Enabled, got.DisabledReason)
		}
		_, page, _ := b.do("GET", h.Get("Location"), nil)
		for _, want := range []string{`<span class="badge disabled">disabled</span>`, `id="enable-endpoint"`, "nothing is sent to this endpoint until you enable it"} {
			if !strings.Contains(page, want) {
				t.Errorf("disabled endpoint's page lacks %q", want)
			}
		}
		if strings.Contains(page, `id="auto-disabled"`) {
			t.Errorf("an endpoint the merchant disabled is shown as disabled by autodebit")
		}
		status, _, h = b.do("POST", "/webhook-endpoints/"+ep.ID+"/enable", url.Values{"csrf": {csrf}})
		if status != http.StatusSeeOther || !strings.HasSuffix(h.Get("Location"), "notice=endpoint-enabled") {
			t.Fatalf("enable: %d %s", status, h.Get("Location"))
		}
		if got, _ := s.Store.FindWebhookEndpointByID(ctx, ep.ID); !got.Enabled || got.DisabledReason != "" {
			t.Fatalf("after enable: enabled %v, reason %q", got.Enabled, got.DisabledReason)
		}
		if status, page, _ := b.do("POST", "/webhook-endpoints/we_nope/disable", url.Values{"csrf": {csrf}}); status != http.StatusNotFound {
			t.Errorf("disable an unknown endpoint: %d\n%s", status, extract(page))
		}
	})

	t.Run("CSRF", func(t *testing.T) {
		before, _ := s.Store.FindWebhookEndpointByID(ctx, ep.ID)
		other := newBrowser(t, s.URL).mustLogin()
		id := ep.ID
		for name, token := range map[string][]string{"Missing": nil, "Wrong": {"x" + csrf}, "OtherSession": {other}} {
			for _, path := range []string{"/webhook-endpoints", "/webhook-endpoints/" + id, "/webhook-endpoints/" + id + "/disable",
				"/webhook-endpoints/" + id + "/enable", "/webhook-endpoints/" + id + "/rotate", "/webhook-endpoints/" + id + "/delete"} {
				form := url.Values{"url": {rc.URL + "/csrf"}, "confirm": {"yes"}, "rotation": {"never"}, "csrf": token}
				if status, page, _ := b.do("POST", path, form); status != http.StatusForbidden || strings.Contains(page, "whsec_") {
					t.Errorf("%s: POST %s: %d, want 403 without a secret", name, path, status)
				}
			}
		}
		after, err := s.Store.FindWebhookEndpointByID(ctx, ep.ID)
		if err != nil || after.Version != before.Version || after.Secret != before.Secret {
			t.Fatalf("refused forms changed the endpoint: %v %v", after, err)
		}
		if n := len(endpoints()); n != 1 {
			t.Fatalf("refused forms: %d endpoints, want 1", n)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		del := "/webhook-endpoints/" + ep.ID + "/delete"
		status, page, _ := b.do("GET", del, nil)
		if status != http.StatusOK || !strings.Contains(page, "Delete this endpoint?") || !strings.Contains(page, rc.URL) {
			t.Fatalf("delete confirmation: %d\n%s", status, extract(page))
		}
		if status, page, _ = b.do("POST", del, url.Values{"csrf": {csrf}}); status != http.StatusBadRequest || !strings.Contains(page, "Confirm the delete") {
			t.Errorf("delete without confirm: %d\n%s", status, extract(page))
		}
		if _, err := s.Store.FindWebhookEndpointByID(ctx, ep.ID); err != nil {
			t.Fatalf("an unconfirmed delete deleted: %v", err)
		}
		status, _, h := b.do("POST", del, url.Values{"csrf": {csrf}, "confirm": {"yes"}})
		if status != http.StatusSeeOther || h.Get("Location") != "/webhook-endpoints?notice=endpoint-deleted" {
			t.Fatalf("delete: %d %s", status, h.Get("Location"))
		}
		if _, err := s.Store.FindWebhookEndpointByID(ctx, ep.ID); autodebit.ErrorCode(err) != autodebit.ENOTFOUND {
			t.Fatalf("after delete: %v, want ENOTFOUND", err)
		}
		if _, page, _ = b.do("GET", h.Get("Location"), nil); !strings.Contains(page, "The webhook endpoint is deleted.") || !strings.Contains(page, "No webhook endpoints yet") {
			t.Errorf("list after delete:\n%s", extract(page))
		}
		if status, _, _ := b.do("GET", "/webhook-endpoints/"+ep.ID, nil); status != http.StatusNotFound {
			t.Errorf("deleted endpoint's page: %d, want 404", status)
		}
		if status, _, _ := b.do("POST", del, url.Values{"csrf": {csrf}, "confirm": {"yes"}}); status != http.StatusNotFound {
			t.Errorf("deleting again: %d, want 404", status)
		}
	})
}
