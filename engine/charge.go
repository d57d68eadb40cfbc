package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
)

// payBackoff resends an unanswered pay quickly while serving the request.
var payBackoff = antom.Backoff{Initial: 200 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2, Jitter: 0.2, MaxAttempts: 4}

// ChargeInput is what a merchant asks to charge.
type ChargeInput struct {
	TokenID     string
	Amount      autodebit.Amount
	Description string
	// IdempotencyKey makes the request safe to repeat: the same key with the
	// same parameters returns the same charge; with different parameters it
	// is a conflict. Empty means no idempotency.
	IdempotencyKey string
}

func (in ChargeInput) hash() string {
	return requestHash(in.TokenID, in.Amount.Currency, strconv.FormatInt(in.Amount.Value, 10), in.Description)
}

// requestHash identifies the parameters of a request for idempotency: the
// hex SHA-256 of the parts, each length-prefixed so that no two lists of
// parts collide.
func requestHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{':'})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// replayKey is the context key of WithReplayReport's flag.
type replayKey struct{}

// WithReplayReport returns a context under which CreateCharge and
// CreateRefund set *replayed when they return the object an earlier request
// with the same Idempotency-Key created instead of creating one, so that an
// API can say the answer is a replay. Nothing else changes.
func WithReplayReport(ctx context.Context) (_ context.Context, replayed *bool) {
	replayed = new(bool)
	return context.WithValue(ctx, replayKey{}, replayed), replayed
}

// replayed returns v, the object an earlier request with the same
// Idempotency-Key created, setting the flag of WithReplayReport if v is
// not nil and ctx carries one.
func replayed[T any](ctx context.Context, v *T) *T {
	if p, ok := ctx.Value(replayKey{}).(*bool); ok && v != nil {
		*p = true
	}
	return v
}

// CreateCharge charges a token: it stores the charge INIT with a fresh
// paymentRequestId (and, in the same transaction, the inquiry job that
// settles it if nothing else does), then calls pay. A final answer settles
// the charge at once; U or no answer leaves it INIT for notifications and
// inquiries to settle.
//
// Returns EINVALID for bad input or an amount the wallet does not accept,
// ENOTFOUND for an unknown token, ECONFLICT for a token that cannot be
// charged (revoked, expired, being revoked) or an Idempotency-Key reused
// with different parameters. A charge that Antom declines is returned with
// status FAIL and Antom's resultCode, not as an error.
func (e *Engine) CreateCharge(ctx context.Context, in ChargeInput) (*autodebit.Charge, error) {
	if in.TokenID == "" {
		return nil, autodebit.Errorf(autodebit.EINVALID, "tokenId is required.")
	}
	if err := checkRequest(in.Amount, "Description", in.Description, in.IdempotencyKey); err != nil {
		return nil, err
	}
	hash := in.hash()
	if in.IdempotencyKey != "" {
		if c, err := e.chargeForKey(ctx, in.IdempotencyKey, hash); c != nil || err != nil {
			return replayed(ctx, c), err
		}
	}
	t, err := e.store.FindTokenByID(ctx, in.TokenID)
	if err != nil {
		return nil, err
	}
	now := e.now()
	if err := t.Chargeable(now); err != nil {
		if t.Status == autodebit.TokenActive && !t.AccessTokenExpiresAt.IsZero() && !now.Before(t.AccessTokenExpiresAt) {
			if err := e.endToken(ctx, t.ID, nil, autodebit.TokenExpired, "", "the access token expired"); err != nil {
				e.log.Error("mark token expired", "token", t.ID, "err", err)
			}
		}
		return nil, err
	}
	if w, ok := antom.LookupWallet(t.Wallet); ok {
		if err := w.CheckAmount(antom.Amount{Currency: in.Amount.Currency, Value: in.Amount.Value}); err != nil {
			return nil, autodebit.Errorf(autodebit.EINVALID, "Amount: %v.", err)
		}
	}
	c := &autodebit.Charge{
		ID:               autodebit.NewID(autodebit.ChargeIDPrefix),
		TokenID:          t.ID,
		CustomerID:       t.CustomerID,
		Wallet:           t.Wallet,
		Amount:           in.Amount,
		Description:      in.Description,
		Status:           autodebit.ChargeInit,
		PaymentRequestID: autodebit.NewPaymentRequestID(),
		IdempotencyKey:   in.IdempotencyKey,
		RequestHash:      hash,
		ExpiresAt:        now.Add(e.cfg.PaymentExpiry).Truncate(time.Second),
		NextInquiryAt:    now.Add(e.inquiryDelay(0)),
		CreatedAt:        now,
	}
	// No job yet: pay's answer usually settles the charge at once, and the
	// INIT row with its next inquiry time is itself the durable record of
	// the work left. An unknown answer queues the inquiry job with itself;
	// if the process dies before any answer is recorded, the sweep finds the
	// overdue charge and queues it.
	err = e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		// Check the token again under its lock: a revoke that committed
		// since it was read must win.
		t, err := tx.FindTokenForUpdate(ctx, t.ID)
		if err != nil {
			return err
		}
		if err := t.Chargeable(now); err != nil {
			return err
		}
		return tx.CreateCharge(ctx, c)
	})
	if autodebit.ErrorCode(err) == autodebit.ECONFLICT && in.IdempotencyKey != "" {
		// A concurrent request with the same key won the insert.
		if c, err := e.chargeForKey(ctx, in.IdempotencyKey, hash); c != nil || err != nil {
			return replayed(ctx, c), err
		}
	}
	if err != nil {
		return nil, err
	}
	e.log.Info("charge created", "charge", c.ID, "token", c.TokenID, "amount", c.Amount.String(), "paymentRequestId", c.PaymentRequestID)
	cctx, cancel := context.WithTimeout(ctx, e.cfg.CallTimeout)
	defer cancel()
	settled, err := e.pay(cctx, c, t, true)
	if err != nil || settled != nil {
		return settled, err // pay's answer settled it: as it was committed
	}
	return e.store.FindChargeByID(ctx, c.ID)
}

