package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/engine"
	"github.com/autodebit/autodebit/storetest"
)

// linkStack is a stack whose engine allows returnUrls on shop.example.
func linkStack(t *testing.T, open storetest.Opener) *stack {
	return newStack(t, open, stackOptions{engine: func(c *engine.Config) {
		c.LinkReturnHosts = []string{"shop.example", "*.pay.example"}
	}})
}

// newSession creates an open session for customer and wallet ("" lets the
// buyer choose).
func (s *stack) newSession(customer, wallet string) *autodebit.LinkSession {
	s.tb.Helper()
	ls, err := s.eng.CreateLinkSession(context.Background(), engine.LinkSessionInput{
		CustomerID: customer, Wallet: wallet, ReturnURL: "https://shop.example/linked?order=7", CancelURL: "https://shop.example/cart#top",
	})
	if err != nil {
		s.tb.Fatal(err)
	}
	return ls
}

func (s *stack) session(id string) *autodebit.LinkSession {
	s.tb.Helper()
	ls, err := s.store.FindLinkSessionByID(context.Background(), id)
	if err != nil {
		s.tb.Fatal(err)
	}
	return ls
}

func (s *stack) authorization(id string) *autodebit.Authorization {
	s.tb.Helper()
	a, err := s.store.FindAuthorizationByID(context.Background(), id)
	if err != nil {
		s.tb.Fatal(err)
	}
	return a
}

// attempt starts an attempt on session id and checks it shows a QR code.
func (s *stack) attempt(id, wallet string) *autodebit.Authorization {
	s.tb.Helper()
	ls, a, err := s.eng.StartLinkAttempt(context.Background(), id, wallet)
	if err != nil {
		s.tb.Fatal(err)
	}
	if a.Status != autodebit.AuthorizationPending || a.QRText == "" || a.LinkSessionID != id || ls.AuthorizationID != a.ID {
		s.tb.Fatalf("attempt %+v on session %+v", a, ls)
	}
	return a
}

// waitSession waits until session id has status want.
func (s *stack) waitSession(id string, want autodebit.LinkSessionStatus) *autodebit.LinkSession {
	s.tb.Helper()
	var ls *autodebit.LinkSession
	s.waitFor("link session "+string(want), func() bool {
		ls = s.session(id)
		return ls.Status == want
	})
	return ls
}

func (s *stack) timelineText(id string) string {
	s.tb.Helper()
	entries, err := s.store.FindTimeline(context.Background(), id)
	if err != nil {
		s.tb.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.Response + "\n")
	}
	return b.String()
}

func TestLinkSession_Complete(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := linkStack(t, open)
		ls := s.newSession("cus_1", "GCASH")
		if ls.Status != autodebit.LinkSessionOpen || ls.AuthorizationID != "" || !ls.ExpiresAt.Equal(ls.CreatedAt.Add(time.Hour)) {
			t.Fatalf("new session %+v", ls)
		}
		url := s.eng.LinkSessionURL(ls)
		if !strings.HasPrefix(url, s.srv.URL+"/link/") || !strings.HasSuffix(url, ls.Secret) || strings.Contains(url, ls.ID) {
			t.Fatalf("url %q", url)
		}
		a := s.attempt(ls.ID, "")
		if _, err := s.sim.Approve(a.QRText, ""); err != nil {
			t.Fatal(err)
		}
		got := s.waitSession(ls.ID, autodebit.LinkSessionComplete)
		tok, err := s.store.FindTokenByID(context.Background(), got.TokenID)
		if err != nil || tok.AuthorizationID != a.ID || tok.CustomerID != "cus_1" || got.AuthorizationID != a.ID || got.CompletedAt.IsZero() {
			t.Fatalf("complete session %+v, token %v, %v", got, tok, err)
		}
		if want := "https://shop.example/linked?link_session=" + ls.ID + "&order=7&token=" + tok.ID; got.CompleteURL() != want {
			t.Fatalf("CompleteURL %q, want %q", got.CompleteURL(), want)
		}
		// The events: the attempt's, then the session's, whose data.object
		// is the session as GET shows it, url and all.
		s.wantEvents(a.ID, "/v1/authorizations/"+a.ID, autodebit.EventAuthorizationActive)
		s.wantEvents(ls.ID, "/v1/link-sessions/"+ls.ID, autodebit.EventLinkSessionCompleted)
		if ev := s.events(ls.ID)[0]; !strings.Contains(string(ev.Data), `"url":"`+url+`"`) || !strings.Contains(string(ev.Data), `"tokenId":"`+tok.ID+`"`) {
			t.Fatalf("completed event data %s", ev.Data)
		}
		if tl := s.timelineText(ls.ID); !strings.Contains(tl, "OPEN for cus_1, GCASH") || !strings.Contains(tl, "ATTEMPT "+a.ID) ||
			!strings.Contains(tl, "COMPLETE: token "+tok.ID) || strings.Contains(tl, ls.Secret) {
			t.Fatalf("session timeline:\n%s", tl)
		}
		// Nothing more can be tried on a complete session.
		_, _, err = s.eng.StartLinkAttempt(context.Background(), ls.ID, "")
		wantCode(t, err, autodebit.ECONFLICT)
		_, err = s.eng.CancelLinkSession(context.Background(), ls.ID, engine.CancelledByBuyer)
		wantCode(t, err, autodebit.ECONFLICT)
		s.checkTruth()
	})
}

