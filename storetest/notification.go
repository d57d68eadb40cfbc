package storetest

import (
	"context"
	"testing"

	"github.com/autodebit/autodebit"
)

func testNotification(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("Dedup", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		n := &autodebit.InboundNotification{
			DedupKey: autodebit.NotificationDedupKey("PAYMENT_RESULT", "pr_1", "S"),
			Type:     "PAYMENT_RESULT",
			ObjectID: "chg_1",
			Body:     `{"notifyType":"PAYMENT_RESULT"}`,
		}
		record := func() (isNew bool) {
			t.Helper()
			mustTx(t, s, func(tx autodebit.Tx) (err error) {
				if isNew, err = tx.RecordNotification(ctx, n); err != nil {
					return err
				}
				// The transaction is still usable after a duplicate.
				return tx.AppendTimelineEntry(ctx, &autodebit.TimelineEntry{ObjectID: "chg_1", Kind: "notify.payment", Direction: autodebit.TimelineIn})
			})
			return isNew
		}
		if !record() {
			t.Fatal("first delivery not new")
		}
		if record() || record() {
			t.Fatal("redelivery reported new")
		}
		if events, err := s.FindTimeline(ctx, "chg_1"); err != nil || len(events) != 3 {
			t.Fatalf("%d events (%v), want 3", len(events), err)
		}
		other := *n
		other.DedupKey = autodebit.NotificationDedupKey("PAYMENT_RESULT", "pr_1", "F")
		mustTx(t, s, func(tx autodebit.Tx) error {
			isNew, err := tx.RecordNotification(ctx, &other)
			if err == nil && !isNew {
				t.Error("different content reported as a duplicate")
			}
			return err
		})
	})

	t.Run("RolledBack", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		n := &autodebit.InboundNotification{DedupKey: "k", Type: "AUTHCODE_CREATED"}
		err := s.WithTx(ctx, func(tx autodebit.Tx) error {
			if _, err := tx.RecordNotification(ctx, n); err != nil {
				return err
			}
			return autodebit.Errorf(autodebit.EUNAVAILABLE, "Antom is down.")
		})
		wantCode(t, err, autodebit.EUNAVAILABLE)
		// A notification whose handling rolled back is new on redelivery.
		mustTx(t, s, func(tx autodebit.Tx) error {
			isNew, err := tx.RecordNotification(ctx, n)
			if err == nil && !isNew {
				t.Error("rolled-back notification reported as a duplicate")
			}
			return err
		})
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for _, n := range []*autodebit.InboundNotification{{Type: "PAYMENT_RESULT"}, {DedupKey: "k"}} {
			err := s.WithTx(ctx, func(tx autodebit.Tx) error { _, err := tx.RecordNotification(ctx, n); return err })
			wantCode(t, err, autodebit.EINVALID)
		}
	})
}