// checkRequest applies the rules shared by charges and refunds: a valid
// Antom amount, a text of at most 256 characters and an Idempotency-Key of
// at most 255.
func checkRequest(amount autodebit.Amount, textName, text, idempotencyKey string) error {
	if err := amount.Validate(); err != nil {
		return err
	}
	if err := antom.CheckAmount(antom.Amount{Currency: amount.Currency, Value: amount.Value}); err != nil {
		return autodebit.Errorf(autodebit.EINVALID, "Amount: %v.", err)
	}
	if len(text) > 256 {
		return autodebit.Errorf(autodebit.EINVALID, "%s must be at most 256 characters.", textName)
	}
	if !autodebit.IsPrintable(text) {
		return autodebit.Errorf(autodebit.EINVALID, "%s must be printable UTF-8 text, without control characters.", textName)
	}
	if len(idempotencyKey) > 255 {
		return autodebit.Errorf(autodebit.EINVALID, "Idempotency-Key must be at most 255 characters.")
	}
	if !autodebit.IsPrintable(idempotencyKey) {
		return autodebit.Errorf(autodebit.EINVALID, "Idempotency-Key must be printable text, without control characters.")
	}
	return nil
}

// chargeForKey returns the charge created with an Idempotency-Key, nil if
// there is none, or ECONFLICT if it was created with other parameters.
func (e *Engine) chargeForKey(ctx context.Context, key, hash string) (*autodebit.Charge, error) {
	c, err := e.store.FindChargeByIdempotencyKey(ctx, key)
	return sameRequest(c, err, "charge", key, hash, func(c *autodebit.Charge) (string, string) { return c.ID, c.RequestHash })
}

