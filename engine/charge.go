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
			return c, err
		}
	}
	t, err := e.store.FindTokenByID(ctx, in.TokenID)
	if err != nil {
		return nil, err
	}
	now := e.now()
	if err := t.Chargeable(now); err != nil {
		if t.Status == autodebit.TokenActive && !t.AccessTokenExpiresAt.IsZero() && !now.Before(t.AccessTokenExpiresAt) {
			if err := e.endToken(ctx, t.ID, nil, autodebit.TokenExpired, "the access token expired"); err != nil {
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
			return c, err
		}
	}
	if err != nil {
		return nil, err
	}
	e.log.Info("charge created", "charge", c.ID, "token", c.TokenID, "amount", c.Amount.String(), "paymentRequestId", c.PaymentRequestID)
	cctx, cancel := context.WithTimeout(ctx, e.cfg.CallTimeout)
	defer cancel()
	if err := e.pay(cctx, c, t, true); err != nil {
		return nil, err
	}
	return e.store.FindChargeByID(ctx, c.ID)
}

// chargeForKey returns the charge created with an Idempotency-Key, nil if
// there is none, or ECONFLICT if it was created with other parameters.
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

func (e *Engine) chargeForKey(ctx context.Context, key, hash string) (*autodebit.Charge, error) {
	c, err := e.store.FindChargeByIdempotencyKey(ctx, key)
	if autodebit.ErrorCode(err) == autodebit.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if c.RequestHash != hash {
		return nil, autodebit.Errorf(autodebit.ECONFLICT, "Idempotency-Key %q was already used for charge %s with different parameters.", key, c.ID)
	}
	return c, nil
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
// final answer. An unknown outcome is not an error: the charge stays INIT,
// and with queueInquiry the inquiry job is queued in the same transaction.
func (e *Engine) pay(ctx context.Context, c *autodebit.Charge, t *autodebit.Token, queueInquiry bool) error {
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
		_, err := e.settleCharge(ctx, c.ID, aud, autodebit.ChargeSettlement{
			Status: autodebit.ChargeFail, ResultCode: antom.CodeParamIllegal, ResultMessage: ve.Error(), SettledBy: autodebit.SettledByPay,
		}, nil)
		return err
	case err == nil && resp.Result.Succeeded():
		_, err := e.settleCharge(ctx, c.ID, aud, autodebit.ChargeSettlement{
			Status: autodebit.ChargeSuccess, ResultCode: resp.Result.ResultCode, ResultMessage: resp.Result.ResultMessage,
			PaymentID: resp.PaymentID, SettledBy: autodebit.SettledByPay,
		}, nil)
		return err
	case err == nil && resp.Result.Failed():
		var after func(tx autodebit.Tx) error
		if resp.Result.ResultCode == antom.CodeInvalidAccessToken {
			after = e.tokenDeadInTx(ctx, c.TokenID)
		}
		_, err := e.settleCharge(ctx, c.ID, aud, autodebit.ChargeSettlement{
			Status: autodebit.ChargeFail, ResultCode: resp.Result.ResultCode, ResultMessage: resp.Result.ResultMessage,
			PaymentID: resp.PaymentID, SettledBy: autodebit.SettledByPay,
		}, after)
		return err
	default:
		// U, or no answer: the charge stays INIT; notifications and the
		// inquiry job will settle it.
		code, msg, paymentID := "", "", ""
		if err == nil {
			code, msg, paymentID = resp.Result.ResultCode, resp.Result.ResultMessage, resp.PaymentID
		} else {
			code, msg = "UNKNOWN", "no answer from Antom: "+err.Error()
		}
		return e.noteUnknown(ctx, c.ID, aud, code, msg, paymentID, queueInquiry)
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
		t.RevokeReason, t.RevokePending = "Antom reports the access token invalid", false
		if !t.AccessTokenExpiresAt.IsZero() && !now.Before(t.AccessTokenExpiresAt) {
			status = autodebit.TokenExpired
		} else {
			t.RevokedAt = now
		}
		t.Status = status
		if err := tx.UpdateToken(ctx, t); err != nil {
			return fmt.Errorf("end token %s: %w", t.ID, err)
		}
		return appendEvents(ctx, tx, stateEvent(t.ID, string(status)+": INVALID_ACCESS_TOKEN on pay", now))
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
		if err := appendEvents(ctx, tx, aud.take()...); err != nil {
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

// settleCharge settles an INIT charge, writes the audit events and runs
// after (if set) in the same transaction. It reports whether this call won;
// a charge already final is left alone.
func (e *Engine) settleCharge(ctx context.Context, id string, aud *audit, s autodebit.ChargeSettlement, after func(tx autodebit.Tx) error) (bool, error) {
	if s.SettledAt.IsZero() {
		s.SettledAt = e.now()
	}
	s.ResultMessage = truncate(s.ResultMessage, 256)
	var won bool
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		if aud != nil {
			if err := appendEvents(ctx, tx, aud.take()...); err != nil {
				return err
			}
		}
		var err error
		won, err = tx.SettleCharge(ctx, id, s)
		if err != nil {
			return err
		}
		if !won {
			if cur, err := tx.FindChargeByID(ctx, id); err == nil && cur.Status.Final() && cur.Status != s.Status {
				e.log.Error("an Antom answer disagrees with the charge's final status", "charge", id,
					"status", cur.Status, "settledBy", cur.SettledBy, "answer", s.Status, "from", s.SettledBy, "code", s.ResultCode)
			}
			return nil
		}
		if err := appendEvents(ctx, tx, stateEvent(id, fmt.Sprintf("%s by %s: %s", s.Status, s.SettledBy, s.ResultCode), s.SettledAt)); err != nil {
			return err
		}
		if after != nil {
			return after(tx)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("settle charge %s: %w", id, err)
	}
	if won {
		e.m.ChargeSettled(s.Status, s.SettledBy)
		e.log.Info("charge settled", "charge", id, "status", s.Status, "by", s.SettledBy, "code", s.ResultCode)
	}
	return won, nil
}

// handlePaymentNotification settles a charge from notifyPayment, if it is
// still INIT and no cancel is in flight.
func (e *Engine) handlePaymentNotification(ctx context.Context, n *antom.Notification) error {
	p := n.Payment
	now := e.now()
	var settled bool
	var chargeID string
	var status autodebit.ChargeStatus
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		c, err := tx.FindChargeByPaymentRequestIDForUpdate(ctx, p.PaymentRequestID)
		if autodebit.ErrorCode(err) == autodebit.ENOTFOUND {
			e.log.Warn("notifyPayment for an unknown paymentRequestId; acknowledged and ignored", "paymentRequestId", p.PaymentRequestID)
			return nil
		} else if err != nil {
			return err
		}
		chargeID = c.ID
		isNew, err := tx.RecordNotification(ctx, &autodebit.InboundNotification{
			DedupKey:   autodebit.NotificationDedupKey(p.NotifyType, p.PaymentRequestID, p.Result.ResultStatus, p.Result.ResultCode),
			Type:       p.NotifyType,
			ObjectID:   c.ID,
			Body:       MaskBody(n.Body),
			SentAt:     sentAt(n),
			ReceivedAt: now,
		})
		if err != nil || !isNew {
			return err
		}
		if err := appendEvents(ctx, tx, notifyEvent(c.ID, n, now)); err != nil {
			return err
		}
		s, ok := e.paymentSettlement(c, p)
		if !ok {
			return nil
		}
		settled, err = tx.SettleCharge(ctx, c.ID, s)
		if err != nil || !settled {
			return err
		}
		status = s.Status
		return appendEvents(ctx, tx, stateEvent(c.ID, fmt.Sprintf("%s by notification: %s", s.Status, s.ResultCode), now))
	})
	if err == nil && settled {
		e.m.ChargeSettled(status, autodebit.SettledByNotification)
		e.log.Info("charge settled", "charge", chargeID, "status", status, "by", autodebit.SettledByNotification, "code", p.Result.ResultCode)
	}
	return err
}

// paymentSettlement decides what a payment notification means for a charge.
// It returns false when the notification must not settle it.
func (e *Engine) paymentSettlement(c *autodebit.Charge, p *antom.PaymentNotification) (autodebit.ChargeSettlement, bool) {
	switch {
	case c.Status.Final():
		if (c.Status == autodebit.ChargeSuccess) != p.Result.Succeeded() && p.NotifyType == antom.NotifyTypePaymentResult {
			e.log.Error("notifyPayment disagrees with a final charge", "charge", c.ID, "status", c.Status, "notified", p.Result.String())
		}
		return autodebit.ChargeSettlement{}, false
	case p.NotifyType != antom.NotifyTypePaymentResult:
		return autodebit.ChargeSettlement{}, false // PAYMENT_PENDING: not final
	case !c.CancelRequestedAt.IsZero():
		// A cancel is in flight: its answer decides (a paid payment that is
		// cancelled is refunded, so SUCCESS here could become CANCELLED).
		return autodebit.ChargeSettlement{}, false
	case p.PaymentAmount.Currency != c.Amount.Currency || p.PaymentAmount.Value != c.Amount.Value:
		e.log.Error("notifyPayment amount differs from the charge; not settled", "charge", c.ID,
			"charged", c.Amount.String(), "notified", antom.FormatAmount(p.PaymentAmount))
		return autodebit.ChargeSettlement{}, false
	}
	s := autodebit.ChargeSettlement{
		ResultCode: p.Result.ResultCode, ResultMessage: truncate(p.Result.ResultMessage, 256),
		PaymentID: p.PaymentID, SettledBy: autodebit.SettledByNotification, SettledAt: e.now(),
	}
	switch p.Result.ResultStatus {
	case antom.StatusSuccess:
		s.Status = autodebit.ChargeSuccess
	case antom.StatusFail:
		s.Status = autodebit.ChargeFail
	default:
		return s, false
	}
	return s, true
}

// inquireCharge is the job that makes sure an INIT charge reaches the truth:
// it inquires until the payment is final, resends a pay that never reached
// Antom while the order can still be created, and cancels a charge still
// unknown after the order's close time. A charge with a cancel in flight is
// settled only by the cancel's answer.
func (e *Engine) inquireCharge(ctx context.Context, id string) error {
	c, err := e.store.FindChargeByID(ctx, id)
	if err != nil {
		return err
	}
	if c.Status.Final() {
		return nil
	}
	if !c.CancelRequestedAt.IsZero() {
		return e.cancelCharge(ctx, c)
	}
	now := e.now()
	actx, aud := e.withAudit(ctx, c.ID)
	cctx, cancel := context.WithTimeout(actx, e.cfg.CallTimeout)
	defer cancel()
	resp, err := e.antom.InquiryPayment(cctx, &antom.InquiryPaymentRequest{PaymentRequestID: c.PaymentRequestID})
	if err == nil {
		if s, ok := inquirySettlement(resp); ok {
			if won, err := e.settleCharge(ctx, c.ID, aud, s, nil); err != nil || won {
				return err
			}
			// Not settled: final already, or a cancel was asked meanwhile
			// and its answer decides. Run again to find out which.
			return &RetryError{Delay: time.Second, Err: errors.New("inquiry result not applied")}
		}
	}
	switch {
	case err == nil && resp.Result.ResultCode == antom.CodeOrderNotExist && now.Before(c.ExpiresAt.Add(-5*time.Second)):
		// Antom has no such payment: pay never reached it (a crash before
		// sending, or a lost request). Resend it while the order can still
		// be created; it carries the same paymentRequestId.
		e.flushAudit(ctx, aud)
		t, err := e.store.FindTokenByID(ctx, c.TokenID)
		if err != nil {
			return err
		}
		if err := e.pay(cctx, c, t, false); err != nil {
			return err
		}
	case now.After(c.ExpiresAt.Add(e.cfg.CloseGrace)):
		e.flushAudit(ctx, aud)
		return e.cancelCharge(ctx, c)
	default:
		code, msg := "UNKNOWN", ""
		switch {
		case err != nil:
			msg = "inquiry failed: " + err.Error()
		case resp.Result.Succeeded():
			code, msg = resp.PaymentResultCode, "payment "+resp.PaymentStatus
		default:
			code, msg = resp.Result.ResultCode, resp.Result.ResultMessage
		}
		if err := e.noteUnknown(ctx, c.ID, aud, code, msg, "", false); err != nil {
			return err
		}
	}
	return e.scheduleInquiry(ctx, c.ID)
}

// inquirySettlement returns the settlement an inquiry answer calls for, and
// false when the payment is not final.
func inquirySettlement(resp *antom.InquiryPaymentResponse) (autodebit.ChargeSettlement, bool) {
	s := autodebit.ChargeSettlement{
		ResultCode: resp.PaymentResultCode, ResultMessage: resp.PaymentResultMessage,
		PaymentID: resp.PaymentID, SettledBy: autodebit.SettledByInquiry,
	}
	if !resp.Result.Succeeded() {
		return s, false
	}
	switch resp.PaymentStatus {
	case antom.PaymentStatusSuccess:
		s.Status = autodebit.ChargeSuccess
	case antom.PaymentStatusFail:
		s.Status = autodebit.ChargeFail
	case antom.PaymentStatusCancelled:
		s.Status = autodebit.ChargeCancelled
	default:
		return s, false
	}
	if s.ResultCode == "" {
		s.ResultCode = resp.PaymentStatus
	}
	return s, true
}

// scheduleInquiry counts an inquiry of a charge still INIT and asks for the
// job to run again after the next delay.
func (e *Engine) scheduleInquiry(ctx context.Context, id string) error {
	var delay time.Duration
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		c, err := tx.FindChargeForUpdate(ctx, id)
		if err != nil || c.Status.Final() {
			return err
		}
		delay = e.inquiryDelay(c.InquiryCount + 1)
		closeAt := c.ExpiresAt.Add(e.cfg.CloseGrace)
		if next := e.now().Add(delay); next.After(closeAt) {
			// Don't wait past the close: that is when the cancel must go.
			delay = max(closeAt.Sub(e.now())+time.Second, time.Second)
		}
		c.InquiryCount++
		c.NextInquiryAt = e.now().Add(delay)
		return tx.UpdateCharge(ctx, c)
	})
	if err != nil {
		return err
	}
	if delay == 0 {
		return nil
	}
	return &RetryError{Delay: delay, Err: errors.New("payment not final yet")}
}

