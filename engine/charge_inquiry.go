package engine

import (
	"context"
	"errors"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
)

// inquireCharge is the job that makes sure an INIT charge reaches the truth:
// it inquires until the payment is final, resends a pay that never reached
// Antom while the order can still be created, and cancels a charge still
// unknown after the order's close time. A charge with a cancel in flight is
// settled only by the cancel's answer.
//
// The inquiry is a slow call, and a notification or a merchant's cancel may
// change the charge while it is in flight: what follows it is decided on the
// row and the time read after the answer, never on those read before.
func (e *Engine) inquireCharge(ctx context.Context, id string) error {
	c, err := e.store.FindChargeByID(ctx, id)
	if err != nil {
		return err
	}
	if c.Status.Final() {
		return nil
	}
	if !c.CancelRequestedAt.IsZero() {
		return e.cancelCharge(ctx, c.ID, "")
	}
	actx, aud := e.withAudit(ctx, c.ID)
	cctx, cancel := context.WithTimeout(actx, e.cfg.CallTimeout)
	defer cancel()
	resp, err := e.antom.InquiryPayment(cctx, &antom.InquiryPaymentRequest{PaymentRequestID: c.PaymentRequestID})
	if err == nil {
		if s, ok := inquirySettlement(resp); ok {
			if won, err := e.settleCharge(ctx, c.ID, aud, s, nil); err != nil || won != nil {
				return err
			}
			// Not settled: final already, or a cancel was asked meanwhile
			// and its answer decides. Run again to find out which.
			return &RetryError{Delay: time.Second, Err: errors.New("inquiry result not applied")}
		}
	}
	now := e.now()
	cur, ferr := e.store.FindChargeByID(ctx, c.ID)
	if ferr != nil {
		e.flushAudit(ctx, aud)
		return ferr
	}
	switch {
	case cur.Status.Final():
		// Settled while the inquiry was in flight (a notification).
		e.flushAudit(ctx, aud)
		return nil
	case !cur.CancelRequestedAt.IsZero():
		// A cancel was asked while the inquiry was in flight.
		e.flushAudit(ctx, aud)
		return e.cancelCharge(ctx, cur.ID, "")
	case err == nil && resp.Result.ResultCode == antom.CodeOrderNotExist && now.Before(cur.ExpiresAt.Add(-payResendMargin)):
		// Antom has no such payment: pay never reached it (a crash before
		// sending, or a lost request). Resend it while the order can still
		// be created; it carries the same paymentRequestId.
		e.flushAudit(ctx, aud)
		if err := e.resendPay(cctx, cur.ID); err != nil {
			return err
		}
	case now.After(cur.ExpiresAt.Add(e.cfg.CloseGrace)):
		e.flushAudit(ctx, aud)
		return e.cancelCharge(ctx, cur.ID, "still unknown after the order closed")
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
		if err := e.noteUnknown(ctx, cur.ID, aud, code, msg, "", false); err != nil {
			return err
		}
	}
	return e.scheduleInquiry(ctx, cur.ID)
}

// payResendMargin is how long before a charge's expiry a pay that never
// reached Antom may still be resent: later, it could arrive after the order
// closed.
const payResendMargin = 5 * time.Second

// resendPay sends a charge's pay again after an inquiry found no payment at
// Antom.
func (e *Engine) resendPay(ctx context.Context, id string) error {
	return e.payIntent(ctx, id, "PAY resent: the inquiry found no payment at Antom", false)
}

// payIntent sends charge id's pay (again: it carries the charge's one
// paymentRequestId). Pay moves money, so it is sent only after a
// transaction has found the charge still INIT, with no cancel asked and
// time left before its expiry, and recorded note in its timeline. With
// queueInquiry an unknown answer queues the inquiry job.
func (e *Engine) payIntent(ctx context.Context, id, note string, queueInquiry bool) error {
	var c *autodebit.Charge
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		cur, err := tx.FindChargeForUpdate(ctx, id)
		if err != nil {
			return err
		}
		now := e.now()
		if cur.Status.Final() || !cur.CancelRequestedAt.IsZero() || !now.Before(cur.ExpiresAt.Add(-payResendMargin)) {
			return nil
		}
		c = cur
		return appendTimeline(ctx, tx, stateEntry(cur.ID, note, now))
	})
	if err != nil || c == nil {
		return err
	}
	t, err := e.store.FindTokenByID(ctx, c.TokenID)
	if err != nil {
		return err
	}
	_, err = e.pay(ctx, c, t, queueInquiry)
	return err
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
