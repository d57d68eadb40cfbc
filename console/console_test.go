package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antomsim"
)

func jsonBody(s string) io.Reader { return strings.NewReader(s) }

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	tb   testing.TB
	base string
	c    *http.Client
}

func newBrowser(tb testing.TB, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{tb: tb, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) do(method, path string, form url.Values) (int, string, http.Header) {
	b.tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.tb.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(text), resp.Header
}

var (
	nonceRe = regexp.MustCompile(`name="nonce" value="([^"]+)"`)
	csrfRe  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

func find(tb testing.TB, re *regexp.Regexp, page string) string {
	tb.Helper()
	m := re.FindStringSubmatch(page)
	if m == nil {
		tb.Fatalf("no %s in page:\n%s", re, page)
	}
	return m[1]
}

// login logs in and returns the session's CSRF token.
func (b *browser) login(key string) (int, string) {
	b.tb.Helper()
	_, page, _ := b.do("GET", "/login", nil)
	status, page, _ := b.do("POST", "/login", url.Values{"nonce": {find(b.tb, nonceRe, page)}, "apiKey": {key}, "next": {"/tokens"}})
	return status, page
}

func (b *browser) mustLogin() string {
	b.tb.Helper()
	if status, page := b.login(apiKey); status != http.StatusSeeOther {
		b.tb.Fatalf("login: status %d, want 303\n%s", status, page)
	}
	_, page, _ := b.do("GET", "/tokens", nil)
	return find(b.tb, csrfRe, page)
}

func TestConsole(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	tok := s.mustActiveToken(t, "cust_1", "GCASH")

	t.Run("SessionRequired", func(t *testing.T) {
		b := newBrowser(t, s.URL)
		for _, path := range []string{"/", "/charges", "/tokens", "/link", "/health", "/tokens/" + tok.ID} {
			status, _, h := b.do("GET", path, nil)
			if status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login?next=") {
				t.Errorf("GET %s: %d %s, want 303 to /login", path, status, h.Get("Location"))
			}
		}
		if status, _, _ := b.do("GET", "/authorizations/auth_x/status", nil); status != http.StatusUnauthorized {
			t.Errorf("status JSON without a session: %d, want 401", status)
		}
		if status, _, _ := b.do("POST", "/tokens/"+tok.ID+"/charges", url.Values{"amount": {"1.00"}}); status != http.StatusUnauthorized {
			t.Errorf("POST without a session: %d, want 401", status)
		}
		b.c.Jar.SetCookies(mustURL(s.URL), []*http.Cookie{{Name: "autodebit_session", Value: "forged.c2lnbmF0dXJl"}})
		if status, _, _ := b.do("GET", "/charges", nil); status != http.StatusSeeOther {
			t.Errorf("forged cookie: %d, want 303", status)
		}
	})

	t.Run("LoginFailure", func(t *testing.T) {
		b := newBrowser(t, s.URL)
		status, page := b.login("wrong-key-wrong-key")
		if status != http.StatusUnauthorized || !strings.Contains(page, "That API key is not right") {
			t.Fatalf("status %d, want 401 with a message\n%s", status, page)
		}
		if status, _, _ := b.do("GET", "/charges", nil); status != http.StatusSeeOther {
			t.Fatalf("after a failed login /charges is %d, want 303", status)
		}
		// A login POST without the form's nonce (another site's form) is refused.
		status, _, _ = newBrowser(t, s.URL).do("POST", "/login", url.Values{"apiKey": {apiKey}})
		if status != http.StatusForbidden {
			t.Fatalf("login without nonce: %d, want 403", status)
		}
	})

	t.Run("LoginAndLogout", func(t *testing.T) {
		b := newBrowser(t, s.URL)
		csrf := b.mustLogin()
		status, page, _ := b.do("GET", "/tokens", nil)
		if status != http.StatusOK || !strings.Contains(page, "cust_1") {
			t.Fatalf("tokens: %d\n%s", status, page)
		}
		if status, _, _ := b.do("POST", "/logout", url.Values{"csrf": {csrf}}); status != http.StatusSeeOther {
			t.Fatalf("logout: %d", status)
		}
		if status, _, _ := b.do("GET", "/tokens", nil); status != http.StatusSeeOther {
			t.Fatalf("after logout /tokens is %d, want 303", status)
		}
	})

	t.Run("CSRF", func(t *testing.T) {
		b := newBrowser(t, s.URL)
		csrf := b.mustLogin()
		other := newBrowser(t, s.URL).mustLogin() // another session's token
		for name, form := range map[string]url.Values{
			"Missing":      {"amount": {"1.00"}},
			"Wrong":        {"amount": {"1.00"}, "csrf": {"x" + csrf}},
			"OtherSession": {"amount": {"1.00"}, "csrf": {other}},
		} {
			for _, path := range []string{"/tokens/" + tok.ID + "/charges", "/tokens/" + tok.ID + "/revoke", "/link", "/logout"} {
				f := url.Values{"confirm": {"yes"}, "customerId": {"cust_csrf"}, "wallet": {"GCASH"}}
				for k, v := range form {
					f[k] = v
				}
				if status, _, _ := b.do("POST", path, f); status != http.StatusForbidden {
					t.Errorf("%s: POST %s: %d, want 403", name, path, status)
				}
			}
		}
		assertUnchanged(t, s, tok)
		if _, n, _ := s.Store.FindAuthorizations(ctx, autodebit.AuthorizationFilter{CustomerID: "cust_csrf"}); n != 0 {
			t.Errorf("%d authorizations were made", n)
		}
		if status, _, _ := b.do("GET", "/tokens", nil); status != http.StatusOK {
			t.Errorf("the refused logout logged out: %d", status)
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		b := newBrowser(t, s.URL)
		csrf := b.mustLogin()
		for amount, want := range map[string]string{
			"":        "Enter an amount in PHP",
			"abc":     "is not an amount",
			"1,50":    "is not an amount",
			"15,00":   "is not an amount", // a decimal comma is not a thousands separator
			"1,5000":  "is not an amount",
			"-5":      "is not an amount",
			"1.234":   "PHP has 2 decimal places",
			"0":       "more than zero",
			"0.00":    "more than zero",
			"9999999": "maximum", // over GCash's per-payment maximum
		} {
			status, page, _ := b.do("POST", "/tokens/"+tok.ID+"/charges", url.Values{"csrf": {csrf}, "amount": {amount}})
			if status != http.StatusBadRequest || !strings.Contains(page, want) {
				t.Errorf("amount %q: %d, want 400 with %q in\n%s", amount, status, want, extract(page))
			}
		}
		status, page, _ := b.do("POST", "/link", url.Values{"csrf": {csrf}, "customerId": {""}, "wallet": {"GCASH"}})
		if status != http.StatusBadRequest || !strings.Contains(page, "Enter the customer ID") {
			t.Errorf("link without customer: %d", status)
		}
		status, page, _ = b.do("POST", "/link", url.Values{"csrf": {csrf}, "customerId": {"cust_bad"}, "wallet": {"PAYPAL"}})
		if status != http.StatusBadRequest || !strings.Contains(page, "not a Scan to Link wallet") {
			t.Errorf("link with unknown wallet: %d\n%s", status, extract(page))
		}
		status, _, _ = b.do("POST", "/tokens/"+tok.ID+"/revoke", url.Values{"csrf": {csrf}})
		if status != http.StatusBadRequest {
			t.Errorf("revoke without confirm: %d, want 400", status)
		}
		status, page, _ = b.do("GET", "/charges?status=NOPE&from=yesterday", nil)
		if status != http.StatusBadRequest || !strings.Contains(page, "Pick a status") || !strings.Contains(page, "must be a date") {
			t.Errorf("bad filters: %d\n%s", status, extract(page))
		}
		assertUnchanged(t, s, tok)
	})

	t.Run("ChargeAndRefund", func(t *testing.T) {
		b := newBrowser(t, s.URL)
		csrf := b.mustLogin()
		status, _, h := b.do("POST", "/tokens/"+tok.ID+"/charges", url.Values{"csrf": {csrf}, "amount": {"15.5"}, "key": {"k1"}})
		if status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/charges/chg_") {
			t.Fatalf("charge: %d %s", status, h.Get("Location"))
		}
		loc := h.Get("Location")
		// The same form sent twice makes one charge.
		if _, _, h2 := b.do("POST", "/tokens/"+tok.ID+"/charges", url.Values{"csrf": {csrf}, "amount": {"15.5"}, "key": {"k1"}}); h2.Get("Location") != loc {
			t.Fatalf("resubmitted form: %s, want %s", h2.Get("Location"), loc)
		}
		c, err := s.Store.FindChargeByID(ctx, chargeIDOf(loc))
		if err != nil {
			t.Fatal(err)
		} else if c.Amount != (autodebit.Amount{Currency: "PHP", Value: 1550}) || c.Status != autodebit.ChargeSuccess {
			t.Fatalf("charge %+v %s, want PHP 1550 SUCCESS", c.Amount, c.Status)
		}
		_, page, _ := b.do("GET", loc, nil)
		for _, want := range []string{"PHP 15.50", "SUCCESS", "→ Antom pay", `id="notice">Charged PHP 15.50.<`} {
			if !strings.Contains(page, want) {
				t.Errorf("charge page lacks %q\n%s", want, extract(page))
			}
		}
		// The refund amount is typed, never prefilled with what is left.
		if !strings.Contains(page, `id="refund-amount" name="amount" value=""`) {
			t.Errorf("the refund amount is prefilled:\n%s", find(t, regexp.MustCompile(`(<input id="refund-amount"[^>]*>)`), page))
		}
		charge := "/charges/" + c.ID
		status, page, _ = b.do("POST", charge+"/refunds", url.Values{"csrf": {csrf}, "amount": {"20.00"}})
		if status != http.StatusBadRequest || !strings.Contains(page, "more than the PHP 15.50 left") {
			t.Errorf("over-refund: %d\n%s", status, extract(page))
		}

		// A cancel is confirmed on a page of its own; a SUCCESS charge has none.
		status, page, _ = b.do("GET", charge+"/cancel", nil)
		if status != http.StatusConflict || !strings.Contains(page, "refund it instead") {
			t.Errorf("cancel page of a SUCCESS charge: %d\n%s", status, extract(page))
		}
		status, page, _ = b.do("POST", charge+"/cancel", url.Values{"csrf": {csrf}})
		if status != http.StatusBadRequest || !strings.Contains(page, "Confirm the cancel") {
			t.Errorf("cancel without confirm: %d\n%s", status, extract(page))
		}
		status, page, _ = b.do("POST", charge+"/cancel", url.Values{"csrf": {csrf}, "confirm": {"yes"}})
		if status != http.StatusConflict || !strings.Contains(page, "cannot be cancelled") {
			t.Errorf("cancel of a SUCCESS charge: %d\n%s", status, extract(page))
		}

		// A refund is confirmed before anything is sent.
		status, page, _ = b.do("POST", charge+"/refunds", url.Values{"csrf": {csrf}, "amount": {"5"}, "reason": {"damaged"}, "key": {"rk1"}})
		if status != http.StatusOK || !strings.Contains(page, "Refund PHP 5.00?") || !strings.Contains(page, `value="5.00"`) ||
			!strings.Contains(page, `name="key" value="rk1"`) || !strings.Contains(page, "PHP 10.50") {
			t.Fatalf("refund confirmation: %d\n%s", status, page)
		}
		if refunds, _, _ := s.Store.FindRefunds(ctx, autodebit.RefundFilter{ChargeID: c.ID}); len(refunds) != 0 {
			t.Fatalf("%d refunds made before the confirmation", len(refunds))
		}
		status, _, h = b.do("POST", charge+"/refunds", url.Values{"csrf": {csrf}, "amount": {"5.00"}, "reason": {"damaged"}, "key": {"rk1"}, "confirm": {"yes"}})
		if status != http.StatusSeeOther || !strings.Contains(h.Get("Location"), "notice=refunded&refund=rfd_") {
			t.Fatalf("refund: %d %s", status, h.Get("Location"))
		}
		_, page, _ = b.do("GET", h.Get("Location"), nil)
		if !strings.Contains(page, `id="notice">Refunded PHP 5.00.<`) || !strings.Contains(page, "damaged") || !strings.Contains(page, "Up to PHP 10.50") {
			t.Errorf("charge page after the refund:\n%s", extract(page))
		}
		status, page, _ = b.do("GET", "/charges?status=SUCCESS&customer=cust_1&wallet=GCASH&from=2000-01-01&to=2999-01-01", nil)
		if status != http.StatusOK || !strings.Contains(page, c.ID) {
			t.Errorf("filtered list lacks %s", c.ID)
		}
		if _, page, _ = b.do("GET", "/charges?status=FAIL", nil); strings.Contains(page, c.ID) {
			t.Errorf("FAIL list shows %s", c.ID)
		}
		if status, page, _ = b.do("GET", "/health", nil); status != http.StatusOK || !strings.Contains(page, "open INIT charges") {
			t.Errorf("health: %d", status)
		}
	})

	t.Run("CancelAndInquiry", func(t *testing.T) {
		// An account whose payments stay PROCESSING: the charge stays INIT.
		if _, err := s.Sim.CreateAccount(antomsim.Account{Wallet: "GCASH", UserLoginID: "09170000003", Balance: 10_000_000, PayMode: antomsim.PayModeStuck}); err != nil {
			t.Fatal(err)
		}
		tok3 := s.mustActiveTokenAs(t, "cust_3", "GCASH", "09170000003")
		b := newBrowser(t, s.URL)
		csrf := b.mustLogin()
		status, _, h := b.do("POST", "/tokens/"+tok3.ID+"/charges", url.Values{"csrf": {csrf}, "amount": {"1,234.50"}})
		if status != http.StatusSeeOther {
			t.Fatalf("charge: %d", status)
		}
		c, err := s.Store.FindChargeByID(ctx, chargeIDOf(h.Get("Location")))
		if err != nil {
			t.Fatal(err)
		} else if c.Amount.Value != 123450 || c.Status != autodebit.ChargeInit {
			t.Fatalf("charge %+v %s, want PHP 123450 INIT", c.Amount, c.Status)
		}
		charge := "/charges/" + c.ID
		_, page, _ := b.do("GET", h.Get("Location"), nil)
		if !strings.Contains(page, `class="banner info" role="status" id="notice">Charge of PHP 1,234.50 sent; Antom has not given the result yet`) {
			t.Errorf("notice of a charge still INIT:\n%s", extract(page))
		}
		if !strings.Contains(page, `href="`+charge+`/cancel"`) || strings.Contains(page, `action="`+charge+`/cancel"`) {
			t.Errorf("the charge page should link to the cancel confirmation, not cancel in one click")
		}

		// An inquiry that found the payment still PROCESSING shows that, not
		// a green S next to a charge that is not paid.
		inquiry := &autodebit.TimelineEntry{
			ObjectID: c.ID, Kind: "antom.inquiryPayment", Direction: autodebit.TimelineOut, ResultStatus: "S", ResultCode: "SUCCESS",
			Request:   `{"paymentRequestId":"` + c.PaymentRequestID + `"}`,
			Response:  `{"result":{"resultStatus":"S","resultCode":"SUCCESS","resultMessage":"success"},"paymentStatus":"PROCESSING"}`,
			CreatedAt: time.Now(),
		}
		if err := s.Store.WithTx(ctx, func(tx autodebit.Tx) error { return tx.AppendTimelineEntry(ctx, inquiry) }); err != nil {
			t.Fatal(err)
		}
		_, page, _ = b.do("GET", charge, nil)
		entries := regexp.MustCompile(`(?s)<li class="out">.*?</li>`).FindAllString(page, -1)
		var inquiries int
		for _, li := range entries {
			if !strings.Contains(li, "→ Antom inquiryPayment") {
				continue
			}
			inquiries++
			if !strings.Contains(li, `<span class="badge processing"`) || !strings.Contains(li, "payment PROCESSING") || strings.Contains(li, "rs-s") {
				t.Errorf("inquiry entry should show the payment PROCESSING, not a green S:\n%s", li)
			}
		}
		if inquiries == 0 {
			t.Errorf("no inquiryPayment entry in the timeline")
		}

		status, page, _ = b.do("GET", charge+"/cancel", nil)
		if status != http.StatusOK || !strings.Contains(page, "Cancel this charge?") || !strings.Contains(page, "PHP 1,234.50") {
			t.Fatalf("cancel confirmation: %d\n%s", status, extract(page))
		}
		if got, _ := s.Store.FindChargeByID(ctx, c.ID); !got.CancelRequestedAt.IsZero() {
			t.Fatalf("the confirmation page asked for the cancel")
		}
		status, _, h = b.do("POST", charge+"/cancel", url.Values{"csrf": {csrf}, "confirm": {"yes"}})
		if status != http.StatusSeeOther || !strings.HasSuffix(h.Get("Location"), "?notice=cancelled") {
			t.Fatalf("cancel: %d %s", status, h.Get("Location"))
		}
		got, _ := s.Store.FindChargeByID(ctx, c.ID)
		if got.Status != autodebit.ChargeCancelled {
			t.Fatalf("charge is %s after the cancel, want CANCELLED", got.Status)
		}
		_, page, _ = b.do("GET", h.Get("Location"), nil)
		if !strings.Contains(page, `id="notice">Cancelled.`) || !strings.Contains(page, "<dt>Cancel result</dt>") {
			t.Errorf("charge page after the cancel:\n%s", extract(page))
		}
		_, page, _ = b.do("GET", "/charges?customer=cust_3", nil)
		row := find(t, regexp.MustCompile(`(?s)(<tr><td><a href="`+charge+`">.*?</tr>)`), page)
		if !strings.Contains(row, "CANCELLED") || strings.Contains(row, "SUCCESS") {
			t.Errorf("a cancelled charge's row should say CANCELLED without the cancel call's SUCCESS:\n%s", row)
		}
	})

	t.Run("TokenTimeline", func(t *testing.T) {
		b := newBrowser(t, s.URL)
		b.mustLogin()
		_, page, _ := b.do("GET", "/tokens/"+tok.ID, nil)
		for _, want := range []string{"<h2>Timeline</h2>", "→ Antom consult", "→ Antom applyToken", "← Antom notify", "link attempt " + tok.AuthorizationID,
			"At most PHP 100,000.00 per payment"} {
			if !strings.Contains(page, want) {
				t.Errorf("token page lacks %q", want)
			}
		}
		for _, st := range s.Sim.Tokens() {
			if strings.Contains(page, st.AccessToken) {
				t.Errorf("token page shows an access token")
			}
		}
	})

	t.Run("WalletPage", func(t *testing.T) {
		a, err := s.Engine.CreateAuthorization(ctx, "cust_wallet", "GCASH")
		if err != nil {
			t.Fatal(err)
		}
		_, page, _ := newBrowser(t, "").do("GET", a.QRText, nil)
		for _, want := range []string{"Link your GCash account?", `Merchant <b class="mname">` + s.Sim.ClientID() + `</b> at `, "Account to link", "Agree and link", mustURL(s.URL).Host} {
			if !strings.Contains(page, want) {
				t.Errorf("wallet page lacks %q", want)
			}
		}
		if strings.Contains(page, "Pay with account") {
			t.Errorf("wallet page still says Pay with account")
		}
	})

	t.Run("Revoke", func(t *testing.T) {
		t2 := s.mustActiveToken(t, "cust_2", "DANA")
		b := newBrowser(t, s.URL)
		csrf := b.mustLogin()
		if status, page, _ := b.do("GET", "/tokens/"+t2.ID+"/revoke", nil); status != http.StatusOK || !strings.Contains(page, "Revoke this token?") {
			t.Fatalf("confirmation page: %d", status)
		}
		status, _, h := b.do("POST", "/tokens/"+t2.ID+"/revoke", url.Values{"csrf": {csrf}, "confirm": {"yes"}})
		if status != http.StatusSeeOther || !strings.Contains(h.Get("Location"), "notice=revok") {
			t.Fatalf("revoke: %d %s", status, h.Get("Location"))
		}
		got, _ := s.Store.FindTokenByID(ctx, t2.ID)
		if got.Status != autodebit.TokenRevoked && !got.RevokePending {
			t.Fatalf("token is %s, want revoked", got.Status)
		}
	})
}

// assertUnchanged checks that tok is still ACTIVE with no charge other than
// those made by name in the ChargeAndRefund test.
func assertUnchanged(tb testing.TB, s *stack, tok *autodebit.Token) {
	tb.Helper()
	got, err := s.Store.FindTokenByID(context.Background(), tok.ID)
	if err != nil {
		tb.Fatal(err)
	}
	if got.Status != autodebit.TokenActive || got.RevokePending {
		tb.Errorf("token %s is %s (revokePending %v), want ACTIVE", tok.ID, got.Status, got.RevokePending)
	}
	if _, n, _ := s.Store.FindCharges(context.Background(), autodebit.ChargeFilter{TokenID: tok.ID}); n != 0 {
		tb.Errorf("%d charges were made", n)
	}
}

// extract returns the messages of a page, for failure output.
func extract(page string) string {
	var out []string
	for _, m := range regexp.MustCompile(`(?s)class="banner[^"]*"[^>]*>(.*?)</p>`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	if out == nil {
		return page
	}
	return strings.Join(out, "\n")
}

// chargeIDOf returns the charge ID of a charge page's path.
func chargeIDOf(path string) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(path, "/charges/"), "?")
	return id
}

