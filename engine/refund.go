package engine

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
)

// refundInquiryDelay is the wait between inquiries of a PROCESSING refund.
const refundInquiryDelay = 10 * time.Second

// RefundInput is what a merchant asks to refund.
type RefundInput struct {
	ChargeID string
	Amount   autodebit.Amount
	Reason   string
	// IdempotencyKey makes the request safe to repeat. Keys are unique
	// across refunds: the same key on another charge is a conflict.
	IdempotencyKey string
}

func (in RefundInput) hash() string {
	return requestHash(in.ChargeID, in.Amount.Currency, strconv.FormatInt(in.Amount.Value, 10), in.Reason)
}

// CreateRefund refunds all or part of a successful charge. The refund is
// stored PROCESSING with a fresh refundRequestId (with its inquiry job in
// the same transaction), then sent; wallets answer refunds at once, and an
// unknown outcome is settled by notifyRefund or the inquiry job.
//
// Returns EINVALID for a bad amount, a currency other than the charge's, or
// more than is left to refund; ENOTFOUND for an unknown charge; ECONFLICT
// for a charge that is not SUCCESS or an Idempotency-Key reused with other
// parameters.
func (e *Engine) CreateRefund(ctx context.Context, in RefundInput) (*autodebit.Refund, error) {
	if err := checkRequest(in.Amount, "Reason", in.Reason, in.IdempotencyKey); err != nil {
		return nil, err
	}
	hash := in.hash()
	now := e.now()
	r := &autodebit.Refund{
		ID:              autodebit.NewID(autodebit.RefundIDPrefix),
		ChargeID:        in.ChargeID,
		Amount:          in.Amount,
		Reason:          in.Reason,
		Status:          autodebit.RefundProcessing,
		RefundRequestID: autodebit.NewRefundRequestID(),
		IdempotencyKey:  in.IdempotencyKey,
		RequestHash:     hash,
		NextInquiryAt:   now.Add(refundInquiryDelay),
		CreatedAt:       now,
	}
	var paymentID string
	var earlier *autodebit.Refund
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		c, err := tx.FindChargeForUpdate(ctx, in.ChargeID)
		if err != nil {
			return err
		}
		if in.IdempotencyKey != "" {
			// Under the charge's lock: a concurrent retry with the same
			// key waits here, then finds the refund the first one made.
			if earlier, err = refundForKey(ctx, tx, in.IdempotencyKey, hash); earlier != nil || err != nil {
				return err
			}
		}
		if c.Status != autodebit.ChargeSuccess {
			return autodebit.Errorf(autodebit.ECONFLICT, "Charge %s is %s; only a SUCCESS charge can be refunded.", c.ID, c.Status)
		}
		if in.Amount.Currency != c.Amount.Currency {
			return autodebit.Errorf(autodebit.EINVALID, "Refund currency %s differs from the charge's %s.", in.Amount.Currency, c.Amount.Currency)
		}
		if c.PaymentID == "" {
			return autodebit.Errorf(autodebit.ECONFLICT, "Charge %s has no Antom paymentId yet; try again shortly.", c.ID)
		}
		open, _, err := tx.FindRefunds(ctx, autodebit.RefundFilter{ChargeID: c.ID, Status: autodebit.RefundProcessing})
		if err != nil {
			return err
		}
		left := c.Amount.Value - c.RefundedValue
		for _, o := range open {
			left -= o.Amount.Value
		}
		if in.Amount.Value > left {
			return autodebit.Errorf(autodebit.EINVALID, "Refund of %s is more than the %s left to refund on charge %s.",
				antom.FormatAmount(antom.Amount{Currency: in.Amount.Currency, Value: in.Amount.Value}),
				antom.FormatAmount(antom.Amount{Currency: c.Amount.Currency, Value: max(left, 0)}), c.ID)
		}
		paymentID = c.PaymentID
		if err := tx.CreateRefund(ctx, r); err != nil {
			return err
		}
		if err := appendTimeline(ctx, tx, stateEntry(c.ID, "REFUND requested: "+r.ID, now), stateEntry(r.ID, "PROCESSING", now)); err != nil {
			return err
		}
		return tx.Enqueue(ctx, autodebit.Job{Args: InquireRefundArgs{RefundID: r.ID}, ScheduledAt: r.NextInquiryAt})
	})
	if autodebit.ErrorCode(err) == autodebit.ECONFLICT && in.IdempotencyKey != "" {
		// The same key won the insert on another charge meanwhile.
		if prev, kerr := refundForKey(ctx, e.store, in.IdempotencyKey, hash); prev != nil || kerr != nil {
			return replayed(ctx, prev), kerr
		}
	}
	if err != nil {
		return nil, err
	}
	if earlier != nil {
		return replayed(ctx, earlier), nil
	}
	e.log.Info("refund created", "refund", r.ID, "charge", r.ChargeID, "amount", r.Amount.String(), "refundRequestId", r.RefundRequestID)
	cctx, cancel := context.WithTimeout(ctx, e.cfg.CallTimeout)
	defer cancel()
	if err := e.sendRefund(cctx, r, paymentID); err != nil {
		return nil, err
	}
	return e.store.FindRefundByID(ctx, r.ID)
}

// refundForKey returns the refund created with an Idempotency-Key, nil if
// there is none, or ECONFLICT if it was created with other parameters (on
// another charge, too: keys are unique across refunds).
func refundForKey(ctx context.Context, rd autodebit.Reader, key, hash string) (*autodebit.Refund, error) {
	r, err := rd.FindRefundByIdempotencyKey(ctx, key)
	if autodebit.ErrorCode(err) == autodebit.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if r.RequestHash != hash {
		return nil, autodebit.Errorf(autodebit.ECONFLICT, "Idempotency-Key %q was already used for refund %s of charge %s with different parameters.", key, r.ID, r.ChargeID)
	}
	return r, nil
}

