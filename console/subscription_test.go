package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/autodebit/autodebit"
)

var subscriptionPathRe = regexp.MustCompile(`^/subscriptions/(sub_[a-z0-9]+)\?notice=`)

// TestConsoleSubscriptions subscribes a token from its page, follows the
// subscription's page (schedule, each period's attempts, timeline), pauses,
// resumes and cancels it, and checks that bad input is shown on the form
// and changes nothing.
func TestConsoleSubscriptions(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	tok := s.mustActiveToken(t, "cust_sub", "GCASH")
	b := newBrowser(t, s.URL)
	csrf := b.mustLogin()

	_, page, _ := b.do("GET", "/tokens/"+tok.ID, nil)
	if !strings.Contains(page, `action="/tokens/`+tok.ID+`/subscriptions"`) || !strings.Contains(page, "No subscriptions.") {
		t.Fatalf("token page has no subscribe form:\n%s", extract(page))
	}
	form := func(kv ...string) url.Values {
		v := url.Values{"csrf": {csrf}, "key": {"k-" + time.Now().Format("150405.000000000")}, "interval": {"month"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, bad := range []struct {
		form []string
		want string
	}{
		{[]string{"amount", ""}, "Enter an amount in PHP"},
		{[]string{"amount", "15.00", "interval", "fortnight"}, "interval &#34;fortnight&#34; is not one of day, week, month or year"},
		{[]string{"amount", "15.00", "time_zone", "Nowhere/City"}, "Time zone &#34;Nowhere/City&#34; is not an IANA time zone name"},
		{[]string{"amount", "15.00", "retries", "24h, later"}, "retrySchedule[1] &#34;later&#34; is not a duration"},
		{[]string{"amount", "15.00", "interval_count", "two"}, "Every must be a whole number."},
		{[]string{"amount", "15.00", "start", "tomorrow"}, "First charge must be a date and time"},
		{[]string{"amount", "15.123"}, "PHP has 2 decimal places"},
	} {
		status, page, _ := b.do("POST", "/tokens/"+tok.ID+"/subscriptions", form(bad.form...))
		if status != http.StatusBadRequest || !strings.Contains(page, `id="subscribe-error"`) || !strings.Contains(page, bad.want) {
			t.Errorf("subscribe %v: %d, want 400 with %q on the form:\n%s", bad.form, status, bad.want, extract(page))
		}
	}
	if _, n, _ := s.Store.FindSubscriptions(ctx, autodebit.SubscriptionFilter{}); n != 0 {
		t.Fatalf("bad input made %d subscriptions", n)
	}

	status, _, h := b.do("POST", "/tokens/"+tok.ID+"/subscriptions", form("amount", "15.00", "cycles", "3", "retries", "6h, 1d", "description", "Gym"))
	m := subscriptionPathRe.FindStringSubmatch(h.Get("Location"))
	if status != http.StatusSeeOther || m == nil {
		t.Fatalf("subscribe: %d %s", status, h.Get("Location"))
	}
	id := m[1]
	// The first period is charged at once; wait until it is paid.
	deadline := time.Now().Add(15 * time.Second)
	for {
		sub, err := s.Store.FindSubscriptionByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if sub.CyclesCompleted == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("period 1 not paid after 15s: %+v", sub)
		}
		time.Sleep(50 * time.Millisecond)
	}
	status, page, _ = b.do("GET", h.Get("Location"), nil)
	for _, want := range []string{"Subscribed.", "PHP 15.00 every month", "Gym", "6h, 24h", `class="badge period-paid"`, `class="badge period-upcoming"`,
		"Paid periods</dt><dd>1 of 3", "RENEWAL of period 1"} {
		if status != http.StatusOK || !strings.Contains(page, want) {
			t.Errorf("subscription page: %d, no %q:\n%s", status, want, extract(page))
		}
	}
	if n := strings.Count(page, `<tr class="current">`) + strings.Count(page, "<tr><td>"); n < 3 {
		t.Errorf("the schedule shows %d periods, want the 3 of the subscription:\n%s", n, extract(page))
	}
	// Pause and resume, each saying what it did.
	if status, _, h := b.do("POST", "/subscriptions/"+id+"/pause", url.Values{"csrf": {csrf}}); status != http.StatusSeeOther || !strings.HasSuffix(h.Get("Location"), "notice=paused") {
		t.Fatalf("pause: %d %s", status, h.Get("Location"))
	}
	if _, page, _ := b.do("GET", "/subscriptions/"+id+"?notice=paused", nil); !strings.Contains(page, "Paused: nothing is charged") ||
		!strings.Contains(page, `action="/subscriptions/`+id+`/resume"`) {
		t.Fatalf("paused page:\n%s", extract(page))
	}
	if status, _, _ := b.do("POST", "/subscriptions/"+id+"/resume", url.Values{"csrf": {csrf}}); status != http.StatusSeeOther {
		t.Fatalf("resume: %d", status)
	}
	// Cancel asks first, keeps the reason, then offers no action.
	if _, page, _ := b.do("GET", "/subscriptions/"+id+"/cancel", nil); !strings.Contains(page, "Cancel this subscription?") {
		t.Fatalf("cancel page:\n%s", extract(page))
	}
	if status, _, _ := b.do("POST", "/subscriptions/"+id+"/cancel", url.Values{"csrf": {csrf}, "reason": {"moved"}}); status != http.StatusBadRequest {
		t.Fatalf("cancel without the confirmation: %d, want 400", status)
	}
	if status, _, _ := b.do("POST", "/subscriptions/"+id+"/cancel", url.Values{"csrf": {csrf}, "confirm": {"yes"}, "reason": {"moved away"}}); status != http.StatusSeeOther {
		t.Fatalf("cancel: %d", status)
	}
	_, page, _ = b.do("GET", "/subscriptions/"+id, nil)
	if !strings.Contains(page, "moved away") || strings.Contains(page, "/pause") || strings.Contains(page, "Cancel…") {
		t.Fatalf("cancelled page:\n%s", extract(page))
	}
	// A refused action shows the engine's sentence on the page.
	status, page, _ = b.do("POST", "/subscriptions/"+id+"/pause", url.Values{"csrf": {csrf}})
	if status != http.StatusConflict || !strings.Contains(page, "is cancelled and cannot be paused") {
		t.Fatalf("pause a cancelled subscription: %d\n%s", status, extract(page))
	}
	// The list, its filters, and the token's page.
	for path, want := range map[string]bool{"/subscriptions": true, "/subscriptions?status=cancelled": true, "/subscriptions?status=active": false,
		"/subscriptions?customer=cust_sub": true, "/subscriptions?token=" + tok.ID: true} {
		_, page, _ := b.do("GET", path, nil)
		if strings.Contains(page, id) != want {
			t.Errorf("GET %s lists %s: %v, want %v", path, id, !want, want)
		}
	}
	if _, page, _ := b.do("GET", "/subscriptions?status=overdue", nil); !strings.Contains(page, "Pick a status from the list.") {
		t.Errorf("an unknown status filter is not explained")
	}
	if _, page, _ := b.do("GET", "/tokens/"+tok.ID, nil); !strings.Contains(page, id) {
		t.Errorf("the token's page does not list its subscription")
	}
	charges, _, _ := s.Store.FindCharges(ctx, autodebit.ChargeFilter{SubscriptionID: id})
	if len(charges) != 1 {
		t.Fatalf("%d charges, want 1", len(charges))
	}
	if _, page, _ := b.do("GET", "/charges/"+charges[0].ID, nil); !strings.Contains(page, `href="/subscriptions/`+id+`"`) || !strings.Contains(page, "period 1") {
		t.Errorf("the charge page does not name its subscription period:\n%s", extract(page))
	}
	if status, _, _ := b.do("GET", "/subscriptions/sub_nope", nil); status != http.StatusNotFound {
		t.Errorf("unknown subscription: %d", status)
	}
}

// TestBrowserSubscriptions subscribes from a token's page in Chromium at a
// phone's width and a desktop's, and pauses and resumes on the
// subscription's page: every page fits the window.
func TestBrowserSubscriptions(t *testing.T) {
	ctx := newChrome(t)
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			s := newStack(t)
			tok := s.mustActiveToken(t, "cust_browser_sub", "GCASH")
			tab := newTab(t, ctx, "console", vp.width, vp.height, true)
			tab.run("log in",
				chromedp.Navigate(s.URL+"/tokens/"+tok.ID),
				chromedp.WaitVisible(chromedp.CSS(`#apiKey`)),
				chromedp.SetValue(chromedp.CSS(`#apiKey`), apiKey),
				chromedp.Submit(chromedp.CSS(`#apiKey`)),
				waitText(`h1`, "cust_browser_sub"),
			)
			tab.run("subscribe on the token's page",
				chromedp.WaitVisible(chromedp.CSS(`#sub-amount`)),
				fits(vp.width),
				chromedp.SendKeys(chromedp.CSS(`#sub-amount`), "15.00"),
				chromedp.SetValue(chromedp.CSS(`#sub-interval`), "week"),
				chromedp.SendKeys(chromedp.CSS(`#sub-cycles`), "4"),
				chromedp.Click(chromedp.CSS(`#subscribe button[type=submit]`)),
				waitText(`h1`, "every week"),
				waitText(`#notice`, "Subscribed."),
				fits(vp.width),
			)
			tab.run("pause and resume",
				chromedp.Click(chromedp.CSS(`form[action$="/pause"] button`)),
				waitText(`#notice`, "Paused"),
				chromedp.Click(chromedp.CSS(`form[action$="/resume"] button`)),
				waitText(`#notice`, "Resumed"),
				fits(vp.width),
			)
			tab.run("the list",
				chromedp.Click(chromedp.CSS(`header nav a[href="/subscriptions"]`)),
				waitText(`h1`, "Subscriptions"),
				waitText(`table.subscriptions`, "cust_browser_sub"),
				fits(vp.width),
			)
		})
	}
}
