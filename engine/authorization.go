package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
)

// authCodeLifetime is how long Antom accepts an authCode in applyToken.
const authCodeLifetime = time.Minute

// applyTokenBackoff resends applyToken fast: the authCode dies in a minute.
var applyTokenBackoff = antom.Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2, Jitter: 0.2}

// QRImagePath returns the path at which the engine serves an
// authorization's QR code as a PNG image.
func QRImagePath(authorizationID string) string {
	return "/qr/" + authorizationID + ".png"
}

// CreateAuthorization starts a linking attempt: it calls consult with a
// fresh authState and returns the PENDING authorization with the QR code to
// show. The authorization expires after autodebit.AuthorizationTTL without an
// authCode.
//
// Returns EINVALID for an unknown wallet or a bad customer ID, EDECLINED
// when Antom refuses (F) and EUNAVAILABLE when Antom cannot be reached or
// gives no final answer (U); in both cases the attempt is stored FAILED with
// Antom's code and its exchange in the timeline.
func (e *Engine) CreateAuthorization(ctx context.Context, customerID, wallet string) (*autodebit.Authorization, error) {
	a, aud, result, err := e.consultAttempt(ctx, customerID, wallet, "")
	if err != nil {
		return nil, err
	}
	if err := e.store.WithTx(ctx, func(tx autodebit.Tx) error { return e.createAttemptTx(ctx, tx, a, aud) }); err != nil {
		return nil, err
	}
	if result != nil {
		return nil, result
	}
	e.log.Info("authorization created", "authorization", a.ID, "customer", a.CustomerID, "wallet", a.Wallet)
	return a, nil
}

// consultAttempt builds a new attempt (of link session linkSessionID, if
// set) and calls consult for it, outside any transaction. err is EINVALID
// for a bad wallet or customer ID, with nothing sent. Otherwise a is
// PENDING with its QR code, or FAILED with Antom's code and result the
// error that says so (EDECLINED or EUNAVAILABLE); aud holds the exchange.
// Store it with createAttemptTx either way.
func (e *Engine) consultAttempt(ctx context.Context, customerID, wallet, linkSessionID string) (a *autodebit.Authorization, aud *audit, result, err error) {
	if _, ok := antom.LookupWallet(wallet); !ok {
		return nil, nil, nil, autodebit.Errorf(autodebit.EINVALID, "Wallet %q is not a Scan to Link wallet; use one of %s.", wallet, walletList())
	}
	now := e.now()
	a = &autodebit.Authorization{
		ID:            autodebit.NewID(autodebit.AuthorizationIDPrefix),
		CustomerID:    customerID,
		Wallet:        wallet,
		Status:        autodebit.AuthorizationPending,
		AuthState:     autodebit.NewAuthState(),
		LinkSessionID: linkSessionID,
		ExpiresAt:     now.Add(autodebit.AuthorizationTTL),
		CreatedAt:     now,
	}
	if err := a.Validate(); err != nil {
		return nil, nil, nil, err
	}
	actx, aud := e.withAudit(ctx, a.ID)
	cctx, cancel := context.WithTimeout(actx, e.cfg.CallTimeout)
	resp, err := e.antom.Consult(cctx, &antom.ConsultRequest{
		CustomerBelongsTo: wallet,
		AuthRedirectURL:   e.cfg.AuthRedirectURL,
		Scopes:            []string{antom.ScopeAgreementPay},
		AuthState:         a.AuthState,
		TerminalType:      antom.TerminalTypeWeb,
		Env:               &antom.Env{TerminalType: antom.TerminalTypeWeb},
		AuthNotifyURL:     e.notify.authorization,
	})
	cancel()

	switch {
	case err != nil:
		a.Status, a.FailureCode, a.FailureMessage = autodebit.AuthorizationFailed, "CONSULT_UNAVAILABLE", err.Error()
		// Whether or not consult reached Antom, no QR code came back and
		// nothing can follow from it: a new attempt is safe.
		result = autodebit.Errorf(autodebit.EUNAVAILABLE, "Antom did not answer consult, so no QR code was made; try again.")
	case resp.Result.Failed():
		a.Status, a.FailureCode, a.FailureMessage = autodebit.AuthorizationFailed, resp.Result.ResultCode, resp.Result.ResultMessage
		result = autodebit.Errorf(autodebit.EDECLINED, "Antom refused the authorization: %s (%s).", resp.Result.ResultMessage, resp.Result.ResultCode)
	case !resp.Result.Succeeded():
		// U: consult made no QR code we can show. A new attempt gets a new
		// authState, so trying again is safe.
		a.Status, a.FailureCode, a.FailureMessage = autodebit.AuthorizationFailed, resp.Result.ResultCode, resp.Result.ResultMessage
		result = autodebit.Errorf(autodebit.EUNAVAILABLE, "Antom gave no final answer to consult (%s); try again.", resp.Result)
	case resp.AuthCodeForm.Text() == "":
		a.Status, a.FailureCode, a.FailureMessage = autodebit.AuthorizationFailed, "NO_QR_CODE", "consult succeeded without a TEXT code"
		result = autodebit.Errorf(autodebit.EUNAVAILABLE, "Antom returned no QR code; try again.")
	default:
		a.QRText = resp.AuthCodeForm.Text()
		a.QRImageURL = e.cfg.PublicURL + QRImagePath(a.ID)
	}
	return a, aud, result, nil
}