func TestLinkSession_TryAgainAfterExpiredAttempt(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := linkStack(t, open)
		ctx := context.Background()
		ls := s.newSession("cus_1", "GCASH")
		first := s.attempt(ls.ID, "")
		if _, err := s.sim.Deny(first.QRText); err != nil { // Antom says nothing of a denial
			t.Fatal(err)
		}
		s.advance(autodebit.AuthorizationTTL + time.Second)
		if err := s.eng.Work(ctx, engine.ExpireAuthorizationArgs{AuthorizationID: first.ID}); err != nil {
			t.Fatal(err)
		}
		if a := s.authorization(first.ID); a.Status != autodebit.AuthorizationExpired {
			t.Fatalf("first attempt %s", a.Status)
		}
		if got := s.session(ls.ID); got.Status != autodebit.LinkSessionOpen || got.AuthorizationID != first.ID {
			t.Fatalf("session after the attempt expired: %+v", got)
		}
		second := s.attempt(ls.ID, "")
		if second.ID == first.ID || second.AuthState == first.AuthState {
			t.Fatalf("try again reused the attempt: %s %s", second.ID, second.AuthState)
		}
		if _, err := s.sim.Approve(second.QRText, ""); err != nil {
			t.Fatal(err)
		}
		got := s.waitSession(ls.ID, autodebit.LinkSessionComplete)
		if got.AuthorizationID != second.ID {
			t.Fatalf("completed with %s, want %s", got.AuthorizationID, second.ID)
		}
		attempts, n, err := s.store.FindAuthorizations(ctx, autodebit.AuthorizationFilter{LinkSessionID: ls.ID})
		if err != nil || n != 2 || attempts[1].ID != first.ID || attempts[0].ID != second.ID {
			t.Fatalf("attempts %d %v %v", n, attempts, err)
		}
		if tl := s.timelineText(ls.ID); !strings.Contains(tl, "ATTEMPT "+first.ID+" EXPIRED") || !strings.Contains(tl, "ATTEMPT "+second.ID) {
			t.Fatalf("session timeline:\n%s", tl)
		}
		s.checkTruth()
	})
}

func TestLinkSession_NewCodeSupersedesThePendingOne(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := linkStack(t, open)
		ctx := context.Background()
		ls := s.newSession("cus_1", "")
		_, _, err := s.eng.StartLinkAttempt(ctx, ls.ID, "")
		wantCode(t, err, autodebit.EINVALID) // no wallet chosen yet
		_, _, err = s.eng.StartLinkAttempt(ctx, ls.ID, "PAYPAL")
		wantCode(t, err, autodebit.EINVALID)

		first := s.attempt(ls.ID, "DANA")
		if got := s.session(ls.ID); got.Wallet != "DANA" || !got.BuyerChoosesWallet {
			t.Fatalf("session after choosing DANA: %+v", got)
		}
		second := s.attempt(ls.ID, "GCASH") // the buyer changes their mind
		if a := s.authorization(first.ID); a.Status != autodebit.AuthorizationFailed || a.FailureCode != engine.CodeSuperseded {
			t.Fatalf("first attempt %s %s", a.Status, a.FailureCode)
		}
		// The old QR code approved after all links nothing.
		if _, err := s.sim.Approve(first.QRText, ""); err != nil {
			t.Fatal(err)
		}
		s.waitFor("the old attempt's notification", func() bool { return s.timelineHas(first.ID, "notify.authorization") })
		if got := s.session(ls.ID); got.Status != autodebit.LinkSessionOpen || got.AuthorizationID != second.ID {
			t.Fatalf("session after the old QR was approved: %+v", got)
		}
		if _, err := s.sim.Approve(second.QRText, ""); err != nil {
			t.Fatal(err)
		}
		got := s.waitSession(ls.ID, autodebit.LinkSessionComplete)
		if got.Wallet != "GCASH" || got.AuthorizationID != second.ID {
			t.Fatalf("complete session %+v", got)
		}
		if _, n, _ := s.store.FindTokens(ctx, autodebit.TokenFilter{CustomerID: "cus_1"}); n != 1 {
			t.Fatalf("%d tokens, want 1", n)
		}
		s.checkTruth()
	})
}

