// Notifications from Antom: verified by the http package, applied here.
// Each handler records the notification (deduplicated) and its effect in
// one transaction, so that a nil error means it may be acknowledged.

package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
)

// handleTokenCanceled ends the token a TOKEN_CANCELED notification names.
// One that does not report success is recorded in the token's timeline and
// changes nothing.
func (e *Engine) handleTokenCanceled(ctx context.Context, n *antom.Notification) error {
	an := n.Authorization
	now := e.now()
	return e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		t, err := tx.FindTokenByAccessTokenForUpdate(ctx, an.AccessToken)
		if autodebit.ErrorCode(err) == autodebit.ENOTFOUND {
			e.log.Warn("TOKEN_CANCELED for an unknown token; acknowledged and ignored", "accessToken", autodebit.MaskSecret(an.AccessToken))
			return nil
		} else if err != nil {
			return err
		}
		if !an.Result.Succeeded() {
			return e.ignoreNotification(ctx, tx, t.ID, n, "its result is "+an.Result.String()+", not S", now)
		}
		if isNew, err := e.recordNotification(ctx, tx, n, t.ID, now, antom.TokenCanceled, t.ID); err != nil || !isNew {
			return err
		}
		if t.Status != autodebit.TokenActive {
			return nil
		}
		// A revoke the merchant asked for is the merchant's, whichever of
		// revoke's answer and this notification lands first.
		by, reason := autodebit.RevokedByWallet, an.Reason
		if reason == "" {
			reason = "the buyer unlinked it in the wallet (TOKEN_CANCELED)"
		}
		if t.RevokePending {
			by, reason = autodebit.RevokedByMerchant, "revoked by the merchant"
		}
		if err := e.endTokenTx(ctx, tx, t, autodebit.TokenRevoked, by, reason, "REVOKED by "+by+": "+reason, now); err != nil {
			return err
		}
		e.log.Info("token revoked", "token", t.ID, "by", by, "via", "TOKEN_CANCELED notification")
		return nil
	})
}

// ignoreNotification records in an object's timeline a notification that
// was acknowledged but not acted on, and why. It is not deduplicated: only
// what is applied is, so that a genuine notification is never taken for a
// repeat of an ignored one.
func (e *Engine) ignoreNotification(ctx context.Context, tx autodebit.Tx, objectID string, n *antom.Notification, why string, now time.Time) error {
	e.log.Warn("notification ignored", "kind", n.Kind, "object", objectID, "why", why)
	ev := notifyEntry(objectID, n, MaskBody(n.Body), now)
	ev.Error = "ignored: " + why
	return appendTimeline(ctx, tx, ev)
}

// NotificationRefusedError is HandleNotification's answer to a verified
// notification that must not be acknowledged: nothing was recorded, so
// Antom's resend is judged afresh. Later means it may apply then (a cancel
// in flight decides the charge first); otherwise it disagrees with what we
// hold and cannot be right.
type NotificationRefusedError struct {
	ObjectID string
	Reason   string
	Later    bool
}

func (e *NotificationRefusedError) Error() string {
	return fmt.Sprintf("Notification for %s not applied: %s.", e.ObjectID, e.Reason)
}

// refuseNotification records in an object's timeline a notification that
// is refused (not acknowledged, so Antom resends it) and returns the
// NotificationRefusedError that tells the receiver so. Nothing else is
// written: no dedup key, no state change.
func (e *Engine) refuseNotification(ctx context.Context, objectID string, n *antom.Notification, why string, later bool) error {
	label := "rejected: "
	if later {
		label = "deferred: "
		e.log.Warn("notification deferred; Antom will resend it", "kind", n.Kind, "object", objectID, "why", why)
	} else {
		e.log.Error("notification refused: it disagrees with what the engine holds", "kind", n.Kind, "object", objectID, "why", why)
	}
	ev := notifyEntry(objectID, n, MaskBody(n.Body), e.now())
	ev.Response, ev.Error = "", label+why
	if err := e.store.WithTx(context.WithoutCancel(ctx), func(tx autodebit.Tx) error { return appendTimeline(ctx, tx, ev) }); err != nil {
		e.log.Error("store refused notification in the timeline", "object", objectID, "err", err)
	}
	return &NotificationRefusedError{ObjectID: objectID, Reason: why, Later: later}
}