// createAttemptTx stores an attempt made by consultAttempt, with its
// exchange in its timeline: a PENDING one with the job that expires it, a
// failed one kept too, so that the timeline shows what Antom answered. It is
// created PENDING, its lifecycle's first status, and fails in tx.
func (e *Engine) createAttemptTx(ctx context.Context, tx autodebit.Tx, a *autodebit.Authorization, aud *audit) error {
	failed := *a
	if failed.Status != autodebit.AuthorizationPending {
		a.Status, a.FailureCode, a.FailureMessage = autodebit.AuthorizationPending, "", ""
	}
	if err := tx.CreateAuthorization(ctx, a); err != nil {
		return fmt.Errorf("create authorization: %w", err)
	}
	if err := appendTimeline(ctx, tx, aud.take()...); err != nil {
		return err
	}
	if failed.Status != autodebit.AuthorizationPending {
		a.Status, a.FailureCode, a.FailureMessage = failed.Status, failed.FailureCode, failed.FailureMessage
		return e.moveAuthorizationTx(ctx, tx, a, "FAILED: "+a.FailureCode, a.CreatedAt)
	}
	return tx.Enqueue(ctx, autodebit.Job{Args: ExpireAuthorizationArgs{AuthorizationID: a.ID}, ScheduledAt: a.ExpiresAt})
}

func walletList() string {
	var s string
	for i, w := range antom.Wallets() {
		if i > 0 {
			s += ", "
		}
		s += w.Code
	}
	return s
}

