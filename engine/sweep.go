package engine

import (
	"context"
	"fmt"

	"github.com/autodebit/autodebit"
)

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
