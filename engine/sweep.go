package engine

import (
	"context"
	"fmt"

	"github.com/autodebit/autodebit"
)

// sweepBatch bounds the objects of each kind one sweep recovers.
const sweepBatch = 100

// sweep is the periodic safety net for work whose job was lost: a process
// died before the job was queued (a charge whose pay answer was never
// recorded), or the job was discarded after failing too often. It re-queues
// what is overdue by more than SweepLag — the inquiry of an INIT charge, the
// inquiry of a PROCESSING refund, a pending revoke. Work whose job is alive
// is never that late; work recovered twice (its job was merely slow) runs
// twice, which is harmless: every handler checks the state first.
func (e *Engine) sweep(ctx context.Context) error {
	return joinErr(e.sweepCharges(ctx), e.sweepRefunds(ctx), e.sweepRevokes(ctx), e.sweepDeliveries(ctx))
}

func joinErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// sweepCharges queues the inquiry of every INIT charge whose inquiry is
// overdue.
func (e *Engine) sweepCharges(ctx context.Context) error {
	now := e.now()
	cutoff := now.Add(-e.realSpan(e.cfg.SweepLag))
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
			if err := appendTimeline(ctx, tx, stateEntry(c.ID, "INQUIRY queued by the sweep: no answer was recorded", now)); err != nil {
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

// sweepRefunds queues the inquiry of every PROCESSING refund whose inquiry
// is overdue.
func (e *Engine) sweepRefunds(ctx context.Context) error {
	now := e.now()
	cutoff := now.Add(-e.realSpan(e.cfg.SweepLag))
	due, err := e.store.FindDueRefunds(ctx, cutoff, sweepBatch)
	if err != nil {
		return err
	}
	for _, d := range due {
		err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
			r, err := tx.FindRefundForUpdate(ctx, d.ID)
			if err != nil || r.Status.Final() || r.NextInquiryAt.IsZero() || !r.NextInquiryAt.Before(cutoff) {
				return err
			}
			r.NextInquiryAt = now.Add(refundInquiryDelay)
			if err := tx.UpdateRefund(ctx, r); err != nil {
				return err
			}
			if err := appendTimeline(ctx, tx, stateEntry(r.ID, "INQUIRY queued by the sweep: its job was lost", now)); err != nil {
				return err
			}
			return tx.Enqueue(ctx, autodebit.Job{Args: InquireRefundArgs{RefundID: r.ID}})
		})
		if err != nil {
			return fmt.Errorf("sweep refund %s: %w", d.ID, err)
		}
		e.log.Warn("refund with a lost inquiry recovered by the sweep", "refund", d.ID)
	}
	return nil
}

// sweepRevokes queues the revoke of every token whose pending revoke is
// overdue.
func (e *Engine) sweepRevokes(ctx context.Context) error {
	now := e.now()
	cutoff := now.Add(-e.realSpan(e.cfg.SweepLag))
	due, err := e.store.FindDueRevokes(ctx, cutoff, sweepBatch)
	if err != nil {
		return err
	}
	for _, d := range due {
		err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
			t, err := tx.FindTokenForUpdate(ctx, d.ID)
			if err != nil || t.Status != autodebit.TokenActive || !t.RevokePending || t.RevokeNextAt.IsZero() || !t.RevokeNextAt.Before(cutoff) {
				return err
			}
			t.RevokeNextAt = now.Add(revokeRetryDelay)
			if err := tx.UpdateToken(ctx, t); err != nil {
				return err
			}
			if err := appendTimeline(ctx, tx, stateEntry(t.ID, "REVOKE queued by the sweep: its job was lost", now)); err != nil {
				return err
			}
			return tx.Enqueue(ctx, autodebit.Job{Args: RevokeTokenArgs{TokenID: t.ID}})
		})
		if err != nil {
			return fmt.Errorf("sweep token %s: %w", d.ID, err)
		}
		e.log.Warn("pending revoke with a lost job recovered by the sweep", "token", d.ID)
	}
	return nil
}

// sweepDeliveries queues the job of every pending webhook delivery overdue
// by more than an attempt's timeout plus SweepLag: its job was discarded
// after failing too often (an outage of the database, say), and Redeliver
// refuses a pending delivery. A job merely slow waits for the open attempt
// (deliver's claim), so a duplicate sends nothing twice.
func (e *Engine) sweepDeliveries(ctx context.Context) error {
	now := e.now()
	cutoff := now.Add(-e.realSpan(e.cfg.SweepLag + e.cfg.WebhookTimeout))
	due, err := e.store.FindDueDeliveries(ctx, cutoff, sweepBatch)
	if err != nil {
		return err
	}
	for _, d := range due {
		err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
			cur, err := tx.FindDeliveryForUpdate(ctx, d.ID)
			if err != nil || cur.Status != autodebit.DeliveryPending || cur.NextAttemptAt.IsZero() || !cur.NextAttemptAt.Before(cutoff) {
				return err
			}
			cur.NextAttemptAt = now
			if err := tx.UpdateDelivery(ctx, cur); err != nil {
				return err
			}
			return tx.Enqueue(ctx, autodebit.Job{Args: DeliverWebhookArgs{DeliveryID: cur.ID}})
		})
		if err != nil {
			return fmt.Errorf("sweep delivery %s: %w", d.ID, err)
		}
		e.log.Warn("webhook delivery with a lost job recovered by the sweep", "delivery", d.ID, "event", d.EventID)
	}
	return nil
}

// Resume queues applyToken for every AUTHORIZED authorization at once. Call
// it when a process starts: a process killed during applyToken leaves its
// job "running" until River rescues it, minutes later and past the
// authCode's one-minute life. The resent applyToken carries the same
// authCode, and Antom answers a resend with the same token; an authCode
// already dead fails its authorization now instead of at the rescue.
func (e *Engine) Resume(ctx context.Context) error {
	now := e.now()
	// Every one at once (no paging: the runner moves rows out of
	// AUTHORIZED meanwhile, and there are only as many as a minute of
	// linking leaves).
	auths, _, err := e.store.FindAuthorizations(ctx, autodebit.AuthorizationFilter{Status: autodebit.AuthorizationAuthorized})
	if err != nil || len(auths) == 0 {
		return err
	}
	var jobs []autodebit.Job
	var events []*autodebit.TimelineEntry
	for _, a := range auths {
		jobs = append(jobs, autodebit.Job{Args: ApplyTokenArgs{AuthorizationID: a.ID}, Queue: QueueUrgent})
		events = append(events, stateEntry(a.ID, "APPLY TOKEN resumed after a restart", now))
	}
	err = e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		if err := appendTimeline(ctx, tx, events...); err != nil {
			return err
		}
		return tx.Enqueue(ctx, jobs...)
	})
	if err != nil {
		return fmt.Errorf("resume applyToken: %w", err)
	}
	e.log.Info("applyToken resumed after a restart", "authorizations", len(jobs))
	return nil
}
