package linkpage_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/engine"
	"github.com/autodebit/autodebit/linkpage"
)

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type answer struct {
	status int
	header http.Header
	body   string
}

// fetch sends one request; navigate marks it as a browser's navigation
// (Sec-Fetch-Mode), lang sets Accept-Language.
func fetch(t *testing.T, method, u string, form url.Values, navigate bool, lang string) answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if navigate {
		req.Header.Set("Sec-Fetch-Mode", "navigate")
	}
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

const basePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'%s; frame-ancestors 'none'; base-uri 'none'"

// wantHeaders checks the headers every response of the page carries.
func wantHeaders(t *testing.T, what string, a answer, formOrigin string) {
	t.Helper()
	extra := ""
	if formOrigin != "" {
		extra = " " + formOrigin
	}
	want := map[string]string{
		"Content-Security-Policy": strings.Replace(basePolicy, "%s", extra, 1),
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
	}
	for k, v := range want {
		if got := a.header.Get(k); got != v {
			t.Errorf("%s (%d): %s = %q, want %q", what, a.status, k, got, v)
		}
	}
}

// TestPage_HeadersOnEveryRoute checks the security headers on every route
// and status, errors included, and that no page holds inline code.
func TestPage_HeadersOnEveryRoute(t *testing.T) {
	s := newStack(t)
	ls, page := s.newSession(t, "", "", 0)
	shop := strings.TrimSuffix(s.Shop, "/")
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	for _, c := range []struct {
		what, method, url string
		form              url.Values
		status            int
		origin            string // the cancelUrl's origin in form-action, when the page shows a session
	}{
		{"choice", "GET", page, nil, 200, shop},
		{"status", "GET", page + "/status", nil, 200, ""},
		{"next", "GET", page + "/next", nil, 303, ""},
		{"bad wallet", "POST", page + "/attempt", url.Values{"wallet": {"PAYPAL"}}, 400, shop},
		{"attempt", "POST", page + "/attempt", url.Values{"wallet": {"GCASH"}}, 303, ""},
		{"QR", "GET", page, nil, 200, shop},
		{"other wallet", "GET", page + "?choose=1", nil, 200, shop},
		{"stylesheet", "GET", s.URL + "/link/assets/link.css", nil, 200, ""},
		{"script", "GET", s.URL + "/link/assets/link.js", nil, 200, ""},
		{"missing asset", "GET", s.URL + "/link/assets/nope.js", nil, 404, ""},
		{"done", "GET", s.URL + engine.LinkDonePath, nil, 200, ""},
		{"wrong secret", "GET", s.URL + "/link/" + strings.Repeat("A", 43), nil, 404, ""},
		{"wrong secret status", "GET", s.URL + "/link/nope/status", nil, 404, ""},
		{"wrong secret post", "POST", s.URL + "/link/nope/attempt", url.Values{}, 404, ""},
		{"unknown path", "GET", page + "/nope/deeper", nil, 404, ""},
		{"cancel", "POST", page + "/cancel", url.Values{}, 303, ""},
		{"cancelled", "GET", page, nil, 404, ""},
	} {
		a := fetch(t, c.method, c.url, c.form, true, "")
		if a.status != c.status {
			t.Fatalf("%s: %d, want %d: %s", c.what, a.status, c.status, a.body)
		}
		wantHeaders(t, c.what, a, c.origin)
		if strings.HasPrefix(a.header.Get("Content-Type"), "text/html") && inline.MatchString(a.body) {
			t.Errorf("%s: inline code in the page: %q", c.what, inline.FindString(a.body))
		}
		if strings.Contains(a.body, ls.ID) || (c.what != "choice" && strings.Contains(a.body, "tok_")) {
			t.Errorf("%s: the page shows the session ID or a token: %s", c.what, a.body)
		}
	}
	// A form posted from another site is refused.
	req, _ := http.NewRequest("POST", page+"/attempt", strings.NewReader("wallet=GCASH"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("cross-site post: %d", resp.StatusCode)
	}
}

// TestPage_GoneIsOneAndTheSamePage: unknown, wrong, cancelled and expired
// sessions all get the same 404 page, which says nothing of which it is.
func TestPage_GoneIsOneAndTheSamePage(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	cancelled, cancelledURL := s.newSession(t, "GCASH", "", 0)
	if _, err := s.Engine.CancelLinkSession(ctx, cancelled.ID, engine.CancelledByMerchant); err != nil {
		t.Fatal(err)
	}
	expiring, expiringURL := s.newSession(t, "GCASH", "", time.Minute)
	_, open := s.newSession(t, "GCASH", "", 0)
	s.advance(t, time.Minute)
	var first string
	for what, u := range map[string]string{
		"unknown":   s.URL + "/link/" + strings.Repeat("x", 43),
		"wrong":     otherLastChar(open),
		"id":        s.URL + "/link/" + cancelled.ID,
		"cancelled": cancelledURL,
		"expired":   expiringURL, // past its lifetime, before its job ran
	} {
		a := fetch(t, "GET", u, nil, true, "")
		if a.status != 404 || !strings.Contains(a.body, "This link does not work") {
			t.Fatalf("%s: %d %s", what, a.status, a.body)
		}
		if first == "" {
			first = a.body
		} else if a.body != first {
			t.Fatalf("%s: another page than the others:\n%s\n---\n%s", what, a.body, first)
		}
		if st := fetch(t, "GET", u+"/status", nil, false, ""); st.status != 404 || strings.TrimSpace(st.body) != `{"state":"gone"}` {
			t.Fatalf("%s status: %d %s", what, st.status, st.body)
		}
	}
	// The expiry job, when it runs, changes nothing the buyer sees.
	s.work(t, engine.ExpireLinkSessionArgs{LinkSessionID: expiring.ID})
	if a := fetch(t, "GET", expiringURL, nil, true, ""); a.status != 404 || a.body != first {
		t.Fatalf("expired after its job: %d", a.status)
	}
}

// otherLastChar returns u with its last character changed: a session URL
// whose token is one character off. (Always writing "A" made the real URL
// whenever the token already ended in A: one run in 16, as the last of 43
// base64 characters of 32 bytes is one of 16.) Its replacement differs in
// the bits that carry data, so it is another secret even to a decoder that
// ignores the unused low bits.
func otherLastChar(u string) string {
	last := "A"
	if strings.HasSuffix(u, last) {
		last = "Q"
	}
	return u[:len(u)-1] + last
}

// TestPage_StartsOnlyOnNavigation: a link preview (no Sec-Fetch-Mode)
// starts no attempt; a browser's navigation does, and shows the QR code
// with a no-JavaScript refresh.
func TestPage_StartsOnlyOnNavigation(t *testing.T) {
	s := newStack(t)
	ls, page := s.newSession(t, "GCASH", "", 0)
	a := fetch(t, "GET", page, nil, false, "")
	if a.status != 200 || !strings.Contains(a.body, `id="show-code"`) || strings.Contains(a.body, `id="qr"`) {
		t.Fatalf("preview: %d %s", a.status, a.body)
	}
	if got := s.session(t, ls.ID); got.AuthorizationID != "" {
		t.Fatalf("a preview started attempt %s", got.AuthorizationID)
	}
	a = fetch(t, "GET", page, nil, true, "")
	if a.status != 200 || !strings.Contains(a.body, `<img id="qr" src="data:image/png;base64,`) || !strings.Contains(a.body, `id="open-app"`) {
		t.Fatalf("navigation: %d %s", a.status, a.body)
	}
	if !strings.Contains(a.body, `<noscript><meta http-equiv="refresh" content="5; url=/link/`) {
		t.Fatalf("no refresh for browsers without JavaScript: %s", a.body)
	}
	got := s.session(t, ls.ID)
	if got.AuthorizationID == "" {
		t.Fatal("the navigation started no attempt")
	}
	// Reloads show the same attempt.
	fetch(t, "GET", page, nil, true, "")
	if again := s.session(t, ls.ID); again.AuthorizationID != got.AuthorizationID {
		t.Fatalf("a reload made attempt %s after %s", again.AuthorizationID, got.AuthorizationID)
	}
	if st := fetch(t, "GET", page+"/status", nil, false, ""); strings.TrimSpace(st.body) != `{"state":"pending"}` {
		t.Fatalf("status %s", st.body)
	}
}

// TestPage_CompleteAndCancel follows the redirects a browser would.
func TestPage_CompleteAndCancel(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	ls, page := s.newSession(t, "GCASH", "", 0)
	fetch(t, "GET", page, nil, true, "")
	a, err := s.Store.FindAuthorizationByID(ctx, s.session(t, ls.ID).AuthorizationID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sim.Approve(a.QRText, ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for s.session(t, ls.ID).Status != autodebit.LinkSessionComplete {
		if time.Now().After(deadline) {
			t.Fatal("session not complete after 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	done := s.session(t, ls.ID)
	if st := fetch(t, "GET", page+"/status", nil, false, ""); strings.TrimSpace(st.body) != `{"state":"complete"}` {
		t.Fatalf("status %s", st.body)
	}
	next := fetch(t, "GET", page+"/next", nil, true, "")
	want := s.Shop + "/return?link_session=" + ls.ID + "&order=7&token=" + done.TokenID
	if next.status != 303 || next.header.Get("Location") != want {
		t.Fatalf("next: %d to %q, want %q", next.status, next.header.Get("Location"), want)
	}
	// The page moving on by itself, which went to the page while the
	// session was still linking, goes on to the shop.
	if live := fetch(t, "GET", page+"?live=1", nil, true, ""); live.status != 303 || live.header.Get("Location") != want {
		t.Fatalf("live reload of a complete session: %d to %q", live.status, live.header.Get("Location"))
	}
	// Coming back later: a clear page with the way back, no new attempt.
	back := fetch(t, "GET", page, nil, true, "")
	if back.status != 200 || !strings.Contains(back.body, "Wallet linked") || !strings.Contains(back.body, `href="`+strings.ReplaceAll(want, "&", "&amp;")+`"`) {
		t.Fatalf("complete page: %d %s", back.status, back.body)
	}
	if cancel := fetch(t, "POST", page+"/cancel", url.Values{}, true, ""); cancel.status != 200 || s.session(t, ls.ID).Status != autodebit.LinkSessionComplete {
		t.Fatalf("cancel of a complete session: %d", cancel.status)
	}

	other, otherPage := s.newSession(t, "", "", 0)
	c := fetch(t, "POST", otherPage+"/cancel", url.Values{}, true, "")
	if wantCancel := s.Shop + "/cancel?link_session=" + other.ID + "&status=cancelled"; c.status != 303 || c.header.Get("Location") != wantCancel {
		t.Fatalf("cancel: %d to %q, want %q", c.status, c.header.Get("Location"), wantCancel)
	}
	if got := s.session(t, other.ID); got.Status != autodebit.LinkSessionCancelled {
		t.Fatalf("session %s after cancel", got.Status)
	}
}

// TestPage_Locales: the session's locale wins, else the browser's
// Accept-Language, else English.
func TestPage_Locales(t *testing.T) {
	s := newStack(t)
	_, thai := s.newSession(t, "", "th", 0)
	_, any := s.newSession(t, "", "", 0)
	for _, c := range []struct {
		page, acceptLanguage, lang, heading string
	}{
		{thai, "ko-KR", "th", "เลือกวอลเล็ตของคุณ"},
		{any, "", "en", "Choose your wallet"},
		{any, "fil-PH,fil;q=0.9,en;q=0.8", "tl", "Piliin ang iyong wallet"},
		{any, "fr-FR, zh-CN;q=0.8, ko;q=0.9", "ko", "지갑을 선택하세요"},
		{any, "zh-Hant-TW", "zh", "选择您的钱包"},
		{any, "in-ID", "id", "Pilih dompet Anda"},
		{any, "ms-MY;q=0.5, de", "ms", "Pilih e-dompet anda"},
		{any, "de-DE, fr", "en", "Choose your wallet"},
		{any, "ko;q=0, id", "id", "Pilih dompet Anda"},
	} {
		a := fetch(t, "GET", c.page, nil, true, c.acceptLanguage)
		if !strings.Contains(a.body, `<html lang="`+c.lang+`">`) || !strings.Contains(a.body, "<h1>"+c.heading+"</h1>") {
			t.Errorf("Accept-Language %q: want lang %s and %q:\n%.400s", c.acceptLanguage, c.lang, c.heading, a.body)
		}
	}
}

// TestTexts checks that every locale has every sentence, with its
// wallet-name placeholders.
func TestTexts(t *testing.T) {
	en := linkpage.Texts()["en"]
	for lang, m := range linkpage.Texts() {
		for k, v := range en {
			got, ok := m[k]
			if !ok || got == "" {
				t.Errorf("%s lacks %q", lang, k)
			} else if strings.Count(got, "%s") != strings.Count(v, "%s") {
				t.Errorf("%s %q has %d placeholders, English %d", lang, k, strings.Count(got, "%s"), strings.Count(v, "%s"))
			} else if lang != "en" && got == v && !strings.Contains(k, "code") {
				t.Errorf("%s %q is the English sentence", lang, k)
			}
		}
		if len(m) != len(en) {
			t.Errorf("%s has %d sentences, English %d", lang, len(m), len(en))
		}
	}
	for _, l := range autodebit.LinkSessionLocales() {
		if _, ok := linkpage.Texts()[l]; !ok {
			t.Errorf("no sentences for %s", l)
		}
	}
}

// TestPage_StatusSaysNothingElse: the status JSON holds the state alone.
func TestPage_StatusSaysNothingElse(t *testing.T) {
	s := newStack(t)
	_, page := s.newSession(t, "GCASH", "", 0)
	fetch(t, "GET", page, nil, true, "")
	a := fetch(t, "GET", page+"/status", nil, false, "")
	var v map[string]any
	if err := json.Unmarshal([]byte(a.body), &v); err != nil || len(v) != 1 || v["state"] != "pending" {
		t.Fatalf("status %s (%v)", a.body, err)
	}
}