// applyToken exchanges an AUTHORIZED authorization's authCode for a token,
// resending the same request on no answer or U until the authCode's minute
// is over.
func (e *Engine) applyToken(ctx context.Context, authID string) error {
	a, err := e.store.FindAuthorizationByID(ctx, authID)
	if err != nil {
		return err
	}
	if a.Status != autodebit.AuthorizationAuthorized {
		return nil // already done, or failed/expired meanwhile
	}
	deadline := a.AuthorizedAt.Add(e.cfg.AuthCodeWindow)
	left := deadline.Sub(e.now())
	if left <= 0 {
		return e.failAuthorization(ctx, a.ID, nil, "AUTH_CODE_EXPIRED", "the authCode's one-minute window passed before applyToken succeeded")
	}
	actx, aud := e.withAudit(ctx, a.ID)
	// left is on the engine's clock; the retries run in real time.
	cctx, cancel := context.WithTimeout(actx, time.Duration(float64(left)/e.cfg.ClockScale))
	defer cancel()
	req := &antom.ApplyTokenRequest{GrantType: antom.GrantTypeAuthorizationCode, CustomerBelongsTo: a.Wallet, AuthCode: a.AuthCode}
	resp, err := antom.Retry(cctx, applyTokenBackoff, func(ctx context.Context) (*antom.ApplyTokenResponse, error) {
		return e.antom.ApplyToken(ctx, req)
	})
	// Record the answer even if the job is being stopped: the authCode is
	// spent, and the token would be lost with it.
	rctx := context.WithoutCancel(ctx)
	switch {
	case err == nil && resp.Result.Succeeded():
		return e.activate(rctx, a.ID, resp, aud)
	case err == nil && resp.Result.ResultCode == antom.CodeUsedCode:
		// Another run of this job (a resumed one, on another replica) may
		// have used the code and be storing the token: look again shortly,
		// until the authCode's minute is over.
		e.flushAudit(rctx, aud)
		if cur, err := e.store.FindAuthorizationByID(rctx, a.ID); err != nil || cur.Status != autodebit.AuthorizationAuthorized {
			return err
		}
		return &RetryError{Delay: time.Second, Err: errors.New("authCode already used; waiting for the run that used it")}
	case err == nil && resp.Result.Failed():
		return e.failAuthorization(rctx, a.ID, aud, resp.Result.ResultCode, resp.Result.ResultMessage)
	case ctx.Err() != nil:
		// Shutting down: let the job run again.
		e.flushAudit(rctx, aud)
		return ctx.Err()
	default:
		// The minute is over without a final answer. The authCode is dead.
		msg := "no final applyToken answer within the authCode's minute"
		if err != nil {
			msg += ": " + err.Error()
		}
		return e.failAuthorization(rctx, a.ID, aud, "APPLY_TOKEN_TIMEOUT", msg)
	}
}

// activate stores the token and makes the authorization ACTIVE.
func (e *Engine) activate(ctx context.Context, authID string, resp *antom.ApplyTokenResponse, aud *audit) error {
	now := e.now()
	var since time.Duration
	var tokenID string
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		a, err := tx.FindAuthorizationForUpdate(ctx, authID)
		if err != nil {
			return err
		}
		if err := appendTimeline(ctx, tx, aud.take()...); err != nil {
			return err
		}
		if a.Status != autodebit.AuthorizationAuthorized {
			return e.orphanToken(ctx, tx, a, resp, now)
		}
		t := &autodebit.Token{
			ID:                    autodebit.NewID(autodebit.TokenIDPrefix),
			CustomerID:            a.CustomerID,
			Wallet:                a.Wallet,
			AuthorizationID:       a.ID,
			Status:                autodebit.TokenActive,
			AccessToken:           resp.AccessToken,
			RefreshToken:          resp.RefreshToken,
			AccessTokenExpiresAt:  resp.AccessTokenExpiryTime.Time,
			RefreshTokenExpiresAt: resp.RefreshTokenExpiryTime.Time,
			UserLoginID:           resp.UserLoginID,
			CreatedAt:             now,
		}
		if err := tx.CreateToken(ctx, t); err != nil {
			return fmt.Errorf("create token for %s: %w", a.ID, err)
		}
		a.Status, a.TokenID, a.AuthCode = autodebit.AuthorizationActive, t.ID, ""
		if err := e.moveAuthorizationTx(ctx, tx, a, "ACTIVE: token "+t.ID, now); err != nil {
			return err
		}
		since, tokenID = now.Sub(a.AuthorizedAt), t.ID
		return appendTimeline(ctx, tx, stateEntry(t.ID, "ACTIVE", now))
	})
	if err == nil && since > 0 {
		e.m.TokenIssued(since)
		e.log.Info("token stored", "authorization", authID, "token", tokenID, "sinceAuthCode", since)
	}
	return err
}