// CancelCharge cancels a charge that is still INIT. Safe to retry: the
// cancel request reuses the charge's paymentRequestId. Once asked, the
// cancel's answer decides the charge's final status; a payment that had
// succeeded meanwhile is refunded in full by Antom and ends CANCELLED.
//
// Returns ENOTFOUND if the charge does not exist and ECONFLICT if it is
// already final (refund a successful charge instead).
func (e *Engine) CancelCharge(ctx context.Context, id string) (*autodebit.Charge, error) {
	now := e.now()
	var c *autodebit.Charge
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		var err error
		c, err = tx.FindChargeForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if c.Status.Final() {
			return autodebit.Errorf(autodebit.ECONFLICT, "Charge %s is %s and cannot be cancelled; refund it instead.", c.ID, c.Status)
		}
		if !c.CancelRequestedAt.IsZero() {
			return nil
		}
		c.CancelRequestedAt = now
		c.NextInquiryAt = now.Add(revokeRetryDelay)
		if err := tx.UpdateCharge(ctx, c); err != nil {
			return fmt.Errorf("request cancel of %s: %w", c.ID, err)
		}
		if err := appendEvents(ctx, tx, stateEvent(c.ID, "CANCEL requested", now)); err != nil {
			return err
		}
		return tx.Enqueue(ctx, autodebit.Job{Args: InquireChargeArgs{ChargeID: c.ID}, ScheduledAt: now.Add(revokeRetryDelay)})
	})
	if err != nil {
		return nil, err
	}
	if err := e.cancelCharge(ctx, c); err != nil {
		var re *RetryError
		if !errors.As(err, &re) {
			return nil, err
		}
	}
	return e.store.FindChargeByID(ctx, id)
}

