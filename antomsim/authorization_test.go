package antomsim_test

import (
	"context"
	"errors"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
)

func TestConsult(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("QRImage", func(t *testing.T) {
		e := newEnv(t, nil)
		c, err := e.client.Consult(ctx, consultReq("ALIPAY_HK", "s"))
		if err != nil {
			t.Fatal(err)
		}
		d := c.AuthCodeForm.CodeDetails
		if len(d) != 2 || d[0].DisplayType != "TEXT" || d[1].DisplayType != "BIGIMAGE" || d[0].CodeValueType != "QRCODE" {
			t.Fatalf("codeDetails = %+v", d)
		}
		resp, err := http.Get(c.AuthCodeForm.ImageURL())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := png.Decode(resp.Body); err != nil || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("QR image: %v", err)
		}
	})
	t.Run("SingleUse", func(t *testing.T) {
		e := newEnv(t, nil)
		c, _ := e.client.Consult(ctx, consultReq("GCASH", "s"))
		if _, err := e.sim.Approve(c.AuthCodeForm.Text(), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.sim.Approve(c.AuthCodeForm.Text(), ""); !errors.Is(err, antomsim.ErrConflict) {
			t.Fatalf("second approve: %v, want ErrConflict", err)
		}
		resp, err := http.Post(c.AuthCodeForm.Text(), "application/json", strings.NewReader(`{"action":"deny"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict {
			t.Fatalf("deny after approve: %d, want 409", resp.StatusCode)
		}
	})
	t.Run("DenySendsNothing", func(t *testing.T) {
		e := newEnv(t, nil)
		c, _ := e.client.Consult(ctx, consultReq("GCASH", "s"))
		resp, err := http.PostForm(c.AuthCodeForm.Text(), map[string][]string{"action": {"deny"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		e.settle(t)
		a := e.sim.Authorizations()[0]
		if resp.StatusCode != 200 || a.Status != antomsim.AuthDenied || len(e.notify.all()) != 0 {
			t.Fatalf("status %d, auth %s, %d notifications", resp.StatusCode, a.Status, len(e.notify.all()))
		}
	})
	t.Run("ExpiresAfter15Minutes", func(t *testing.T) {
		e := newEnv(t, nil)
		c, _ := e.client.Consult(ctx, consultReq("GCASH", "s"))
		e.advance(t, 15*time.Minute-time.Second)
		if a := e.sim.Authorizations()[0]; a.Status != antomsim.AuthPending {
			t.Fatalf("status before expiry = %s", a.Status)
		}
		e.advance(t, time.Second)
		if a := e.sim.Authorizations()[0]; a.Status != antomsim.AuthExpired {
			t.Fatalf("status after expiry = %s", a.Status)
		}
		resp, err := http.Post(c.AuthCodeForm.Text(), "application/json", strings.NewReader(`{"action":"approve"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusGone {
			t.Fatalf("approve after expiry: %d, want 410", resp.StatusCode)
		}
	})
	t.Run("WalletPageFormCreatesAccount", func(t *testing.T) {
		e := newEnv(t, nil)
		c, _ := e.client.Consult(ctx, consultReq("TNG", "s"))
		resp, err := http.PostForm(c.AuthCodeForm.Text(), map[string][]string{"action": {"approve"}, "newLoginId": {"new@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		acct, err := e.sim.Account("TNG", "new@example.com")
		if err != nil || acct.Currency != "MYR" || acct.Balance != 1_000_000_00 {
			t.Fatalf("account = %+v, %v", acct, err)
		}
		e.settle(t)
		if n := e.notify.ofType(antom.AuthCodeCreated); len(n) != 1 {
			t.Fatalf("AUTHCODE_CREATED count = %d", len(n))
		}
	})
	t.Run("ScopeRequired", func(t *testing.T) {
		e := newEnv(t, nil)
		r := consultReq("GCASH", "s")
		r.Scopes = []string{"USER_INFO"}
		c, err := e.client.Consult(ctx, r)
		if err != nil || c.Result.ResultCode != antom.CodeParamIllegal {
			t.Fatalf("consult = %+v, %v", c, err)
		}
	})
}

func TestApplyToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	approved := func(t *testing.T, e *env) antomsim.Authorization {
		c, err := e.client.Consult(ctx, consultReq("GCASH", "s"))
		if err != nil {
			t.Fatal(err)
		}
		a, err := e.sim.Approve(c.AuthCodeForm.Text(), "")
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	apply := func(t *testing.T, e *env, code string) *antom.ApplyTokenResponse {
		r, err := e.client.ApplyToken(ctx, &antom.ApplyTokenRequest{GrantType: antom.GrantTypeAuthorizationCode, CustomerBelongsTo: "GCASH", AuthCode: code})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	t.Run("OK", func(t *testing.T) {
		e := newEnv(t, nil)
		r := apply(t, e, approved(t, e).AuthCode)
		// Antom's Scan to Link guide: GCash tokens are valid for 100 years.
		hundredYears := time.Duration(100 * 365.25 * 24 * float64(time.Hour))
		if !r.Result.Succeeded() || !r.AccessTokenExpiryTime.Equal(t0.Add(hundredYears)) ||
			!r.RefreshTokenExpiryTime.Equal(t0.Add(hundredYears)) || r.UserLoginID != "091****4567" {
			t.Fatalf("applyToken = %+v", r)
		}
	})
	t.Run("ResendGetsSameToken", func(t *testing.T) {
		// A resend of the same request (its answer was lost) must not
		// burn the authorization: it gets the token already issued.
		e := newEnv(t, nil)
		a := approved(t, e)
		first := apply(t, e, a.AuthCode)
		second := apply(t, e, a.AuthCode)
		if !second.Result.Succeeded() || second.AccessToken != first.AccessToken || second.RefreshToken != first.RefreshToken {
			t.Fatalf("resent applyToken = %+v, want the token of %+v", second, first)
		}
		if truth := e.sim.Truth(); len(truth.Tokens) != 1 {
			t.Fatalf("tokens issued = %d, want 1", len(truth.Tokens))
		}
	})
	t.Run("UsedCode", func(t *testing.T) {
		e := newEnv(t, nil)
		a := approved(t, e)
		tok := apply(t, e, a.AuthCode)
		if r, err := e.client.Revoke(ctx, &antom.RevokeRequest{AccessToken: tok.AccessToken}); err != nil || !r.Result.Succeeded() {
			t.Fatalf("revoke = %+v, %v", r, err)
		}
		if r := apply(t, e, a.AuthCode); r.Result.ResultCode != antom.CodeUsedCode || !r.Result.Failed() {
			t.Fatalf("applyToken after the token was revoked = %+v", r.Result)
		}
	})
	t.Run("ExpiredCode", func(t *testing.T) {
		e := newEnv(t, nil)
		a := approved(t, e)
		e.advance(t, time.Minute)
		if r := apply(t, e, a.AuthCode); r.Result.ResultCode != antom.CodeExpiredCode {
			t.Fatalf("applyToken after 1m = %+v", r.Result)
		}
	})
	t.Run("InvalidCode", func(t *testing.T) {
		e := newEnv(t, nil)
		if r := apply(t, e, "NOPE"); r.Result.ResultCode != antom.CodeInvalidCode {
			t.Fatalf("applyToken = %+v", r.Result)
		}
		a := approved(t, e)
		r, _ := e.client.ApplyToken(ctx, &antom.ApplyTokenRequest{GrantType: antom.GrantTypeAuthorizationCode, CustomerBelongsTo: "DANA", AuthCode: a.AuthCode})
		if r.Result.ResultCode != antom.CodeInvalidCode {
			t.Fatalf("applyToken for another wallet = %+v", r.Result)
		}
	})
	t.Run("Refresh", func(t *testing.T) {
		e := newEnv(t, func(c *antomsim.Config) {
			c.TokenValidity = map[string]antomsim.TokenValidity{"GCASH": {AccessToken: time.Hour, RefreshToken: 48 * time.Hour}}
		})
		first := apply(t, e, approved(t, e).AuthCode)
		if !first.AccessTokenExpiryTime.Equal(t0.Add(time.Hour)) {
			t.Fatalf("access expiry = %v", first.AccessTokenExpiryTime)
		}
		e.advance(t, 2*time.Hour)
		if p, _ := e.client.Pay(ctx, payReq("p-exp", first.AccessToken, "GCASH", php(100))); p.Result.ResultCode != antom.CodeInvalidAccessToken {
			t.Fatalf("pay with expired token = %+v", p.Result)
		}
		refresh := func(rt string) *antom.ApplyTokenResponse {
			r, err := e.client.ApplyToken(ctx, &antom.ApplyTokenRequest{GrantType: antom.GrantTypeRefreshToken, CustomerBelongsTo: "GCASH", RefreshToken: rt})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		second := refresh(first.RefreshToken)
		if !second.Result.Succeeded() || second.AccessToken == first.AccessToken {
			t.Fatalf("refresh = %+v", second)
		}
		if p, _ := e.client.Pay(ctx, payReq("p-new", second.AccessToken, "GCASH", php(100))); !p.Result.Succeeded() {
			t.Fatalf("pay with refreshed token = %+v", p.Result)
		}
		if r := refresh(first.RefreshToken); r.Result.ResultCode != antom.CodeInvalidRefreshToken {
			t.Fatalf("reused refresh token = %+v", r.Result)
		}
		e.advance(t, 48*time.Hour)
		if r := refresh(second.RefreshToken); r.Result.ResultCode != antom.CodeExpiredRefreshToken {
			t.Fatalf("expired refresh token = %+v", r.Result)
		}
	})
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("MerchantRevokeNotifies", func(t *testing.T) {
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		r, err := e.client.Revoke(ctx, &antom.RevokeRequest{AccessToken: tok.AccessToken})
		if err != nil || !r.Result.Succeeded() {
			t.Fatalf("revoke: %v %+v", err, r)
		}
		if r, _ := e.client.Revoke(ctx, &antom.RevokeRequest{AccessToken: tok.AccessToken}); r.Result.ResultCode != antom.CodeInvalidAccessToken {
			t.Fatalf("second revoke = %+v", r.Result)
		}
		if p, _ := e.client.Pay(ctx, payReq("p", tok.AccessToken, "GCASH", php(100))); p.Result.ResultCode != antom.CodeInvalidAccessToken {
			t.Fatalf("pay after revoke = %+v", p.Result)
		}
		if r, _ := e.client.ApplyToken(ctx, &antom.ApplyTokenRequest{GrantType: antom.GrantTypeRefreshToken, CustomerBelongsTo: "GCASH", RefreshToken: tok.RefreshToken}); r.Result.ResultCode != antom.CodeInvalidRefreshToken {
			t.Fatalf("refresh after revoke = %+v", r.Result)
		}
		e.settle(t)
		if n := e.notify.ofType(antom.TokenCanceled); len(n) != 1 {
			t.Fatalf("TOKEN_CANCELED count = %d", len(n))
		}
	})
	t.Run("NoRevokeNotification", func(t *testing.T) {
		e := newEnv(t, func(c *antomsim.Config) { c.NoRevokeNotification = true })
		tok := e.link(t, "GCASH", "")
		e.client.Revoke(ctx, &antom.RevokeRequest{AccessToken: tok.AccessToken})
		e.settle(t)
		if n := e.notify.ofType(antom.TokenCanceled); len(n) != 0 {
			t.Fatalf("TOKEN_CANCELED count = %d, want 0", len(n))
		}
	})
	t.Run("WalletCancel", func(t *testing.T) {
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		var got antomsim.Token
		if st := e.control(t, "POST", "/sim/v1/tokens/"+tok.AccessToken+"/cancel", `{"reason":"unlinked in app"}`, &got); st != 200 || got.Status != antomsim.TokenCanceled {
			t.Fatalf("cancel: %d %+v", st, got)
		}
		if st := e.control(t, "POST", "/sim/v1/tokens/"+tok.AccessToken+"/cancel", nil, nil); st != http.StatusConflict {
			t.Fatalf("second cancel: %d, want 409", st)
		}
		e.settle(t)
		n := e.notify.ofType(antom.TokenCanceled)
		if len(n) != 1 || n[0].Authorization.Reason != "unlinked in app" || n[0].Authorization.AccessToken != tok.AccessToken {
			t.Fatalf("TOKEN_CANCELED = %+v", n)
		}
		if p, _ := e.client.Pay(ctx, payReq("p", tok.AccessToken, "GCASH", php(100))); p.Result.ResultCode != antom.CodeInvalidAccessToken {
			t.Fatalf("pay after cancel = %+v", p.Result)
		}
	})
}