// recordNotification records notification n of type typ, applied to
// objectID, and its entry in the object's timeline, both in tx, with its
// body masked once for the two. Its dedup key is typ with keyParts
// (autodebit.NotificationDedupKey). It reports false, writing nothing, for
// a notification already recorded.
func (e *Engine) recordNotification(ctx context.Context, tx autodebit.Tx, n *antom.Notification, objectID string, now time.Time, typ string, keyParts ...string) (bool, error) {
	body := MaskBody(n.Body)
	isNew, err := tx.RecordNotification(ctx, &autodebit.InboundNotification{
		DedupKey:   autodebit.NotificationDedupKey(typ, keyParts...),
		Type:       typ,
		ObjectID:   objectID,
		Body:       body,
		SentAt:     sentAt(n),
		ReceivedAt: now,
	})
	if err != nil || !isNew {
		return false, err
	}
	return true, appendTimeline(ctx, tx, notifyEntry(objectID, n, body, now))
}

// notifyEntry records a received notification in an object's trail.
// body is n.Body masked (MaskBody), which the caller usually has already.
func notifyEntry(objectID string, n *antom.Notification, body string, at time.Time) *autodebit.TimelineEntry {
	ev := &autodebit.TimelineEntry{
		ObjectID:  objectID,
		Kind:      "notify." + n.Kind,
		Direction: autodebit.TimelineIn,
		Request:   body,
		Response:  string(antom.AckBody),
		CreatedAt: at,
	}
	switch {
	case n.Authorization != nil:
		ev.ResultStatus, ev.ResultCode = n.Authorization.Result.ResultStatus, n.Authorization.Result.ResultCode
	case n.Payment != nil:
		ev.ResultStatus, ev.ResultCode = n.Payment.Result.ResultStatus, n.Payment.Result.ResultCode
	case n.Refund != nil:
		ev.ResultStatus, ev.ResultCode = n.Refund.Result.ResultStatus, n.Refund.Result.ResultCode
	}
	return ev
}

// HandleNotification applies a verified notification. A nil error means its
// effect is committed (or it needed none) and the caller may acknowledge it;
// redeliveries are recognised and change nothing.
func (e *Engine) HandleNotification(ctx context.Context, n *antom.Notification) error {
	var err error
	switch {
	case n.Authorization != nil:
		switch n.Authorization.AuthorizationNotifyType {
		case antom.AuthCodeCreated:
			err = e.handleAuthCode(ctx, n)
		case antom.TokenCanceled:
			err = e.handleTokenCanceled(ctx, n)
		default:
			// TOKEN_CREATED belongs to other products; acknowledge it.
			e.log.Info("authorization notification ignored", "type", n.Authorization.AuthorizationNotifyType)
		}
	case n.Payment != nil:
		err = e.handlePaymentNotification(ctx, n)
	case n.Refund != nil:
		err = e.handleRefundNotification(ctx, n)
	default:
		err = fmt.Errorf("engine: notification of unknown kind %q", n.Kind)
	}
	e.m.NotificationReceived(n.Kind, err == nil)
	if t := sentAt(n); err == nil && !t.IsZero() {
		e.m.NotificationLag(n.Kind, e.now().Sub(t))
	}
	return err
}

// sentAt is when Antom sent a notification, from its request-time header;
// zero when the header cannot be read.
func sentAt(n *antom.Notification) time.Time {
	t, err := antom.ParseRequestTime(n.RequestTime)
	if err != nil {
		return time.Time{}
	}
	return t
}

