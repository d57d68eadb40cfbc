package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/engine"
	"github.com/autodebit/autodebit/webhook"
)

// mustCharge charges tok through the engine and returns its event.
func (s *stack) mustCharge(tb testing.TB, tok *autodebit.Token, value int64) (*autodebit.Charge, *autodebit.Event) {
	tb.Helper()
	ctx := context.Background()
	c, err := s.Engine.CreateCharge(ctx, engine.ChargeInput{TokenID: tok.ID, Amount: autodebit.Amount{Currency: "PHP", Value: value}})
	if err != nil {
		tb.Fatal(err)
	} else if c.Status != autodebit.ChargeSuccess {
		tb.Fatalf("charge %s is %s, want SUCCESS", c.ID, c.Status)
	}
	evs, _, err := s.Store.FindEvents(ctx, autodebit.EventFilter{ObjectID: c.ID})
	if err != nil {
		tb.Fatal(err)
	} else if len(evs) != 1 || evs[0].Type != autodebit.EventChargeSucceeded {
		tb.Fatalf("events of charge %s: %v, want one charge.succeeded", c.ID, evs)
	}
	return c, evs[0]
}

// waitDelivery waits until the delivery of event evID to endpoint epID has
// made attempts attempts and is in status, and returns it.
func (s *stack) waitDelivery(tb testing.TB, evID, epID string, attempts int, status autodebit.DeliveryStatus) *autodebit.Delivery {
	tb.Helper()
	var d *autodebit.Delivery
	eventually(tb, 20*time.Second, func() bool {
		ds, _, err := s.Store.FindDeliveries(context.Background(), autodebit.DeliveryFilter{EventID: evID, EndpointID: epID})
		if err != nil {
			tb.Fatal(err)
		}
		if len(ds) != 1 {
			return false
		}
		d = ds[0]
		as, err := s.Store.FindDeliveryAttempts(context.Background(), d.ID)
		if err != nil {
			tb.Fatal(err)
		}
		return d.Status == status && d.Attempts == attempts && len(as) == attempts && !as[len(as)-1].Open()
	}, "delivery of %s to %s: %+v, want %d attempts, %s", func() []any { return []any{evID, epID, d, attempts, status} })
	return d
}

func (s *stack) mustEndpoint(tb testing.TB, u string, types ...string) *autodebit.WebhookEndpoint {
	tb.Helper()
	ep, err := s.Engine.CreateWebhookEndpoint(context.Background(), engine.WebhookEndpointInput{URL: u, EventTypes: types})
	if err != nil {
		tb.Fatal(err)
	}
	return ep
}

