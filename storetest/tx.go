package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/sqldb"
)

type inquiryArgs struct {
	ChargeID string `json:"chargeId"`
}

func (inquiryArgs) Kind() string { return "payment_inquiry" }

type cancelArgs struct {
	ChargeID string `json:"chargeId"`
}

func (cancelArgs) Kind() string { return "payment_cancel" }

func testTx(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("CommitKeepsStateAndJobs", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := mustCreateCharge(t, s, newCharge(mustCreateToken(t, s, "cus_1"), 100))
		mustTx(t, s, func(tx autodebit.Tx) error {
			c.InquiryCount = 1
			if err := tx.UpdateCharge(ctx, c); err != nil {
				return err
			}
			return tx.Enqueue(ctx,
				autodebit.Job{Args: inquiryArgs{c.ID}, ScheduledAt: time.Now().Add(time.Second)},
				autodebit.Job{Args: cancelArgs{c.ID}})
		})
		if got := jobKinds(t, s); !slices.Equal(got, []string{"payment_cancel", "payment_inquiry"}) {
			t.Fatalf("jobs %v", got)
		}
		if got, err := s.FindChargeByID(ctx, c.ID); err != nil || got.InquiryCount != 1 {
			t.Fatalf("charge %+v, %v", got, err)
		}
	})

	t.Run("RollbackDropsStateAndJobs", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := mustCreateCharge(t, s, newCharge(mustCreateToken(t, s, "cus_1"), 100))
		errBoom := errors.New("boom")
		err := s.WithTx(ctx, func(tx autodebit.Tx) error {
			if _, err := tx.SettleCharge(ctx, c.ID, autodebit.ChargeSettlement{Status: autodebit.ChargeSuccess, SettledBy: autodebit.SettledByPay}); err != nil {
				return err
			}
			if err := tx.Enqueue(ctx, autodebit.Job{Args: inquiryArgs{c.ID}}); err != nil {
				return err
			}
			if err := tx.AppendTimelineEntry(ctx, &autodebit.TimelineEntry{ObjectID: c.ID, Kind: "state"}); err != nil {
				return err
			}
			return errBoom
		})
		if !errors.Is(err, errBoom) {
			t.Fatalf("WithTx=%v, want the function's error", err)
		}
		if got := jobKinds(t, s); len(got) != 0 {
			t.Fatalf("rolled-back jobs %v", got)
		}
		if got, err := s.FindChargeByID(ctx, c.ID); err != nil || got.Status != autodebit.ChargeInit || got.Version != 1 {
			t.Fatalf("rolled-back charge %+v, %v", got, err)
		}
		if events, err := s.FindTimeline(ctx, c.ID); err != nil || len(events) != 0 {
			t.Fatalf("rolled-back events %v, %v", events, err)
		}
	})

	t.Run("ErrorCodeSurvives", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		err := s.WithTx(ctx, func(tx autodebit.Tx) error { return autodebit.Errorf(autodebit.EDECLINED, "Insufficient balance.") })
		wantCode(t, err, autodebit.EDECLINED)
	})

	t.Run("PanicRollsBack", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := mustCreateCharge(t, s, newCharge(mustCreateToken(t, s, "cus_1"), 100))
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("panic swallowed")
				}
			}()
			s.WithTx(ctx, func(tx autodebit.Tx) error {
				if _, err := tx.SettleCharge(ctx, c.ID, autodebit.ChargeSettlement{Status: autodebit.ChargeFail, SettledBy: autodebit.SettledByPay}); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		if got, err := s.FindChargeByID(ctx, c.ID); err != nil || got.Status != autodebit.ChargeInit {
			t.Fatalf("charge after panic %+v, %v", got, err)
		}
		// The store still works: the connection was released.
		mustCreateCharge(t, s, newCharge(mustCreateToken(t, s, "cus_2"), 100))
	})

	t.Run("EnqueueWithoutFunc", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		noJobs, err := sqldb.New(s.DB(), s.Dialect(), s.RiverDriver(), sqldb.Config{TokenKey: TokenKey})
		if err != nil {
			t.Fatal(err)
		}
		err = noJobs.WithTx(ctx, func(tx autodebit.Tx) error { return tx.Enqueue(ctx, autodebit.Job{Args: inquiryArgs{"chg_1"}}) })
		if err == nil {
			t.Fatal("Enqueue without an EnqueueFunc succeeded")
		}
		mustTx(t, noJobs, func(tx autodebit.Tx) error { return tx.Enqueue(ctx) }) // nothing to enqueue is fine
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.WithTx(cctx, func(tx autodebit.Tx) error { return nil }); err == nil {
			t.Fatal("WithTx with a canceled context succeeded")
		}
	})
}