// sendRefund sends (or resends) a refund and settles it on a final answer.
func (e *Engine) sendRefund(ctx context.Context, r *autodebit.Refund, paymentID string) error {
	actx, aud := e.withAudit(ctx, r.ID)
	// Record whatever came back even if the caller has gone away meanwhile.
	ctx = context.WithoutCancel(ctx)
	req := &antom.RefundRequest{
		RefundRequestID: r.RefundRequestID,
		PaymentID:       paymentID,
		RefundAmount:    antom.Amount{Currency: r.Amount.Currency, Value: r.Amount.Value},
		RefundReason:    r.Reason,
		RefundNotifyURL: e.notify.refund,
	}
	resp, err := antom.Retry(actx, payBackoff, func(ctx context.Context) (*antom.RefundResponse, error) {
		return e.antom.Refund(ctx, req)
	})
	switch {
	case err == nil && resp.Result.Succeeded():
		return e.settleRefund(ctx, r.ID, aud, autodebit.RefundSettlement{Status: autodebit.RefundSuccess,
			ResultCode: resp.Result.ResultCode, ResultMessage: resp.Result.ResultMessage, RefundID: resp.RefundID})
	case err == nil && resp.Result.Failed():
		return e.settleRefund(ctx, r.ID, aud, autodebit.RefundSettlement{Status: autodebit.RefundFail,
			ResultCode: resp.Result.ResultCode, ResultMessage: resp.Result.ResultMessage, RefundID: resp.RefundID})
	default:
		e.flushAudit(ctx, aud)
		return nil
	}
}

// settleRefund settles a PROCESSING refund; a refund already final is left alone.
func (e *Engine) settleRefund(ctx context.Context, id string, aud *audit, s autodebit.RefundSettlement) error {
	if s.SettledAt.IsZero() {
		s.SettledAt = e.now()
	}
	s.ResultMessage = truncate(s.ResultMessage, 256)
	return e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		if aud != nil {
			if err := appendTimeline(ctx, tx, aud.take()...); err != nil {
				return err
			}
		}
		won, err := e.settleRefundTx(ctx, tx, id, s, "")
		if err != nil || !won {
			return err
		}
		e.log.Info("refund settled", "refund", id, "status", s.Status, "code", s.ResultCode)
		return nil
	})
}

// inquireRefund is the job that settles a refund still PROCESSING.
func (e *Engine) inquireRefund(ctx context.Context, id string) error {
	r, err := e.store.FindRefundByID(ctx, id)
	if err != nil {
		return err
	}
	if r.Status.Final() {
		return nil
	}
	actx, aud := e.withAudit(ctx, r.ID)
	cctx, cancel := context.WithTimeout(actx, e.cfg.CallTimeout)
	defer cancel()
	resp, err := e.antom.InquiryRefund(cctx, &antom.InquiryRefundRequest{RefundRequestID: r.RefundRequestID})
	switch {
	case err == nil && resp.Result.Succeeded() && resp.RefundStatus == antom.RefundStatusSuccess:
		return e.settleRefund(ctx, r.ID, aud, autodebit.RefundSettlement{Status: autodebit.RefundSuccess, ResultCode: antom.CodeSuccess, RefundID: resp.RefundID})
	case err == nil && resp.Result.Succeeded() && resp.RefundStatus == antom.RefundStatusFail:
		return e.settleRefund(ctx, r.ID, aud, autodebit.RefundSettlement{Status: autodebit.RefundFail, ResultCode: antom.RefundStatusFail, RefundID: resp.RefundID})
	case err == nil && resp.Result.ResultCode == antom.CodeRefundNotExist:
		// The refund never reached Antom: send it again, same refundRequestId.
		e.flushAudit(ctx, aud)
		if err := e.resendRefund(cctx, r.ID); err != nil {
			return err
		}
	default:
		e.flushAudit(ctx, aud)
	}
	return e.scheduleRefundInquiry(ctx, id)
}

// resendRefund sends a refund again after an inquiry found it unknown at
// Antom. A refund moves money, so it is sent only after a transaction has
// found it still PROCESSING and recorded the resend in its timeline.
func (e *Engine) resendRefund(ctx context.Context, id string) error {
	var r *autodebit.Refund
	var paymentID string
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		cur, err := tx.FindRefundForUpdate(ctx, id)
		if err != nil || cur.Status.Final() {
			return err
		}
		c, err := tx.FindChargeByID(ctx, cur.ChargeID)
		if err != nil {
			return err
		}
		r, paymentID = cur, c.PaymentID
		return appendTimeline(ctx, tx, stateEntry(cur.ID, "REFUND resent: the inquiry found no refund at Antom", e.now()))
	})
	if err != nil || r == nil {
		return err
	}
	return e.sendRefund(ctx, r, paymentID)
}

// scheduleRefundInquiry records when a refund still PROCESSING is next
// inquired (so that the sweep leaves its job alone) and asks for the job to
// run again then.
func (e *Engine) scheduleRefundInquiry(ctx context.Context, id string) error {
	var final bool
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		r, err := tx.FindRefundForUpdate(ctx, id)
		if err != nil || r.Status.Final() {
			final = err == nil
			return err
		}
		r.NextInquiryAt = e.now().Add(refundInquiryDelay)
		return tx.UpdateRefund(ctx, r)
	})
	if err != nil || final {
		return err
	}
	return &RetryError{Delay: refundInquiryDelay, Err: errors.New("refund not final yet")}
}