func TestConsoleEvents(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	rc := newReceiver(t)
	tok := s.mustActiveToken(t, "cust_ev", "GCASH") // before any endpoint: its event goes nowhere
	ep := s.mustEndpoint(t, rc.URL)
	c, ev := s.mustCharge(t, tok, 1234)
	got := rc.waitFor(t, ev.ID, 1)
	if _, err := (&webhook.Verifier{Secrets: []string{ep.Secret}}).VerifyBody(got[0].Header, got[0].Body); err != nil {
		t.Fatalf("the delivery does not verify: %v", err)
	}
	s.waitDelivery(t, ev.ID, ep.ID, 1, autodebit.DeliveryDelivered)
	b := newBrowser(t, s.URL)
	csrf := b.mustLogin()
	authEvents, _, err := s.Store.FindEvents(ctx, autodebit.EventFilter{ObjectID: tok.AuthorizationID})
	if err != nil || len(authEvents) != 1 {
		t.Fatalf("events of %s: %v %v", tok.AuthorizationID, authEvents, err)
	}

	t.Run("List", func(t *testing.T) {
		status, page, _ := b.do("GET", "/events", nil)
		for _, want := range []string{`href="/events/` + ev.ID + `"`, `<a href="/charges/` + c.ID + `">` + c.ID + `</a>`,
			`href="/events/` + authEvents[0].ID + `"`, `<a href="/authorizations/` + tok.AuthorizationID + `">`, "<code>authorization.active</code>"} {
			if status != http.StatusOK || !strings.Contains(page, want) {
				t.Errorf("events: %d, lacks %q", status, want)
			}
		}
		if _, page, _ = b.do("GET", "/events?type=charge.succeeded", nil); !strings.Contains(page, ev.ID) || strings.Contains(page, authEvents[0].ID) ||
			!strings.Contains(page, "<option selected>charge.succeeded</option>") {
			t.Errorf("type filter:\n%s", page)
		}
		if _, page, _ = b.do("GET", "/events?object=+"+tok.AuthorizationID+"+", nil); strings.Contains(page, ev.ID) || !strings.Contains(page, authEvents[0].ID) {
			t.Errorf("object filter:\n%s", page)
		}
		if _, page, _ = b.do("GET", "/events?type=token.revoked", nil); strings.Contains(page, "evt_") || !strings.Contains(page, "No events match these filters") {
			t.Errorf("a filter matching nothing:\n%s", page)
		}
		status, page, _ = b.do("GET", "/events?type=charge.paid", nil)
		if status != http.StatusBadRequest || !strings.Contains(page, "&#34;charge.paid&#34; is not an event type") {
			t.Errorf("bad type: %d\n%s", status, extract(page))
		}
	})

	t.Run("Paging", func(t *testing.T) {
		obj := "tok_paging"
		var ids []string
		err := s.Store.WithTx(ctx, func(tx autodebit.Tx) error {
			for i := range 30 {
				e := &autodebit.Event{Type: autodebit.EventTokenExpired, ObjectID: obj, Data: []byte(`{"id":"tok_paging"}`),
					CreatedAt: time.Now().Add(time.Duration(i-60) * time.Second)}
				if err := tx.CreateEvent(ctx, e); err != nil {
					return err
				}
				ids = append(ids, e.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		_, page, _ := b.do("GET", "/events?object="+obj, nil)
		if !strings.Contains(page, "1–25 of 30") || !strings.Contains(page, ids[29]) || strings.Contains(page, ids[4]) ||
			!strings.Contains(page, `href="?object=tok_paging&amp;page=2" rel="next"`) {
			t.Fatalf("first page:\n%s", page)
		}
		_, page, _ = b.do("GET", "/events?object="+obj+"&page=2", nil)
		if !strings.Contains(page, "26–30 of 30") || !strings.Contains(page, ids[0]) || strings.Contains(page, ids[5]) || strings.Contains(page, `rel="next"`) {
			t.Fatalf("second page:\n%s", page)
		}
	})

	t.Run("Page", func(t *testing.T) {
		status, page, _ := b.do("GET", "/events/"+ev.ID, nil)
		payload := find(t, regexp.MustCompile(`(?s)<pre id="payload">(.*?)</pre>`), page)
		for _, want := range []string{`&#34;id&#34;: &#34;` + ev.ID + `&#34;`, `&#34;type&#34;: &#34;charge.succeeded&#34;`, `&#34;object&#34;: {`,
			`&#34;id&#34;: &#34;` + c.ID + `&#34;`, `&#34;sequence&#34;: 1`} {
			if !strings.Contains(payload, want) {
				t.Errorf("payload lacks %s:\n%s", want, payload)
			}
		}
		delivery := find(t, regexp.MustCompile(`(?s)(<section class="card delivery".*?</section>)`), page)
		for _, want := range []string{rc.URL, `<span class="badge delivered">delivered</span>`, "1 attempt ·", `<span class="badge rs-s">200</span>`,
			"receiver answered OK", " ms</td>", `<span class="result-ok">delivered</span>`} {
			if status != http.StatusOK || !strings.Contains(delivery, want) {
				t.Errorf("event page: %d, its delivery lacks %q:\n%s", status, want, delivery)
			}
		}
		for _, want := range []string{`<option value="` + ep.ID + `">` + rc.URL + `</option>`, `id="redeliver"`, `class="quiet redeliver-one"`,
			`<a href="/charges/` + c.ID + `" id="object-link">`} {
			if !strings.Contains(page, want) {
				t.Errorf("event page lacks %q", want)
			}
		}
		// An event sent nowhere says so.
		if _, page, _ = b.do("GET", "/events/"+authEvents[0].ID, nil); !strings.Contains(page, `id="no-deliveries"`) {
			t.Errorf("an event without deliveries:\n%s", extract(page))
		}
		if status, _, _ := b.do("GET", "/events/evt_nope", nil); status != http.StatusNotFound {
			t.Errorf("unknown event: %d, want 404", status)
		}
	})

	t.Run("ObjectPagesLinkTheirEvents", func(t *testing.T) {
		for _, c := range []struct{ path, want string }{
			{"/charges/" + c.ID, `href="/events?object=` + c.ID + `" id="object-events"`},
			{"/tokens/" + tok.ID, `href="/events?object=` + tok.ID + `" id="object-events"`},
			{"/tokens/" + tok.ID, `href="/events?object=` + tok.AuthorizationID + `"`},
			{"/authorizations/" + tok.AuthorizationID, `href="/events?object=` + tok.AuthorizationID + `" id="object-events"`},
			{"/events?object=" + c.ID, `<a href="/events/` + ev.ID + `">`},
			{"/events?object=" + tok.ID, "No events match these filters"},
		} {
			if _, page, _ := b.do("GET", c.path, nil); !strings.Contains(page, c.want) {
				t.Errorf("%s lacks %s", c.path, c.want)
			}
		}
	})

	t.Run("Redeliver", func(t *testing.T) {
		status, _, h := b.do("POST", "/events/"+ev.ID+"/redeliver", url.Values{"csrf": {csrf}})
		if status != http.StatusSeeOther || h.Get("Location") != "/events/"+ev.ID+"?notice=redelivered" {
			t.Fatalf("redeliver: %d %s", status, h.Get("Location"))
		}
		got := rc.waitFor(t, ev.ID, 2)
		if got[1].Header.Get("webhook-id") != ev.ID || string(got[1].Body) != string(got[0].Body) {
			t.Errorf("the redelivery is not the same event:\n%s\n%s", got[0].Body, got[1].Body)
		}
		s.waitDelivery(t, ev.ID, ep.ID, 2, autodebit.DeliveryDelivered)
		_, page, _ := b.do("GET", h.Get("Location"), nil)
		if !strings.Contains(page, "Redelivery queued") || !strings.Contains(page, "2 attempts ·") || !strings.Contains(page, `<td class="num">2</td>`) {
			t.Errorf("event page after the redelivery:\n%s", page)
		}
		// To one endpoint.
		status, _, h = b.do("POST", "/events/"+ev.ID+"/redeliver", url.Values{"csrf": {csrf}, "endpoint": {ep.ID}})
		if status != http.StatusSeeOther || h.Get("Location") != "/events/"+ev.ID+"?notice=redelivered" {
			t.Fatalf("redeliver to %s: %d %s", ep.ID, status, h.Get("Location"))
		}
		rc.waitFor(t, ev.ID, 3)
		s.waitDelivery(t, ev.ID, ep.ID, 3, autodebit.DeliveryDelivered)
	})

	t.Run("RedeliverBadInput", func(t *testing.T) {
		off := s.mustEndpoint(t, rc.URL+"/off")
		disabled := false
		if _, err := s.Engine.UpdateWebhookEndpoint(ctx, off.ID, engine.WebhookEndpointUpdate{Enabled: &disabled}); err != nil {
			t.Fatal(err)
		}
		only := s.mustEndpoint(t, rc.URL+"/refunds", "refund.succeeded")
		before, _, _ := s.Store.FindDeliveries(ctx, autodebit.DeliveryFilter{EventID: ev.ID})
		for name, c := range map[string]struct {
			endpoint string
			status   int
			want     string
		}{
			"Unknown":      {"we_nope", http.StatusNotFound, "not found"},
			"Disabled":     {off.ID, http.StatusBadRequest, "is disabled; enable it before redelivering"},
			"Unsubscribed": {only.ID, http.StatusBadRequest, "is not subscribed to charge.succeeded events"},
		} {
			status, page, _ := b.do("POST", "/events/"+ev.ID+"/redeliver", url.Values{"csrf": {csrf}, "endpoint": {c.endpoint}})
			if status != c.status || !strings.Contains(page, c.want) || !strings.Contains(page, `id="payload"`) {
				t.Errorf("%s: %d, want %d with %q on the event page:\n%s", name, status, c.status, c.want, extract(page))
			}
		}
		if status, _, _ := b.do("POST", "/events/evt_nope/redeliver", url.Values{"csrf": {csrf}}); status != http.StatusNotFound {
			t.Errorf("redeliver an unknown event: %d, want 404", status)
		}
		// Refused without the session's form token.
		for _, token := range [][]string{nil, {"x" + csrf}} {
			if status, _, _ := b.do("POST", "/events/"+ev.ID+"/redeliver", url.Values{"csrf": token}); status != http.StatusForbidden {
				t.Errorf("redeliver with csrf %v: %d, want 403", token, status)
			}
		}
		after, _, _ := s.Store.FindDeliveries(ctx, autodebit.DeliveryFilter{EventID: ev.ID})
		if fmt.Sprint(deliveryVersions(after)) != fmt.Sprint(deliveryVersions(before)) {
			t.Errorf("refused redeliveries changed the deliveries: %v, were %v", deliveryVersions(after), deliveryVersions(before))
		}
		// The event page offers only the endpoints a redelivery can go to.
		_, page, _ := b.do("GET", "/events/"+ev.ID, nil)
		if strings.Contains(page, `<option value="`+off.ID+`"`) || strings.Contains(page, `<option value="`+only.ID+`"`) {
			t.Errorf("the redeliver form offers a disabled or unsubscribed endpoint")
		}
	})

	t.Run("Failing", func(t *testing.T) {
		rc.Status.Store(http.StatusInternalServerError)
		if status, _, _ := b.do("POST", "/events/"+ev.ID+"/redeliver", url.Values{"csrf": {csrf}, "endpoint": {ep.ID}}); status != http.StatusSeeOther {
			t.Fatalf("redeliver: %d", status)
		}
		d := s.waitDelivery(t, ev.ID, ep.ID, 4, autodebit.DeliveryPending)
		if d.LastStatusCode != 500 {
			t.Fatalf("delivery %+v, want the last attempt's 500", d)
		}
		_, page, _ := b.do("GET", "/events/"+ev.ID, nil)
		delivery := find(t, regexp.MustCompile(`(?s)(<section class="card delivery" id="delivery-`+d.ID+`".*?</section>)`), page)
		for _, want := range []string{`<span class="badge pending">pending</span>`, "4 attempts · next", `<span class="badge rs-f">500</span>`,
			"HTTP 500 Internal Server Error", "receiver answered Internal Server Error"} {
			if !strings.Contains(delivery, want) {
				t.Errorf("failed attempt: the delivery lacks %q:\n%s", want, delivery)
			}
		}
		if strings.Contains(delivery, "redeliver-one") {
			t.Errorf("a pending delivery offers a redelivery to its endpoint")
		}
		status, page, _ := b.do("POST", "/events/"+ev.ID+"/redeliver", url.Values{"csrf": {csrf}, "endpoint": {ep.ID}})
		if status != http.StatusConflict || !strings.Contains(page, "is still pending; its next attempt is at") {
			t.Errorf("redeliver a pending delivery: %d\n%s", status, extract(page))
		}

		status, page, _ = b.do("GET", "/health", nil)
		failing := find(t, regexp.MustCompile(`(?s)(<table id="failing-endpoints">.*?</table>)`), page)
		for _, want := range []string{rc.URL, "HTTP 500 Internal Server Error"} {
			if status != http.StatusOK || !strings.Contains(failing, want) {
				t.Errorf("health: failing endpoints lack %q:\n%s", want, failing)
			}
		}
		if !strings.Contains(page, `id="pending-deliveries">1<`) || !strings.Contains(page, `id="oldest-undelivered">`) ||
			strings.Contains(page, `id="oldest-undelivered">—`) {
			t.Errorf("health: backlog figures:\n%s", find(t, regexp.MustCompile(`(?s)(<div class="stats" id="webhook-stats">.*?</div>\n</div>)`), page))
		}
		pending := find(t, regexp.MustCompile(`(?s)<h2>Pending webhook deliveries</h2>(.*?)<h2>`), page)
		if !strings.Contains(pending, `href="/events/`+ev.ID+`"`) || !strings.Contains(pending, `<code>HTTP 500</code>`) {
			t.Errorf("health: pending deliveries:\n%s", pending)
		}
		_, page, _ = b.do("GET", "/webhook-endpoints/"+ep.ID, nil)
		if !strings.Contains(page, `<span class="badge failing">failing</span>`) || strings.Contains(page, `id="failing-since">—`) ||
			!strings.Contains(page, "State: FAILING") {
			t.Errorf("endpoint page of a failing endpoint:\n%s", extract(page))
		}
	})
}

func deliveryVersions(ds []*autodebit.Delivery) map[string]int64 {
	out := map[string]int64{}
	for _, d := range ds {
		out[d.ID] = d.Version
	}
	return out
}

// TestConsoleWebhookHealth lets the engine disable an endpoint whose
// deliveries keep failing (after a millisecond here, five days by
// default) and checks that Health and the endpoint's page say so, with the
// timeline entry that did it.
func TestConsoleWebhookHealth(t *testing.T) {
	s := newStack(t, func(c *engine.Config) {
		c.WebhookRetryDelays = []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}
		c.WebhookDisableAfter = time.Millisecond
	})
	ctx := context.Background()
	rc := newReceiver(t)
	rc.Status.Store(http.StatusServiceUnavailable)
	ep := s.mustEndpoint(t, rc.URL, "charge.succeeded")
	tok := s.mustActiveToken(t, "cust_health", "GCASH")
	_, ev := s.mustCharge(t, tok, 500)
	s.waitDelivery(t, ev.ID, ep.ID, 2, autodebit.DeliveryFailed)
	got, err := s.Store.FindWebhookEndpointByID(ctx, ep.ID)
	if err != nil {
		t.Fatal(err)
	} else if got.Enabled || !strings.HasPrefix(got.DisabledReason, "Disabled by autodebit") {
		t.Fatalf("endpoint enabled %v, reason %q: want disabled by the engine", got.Enabled, got.DisabledReason)
	}

	b := newBrowser(t, s.URL)
	b.mustLogin()
	_, page, _ := b.do("GET", "/health", nil)
	disabled := find(t, regexp.MustCompile(`(?s)(<table id="disabled-endpoints">.*?</table>)`), page)
	for _, want := range []string{rc.URL, "<code>DISABLED: deliveries failed since " + got.FailingSince.UTC().Format(time.RFC3339) + "</code>", "Disabled by autodebit"} {
		if !strings.Contains(disabled, want) {
			t.Errorf("health: disabled endpoints lack %q:\n%s", want, disabled)
		}
	}
	if strings.Contains(page, `<table id="failing-endpoints">`) {
		t.Errorf("health lists a disabled endpoint as failing")
	}
	failed := find(t, regexp.MustCompile(`(?s)<h2>Recent failed webhook deliveries</h2>(.*?)</table>`), page)
	if !strings.Contains(failed, `href="/events/`+ev.ID+`"`) || !strings.Contains(failed, "The endpoint was disabled after failing too long") {
		t.Errorf("health: failed deliveries:\n%s", failed)
	}
	if !strings.Contains(page, `id="pending-deliveries">0<`) || !strings.Contains(page, `id="oldest-undelivered">—`) {
		t.Errorf("health: a backlog with nothing pending")
	}
	_, page, _ = b.do("GET", "/webhook-endpoints/"+ep.ID, nil)
	if !strings.Contains(page, `id="auto-disabled">Disabled by autodebit`) || !strings.Contains(page, `id="enable-endpoint"`) ||
		!strings.Contains(page, "State: DISABLED: deliveries failed since") {
		t.Errorf("endpoint page of an endpoint the engine disabled:\n%s", extract(page))
	}
}
