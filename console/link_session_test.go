package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
)

// TestConsole_SendALink: "Send a link" makes a session and shows its URL
// with a copy button and a QR code; bad input changes nothing; the
// customer's links are listed; a link can be cancelled.
func TestConsole_SendALink(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	b := newBrowser(t, s.URL)
	csrf := b.mustLogin()

	if status, page, _ := b.do("GET", "/tokens?customer=cus_send", nil); status != 200 || !strings.Contains(page, `href="/link-sessions?customer=cus_send" class="button" id="send-link">Send cus_send a link</a>`) {
		t.Fatalf("tokens page of a customer: %d\n%s", status, page)
	}
	if status, page, _ := b.do("GET", "/link-sessions?customer=cus_send", nil); status != 200 || !strings.Contains(page, `id="send-link"`) ||
		!strings.Contains(page, `value="cus_send"`) || !strings.Contains(page, "No links for cus_send yet.") {
		t.Fatalf("send-a-link page: %d\n%s", status, page)
	}

	for _, c := range []struct {
		name string
		form url.Values
		want string
	}{
		{"NoCustomer", url.Values{"customerId": {" "}}, "Enter the customer ID"},
		{"UnknownWallet", url.Values{"customerId": {"cus_send"}, "wallet": {"PAYPAL"}}, "not a Scan to Link wallet"},
		{"OtherHost", url.Values{"customerId": {"cus_send"}, "returnUrl": {"https://evil.example/"}}, "--link-return-hosts"},
		{"RelativeReturn", url.Values{"customerId": {"cus_send"}, "returnUrl": {"/linked"}}, "absolute http:// or https:// URL"},
		{"BadLifetime", url.Values{"customerId": {"cus_send"}, "lifetime": {"forever"}}, "how long the link works"},
		{"LongLifetime", url.Values{"customerId": {"cus_send"}, "lifetime": {"48h"}}, "from 1m to 24h"},
		{"BadLocale", url.Values{"customerId": {"cus_send"}, "locale": {"fr"}}, "is not one of en, zh"},
	} {
		c.form.Set("csrf", csrf)
		status, page, _ := b.do("POST", "/link-sessions", c.form)
		if status != http.StatusBadRequest || !strings.Contains(page, c.want) {
			t.Errorf("%s: %d, want 400 with %q in\n%s", c.name, status, c.want, extract(page))
		}
	}
	if status, _, _ := b.do("POST", "/link-sessions", url.Values{"customerId": {"cus_send"}}); status != http.StatusForbidden {
		t.Errorf("without the form token: %d, want 403", status)
	}
	if _, n, _ := s.Store.FindLinkSessions(ctx, autodebit.LinkSessionFilter{}); n != 0 {
		t.Fatalf("bad input made %d sessions", n)
	}

	form := url.Values{"csrf": {csrf}, "customerId": {"cus_send"}, "wallet": {"GCASH"}, "lifetime": {"4h"}, "locale": {"tl"}, "key": {"send-1"}}
	status, _, h := b.do("POST", "/link-sessions", form)
	loc := h.Get("Location")
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/link-sessions/ls_") || !strings.HasSuffix(loc, "?notice=sent") {
		t.Fatalf("send: %d %s", status, loc)
	}
	if _, _, h := b.do("POST", "/link-sessions", form); h.Get("Location") != loc { // a double click
		t.Fatalf("the same form again went to %s, want %s", h.Get("Location"), loc)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(loc, "/link-sessions/"), "?notice=sent")
	ls, err := s.Store.FindLinkSessionByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ls.CustomerID != "cus_send" || ls.Wallet != "GCASH" || ls.Locale != "tl" || !ls.ExpiresAt.Equal(ls.CreatedAt.Add(4*time.Hour)) ||
		ls.ReturnURL != s.URL+"/link/done" {
		t.Fatalf("session %+v", ls)
	}
	status, page, _ := b.do("GET", loc, nil)
	if status != 200 || !strings.Contains(page, `<input id="link-url" value="`+s.Engine.LinkSessionURL(ls)+`" readonly`) ||
		!strings.Contains(page, `data-copy="link-url"`) || !strings.Contains(page, `<img src="data:image/png;base64,`) ||
		!strings.Contains(page, "Link made. Send it to the buyer") || !strings.Contains(page, "The buyer has not opened the link yet.") {
		t.Fatalf("session page: %d\n%s", status, page)
	}
	if status, page, _ := b.do("GET", "/link-sessions?customer=cus_send", nil); status != 200 || !strings.Contains(page, `<a href="/link-sessions/`+id+`">`) {
		t.Fatalf("the customer's links: %d\n%s", status, page)
	}

	status, _, h = b.do("POST", "/link-sessions/"+id+"/cancel", url.Values{"csrf": {csrf}})
	if status != http.StatusSeeOther || h.Get("Location") != "/link-sessions/"+id+"?notice=cancelled" {
		t.Fatalf("cancel: %d %s", status, h.Get("Location"))
	}
	if status, page, _ := b.do("GET", h.Get("Location"), nil); status != 200 || !strings.Contains(page, "The link is cancelled") ||
		strings.Contains(page, `id="cancel-link"`) || strings.Contains(page, `id="link-qr"`) {
		t.Fatalf("cancelled session page: %d\n%s", status, page)
	}
	if got, _ := s.Store.FindLinkSessionByID(ctx, id); got.Status != autodebit.LinkSessionCancelled {
		t.Fatalf("session %s", got.Status)
	}
	if status, _, _ := b.do("GET", "/link-sessions/ls_nope", nil); status != http.StatusNotFound {
		t.Fatalf("unknown session: %d", status)
	}
}