// handleAuthCode records AUTHCODE_CREATED: the authorization becomes
// AUTHORIZED and applyToken is queued in the same transaction. One that
// does not report success, or has no authCode, is recorded in the
// timeline and changes nothing.
func (e *Engine) handleAuthCode(ctx context.Context, n *antom.Notification) error {
	an := n.Authorization
	now := e.now()
	var authID string
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		a, err := tx.FindAuthorizationByAuthStateForUpdate(ctx, an.AuthState)
		if autodebit.ErrorCode(err) == autodebit.ENOTFOUND {
			e.log.Warn("AUTHCODE_CREATED for an unknown authState; acknowledged and ignored", "authState", an.AuthState)
			return nil
		} else if err != nil {
			return err
		}
		authID = a.ID
		switch {
		case !an.Result.Succeeded():
			return e.ignoreNotification(ctx, tx, a.ID, n, "its result is "+an.Result.String()+", not S", now)
		case an.AuthCode == "":
			return e.ignoreNotification(ctx, tx, a.ID, n, "it carries no authCode", now)
		}
		if isNew, err := e.recordNotification(ctx, tx, n, a.ID, now, antom.AuthCodeCreated, an.AuthState, an.AuthCode); err != nil || !isNew {
			return err
		}
		if a.Status != autodebit.AuthorizationPending {
			e.log.Warn("AUTHCODE_CREATED for an authorization that is not PENDING; ignored", "authorization", a.ID, "status", a.Status)
			return nil
		}
		a.Status, a.AuthCode, a.AuthorizedAt = autodebit.AuthorizationAuthorized, an.AuthCode, now
		if err := e.moveAuthorizationTx(ctx, tx, a, "AUTHORIZED", now); err != nil {
			return err
		}
		return tx.Enqueue(ctx, autodebit.Job{Args: ApplyTokenArgs{AuthorizationID: a.ID}, Queue: QueueUrgent})
	})
	if err == nil && authID != "" {
		e.log.Info("authCode received", "authorization", authID)
	}
	return err
}

// handlePaymentNotification settles a charge from notifyPayment, if it is
// still INIT and no cancel is in flight. A notification whose amount,
// currency or paymentId disagrees with the charge cannot be right: it is
// refused (EINVALID) without recording it, so that the genuine one, when it
// comes, is applied rather than taken for a repeat. A result that arrives
// while a cancel is in flight is refused for later (Later), unrecorded.
func (e *Engine) handlePaymentNotification(ctx context.Context, n *antom.Notification) error {
	p := n.Payment
	now := e.now()
	var settled bool
	var chargeID, mismatch string
	var deferred bool
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
		if mismatch = paymentMismatch(c, p); mismatch != "" {
			return nil
		}
		if p.NotifyType == antom.NotifyTypePaymentResult && !p.Result.Succeeded() && !p.Result.Failed() {
			return e.ignoreNotification(ctx, tx, c.ID, n, "a payment result must be S or F, not "+p.Result.String(), now)
		}
		if p.NotifyType == antom.NotifyTypePaymentResult && !c.Status.Final() && !c.CancelRequestedAt.IsZero() {
			// The cancel's answer decides. Not recorded, so that a resend
			// still applies if the cancel finds the payment already final.
			deferred = true
			return nil
		}
		if isNew, err := e.recordNotification(ctx, tx, n, c.ID, now, p.NotifyType, p.PaymentRequestID, p.Result.ResultStatus, p.Result.ResultCode); err != nil || !isNew {
			return err
		}
		s, ok := e.paymentSettlement(c, p)
		if !ok {
			return nil
		}
		won, err := e.settleChargeTx(ctx, tx, c.ID, s)
		settled = won != nil
		status = s.Status
		return err
	})
	if err == nil && mismatch != "" {
		return e.refuseNotification(ctx, chargeID, n, mismatch, false)
	}
	if err == nil && deferred {
		return e.refuseNotification(ctx, chargeID, n, "a cancel is in flight and its answer decides the charge", true)
	}
	if err == nil && settled {
		e.m.ChargeSettled(status, autodebit.SettledByNotification)
		e.log.Info("charge settled", "charge", chargeID, "status", status, "by", autodebit.SettledByNotification, "code", p.Result.ResultCode)
	}
	return err
}