// cancelCharge calls cancel for an INIT charge and settles it on the answer.
func (e *Engine) cancelCharge(ctx context.Context, c *autodebit.Charge) error {
	if c.CancelRequestedAt.IsZero() {
		// Record the intent first: from now on only the cancel's answer
		// settles the charge.
		err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
			cur, err := tx.FindChargeForUpdate(ctx, c.ID)
			if err != nil || cur.Status.Final() || !cur.CancelRequestedAt.IsZero() {
				return err
			}
			cur.CancelRequestedAt = e.now()
			if err := tx.UpdateCharge(ctx, cur); err != nil {
				return err
			}
			return appendEvents(ctx, tx, stateEvent(c.ID, "CANCEL: still unknown after the order closed", cur.CancelRequestedAt))
		})
		if err != nil {
			return err
		}
	}
	actx, aud := e.withAudit(ctx, c.ID)
	cctx, cancel := context.WithTimeout(actx, e.cfg.CallTimeout)
	defer cancel()
	resp, err := antom.Retry(cctx, antom.Backoff{MaxAttempts: 3}, func(ctx context.Context) (*antom.CancelResponse, error) {
		return e.antom.Cancel(ctx, &antom.CancelRequest{PaymentRequestID: c.PaymentRequestID})
	})
	ctx = context.WithoutCancel(ctx) // record the answer even if the caller left
	closed := e.now().After(c.ExpiresAt.Add(e.cfg.CloseGrace))
	var code string
	if err == nil {
		code = resp.Result.ResultCode
	}
	switch {
	case err == nil && (resp.Result.Succeeded() || code == codeOrderIsCanceled):
		_, err := e.settleCharge(ctx, c.ID, aud, autodebit.ChargeSettlement{
			Status: autodebit.ChargeCancelled, ResultCode: code, ResultMessage: resp.Result.ResultMessage,
			PaymentID: resp.PaymentID, SettledBy: autodebit.SettledByCancel,
		}, nil)
		return err
	case err == nil && code == antom.CodeOrderNotExist && closed:
		// Antom never created the payment, and after the close it never
		// will: nothing was debited.
		_, err := e.settleCharge(ctx, c.ID, aud, autodebit.ChargeSettlement{
			Status: autodebit.ChargeFail, ResultCode: code, ResultMessage: resp.Result.ResultMessage,
			SettledBy: autodebit.SettledByCancel,
		}, nil)
		return err
	case err == nil && code == antom.CodeOrderNotExist:
		// A pay may still be on its way and create the order: cancel again
		// after the close, when no pay can.
		return e.postponeInquiry(ctx, c.ID, aud, max(c.ExpiresAt.Add(e.cfg.CloseGrace).Sub(e.now())+time.Second, time.Second),
			"", errors.New("cancel found no order before the close; cancelling again after it"))
	case err == nil && (code == antom.CodeOrderStatusInvalid || code == antom.CodeCancelWindowExceed || code == antom.CodeOrderIsClosed):
		// The payment is already final at Antom: drop the cancel intent and
		// let the inquiry read the final status.
		if err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
			cur, err := tx.FindChargeForUpdate(ctx, c.ID)
			if err != nil {
				return err
			}
			if err := appendEvents(ctx, tx, aud.take()...); err != nil {
				return err
			}
			if cur.Status.Final() {
				return nil
			}
			cur.CancelRequestedAt = time.Time{}
			cur.ResultCode, cur.ResultMessage = code, truncate(resp.Result.ResultMessage, 256)
			cur.NextInquiryAt = e.now().Add(e.inquiryDelay(0))
			return tx.UpdateCharge(ctx, cur)
		}); err != nil {
			return err
		}
		return &RetryError{Delay: e.inquiryDelay(0), Err: fmt.Errorf("cancel refused (%s); inquiring the final status", code)}
	case err == nil && resp.Result.Failed():
		// Refused for a reason that says nothing about the payment: keep
		// the intent and try again later; a person should look.
		e.log.Error("cancel refused by Antom; retrying later", "charge", c.ID, "code", code, "message", resp.Result.ResultMessage)
		return e.postponeInquiry(ctx, c.ID, aud, e.inquiryDelay(len(e.cfg.InquiryDelays)), code, fmt.Errorf("cancel refused (%s)", code))
	default:
		if err == nil {
			err = fmt.Errorf("cancel answered %s", resp.Result)
		}
		return e.postponeInquiry(ctx, c.ID, aud, e.inquiryDelay(len(e.cfg.InquiryDelays)), "", err)
	}
}

