package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian's chromium package puts the browser
// (scripts/deps.sh installs it). $AUTODEBIT_CHROMIUM names another place.
const chromiumPath = "/usr/bin/chromium"

// inCI reports whether the tests run under CI ($CI set, as CI services set
// it to "true"), where a browser test that cannot run must fail, not skip.
func inCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// newChrome starts headless Chromium with a fresh profile. Under CI a
// missing Chromium fails the test; elsewhere it skips it.
func newChrome(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath
	if p := os.Getenv("AUTODEBIT_CHROMIUM"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		if p, err := exec.LookPath("chromium"); err == nil {
			path = p
		} else if inCI() {
			t.Fatalf("Chromium is not installed at %s (CI=%s): run scripts/deps.sh", path, os.Getenv("CI"))
		} else {
			t.Skipf("Chromium is not installed at %s; run scripts/deps.sh (as root) to run the browser tests", path)
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser now
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// tab is one browser tab that saves a screenshot when a step fails (and of
// every step when AUTODEBIT_SCREENSHOTS_ALL is set).
type tab struct {
	t    *testing.T
	ctx  context.Context
	name string
}

// screenshotDir is $AUTODEBIT_SCREENSHOTS, or testdata/screenshots-failed
// (gitignored): t.TempDir would be gone after the test.
func screenshotDir() string {
	if d := os.Getenv("AUTODEBIT_SCREENSHOTS"); d != "" {
		return d
	}
	return filepath.Join("testdata", "screenshots-failed")
}

func (tb *tab) screenshot(step string) string {
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	}
	if err != nil {
		tb.t.Logf("screenshot of %s: %v", step, err)
		return ""
	}
	dir := screenshotDir()
	os.MkdirAll(dir, 0o755)
	name := regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(tb.t.Name()+"-"+tb.name+"-"+step, "_")
	path, _ := filepath.Abs(filepath.Join(dir, name+".png"))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Logf("screenshot of %s: %v", step, err)
		return ""
	}
	return path
}

// run runs one step; on failure it saves a screenshot and fails the test.
func (tb *tab) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		path := tb.screenshot(step)
		lctx, lcancel := context.WithTimeout(tb.ctx, 5*time.Second)
		url, _ := chromedp.Run(lctx, chromedp.Location())
		lcancel()
		tb.t.Fatalf("%s tab, step %q at %s: %v\nscreenshot: %s", tb.name, step, url, err, path)
	}
	if os.Getenv("AUTODEBIT_SCREENSHOTS_ALL") != "" {
		tb.t.Logf("screenshot: %s", tb.screenshot(step))
	}
}

// waitText waits until the element's text contains want. It evaluates
// again after errors, since a page may be navigating meanwhile.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return waitTrue(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.includes(%q); })()`, sel, want))
}

// waitTrue waits until the JavaScript expression is true, evaluating it
// again after errors.
func waitTrue(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		var last error
		for {
			ok, err := chromedp.Evaluate[bool](expr)(ctx, t)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			if err != nil {
				last = err
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, fmt.Errorf("wait for %s: %w (last error: %v)", expr, ctx.Err(), last)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// TestBrowserNeedsChromiumUnderCI runs TestBrowser in a child process
// under CI=true with no Chromium to be found: it must fail, not skip, so that
// CI never passes without the browser test.
func TestBrowserNeedsChromiumUnderCI(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBrowser$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "CI=true", "AUTODEBIT_CHROMIUM=/nonexistent/chromium", "PATH="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("TestBrowser passed with no Chromium under CI=true:\n%s", out)
	}
	if !strings.Contains(string(out), "--- FAIL: TestBrowser") || !strings.Contains(string(out), "Chromium is not installed at /nonexistent/chromium (CI=true)") ||
		strings.Contains(string(out), "--- SKIP") {
		t.Fatalf("TestBrowser with no Chromium under CI=true: %v, want a failure naming the missing Chromium:\n%s", err, out)
	}
}

// viewports are the window sizes the console is checked at: a phone
// (iPhone 12 to 15) and a laptop.
var viewports = []struct {
	name          string
	width, height int64
}{
	{"phone", 390, 844},
	{"desktop", 1280, 800},
}

// TestBrowser drives the console and the simulator's wallet page in real
// Chromium, at a phone's width and a desktop's: log in, follow the pointer
// to Link a wallet, link one by approving the QR in a second tab, watch the
// status reach ACTIVE, charge, see SUCCESS, refund after the confirmation;
// then add a webhook endpoint, copy its secret (shown once), rotate it,
// redeliver the charge's event to it, and disable it.
// On every page the body must fit the window (no sideways scrolling: wide
// tables scroll in their own box) and the elements that matter must show.
func TestBrowser(t *testing.T) {
	ctx := newChrome(t)
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			start := time.Now()
			browserFlow(t, ctx, vp.width, vp.height)
			t.Logf("browser flow at %dx%d took %s", vp.width, vp.height, time.Since(start).Round(time.Millisecond))
		})
	}
}

