package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
)

// revokeRetryDelay is the wait before a revoke that got no final answer is
// sent again.
const revokeRetryDelay = 30 * time.Second

// RevokeToken ends a token: it is marked RevokePending at once (so it can no
// longer be charged) and revoked at Antom, now and, until Antom confirms, by
// a retrying job. Revoking a REVOKED token returns it unchanged.
//
// Returns ENOTFOUND for an unknown token and ECONFLICT for an EXPIRED one.
func (e *Engine) RevokeToken(ctx context.Context, id string) (*autodebit.Token, error) {
	now := e.now()
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		t, err := tx.FindTokenForUpdate(ctx, id)
		if err != nil {
			return err
		}
		switch {
		case t.Status == autodebit.TokenRevoked:
			return nil
		case t.RevokePending && !t.RevokeNextAt.IsZero():
			return nil // on its way
		case t.RevokePending:
			// Antom refused an earlier revoke and no attempt is
			// scheduled: asking again sends it again.
			t.RevokeNextAt = now.Add(revokeRetryDelay)
			if err := tx.UpdateToken(ctx, t); err != nil {
				return fmt.Errorf("revoke %s again: %w", t.ID, err)
			}
			if err := appendTimeline(ctx, tx, stateEntry(t.ID, "REVOKE requested again", now)); err != nil {
				return err
			}
			return tx.Enqueue(ctx, autodebit.Job{Args: RevokeTokenArgs{TokenID: t.ID}})
		case t.Status != autodebit.TokenActive:
			return autodebit.Errorf(autodebit.ECONFLICT, "Token %s is %s and cannot be revoked.", t.ID, t.Status)
		}
		t.RevokePending, t.RevokeNextAt = true, now.Add(revokeRetryDelay)
		if err := tx.UpdateToken(ctx, t); err != nil {
			return fmt.Errorf("mark %s for revoke: %w", t.ID, err)
		}
		if err := appendTimeline(ctx, tx, stateEntry(t.ID, "REVOKE requested", now)); err != nil {
			return err
		}
		return tx.Enqueue(ctx, autodebit.Job{Args: RevokeTokenArgs{TokenID: t.ID}})
	})
	if err != nil {
		return nil, err
	}
	// Try at once; the job is the backstop.
	if err := e.revokeToken(ctx, id); err != nil {
		var re *RetryError
		if !errors.As(err, &re) {
			e.log.Warn("revoke failed; the job will retry", "token", id, "err", err)
		}
	}
	return e.store.FindTokenByID(ctx, id)
}

// revokeToken calls revoke for a token marked RevokePending and records the
// outcome.
func (e *Engine) revokeToken(ctx context.Context, id string) error {
	t, err := e.store.FindTokenByID(ctx, id)
	if err != nil {
		return err
	}
	if t.Status != autodebit.TokenActive || !t.RevokePending {
		return nil
	}
	actx, aud := e.withAudit(ctx, t.ID)
	cctx, cancel := context.WithTimeout(actx, e.cfg.CallTimeout)
	defer cancel()
	resp, err := antom.Retry(cctx, antom.Backoff{MaxAttempts: 3}, func(ctx context.Context) (*antom.RevokeResponse, error) {
		return e.antom.Revoke(ctx, &antom.RevokeRequest{AccessToken: t.AccessToken})
	})
	switch {
	case err == nil && (resp.Result.Succeeded() || resp.Result.ResultCode == antom.CodeInvalidAccessToken):
		// INVALID_ACCESS_TOKEN: Antom no longer knows the token; it is dead either way.
		return e.endToken(ctx, t.ID, aud, autodebit.TokenRevoked, autodebit.RevokedByMerchant, "revoked by the merchant")
	case err == nil && resp.Result.Failed():
		// Antom refused: the token stays unchargeable (RevokePending) and
		// needs a person; retrying the same request would not help, so no
		// attempt is scheduled and the sweep leaves it alone.
		e.log.Error("revoke refused by Antom; token left pending revoke", "token", t.ID, "code", resp.Result.ResultCode, "message", resp.Result.ResultMessage)
		return e.scheduleRevoke(ctx, t.ID, aud, 0)
	default:
		if err == nil {
			err = fmt.Errorf("revoke answered %s", resp.Result)
		}
		if serr := e.scheduleRevoke(ctx, t.ID, aud, revokeRetryDelay); serr != nil {
			return serr
		}
		return &RetryError{Delay: revokeRetryDelay, Err: err}
	}
}

// scheduleRevoke records the audit events and when a pending revoke is
// next sent: delay from now, or never (zero delay) when a person must look.
func (e *Engine) scheduleRevoke(ctx context.Context, id string, aud *audit, delay time.Duration) error {
	return e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		t, err := tx.FindTokenForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if err := appendTimeline(ctx, tx, aud.take()...); err != nil {
			return err
		}
		if t.Status != autodebit.TokenActive || !t.RevokePending {
			return nil
		}
		t.RevokeNextAt = time.Time{}
		if delay > 0 {
			t.RevokeNextAt = e.now().Add(delay)
		}
		return tx.UpdateToken(ctx, t)
	})
}

// endToken moves an ACTIVE token to a final status; by says who revoked
// it (a RevokedBy* value; empty for an expiry).
func (e *Engine) endToken(ctx context.Context, id string, aud *audit, status autodebit.TokenStatus, by, reason string) error {
	now := e.now()
	return e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		t, err := tx.FindTokenForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if aud != nil {
			if err := appendTimeline(ctx, tx, aud.take()...); err != nil {
				return err
			}
		}
		if t.Status != autodebit.TokenActive {
			return nil
		}
		if err := e.endTokenTx(ctx, tx, t, status, by, reason, string(status)+": "+reason, now); err != nil {
			return err
		}
		e.log.Info("token ended", "token", t.ID, "status", status, "reason", reason)
		return nil
	})
}