func TestLinkSession_Expires(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := linkStack(t, open)
		ctx := context.Background()
		ls, err := s.eng.CreateLinkSession(ctx, engine.LinkSessionInput{CustomerID: "cus_1", Wallet: "GCASH", ReturnURL: "https://shop.example/", Lifetime: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		a := s.attempt(ls.ID, "")
		var re *engine.RetryError
		if err := s.eng.Work(ctx, engine.ExpireLinkSessionArgs{LinkSessionID: ls.ID}); !errors.As(err, &re) || re.Delay <= 0 || re.Delay > 10*time.Minute {
			t.Fatalf("expiry before its time: %v", err)
		}
		s.advance(10*time.Minute + time.Second)
		_, _, err = s.eng.StartLinkAttempt(ctx, ls.ID, "")
		wantCode(t, err, autodebit.ECONFLICT) // over, even before the job ran
		if err := s.eng.Work(ctx, engine.ExpireLinkSessionArgs{LinkSessionID: ls.ID}); err != nil {
			t.Fatal(err)
		}
		if got := s.session(ls.ID); got.Status != autodebit.LinkSessionExpired {
			t.Fatalf("session %s", got.Status)
		}
		// The QR code still on the screen links nothing.
		if got := s.authorization(a.ID); got.Status != autodebit.AuthorizationFailed || got.FailureCode != engine.CodeLinkSessionExpired {
			t.Fatalf("attempt %s %s", got.Status, got.FailureCode)
		}
		s.wantEvents(ls.ID, "/v1/link-sessions/"+ls.ID, autodebit.EventLinkSessionExpired)
		if err := s.eng.Work(ctx, engine.ExpireLinkSessionArgs{LinkSessionID: ls.ID}); err != nil { // a second run changes nothing
			t.Fatal(err)
		}
		s.wantEvents(ls.ID, "/v1/link-sessions/"+ls.ID, autodebit.EventLinkSessionExpired)
	})
}