// newTab opens a tab of width×height in the browser of ctx. With isolated
// set it gets a browser context of its own (no cookies of other tests).
func newTab(t *testing.T, ctx context.Context, name string, width, height int64, isolated bool) *tab {
	t.Helper()
	var opts []chromedp.ContextOption
	if isolated {
		opts = append(opts, chromedp.WithNewBrowserContext())
	}
	tctx, cancel := chromedp.NewContext(ctx, opts...)
	t.Cleanup(cancel)
	if err := chromedp.Do(tctx); err != nil { // open the tab with no timeout: a timeout would close it
		t.Fatalf("open the %s tab: %v", name, err)
	}
	tb := &tab{t: t, ctx: tctx, name: name}
	tb.run("set the window to "+fmt.Sprint(width, "x", height), chromedp.EmulateViewport(width, height))
	return tb
}

func browserFlow(t *testing.T, ctx context.Context, width, height int64) {
	s := newStack(t)
	console := newTab(t, ctx, "console", width, height, true)

	console.run("login page",
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#apiKey`)),
		fits(width),
		chromedp.SendKeys(chromedp.CSS(`#apiKey`), "not-the-key"),
		chromedp.Submit(chromedp.CSS(`#apiKey`)),
		waitText(`#login-error`, "not right"),
		fits(width),
	)
	console.run("login: nothing linked yet, pointed to Link a wallet",
		chromedp.SetValue(chromedp.CSS(`#apiKey`), apiKey),
		chromedp.Submit(chromedp.CSS(`#apiKey`)),
		waitText(`h1`, "Charges"),
		waitText(`#start`, "Nothing is linked yet"),
		chromedp.WaitVisible(chromedp.CSS(`#start-link`)),
		chromedp.WaitVisible(chromedp.CSS(`header nav a[href="/tokens"]`)),
		fits(width),
		chromedp.Click(chromedp.CSS(`#start-link`)),
		waitText(`h1`, "Link a wallet"),
	)

	var qrAttr chromedp.AttributeResult
	console.run("link form",
		chromedp.WaitVisible(chromedp.CSS(`#customerId`)),
		fits(width),
		chromedp.SendKeys(chromedp.CSS(`#customerId`), "cust_browser"),
		chromedp.Click(chromedp.CSS(`input[name=wallet][value=GCASH]`)),
		chromedp.Click(chromedp.CSS(`form[action="/link"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#auth-status`)),
		waitText(`#status-badge`, "PENDING"),
		chromedp.WaitVisible(chromedp.CSS(`.qr-card img`)),
		chromedp.WaitVisible(chromedp.CSS(`#qr-link`)),
		fits(width),
		into(chromedp.AttributeValue(chromedp.CSS(`#qr-link`), "href"), &qrAttr),
	)
	qrURL := qrAttr.Value
	if !strings.HasPrefix(qrURL, "http") {
		t.Fatalf("QR link %q", qrURL)
	}

	// The buyer: the QR URL in a second tab, approve on the wallet page.
	wallet := newTab(t, console.ctx, "wallet", width, height, false)
	wallet.run("wallet page",
		chromedp.Navigate(qrURL),
		chromedp.WaitVisible(chromedp.CSS(`button[value=approve]`)),
		waitText(`#req`, "Link your GCash account?"),
		waitText(`#merchant`, "Merchant "+s.Sim.ClientID()),
		waitText(`legend`, "Account to link"),
		fits(width),
	)
	wallet.run("approve",
		chromedp.Click(chromedp.CSS(`button[value=approve]`)),
		waitText(`body`, "Linked"),
		fits(width),
	)

	var tokenAttr chromedp.AttributeResult
	console.run("status reaches ACTIVE",
		waitText(`#status-badge`, "ACTIVE"),
		chromedp.WaitVisible(chromedp.CSS(`#token-link`)),
		fits(width),
		into(chromedp.AttributeValue(chromedp.CSS(`#token-link`), "href"), &tokenAttr),
	)
	tokenHref := tokenAttr.Value
	if !strings.HasPrefix(tokenHref, "/tokens/tok_") {
		t.Fatalf("token link %q", tokenHref)
	}

	console.run("token page",
		chromedp.Click(chromedp.CSS(`#token-link`)),
		chromedp.WaitVisible(chromedp.CSS(`#amount`)),
		waitText(`.timeline`, "→ Antom applyToken"),
		chromedp.WaitVisible(chromedp.CSS(`.timeline`)),
		fits(width),
	)
	console.run("charge",
		chromedp.SendKeys(chromedp.CSS(`#amount`), "12.34"),
		chromedp.SendKeys(chromedp.CSS(`#description`), "Monthly plan"),
		chromedp.Submit(chromedp.CSS(`#amount`)),
		waitText(`h1`, "PHP 12.34"),
		waitText(`h1 .badge`, "SUCCESS"),
		waitText(`#notice`, "Charged PHP 12.34."),
		waitText(`.timeline`, "→ Antom pay"),
		chromedp.WaitVisible(chromedp.CSS(`#refund-amount`)),
		fits(width),
	)

	console.run("refund asks for a confirmation",
		chromedp.SendKeys(chromedp.CSS(`#refund-amount`), "2.34"),
		chromedp.SendKeys(chromedp.CSS(`#refund-reason`), "partial return"),
		chromedp.Submit(chromedp.CSS(`#refund-amount`)),
		waitText(`h1`, "Refund PHP 2.34?"),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-refund`)),
		fits(width),
	)
	console.run("refund",
		chromedp.Click(chromedp.CSS(`#confirm-refund`)),
		waitText(`#notice`, "Refunded PHP 2.34."),
		waitText(`#refunds`, "PHP 2.34"),
		waitText(`#refunds`, "SUCCESS"),
		waitText(`.facts`, "PHP 2.34"), // refunded so far
		chromedp.WaitVisible(chromedp.CSS(`#refunds`)),
		fits(width),
	)

	console.run("health", chromedp.Navigate(s.URL+"/health"), waitText(`h1`, "Health"), chromedp.WaitVisible(chromedp.CSS(`.stats`)), fits(width))
	console.run("tokens", chromedp.Navigate(s.URL+"/tokens"), waitText(`table`, "cust_browser"), chromedp.WaitVisible(chromedp.CSS(`table`)), fits(width))
	console.run("charges", chromedp.Navigate(s.URL+"/charges?status=SUCCESS"), waitText(`table`, "PHP 12.34"), chromedp.WaitVisible(chromedp.CSS(`table`)), fits(width))
	console.run("link page with an attempt", chromedp.Navigate(s.URL+"/link"), waitText(`table`, "cust_browser"), fits(width))
	console.run("bad amount",
		chromedp.Navigate(s.URL+tokenHref),
		chromedp.SendKeys(chromedp.CSS(`#amount`), "12.345"),
		chromedp.Submit(chromedp.CSS(`#amount`)),
		waitText(`#charge-error`, "PHP has 2 decimal places"),
		fits(width),
	)
	webhookFlow(t, console, s, width)
}

