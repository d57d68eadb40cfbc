package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
)

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
			return NotCancellable(c)
		}
		if !c.CancelRequestedAt.IsZero() {
			return nil
		}
		c.CancelRequestedAt = now
		c.NextInquiryAt = now.Add(revokeRetryDelay)
		if err := tx.UpdateCharge(ctx, c); err != nil {
			return fmt.Errorf("request cancel of %s: %w", c.ID, err)
		}
		if err := appendTimeline(ctx, tx, stateEntry(c.ID, "CANCEL requested", now)); err != nil {
			return err
		}
		return tx.Enqueue(ctx, autodebit.Job{Args: InquireChargeArgs{ChargeID: c.ID}, ScheduledAt: now.Add(revokeRetryDelay)})
	})
	if err != nil {
		return nil, err
	}
	if err := e.cancelCharge(ctx, c.ID, ""); err != nil {
		var re *RetryError
		if !errors.As(err, &re) {
			return nil, err
		}
	}
	return e.store.FindChargeByID(ctx, id)
}

// NotCancellable is the ECONFLICT for cancelling a final charge, naming the
// action that does work for its status. The console shows the same words.
func NotCancellable(c *autodebit.Charge) error {
	switch c.Status {
	case autodebit.ChargeSuccess:
		if c.RefundedValue >= c.Amount.Value {
			return autodebit.Errorf(autodebit.ECONFLICT, "Charge %s is SUCCESS and already refunded in full: there is nothing left to cancel or refund.", c.ID)
		}
		return autodebit.Errorf(autodebit.ECONFLICT, "Charge %s is SUCCESS and cannot be cancelled; refund it instead.", c.ID)
	case autodebit.ChargeCancelled:
		return autodebit.Errorf(autodebit.ECONFLICT, "Charge %s is already CANCELLED: Antom cancelled the payment (and refunded it in full if it had been paid); there is nothing left to cancel.", c.ID)
	default:
		return autodebit.Errorf(autodebit.ECONFLICT, "Charge %s is already %s: nothing was charged, so there is nothing to cancel.", c.ID, c.Status)
	}
}

// cancelCharge sends cancel for charge id and settles it on the answer.
// Cancel moves money (Antom refunds a paid payment that it cancels), so it
// is sent only after a transaction has found the charge still INIT and
// committed the cancel intent on it: a charge settled meanwhile, by a
// notification say, is left alone. why, when set, is the reason to record
// for a cancel not asked before (the order closed with the result unknown);
// empty means the cancel was asked already and only its intent is checked.
func (e *Engine) cancelCharge(ctx context.Context, id, why string) error {
	c, err := e.cancelIntent(ctx, id, why)
	if err != nil || c == nil {
		return err
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
			if err := appendTimeline(ctx, tx, aud.take()...); err != nil {
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

// cancelIntent commits the intent to cancel charge id and returns the
// charge, or returns nil if no cancel must be sent: the charge is final, or
// no cancel was asked and why is empty.
func (e *Engine) cancelIntent(ctx context.Context, id, why string) (*autodebit.Charge, error) {
	var c *autodebit.Charge
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		cur, err := tx.FindChargeForUpdate(ctx, id)
		if err != nil || cur.Status.Final() {
			return err
		}
		if cur.CancelRequestedAt.IsZero() {
			if why == "" {
				return nil
			}
			// From now on only the cancel's answer settles the charge.
			cur.CancelRequestedAt = e.now()
			if err := tx.UpdateCharge(ctx, cur); err != nil {
				return fmt.Errorf("request cancel of %s: %w", cur.ID, err)
			}
			if err := appendTimeline(ctx, tx, stateEntry(cur.ID, "CANCEL: "+why, cur.CancelRequestedAt)); err != nil {
				return err
			}
		}
		c = cur
		return nil
	})
	return c, err
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
		if err := appendTimeline(ctx, tx, aud.take()...); err != nil {
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