// sameRequest judges the object v that find-by-Idempotency-Key returned
// (with err): nil if there is none, v if it was made by a request with the
// same hash, and ECONFLICT naming noun if by one with other parameters.
func sameRequest[T any](v *T, err error, noun, key, hash string, idHash func(*T) (id, hash string)) (*T, error) {
	if autodebit.ErrorCode(err) == autodebit.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if id, h := idHash(v); h != hash {
		return nil, autodebit.Errorf(autodebit.ECONFLICT, "Idempotency-Key %q was already used for %s %s with different parameters.", key, noun, id)
	}
	return v, nil
}

func (e *Engine) inquiryDelay(n int) time.Duration {
	d := e.cfg.InquiryDelays
	if n >= len(d) {
		return d[len(d)-1]
	}
	return d[n]
}

// payRequest builds the pay request of a charge. It is the same on every
// resend: paymentExpiryTime is fixed when the charge is created.
func (e *Engine) payRequest(c *autodebit.Charge, t *autodebit.Token) *antom.PayRequest {
	amount := antom.Amount{Currency: c.Amount.Currency, Value: c.Amount.Value}
	desc := c.Description
	if desc == "" {
		desc = "Auto debit " + c.ID
	}
	web := &antom.Env{TerminalType: antom.TerminalTypeWeb}
	return &antom.PayRequest{
		ProductCode:       antom.ProductCodeAgreementPay,
		PaymentRequestID:  c.PaymentRequestID,
		PaymentAmount:     amount,
		PaymentMethod:     antom.PaymentMethod{PaymentMethodType: c.Wallet, PaymentMethodID: t.AccessToken},
		Order:             antom.Order{ReferenceOrderID: c.ID, OrderDescription: desc, OrderAmount: amount, Env: web},
		Env:               web,
		PaymentExpiryTime: antom.NewTime(c.ExpiresAt),
		PaymentNotifyURL:  e.notify.payment,
	}
}

// pay sends (or resends) a charge's pay request and settles the charge on a
// final answer, returning it as settled (nil when the answer did not settle
// it). An unknown outcome is not an error: the charge stays INIT, and with
// queueInquiry the inquiry job is queued in the same transaction.
func (e *Engine) pay(ctx context.Context, c *autodebit.Charge, t *autodebit.Token, queueInquiry bool) (*autodebit.Charge, error) {
	actx, aud := e.withAudit(ctx, c.ID)
	// Record whatever came back even if the caller has gone away meanwhile.
	ctx = context.WithoutCancel(ctx)
	req := e.payRequest(c, t)
	resp, err := antom.Retry(actx, payBackoff, func(ctx context.Context) (*antom.PayResponse, error) {
		return e.antom.Pay(ctx, req)
	})
	var ve *antom.ValidationError
	switch {
	case errors.As(err, &ve) && !errors.Is(err, antom.ErrMaybeSent):
		// Nothing was sent and a resend would fail the same way: the
		// charge can never be paid. (When an earlier attempt may have
		// reached Antom, the outcome is unknown: the default case.)
		return e.settleCharge(ctx, c.ID, aud, autodebit.ChargeSettlement{
			Status: autodebit.ChargeFail, ResultCode: antom.CodeParamIllegal, ResultMessage: ve.Error(), SettledBy: autodebit.SettledByPay,
		}, nil)
	case err == nil && resp.Result.Succeeded():
		return e.settleCharge(ctx, c.ID, aud, autodebit.ChargeSettlement{
			Status: autodebit.ChargeSuccess, ResultCode: resp.Result.ResultCode, ResultMessage: resp.Result.ResultMessage,
			PaymentID: resp.PaymentID, SettledBy: autodebit.SettledByPay,
		}, nil)
	case err == nil && resp.Result.Failed():
		var after func(tx autodebit.Tx) error
		if resp.Result.ResultCode == antom.CodeInvalidAccessToken {
			after = e.tokenDeadInTx(ctx, c.TokenID)
		}
		return e.settleCharge(ctx, c.ID, aud, autodebit.ChargeSettlement{
			Status: autodebit.ChargeFail, ResultCode: resp.Result.ResultCode, ResultMessage: resp.Result.ResultMessage,
			PaymentID: resp.PaymentID, SettledBy: autodebit.SettledByPay,
		}, after)
	default:
		// U, or no answer: the charge stays INIT; notifications and the
		// inquiry job will settle it.
		code, msg, paymentID := "", "", ""
		if err == nil {
			code, msg, paymentID = resp.Result.ResultCode, resp.Result.ResultMessage, resp.PaymentID
		} else {
			code, msg = "UNKNOWN", "no answer from Antom: "+err.Error()
		}
		return nil, e.noteUnknown(ctx, c.ID, aud, code, msg, paymentID, queueInquiry)
	}
}