func TestLinkSession_ExpiryWaitsForApplyToken(t *testing.T) {
	s := linkStack(t, storetest.Openers()[0])
	ctx := context.Background()
	ls, err := s.eng.CreateLinkSession(ctx, engine.LinkSessionInput{CustomerID: "cus_1", Wallet: "GCASH", ReturnURL: "https://shop.example/", Lifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	a := s.attempt(ls.ID, "")
	// The buyer agreed as the session ends: applyToken is running.
	if err := s.store.WithTx(ctx, func(tx autodebit.Tx) error {
		cur, err := tx.FindAuthorizationForUpdate(ctx, a.ID)
		if err != nil {
			return err
		}
		cur.Status, cur.AuthCode, cur.AuthorizedAt = autodebit.AuthorizationAuthorized, "code-in-flight", s.sim.Now()
		return tx.UpdateAuthorization(ctx, cur)
	}); err != nil {
		t.Fatal(err)
	}
	s.advance(time.Minute + time.Second)
	var re *engine.RetryError
	if err := s.eng.Work(ctx, engine.ExpireLinkSessionArgs{LinkSessionID: ls.ID}); !errors.As(err, &re) || re.Delay > 10*time.Second {
		t.Fatalf("expiry with applyToken running: %v", err)
	}
	if got := s.session(ls.ID); got.Status != autodebit.LinkSessionOpen {
		t.Fatalf("session %s while applyToken runs", got.Status)
	}
	_, err = s.eng.CancelLinkSession(ctx, ls.ID, engine.CancelledByBuyer)
	wantCode(t, err, autodebit.ECONFLICT)
	// applyToken failed: now the session expires.
	if err := s.eng.Work(ctx, engine.ApplyTokenArgs{AuthorizationID: a.ID}); err != nil {
		t.Fatal(err)
	}
	if got := s.authorization(a.ID); got.Status != autodebit.AuthorizationFailed {
		t.Fatalf("attempt %s after applyToken", got.Status)
	}
	if err := s.eng.Work(ctx, engine.ExpireLinkSessionArgs{LinkSessionID: ls.ID}); err != nil {
		t.Fatal(err)
	}
	if got := s.session(ls.ID); got.Status != autodebit.LinkSessionExpired {
		t.Fatalf("session %s", got.Status)
	}
}

func TestLinkSession_Cancel(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := linkStack(t, open)
		ctx := context.Background()
		ls := s.newSession("cus_1", "GCASH")
		a := s.attempt(ls.ID, "")
		got, err := s.eng.CancelLinkSession(ctx, ls.ID, engine.CancelledByBuyer)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != autodebit.LinkSessionCancelled || got.CancelledAt.IsZero() {
			t.Fatalf("cancelled session %+v", got)
		}
		if want := "https://shop.example/cart?link_session=" + ls.ID + "&status=cancelled#top"; got.CancelledURL() != want {
			t.Fatalf("CancelledURL %q, want %q", got.CancelledURL(), want)
		}
		if a := s.authorization(a.ID); a.Status != autodebit.AuthorizationFailed || a.FailureCode != engine.CodeLinkSessionCancelled {
			t.Fatalf("attempt %s %s", a.Status, a.FailureCode)
		}
		again, err := s.eng.CancelLinkSession(ctx, ls.ID, engine.CancelledByMerchant)
		if err != nil || again.Version != got.Version {
			t.Fatalf("second cancel: %+v, %v", again, err)
		}
		if tl := s.timelineText(ls.ID); !strings.Contains(tl, "CANCELLED by the buyer") || strings.Contains(tl, "by the merchant") {
			t.Fatalf("timeline:\n%s", tl)
		}
		_, _, err = s.eng.StartLinkAttempt(ctx, ls.ID, "")
		wantCode(t, err, autodebit.ECONFLICT)
		_, err = s.eng.CancelLinkSession(ctx, "ls_nope", engine.CancelledByBuyer)
		wantCode(t, err, autodebit.ENOTFOUND)
		// No event type reports a cancel: the browser goes to cancelUrl.
		s.wantEvents(ls.ID, "/v1/link-sessions/"+ls.ID)
	})
}