// webhookFlow adds a webhook endpoint, sees its secret once and copies it,
// rotates the secret, redelivers the charge's event to the endpoint and
// sees the attempt, then disables the endpoint.
func webhookFlow(t *testing.T, console *tab, s *stack, width int64) {
	rc := newReceiver(t)
	console.run("webhook endpoints: none yet",
		chromedp.Navigate(s.URL+"/charges"),
		chromedp.Click(chromedp.CSS(`header nav a[href="/webhook-endpoints"]`)),
		waitText(`h1`, "Webhook endpoints"),
		waitText(`.empty`, "No webhook endpoints yet"),
		fits(width),
	)
	console.run("add an endpoint: bad URL",
		chromedp.Click(chromedp.CSS(`#add-endpoint`)),
		waitText(`h1`, "Add a webhook endpoint"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=eventTypes][value="charge.succeeded"]`)),
		fits(width),
		// type=url lets the browser check the form; the engine's own check
		// is what a URL it accepts but the engine refuses meets.
		chromedp.SendKeys(chromedp.CSS(`#url`), "https://me:secret@shop.example/hooks"),
		chromedp.Click(chromedp.CSS(`#endpoint-form button[type=submit]`)),
		waitText(`#endpoint-error`, "must not hold a user name or password"),
		fits(width),
	)
	var secret, rotated string
	console.run("add an endpoint: the secret, once",
		chromedp.SetValue(chromedp.CSS(`#url`), rc.URL),
		chromedp.Click(chromedp.CSS(`input[name=eventTypes][value="charge.succeeded"]`)),
		chromedp.SendKeys(chromedp.CSS(`#description`), "Browser test"),
		chromedp.Click(chromedp.CSS(`#endpoint-form button[type=submit]`)),
		waitText(`h1`, "Endpoint added"),
		waitText(`#secret-once`, "you won't see it again"),
		chromedp.WaitVisible(chromedp.CSS(`#copy-secret`)), // shown by console.js
		into(chromedp.Value(chromedp.CSS(`#secret`)), &secret),
		chromedp.Click(chromedp.CSS(`#copy-secret`)),
		waitText(`#copy-status`, "Copied to the clipboard."),
		fits(width),
	)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the secret shown is %q", secret)
	}
	console.run("endpoint page: no secret",
		chromedp.Click(chromedp.CSS(`#done`)),
		waitText(`#endpoint-url`, rc.URL),
		waitText(`#endpoint-types`, "charge.succeeded"),
		waitText(`#endpoint-status`, "enabled"),
		notInPage(secret),
		fits(width),
	)
	console.run("rotate the secret",
		chromedp.Click(chromedp.CSS(`#rotate-link`)),
		waitText(`h1`, "Rotate the secret?"),
		fits(width),
		chromedp.Click(chromedp.CSS(`#confirm-rotate`)),
		waitText(`h1`, "New signing secret"),
		waitText(`#overlap`, "The old secret is still honoured for 24 hours"),
		into(chromedp.Value(chromedp.CSS(`#secret`)), &rotated),
		notInPage(secret),
		fits(width),
	)
	if !strings.HasPrefix(rotated, "whsec_") || rotated == secret {
		t.Fatalf("the rotated secret is %q (the old one %q)", rotated, secret)
	}
	eps, _, err := s.Store.FindWebhookEndpoints(context.Background(), autodebit.WebhookEndpointFilter{})
	if err != nil {
		t.Fatal(err)
	} else if len(eps) != 1 || eps[0].Secret != rotated || eps[0].PreviousSecret != secret {
		t.Fatalf("%d endpoints; the store's secrets are not the ones shown", len(eps))
	}

	// The charge happened before the endpoint existed: Redeliver sends it.
	var eventHref chromedp.AttributeResult
	console.run("the charge's events",
		chromedp.Navigate(s.URL+"/charges?status=SUCCESS"),
		chromedp.Click(chromedp.CSS(`table.charges td a`)),
		chromedp.WaitVisible(chromedp.CSS(`#object-events`)),
		chromedp.Click(chromedp.CSS(`#object-events`)),
		waitText(`h1`, "Events"),
		waitText(`#events`, "charge.succeeded"),
		fits(width),
		into(chromedp.AttributeValue(chromedp.CSS(`#events td a`), "href"), &eventHref),
	)
	console.run("event page",
		chromedp.Click(chromedp.CSS(`#events td a`)),
		waitText(`h1`, "charge.succeeded"),
		waitText(`#no-deliveries`, "Not sent to any endpoint"),
		waitText(`#payload`, `"type": "charge.succeeded"`),
		fits(width),
	)
	console.run("redeliver",
		chromedp.Click(chromedp.CSS(`#redeliver`)),
		waitText(`#notice`, "Redelivery queued"),
		fits(width),
	)
	rc.waitFor(t, strings.TrimPrefix(eventHref.Value, "/events/"), 1)
	console.run("the delivery, delivered",
		reloadUntil(`.delivery`, "delivered"),
		waitText(`.delivery .attempts`, "200"),
		waitText(`.delivery .attempts`, "receiver answered OK"),
		waitText(`.delivery-head`, rc.URL),
		fits(width),
	)
	console.run("disable the endpoint",
		chromedp.Click(chromedp.CSS(`.delivery-head a`)),
		waitText(`#endpoint-url`, rc.URL),
		waitText(`table.deliveries`, "delivered"),
		chromedp.Click(chromedp.CSS(`#disable-endpoint`)),
		waitText(`#notice`, "Disabled"),
		waitText(`h1 .badge`, "disabled"),
		chromedp.WaitVisible(chromedp.CSS(`#enable-endpoint`)),
		fits(width),
	)
	console.run("health", chromedp.Navigate(s.URL+"/health"), waitText(`#webhook-stats`, "webhook deliveries pending"), fits(width))
}