// orphanToken handles a token Antom issued for an authorization that is no
// longer AUTHORIZED. The same token stored already (a resend answered by
// another run) needs nothing. Any other would live at Antom with nothing to
// charge or revoke it: it is stored unchargeable, with its revoke queued.
func (e *Engine) orphanToken(ctx context.Context, tx autodebit.Tx, a *autodebit.Authorization, resp *antom.ApplyTokenResponse, now time.Time) error {
	if _, err := tx.FindTokenByAccessToken(ctx, resp.AccessToken); err == nil || autodebit.ErrorCode(err) != autodebit.ENOTFOUND {
		return err
	}
	t := &autodebit.Token{
		ID: autodebit.NewID(autodebit.TokenIDPrefix), CustomerID: a.CustomerID, Wallet: a.Wallet, AuthorizationID: a.ID,
		Status: autodebit.TokenActive, AccessToken: resp.AccessToken, RefreshToken: resp.RefreshToken,
		AccessTokenExpiresAt: resp.AccessTokenExpiryTime.Time, RefreshTokenExpiresAt: resp.RefreshTokenExpiryTime.Time,
		UserLoginID: resp.UserLoginID, RevokePending: true, RevokeNextAt: now.Add(revokeRetryDelay), CreatedAt: now,
	}
	if err := tx.CreateToken(ctx, t); err != nil {
		return fmt.Errorf("store orphan token of %s: %w", a.ID, err)
	}
	e.log.Warn("token issued for an authorization no longer AUTHORIZED; revoking it", "authorization", a.ID, "status", a.Status, "token", t.ID)
	why := fmt.Sprintf("issued after the authorization was %s: revoking it so that no token is left at Antom", a.Status)
	if err := appendTimeline(ctx, tx, stateEntry(a.ID, "TOKEN "+t.ID+" "+why, now), stateEntry(t.ID, "REVOKE requested: "+why, now)); err != nil {
		return err
	}
	return tx.Enqueue(ctx, autodebit.Job{Args: RevokeTokenArgs{TokenID: t.ID}})
}

// failAuthorization moves an authorization that is not final to FAILED.
func (e *Engine) failAuthorization(ctx context.Context, authID string, aud *audit, code, msg string) error {
	now := e.now()
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		a, err := tx.FindAuthorizationForUpdate(ctx, authID)
		if err != nil {
			return err
		}
		if aud != nil {
			if err := appendTimeline(ctx, tx, aud.take()...); err != nil {
				return err
			}
		}
		if a.Status.Final() {
			return nil
		}
		a.Status, a.FailureCode, a.FailureMessage, a.AuthCode = autodebit.AuthorizationFailed, code, msg, ""
		return e.moveAuthorizationTx(ctx, tx, a, "FAILED: "+code, now)
	})
	if err == nil {
		e.log.Warn("authorization failed", "authorization", authID, "code", code, "message", msg)
	}
	return err
}

// expireAuthorization ends an authorization still PENDING at its expiry:
// Antom sends no failure notice, so 15 minutes of silence means failure.
func (e *Engine) expireAuthorization(ctx context.Context, authID string) error {
	now := e.now()
	var wait time.Duration
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		a, err := tx.FindAuthorizationForUpdate(ctx, authID)
		if err != nil {
			return err
		}
		if a.Status != autodebit.AuthorizationPending {
			return nil
		}
		if now.Before(a.ExpiresAt) {
			wait = a.ExpiresAt.Sub(now)
			return nil
		}
		a.Status, a.FailureCode, a.FailureMessage = autodebit.AuthorizationExpired, "EXPIRED", "no authCode within 15 minutes"
		return e.moveAuthorizationTx(ctx, tx, a, "EXPIRED", now)
	})
	if err != nil {
		return err
	}
	if wait > 0 {
		return &RetryError{Delay: wait, Err: errors.New("authorization not expired yet")}
	}
	return nil
}