func mustURL(s string) *url.URL {
	u, _ := url.Parse(s)
	return u
}

// TestConsoleFirstLogin checks where a new operator lands: with nothing
// linked, the page after logging in points to linking a wallet; with a token
// and no charge, to the tokens.
func TestConsoleFirstLogin(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t, s.URL)
	_, page, _ := b.do("GET", "/login", nil)
	status, _, h := b.do("POST", "/login", url.Values{"nonce": {find(t, nonceRe, page)}, "apiKey": {apiKey}})
	if status != http.StatusSeeOther || h.Get("Location") != "/charges" {
		t.Fatalf("login: %d %s, want 303 to /charges", status, h.Get("Location"))
	}
	_, page, _ = b.do("GET", "/charges", nil)
	if !strings.Contains(page, "Nothing is linked yet") || !strings.Contains(page, `<a href="/link" class="button primary" id="start-link">Link a wallet</a>`) {
		t.Errorf("with nothing linked the charges page should point to Link a wallet:\n%s", page)
	}
	// A filter that matches nothing is not the first step.
	if _, page, _ = b.do("GET", "/charges?status=FAIL", nil); strings.Contains(page, "start-link") || !strings.Contains(page, "No charges.") {
		t.Errorf("a filtered empty list points to linking")
	}
	s.mustActiveToken(t, "cust_first", "GCASH")
	_, page, _ = b.do("GET", "/charges", nil)
	if strings.Contains(page, "start-link") || !strings.Contains(page, `No charges yet. Open a token on the <a href="/tokens">Tokens</a> page`) {
		t.Errorf("with a token and no charge the charges page should point to the tokens:\n%s", extract(page))
	}
}