// paymentMismatch says how a payment notification disagrees with the charge
// it names, or returns "" when it agrees.
func paymentMismatch(c *autodebit.Charge, p *antom.PaymentNotification) string {
	switch {
	case p.PaymentAmount.Currency != c.Amount.Currency || p.PaymentAmount.Value != c.Amount.Value:
		return fmt.Sprintf("its amount %s differs from the charge's %s", antom.FormatAmount(p.PaymentAmount),
			antom.FormatAmount(antom.Amount{Currency: c.Amount.Currency, Value: c.Amount.Value}))
	case p.PaymentID != "" && c.PaymentID != "" && p.PaymentID != c.PaymentID:
		return fmt.Sprintf("its paymentId %s differs from the charge's %s", p.PaymentID, c.PaymentID)
	}
	return ""
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

// handleRefundNotification settles a refund from notifyRefund. As for
// payments, one that disagrees with the refund (amount, currency, refundId)
// is refused without being recorded.
func (e *Engine) handleRefundNotification(ctx context.Context, n *antom.Notification) error {
	f := n.Refund
	now := e.now()
	var refundID, mismatch string
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		r, err := tx.FindRefundByRefundRequestIDForUpdate(ctx, f.RefundRequestID)
		if autodebit.ErrorCode(err) == autodebit.ENOTFOUND {
			e.log.Warn("notifyRefund for an unknown refundRequestId; acknowledged and ignored", "refundRequestId", f.RefundRequestID)
			return nil
		} else if err != nil {
			return err
		}
		refundID = r.ID
		if mismatch = refundMismatch(r, f); mismatch != "" {
			return nil
		}
		if f.RefundStatus != antom.RefundStatusSuccess && f.RefundStatus != antom.RefundStatusFail {
			return e.ignoreNotification(ctx, tx, r.ID, n, fmt.Sprintf("its refundStatus %q is not SUCCESS or FAIL", f.RefundStatus), now)
		}
		if isNew, err := e.recordNotification(ctx, tx, n, r.ID, now, f.NotifyType, f.RefundRequestID, f.RefundStatus); err != nil || !isNew {
			return err
		}
		if r.Status.Final() {
			if (r.Status == autodebit.RefundSuccess) != (f.RefundStatus == antom.RefundStatusSuccess) {
				e.log.Error("notifyRefund disagrees with a final refund", "refund", r.ID, "status", r.Status, "notified", f.RefundStatus)
			}
			return nil
		}
		s := autodebit.RefundSettlement{ResultCode: f.Result.ResultCode, ResultMessage: f.Result.ResultMessage, RefundID: f.RefundID, SettledAt: now}
		s.Status = autodebit.RefundFail
		if f.RefundStatus == antom.RefundStatusSuccess {
			s.Status = autodebit.RefundSuccess
		}
		won, err := e.settleRefundTx(ctx, tx, r.ID, s, "by notification")
		if err == nil && won {
			e.log.Info("refund settled", "refund", r.ID, "status", s.Status, "by", "notification", "code", s.ResultCode)
		}
		return err
	})
	if err == nil && mismatch != "" {
		return e.refuseNotification(ctx, refundID, n, mismatch, false)
	}
	return err
}

// refundMismatch says how a refund notification disagrees with the refund
// it names, or returns "" when it agrees.
func refundMismatch(r *autodebit.Refund, f *antom.RefundNotification) string {
	switch {
	case f.RefundAmount.Currency != r.Amount.Currency || f.RefundAmount.Value != r.Amount.Value:
		return fmt.Sprintf("its amount %s differs from the refund's %s", antom.FormatAmount(f.RefundAmount),
			antom.FormatAmount(antom.Amount{Currency: r.Amount.Currency, Value: r.Amount.Value}))
	case f.RefundID != "" && r.RefundID != "" && f.RefundID != r.RefundID:
		return fmt.Sprintf("its refundId %s differs from the refund's %s", f.RefundID, r.RefundID)
	}
	return ""
}
