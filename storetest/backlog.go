package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
)

func testBacklog(t *testing.T, open opener) {
	ctx := context.Background()
	t.Run("Counts", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		b, err := s.FindBacklog(ctx)
		if err != nil {
			t.Fatal(err)
		} else if *b != (autodebit.Backlog{}) {
			t.Fatalf("empty store backlog %+v", *b)
		}
		tok := mustCreateToken(t, s, "cus_1")
		var charges []*autodebit.Charge
		for i := range 3 {
			c := newCharge(tok, 100)
			c.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
			c.NextInquiryAt = t0.Add(time.Hour - time.Duration(i)*time.Minute)
			charges = append(charges, mustCreateCharge(t, s, c))
		}
		mustTx(t, s, func(tx autodebit.Tx) error {
			_, err := tx.SettleCharge(ctx, charges[0].ID, autodebit.ChargeSettlement{Status: autodebit.ChargeSuccess, SettledBy: autodebit.SettledByPay})
			return err
		})
		r := newRefund(charges[0].ID, 10)
		r.CreatedAt = t0.Add(time.Hour)
		mustCreateRefund(t, s, r)
		mustCreateRefund(t, s, newRefund(charges[0].ID, 10))
		w, e := newDeliveryPair(t, s)
		w2 := mustCreateWebhookEndpoint(t, s, newWebhookEndpoint(t, "https://other.example/hooks"))
		mustTx(t, s, func(tx autodebit.Tx) error {
			old := &autodebit.Delivery{EventID: e.ID, EndpointID: w.ID, NextAttemptAt: t0, CreatedAt: t0.Add(2 * time.Hour)}
			if err := tx.CreateDelivery(ctx, old); err != nil {
				return err
			}
			done := &autodebit.Delivery{EventID: e.ID, EndpointID: w2.ID, NextAttemptAt: t0, CreatedAt: t0.Add(time.Hour)}
			if err := tx.CreateDelivery(ctx, done); err != nil {
				return err
			}
			done.Status, done.NextAttemptAt, done.DeliveredAt = autodebit.DeliveryDelivered, time.Time{}, t0
			return tx.UpdateDelivery(ctx, done)
		})

		b, err = s.FindBacklog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := autodebit.Backlog{
			OpenCharges:              2,
			OldestOpenChargeAt:       t0.Add(time.Minute),
			NextInquiryAt:            t0.Add(time.Hour - 2*time.Minute),
			ProcessingRefunds:        2,
			OldestProcessingRefundAt: t0.Add(time.Hour),
			PendingDeliveries:        1,
			OldestPendingDeliveryAt:  t0.Add(2 * time.Hour),
		}
		if *b != want {
			t.Fatalf("backlog\n got  %+v\n want %+v", *b, want)
		}
	})
}