func TestCreateLinkSession_BadInput(t *testing.T) {
	s := linkStack(t, storetest.Openers()[0])
	ctx := context.Background()
	ok := engine.LinkSessionInput{CustomerID: "cus_1", Wallet: "GCASH", ReturnURL: "https://shop.example/linked"}
	for _, c := range []struct {
		name string
		mod  func(*engine.LinkSessionInput)
		want string
	}{
		{"NoCustomer", func(in *engine.LinkSessionInput) { in.CustomerID = "" }, "Customer ID must be 1 to 64"},
		{"LongCustomer", func(in *engine.LinkSessionInput) { in.CustomerID = strings.Repeat("c", 65) }, "Customer ID must be 1 to 64"},
		{"InvisibleCustomer", func(in *engine.LinkSessionInput) { in.CustomerID = "cus\u200d1" }, "invisible"},
		{"UnknownWallet", func(in *engine.LinkSessionInput) { in.Wallet = "PAYPAL" }, `Wallet "PAYPAL" is not a Scan to Link wallet`},
		{"RelativeReturn", func(in *engine.LinkSessionInput) { in.ReturnURL = "/linked" }, `"returnUrl" must be an absolute http:// or https:// URL`},
		{"FTPReturn", func(in *engine.LinkSessionInput) { in.ReturnURL = "ftp://shop.example/" }, `"returnUrl" must be an absolute`},
		{"JavascriptCancel", func(in *engine.LinkSessionInput) { in.CancelURL = "javascript:alert(1)" }, `"cancelUrl" must be an absolute`},
		{"UserInfo", func(in *engine.LinkSessionInput) { in.ReturnURL = "https://shop.example@evil.example/" }, "user name or password"},
		{"OtherHost", func(in *engine.LinkSessionInput) { in.ReturnURL = "https://evil.example/" }, `host "evil.example", which is not one of the allowed hosts`},
		{"OtherCancelHost", func(in *engine.LinkSessionInput) { in.CancelURL = "https://pay.example/" }, `"cancelUrl" names host "pay.example"`},
		{"BadLocale", func(in *engine.LinkSessionInput) { in.Locale = "fr" }, `Locale "fr" is not one of en, zh, id, ko, th, ms, tl`},
		{"ShortLifetime", func(in *engine.LinkSessionInput) { in.Lifetime = 30 * time.Second }, "from 1m to 24h"},
		{"LongLifetime", func(in *engine.LinkSessionInput) { in.Lifetime = 25 * time.Hour }, "from 1m to 24h"},
		{"NegativeLifetime", func(in *engine.LinkSessionInput) { in.Lifetime = -time.Hour }, "out of bounds"},
		{"LongKey", func(in *engine.LinkSessionInput) { in.IdempotencyKey = strings.Repeat("k", 256) }, "Idempotency-Key"},
	} {
		in := ok
		c.mod(&in)
		_, err := s.eng.CreateLinkSession(ctx, in)
		if autodebit.ErrorCode(err) != autodebit.EINVALID || !strings.Contains(autodebit.ErrorMessage(err), c.want) {
			t.Errorf("%s: %v, want EINVALID with %q", c.name, err, c.want)
		}
	}
	if _, n, err := s.store.FindLinkSessions(ctx, autodebit.LinkSessionFilter{}); err != nil || n != 0 {
		t.Fatalf("bad input stored %d sessions, %v", n, err)
	}
	// Allowed: the listed host, a subdomain of the wildcard, the engine's
	// own host; not the wildcard's apex.
	for _, u := range []string{"https://SHOP.example/x", "https://eu.pay.example/back", s.srv.URL + "/demo/return"} {
		in := ok
		in.ReturnURL = u
		if _, err := s.eng.CreateLinkSession(ctx, in); err != nil {
			t.Errorf("returnUrl %s: %v", u, err)
		}
	}
}

func TestCreateLinkSession_NoHostsAllowed(t *testing.T) {
	s := newStack(t, storetest.Openers()[0], stackOptions{})
	_, err := s.eng.CreateLinkSession(context.Background(), engine.LinkSessionInput{CustomerID: "cus_1", ReturnURL: "https://shop.example/"})
	if autodebit.ErrorCode(err) != autodebit.EINVALID || !strings.Contains(autodebit.ErrorMessage(err), "--link-return-hosts") {
		t.Fatalf("err=%v, want EINVALID naming --link-return-hosts", err)
	}
	// The engine's own pages are always allowed: the console's links
	// return to the built-in "linked" page.
	ls, err := s.eng.CreateLinkSession(context.Background(), engine.LinkSessionInput{CustomerID: "cus_1"})
	if err != nil || ls.ReturnURL != s.srv.URL+engine.LinkDonePath {
		t.Fatalf("session without a returnUrl: %+v, %v", ls, err)
	}
	if _, err := engine.New(engine.Config{Store: s.store, Antom: nil, PublicURL: "x", LinkReturnHosts: []string{"https://shop.example"}}); err == nil {
		t.Fatal("engine.New accepted a URL as a link return host")
	}
}

func TestCreateLinkSession_Idempotency(t *testing.T) {
	s := linkStack(t, storetest.Openers()[0])
	ctx := context.Background()
	in := engine.LinkSessionInput{CustomerID: "cus_1", ReturnURL: "https://shop.example/linked", IdempotencyKey: "signup-42"}
	first, err := s.eng.CreateLinkSession(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	rctx, replayed := engine.WithReplayReport(ctx)
	again, err := s.eng.CreateLinkSession(rctx, in)
	if err != nil || again.ID != first.ID || again.Secret != first.Secret || !*replayed {
		t.Fatalf("replay: %+v (replayed %v), %v", again, *replayed, err)
	}
	in.Wallet = "GCASH"
	_, err = s.eng.CreateLinkSession(ctx, in)
	wantCode(t, err, autodebit.ECONFLICT)
	if _, n, _ := s.store.FindLinkSessions(ctx, autodebit.LinkSessionFilter{}); n != 1 {
		t.Fatalf("%d sessions, want 1", n)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := autodebit.ErrorCode(err); got != code {
		t.Fatalf("error %v (code %q), want %q", err, got, code)
	}
}