// notInPage checks that the page's HTML does not hold s.
func notInPage(s string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		html, err := chromedp.Evaluate[string](`document.documentElement.outerHTML`)(ctx, t)
		if err != nil {
			return chromedp.Void{}, err
		} else if strings.Contains(html, s) {
			return chromedp.Void{}, fmt.Errorf("the page shows %.12s…", s)
		}
		return chromedp.Void{}, nil
	}
}

// reloadUntil reloads the page every 200 ms until the element's text
// contains want.
func reloadUntil(sel, want string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for {
			wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			_, err := waitText(sel, want)(wctx, t)
			cancel()
			if err == nil {
				return chromedp.Void{}, nil
			} else if ctx.Err() != nil {
				return chromedp.Void{}, fmt.Errorf("reload until %q in %s: %w", want, sel, ctx.Err())
			}
			if _, err := chromedp.Reload()(ctx, t); err != nil && ctx.Err() != nil {
				return chromedp.Void{}, err
			}
		}
	}
}

// fits checks that the page is as wide as the window: width pixels, with
// nothing sticking out so that the page scrolls sideways. Wide tables and
// code blocks scroll in their own boxes and do not count. The error names
// the elements that stick out.
func fits(width int64) chromedp.Action[chromedp.Void] {
	const expr = `(() => {
		const de = document.documentElement, w = window.innerWidth;
		if (de.scrollWidth <= w) return {width: w, scroll: de.scrollWidth, wide: []};
		const wide = [];
		for (const el of document.body.querySelectorAll("*")) {
			const r = el.getBoundingClientRect();
			if (r.right > w + 0.5 && !(el.parentElement && el.parentElement.closest(".table-wrap, pre"))) {
				wide.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
					(typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\s+/).join(".") : "") +
					" (right edge at " + Math.round(r.right) + ")");
				if (wide.length == 6) break;
			}
		}
		return {width: w, scroll: de.scrollWidth, wide: wide};
	})()`
	type result struct {
		Width  int64    `json:"width"`
		Scroll int64    `json:"scroll"`
		Wide   []string `json:"wide"`
	}
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		// Measure the page as laid out with its stylesheet: right after a
		// navigation the DOM may be there before the CSS is applied.
		if _, err := waitTrue(`document.readyState === "complete"`)(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		r, err := chromedp.Evaluate[result](expr)(ctx, t)
		switch {
		case err != nil:
			return chromedp.Void{}, err
		case r.Width != width:
			return chromedp.Void{}, fmt.Errorf("the window is %d px wide, want %d", r.Width, width)
		case r.Scroll > r.Width:
			return chromedp.Void{}, fmt.Errorf("the page is %d px wide in a %d px window; sticking out: %s", r.Scroll, r.Width, strings.Join(r.Wide, ", "))
		}
		return chromedp.Void{}, nil
	}
}

// into runs a and stores its value in dst (when dst is not nil).
func into[T any](a chromedp.Action[T], dst *T) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		if dst != nil {
			*dst = v
		}
		return chromedp.Void{}, err
	}
}
