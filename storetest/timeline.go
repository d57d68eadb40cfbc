package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
)

func testTimeline(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("AppendFind", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		events := []*autodebit.TimelineEntry{
			{ObjectID: "chg_1", Kind: "antom.pay", Direction: autodebit.TimelineOut, Request: `{"paymentRequestId":"pr_1"}`,
				Response: `{"result":{"resultStatus":"U"}}`, ResultStatus: "U", ResultCode: "PAYMENT_IN_PROCESS", DurationMS: 120,
				CreatedAt: t0},
			{ObjectID: "chg_1", Kind: "notify.payment", Direction: autodebit.TimelineIn, Request: "{}", ResultStatus: "S"},
			{ObjectID: "chg_2", Kind: "antom.pay", Direction: autodebit.TimelineOut, Error: "timeout", CreatedAt: t0},
			{ObjectID: "chg_1", Kind: "state", Response: "INIT -> SUCCESS", CreatedAt: t0}, // same time: append order wins
		}
		mustTx(t, s, func(tx autodebit.Tx) error {
			for _, e := range events {
				if err := tx.AppendTimelineEntry(ctx, e); err != nil {
					return err
				}
			}
			return nil
		})
		got, err := s.FindTimeline(ctx, "chg_1")
		if err != nil {
			t.Fatal(err)
		} else if len(got) != 3 {
			t.Fatalf("%d events, want 3", len(got))
		}
		for i, want := range []*autodebit.TimelineEntry{events[0], events[1], events[3]} {
			if !strings.HasPrefix(got[i].ID, autodebit.TimelineEntryIDPrefix) {
				t.Fatalf("ID=%q", got[i].ID)
			}
			wantEqual(t, got[i], want)
		}
		if got[1].CreatedAt.IsZero() || time.Since(got[1].CreatedAt) > time.Hour {
			t.Fatalf("CreatedAt=%v, want now", got[1].CreatedAt)
		}
		if got, err := s.FindTimeline(ctx, "chg_none"); err != nil || got == nil || len(got) != 0 {
			t.Fatalf("FindTimeline of an object without events = %v, %v; want empty", got, err)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for _, e := range []*autodebit.TimelineEntry{
			{Kind: "state"},
			{ObjectID: "chg_1"},
			{ObjectID: "chg_1", Kind: "state", Direction: "sideways"},
		} {
			err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.AppendTimelineEntry(ctx, e) })
			wantCode(t, err, autodebit.EINVALID)
		}
	})
}
