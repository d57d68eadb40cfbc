package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
)

func testRefund(t *testing.T, open opener) {
	ctx := context.Background()

	// successfulCharge returns a SUCCESS charge of value.
	successfulCharge := func(t *testing.T, s autodebit.Store, value int64) *autodebit.Charge {
		t.Helper()
		c := mustCreateCharge(t, s, newCharge(mustCreateToken(t, s, "cus_1"), value))
		mustTx(t, s, func(tx autodebit.Tx) error {
			_, err := tx.SettleCharge(ctx, c.ID, autodebit.ChargeSettlement{Status: autodebit.ChargeSuccess, SettledBy: autodebit.SettledByPay})
			return err
		})
		return c
	}

	t.Run("CreateFind", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := successfulCharge(t, s, 1000)
		r := newRefund(c.ID, 300)
		r.IdempotencyKey = "idem-1"
		mustCreateRefund(t, s, r)
		if !strings.HasPrefix(r.ID, autodebit.RefundIDPrefix) || r.Version != 1 || r.Status != autodebit.RefundProcessing {
			t.Fatalf("created %+v", *r)
		}
		for name, find := range map[string]func() (*autodebit.Refund, error){
			"ID":              func() (*autodebit.Refund, error) { return s.FindRefundByID(ctx, r.ID) },
			"RefundRequestID": func() (*autodebit.Refund, error) { return s.FindRefundByRefundRequestID(ctx, r.RefundRequestID) },
			"IdempotencyKey":  func() (*autodebit.Refund, error) { return s.FindRefundByIdempotencyKey(ctx, "idem-1") },
		} {
			got, err := find()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			wantEqual(t, got, r)
		}
		_, err := s.FindRefundByIdempotencyKey(ctx, "idem-2")
		wantCode(t, err, autodebit.ENOTFOUND)
		_, err = s.FindRefundByID(ctx, "rfd_nope")
		wantCode(t, err, autodebit.ENOTFOUND)
		mustTx(t, s, func(tx autodebit.Tx) error {
			got, err := tx.FindRefundByRefundRequestIDForUpdate(ctx, r.RefundRequestID)
			if err == nil {
				wantEqual(t, got, r)
			}
			return err
		})
		list, n, err := s.FindRefunds(ctx, autodebit.RefundFilter{ChargeID: c.ID, Status: autodebit.RefundProcessing})
		if err != nil || n != 1 || len(list) != 1 || list[0].ID != r.ID {
			t.Fatalf("FindRefunds=%v, %d, %v", list, n, err)
		}
	})

	t.Run("ChargeNotFound", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateRefund(ctx, newRefund("chg_nope", 1)) })
		wantCode(t, err, autodebit.ENOTFOUND)
	})

	t.Run("Unique", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c1, c2 := successfulCharge(t, s, 1000), successfulCharge(t, s, 1000)
		r := newRefund(c1.ID, 1)
		r.IdempotencyKey = "idem-1"
		mustCreateRefund(t, s, r)

		sameKey := newRefund(c1.ID, 2)
		sameKey.IdempotencyKey = "idem-1"
		err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateRefund(ctx, sameKey) })
		wantCode(t, err, autodebit.ECONFLICT)

		sameRRID := newRefund(c2.ID, 2)
		sameRRID.RefundRequestID = r.RefundRequestID
		err = s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateRefund(ctx, sameRRID) })
		wantCode(t, err, autodebit.ECONFLICT)

		// The key is unique across charges too, and refunds without a key
		// never collide.
		otherCharge := newRefund(c2.ID, 3)
		otherCharge.IdempotencyKey = "idem-1"
		err = s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateRefund(ctx, otherCharge) })
		wantCode(t, err, autodebit.ECONFLICT)
		mustCreateRefund(t, s, newRefund(c1.ID, 4))
		mustCreateRefund(t, s, newRefund(c1.ID, 5))
	})

	t.Run("DueRefunds", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := successfulCharge(t, s, 1000)
		var all []*autodebit.Refund
		for i := range 3 {
			r := newRefund(c.ID, 10)
			r.NextInquiryAt = t0.Add(time.Duration(3-i) * time.Second)
			mustCreateRefund(t, s, r)
			all = append(all, r)
		}
		// #2's next inquiry moves past the cutoff; #1 settles.
		all[2].NextInquiryAt = t0.Add(time.Minute)
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateRefund(ctx, all[2]) })
		mustTx(t, s, func(tx autodebit.Tx) error {
			_, err := tx.SettleRefund(ctx, all[1].ID, autodebit.RefundSettlement{Status: autodebit.RefundFail})
			return err
		})
		got, err := s.FindDueRefunds(ctx, t0.Add(5*time.Second), 10)
		if err != nil {
			t.Fatal(err)
		} else if len(got) != 1 || got[0].ID != all[0].ID {
			t.Fatalf("due = %v, want #0", got)
		}
		wantEqual(t, got[0], all[0])
		if _, err := s.FindDueRefunds(ctx, t0, 0); autodebit.ErrorCode(err) != autodebit.EINVALID {
			t.Fatalf("limit 0: err = %v", err)
		}
	})

	t.Run("SettleAddsToCharge", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := successfulCharge(t, s, 1000)
		r1, r2, r3 := mustCreateRefund(t, s, newRefund(c.ID, 300)), mustCreateRefund(t, s, newRefund(c.ID, 200)), mustCreateRefund(t, s, newRefund(c.ID, 400))
		settle := func(id string, st autodebit.RefundStatus) (won bool) {
			t.Helper()
			mustTx(t, s, func(tx autodebit.Tx) (err error) {
				won, err = tx.SettleRefund(ctx, id, autodebit.RefundSettlement{Status: st, RefundID: "rf_" + id, SettledAt: t0})
				return err
			})
			return won
		}
		if !settle(r1.ID, autodebit.RefundSuccess) || !settle(r2.ID, autodebit.RefundFail) {
			t.Fatal("first settle lost")
		}
		if settle(r1.ID, autodebit.RefundSuccess) || settle(r1.ID, autodebit.RefundFail) || settle(r2.ID, autodebit.RefundSuccess) {
			t.Fatal("settling a final refund won")
		}
		got, err := s.FindChargeByID(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		} else if got.RefundedValue != 300 {
			t.Fatalf("RefundedValue=%d, want 300", got.RefundedValue)
		}
		gotR, err := s.FindRefundByID(ctx, r1.ID)
		if err != nil {
			t.Fatal(err)
		} else if gotR.Status != autodebit.RefundSuccess || gotR.RefundID != "rf_"+r1.ID || !gotR.SettledAt.Equal(t0) {
			t.Fatalf("settled refund %+v", *gotR)
		}

		// More than the charge can never be refunded.
		r4 := mustCreateRefund(t, s, newRefund(c.ID, 701))
		err = s.WithTx(ctx, func(tx autodebit.Tx) error {
			_, err := tx.SettleRefund(ctx, r4.ID, autodebit.RefundSettlement{Status: autodebit.RefundSuccess})
			return err
		})
		if err == nil {
			t.Fatal("refunded more than the charge")
		}
		if !settle(r3.ID, autodebit.RefundSuccess) {
			t.Fatal("settle lost")
		}
		if got, err = s.FindChargeByID(ctx, c.ID); err != nil || got.RefundedValue != 700 {
			t.Fatalf("RefundedValue=%d (%v), want 700", got.RefundedValue, err)
		}

		err = s.WithTx(ctx, func(tx autodebit.Tx) error {
			_, err := tx.SettleRefund(ctx, "rfd_nope", autodebit.RefundSettlement{Status: autodebit.RefundFail})
			return err
		})
		wantCode(t, err, autodebit.ENOTFOUND)
		err = s.WithTx(ctx, func(tx autodebit.Tx) error {
			_, err := tx.SettleRefund(ctx, r4.ID, autodebit.RefundSettlement{Status: autodebit.RefundProcessing})
			return err
		})
		wantCode(t, err, autodebit.EINVALID)
	})

	t.Run("SettleRace", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := successfulCharge(t, s, 1000)
		r := mustCreateRefund(t, s, newRefund(c.ID, 100))
		const n = 8
		var wg sync.WaitGroup
		won := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				errs[i] = s.WithTx(ctx, func(tx autodebit.Tx) (err error) {
					won[i], err = tx.SettleRefund(ctx, r.ID, autodebit.RefundSettlement{Status: autodebit.RefundSuccess})
					return err
				})
			})
		}
		wg.Wait()
		winners := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatal(errs[i])
			} else if won[i] {
				winners++
			}
		}
		got, err := s.FindChargeByID(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		} else if winners != 1 || got.RefundedValue != 100 {
			t.Fatalf("%d winners, RefundedValue=%d; want 1 and 100", winners, got.RefundedValue)
		}
	})

	t.Run("Transitions", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := successfulCharge(t, s, 1_000_000)
		for _, from := range autodebit.RefundStatuses() {
			for _, to := range autodebit.RefundStatuses() {
				r := mustCreateRefund(t, s, newRefund(c.ID, 1))
				if from != autodebit.RefundProcessing {
					mustTx(t, s, func(tx autodebit.Tx) error {
						_, err := tx.SettleRefund(ctx, r.ID, autodebit.RefundSettlement{Status: from})
						return err
					})
					var err error
					if r, err = s.FindRefundByID(ctx, r.ID); err != nil {
						t.Fatal(err)
					}
				}
				version := r.Version
				r.Status = to
				err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateRefund(ctx, r) })
				// UpdateRefund never makes a refund SUCCESS: SettleRefund does.
				allowed := from == to || from.CanTransition(to) && to != autodebit.RefundSuccess
				if allowed {
					if err != nil {
						t.Errorf("%s -> %s: %v", from, to, err)
					}
					continue
				}
				if autodebit.ErrorCode(err) != autodebit.ECONFLICT {
					t.Errorf("%s -> %s: err=%v, want ECONFLICT", from, to, err)
				}
				got, err := s.FindRefundByID(ctx, r.ID)
				if err != nil {
					t.Fatal(err)
				} else if got.Status != from || got.Version != version {
					t.Errorf("%s -> %s refused but stored %s version %d", from, to, got.Status, got.Version)
				}
			}
		}
	})
}