// codeOrderIsCanceled is Antom's answer to cancelling a payment already
// cancelled.
const codeOrderIsCanceled = "ORDER_IS_CANCELED"

// postponeInquiry records the audit events and moves the charge's next
// inquiry time delay ahead (so that the sweep leaves its job alone), and
// returns the RetryError that makes the job run again then.
func (e *Engine) postponeInquiry(ctx context.Context, id string, aud *audit, delay time.Duration, code string, cause error) error {
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		c, err := tx.FindChargeForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if err := appendEvents(ctx, tx, aud.take()...); err != nil {
			return err
		}
		if c.Status.Final() {
			return nil
		}
		c.NextInquiryAt = e.now().Add(delay)
		if code != "" {
			c.ResultCode = code
		}
		return tx.UpdateCharge(ctx, c)
	})
	if err != nil {
		return err
	}
	return &RetryError{Delay: delay, Err: cause}
}

// sweepBatch bounds the charges one sweep recovers.
const sweepBatch = 100

// sweepCharges queues the inquiry of every INIT charge whose inquiry is
// overdue by more than SweepLag: its process died before pay's answer was
// recorded, so no inquiry job exists. A charge recovered twice (its job was
// merely late) is inquired twice, which is harmless.
func (e *Engine) sweepCharges(ctx context.Context) error {
	now := e.now()
	cutoff := now.Add(-e.cfg.SweepLag)
	due, err := e.store.FindDueCharges(ctx, cutoff, sweepBatch)
	if err != nil {
		return err
	}
	for _, d := range due {
		err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
			c, err := tx.FindChargeForUpdate(ctx, d.ID)
			if err != nil || c.Status.Final() || c.NextInquiryAt.IsZero() || !c.NextInquiryAt.Before(cutoff) {
				return err
			}
			c.NextInquiryAt = now.Add(e.inquiryDelay(c.InquiryCount))
			if err := tx.UpdateCharge(ctx, c); err != nil {
				return err
			}
			if err := appendEvents(ctx, tx, stateEvent(c.ID, "INQUIRY queued by the sweep: no answer was recorded", now)); err != nil {
				return err
			}
			return tx.Enqueue(ctx, autodebit.Job{Args: InquireChargeArgs{ChargeID: c.ID}})
		})
		if err != nil {
			return fmt.Errorf("sweep charge %s: %w", d.ID, err)
		}
		e.log.Warn("charge with no recorded pay answer recovered by the sweep", "charge", d.ID)
	}
	return nil
}