// tokenDeadInTx returns a step that ends a token Antom no longer accepts.
func (e *Engine) tokenDeadInTx(ctx context.Context, tokenID string) func(tx autodebit.Tx) error {
	return func(tx autodebit.Tx) error {
		t, err := tx.FindTokenForUpdate(ctx, tokenID)
		if err != nil || t.Status != autodebit.TokenActive {
			return err
		}
		now := e.now()
		status := autodebit.TokenRevoked
		if !t.AccessTokenExpiresAt.IsZero() && !now.Before(t.AccessTokenExpiresAt) {
			status = autodebit.TokenExpired
		}
		return e.endTokenTx(ctx, tx, t, status, autodebit.RevokedByAntom, "Antom reports the access token invalid",
			string(status)+": INVALID_ACCESS_TOKEN on pay", now)
	}
}

// noteUnknown records a non-final answer on an INIT charge, and with
// queueInquiry queues the inquiry job for its next inquiry time.
func (e *Engine) noteUnknown(ctx context.Context, id string, aud *audit, code, msg, paymentID string, queueInquiry bool) error {
	return e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		c, err := tx.FindChargeForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if err := appendTimeline(ctx, tx, aud.take()...); err != nil {
			return err
		}
		if c.Status.Final() {
			return nil
		}
		c.ResultCode, c.ResultMessage = code, truncate(msg, 256)
		if paymentID != "" {
			c.PaymentID = paymentID
		}
		if err := tx.UpdateCharge(ctx, c); err != nil || !queueInquiry {
			return err
		}
		return tx.Enqueue(ctx, autodebit.Job{Args: InquireChargeArgs{ChargeID: c.ID}, ScheduledAt: c.NextInquiryAt})
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// settleCharge settles an INIT charge (settleChargeTx: its timeline and
// event too), writes the audit entries and runs after (if set) in the same
// transaction. It returns the charge as settled when this call won, and nil
// when it lost: a charge already final is left alone.
func (e *Engine) settleCharge(ctx context.Context, id string, aud *audit, s autodebit.ChargeSettlement, after func(tx autodebit.Tx) error) (*autodebit.Charge, error) {
	if s.SettledAt.IsZero() {
		s.SettledAt = e.now()
	}
	s.ResultMessage = truncate(s.ResultMessage, 256)
	var won *autodebit.Charge
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		if aud != nil {
			if err := appendTimeline(ctx, tx, aud.take()...); err != nil {
				return err
			}
		}
		var err error
		won, err = e.settleChargeTx(ctx, tx, id, s)
		if err != nil {
			return err
		}
		if won == nil {
			if cur, err := tx.FindChargeByID(ctx, id); err == nil && cur.Status.Final() && cur.Status != s.Status {
				e.log.Error("an Antom answer disagrees with the charge's final status", "charge", id,
					"status", cur.Status, "settledBy", cur.SettledBy, "answer", s.Status, "from", s.SettledBy, "code", s.ResultCode)
			}
			return nil
		}
		if after != nil {
			return after(tx)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("settle charge %s: %w", id, err)
	}
	if won != nil {
		e.m.ChargeSettled(s.Status, s.SettledBy)
		e.log.Info("charge settled", "charge", id, "status", s.Status, "by", s.SettledBy, "code", s.ResultCode)
	}
	return won, nil
}
