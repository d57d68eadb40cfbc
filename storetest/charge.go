package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/autodebit/autodebit"
)

func testCharge(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("CreateFind", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		c := newCharge(tok, 1500)
		c.IdempotencyKey = "idem-1"
		mustCreateCharge(t, s, c)
		if !strings.HasPrefix(c.ID, autodebit.ChargeIDPrefix) || c.Version != 1 || c.Status != autodebit.ChargeInit {
			t.Fatalf("created %+v", *c)
		}
		for name, find := range map[string]func() (*autodebit.Charge, error){
			"ID":               func() (*autodebit.Charge, error) { return s.FindChargeByID(ctx, c.ID) },
			"PaymentRequestID": func() (*autodebit.Charge, error) { return s.FindChargeByPaymentRequestID(ctx, c.PaymentRequestID) },
			"IdempotencyKey":   func() (*autodebit.Charge, error) { return s.FindChargeByIdempotencyKey(ctx, "idem-1") },
		} {
			got, err := find()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			wantEqual(t, got, c)
		}
		mustTx(t, s, func(tx autodebit.Tx) error {
			got, err := tx.FindChargeByPaymentRequestIDForUpdate(ctx, c.PaymentRequestID)
			if err == nil {
				wantEqual(t, got, c)
			}
			return err
		})
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		_, err := s.FindChargeByID(ctx, "chg_nope")
		wantCode(t, err, autodebit.ENOTFOUND)
		_, err = s.FindChargeByPaymentRequestID(ctx, "nope")
		wantCode(t, err, autodebit.ENOTFOUND)
		_, err = s.FindChargeByIdempotencyKey(ctx, "")
		wantCode(t, err, autodebit.ENOTFOUND)
		err = s.WithTx(ctx, func(tx autodebit.Tx) error {
			_, err := tx.SettleCharge(ctx, "chg_nope", autodebit.ChargeSettlement{Status: autodebit.ChargeSuccess, SettledBy: autodebit.SettledByInquiry})
			return err
		})
		wantCode(t, err, autodebit.ENOTFOUND)
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		for name, mod := range map[string]func(c *autodebit.Charge){
			"ZeroAmount":   func(c *autodebit.Charge) { c.Amount.Value = 0 },
			"BadCurrency":  func(c *autodebit.Charge) { c.Amount.Currency = "peso" },
			"NoToken":      func(c *autodebit.Charge) { c.TokenID = "" },
			"BadRequestID": func(c *autodebit.Charge) { c.PaymentRequestID = strings.Repeat("x", 65) },
			"NotInit":      func(c *autodebit.Charge) { c.Status = autodebit.ChargeSuccess },
			"Refunded":     func(c *autodebit.Charge) { c.RefundedValue = 1 },
			"LongDesc":     func(c *autodebit.Charge) { c.Description = strings.Repeat("d", 257) },
		} {
			c := newCharge(tok, 100)
			mod(c)
			err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateCharge(ctx, c) })
			if autodebit.ErrorCode(err) != autodebit.EINVALID {
				t.Errorf("%s: err=%v, want EINVALID", name, err)
			}
		}
		c := newCharge(tok, 100)
		c.TokenID = "tok_nope"
		if err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateCharge(ctx, c) }); err == nil {
			t.Fatal("created a charge on a missing token")
		}
	})

	t.Run("Unique", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		c := newCharge(tok, 100)
		c.IdempotencyKey = "idem-1"
		mustCreateCharge(t, s, c)

		samePRID := newCharge(tok, 100)
		samePRID.PaymentRequestID = c.PaymentRequestID
		err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateCharge(ctx, samePRID) })
		wantCode(t, err, autodebit.ECONFLICT)

		sameKey := newCharge(tok, 200)
		sameKey.IdempotencyKey = "idem-1"
		err = s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateCharge(ctx, sameKey) })
		wantCode(t, err, autodebit.ECONFLICT)

		// Charges without a key never collide.
		mustCreateCharge(t, s, newCharge(tok, 1))
		mustCreateCharge(t, s, newCharge(tok, 2))
		if _, n, err := s.FindCharges(ctx, autodebit.ChargeFilter{}); err != nil || n != 3 {
			t.Fatalf("%d charges, err=%v; want 3", n, err)
		}
	})

	t.Run("CompareAndSet", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := mustCreateCharge(t, s, newCharge(mustCreateToken(t, s, "cus_1"), 100))
		stale := *c
		c.InquiryCount, c.NextInquiryAt, c.PaymentID = 1, t0.Add(time.Minute), "pay_1"
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateCharge(ctx, c) })
		stale.InquiryCount = 7
		err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateCharge(ctx, &stale) })
		wantCode(t, err, autodebit.ECONFLICT)
		got, err := s.FindChargeByID(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, c)
	})

	t.Run("Transitions", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		for _, from := range autodebit.ChargeStatuses() {
			for _, to := range autodebit.ChargeStatuses() {
				c := mustCreateCharge(t, s, newCharge(tok, 100))
				if from != autodebit.ChargeInit {
					c.Status, c.SettledAt, c.SettledBy = from, t0, autodebit.SettledByInquiry
					mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateCharge(ctx, c) })
				}
				version := c.Version
				c.Status = to
				err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateCharge(ctx, c) })
				if from == to || from.CanTransition(to) {
					if err != nil {
						t.Errorf("%s -> %s: %v", from, to, err)
					}
					continue
				}
				if autodebit.ErrorCode(err) != autodebit.ECONFLICT {
					t.Errorf("%s -> %s: err=%v, want ECONFLICT", from, to, err)
				}
				got, err := s.FindChargeByID(ctx, c.ID)
				if err != nil {
					t.Fatal(err)
				} else if got.Status != from || got.Version != version {
					t.Errorf("%s -> %s refused but stored %s version %d", from, to, got.Status, got.Version)
				}
			}
		}
	})

	t.Run("Settle", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := mustCreateCharge(t, s, newCharge(mustCreateToken(t, s, "cus_1"), 100))
		c.PaymentID = "pay_from_pay_response"
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateCharge(ctx, c) })

		settle := func(st autodebit.ChargeStatus, by string) (won bool) {
			t.Helper()
			mustTx(t, s, func(tx autodebit.Tx) (err error) {
				won, err = tx.SettleCharge(ctx, c.ID, autodebit.ChargeSettlement{
					Status: st, ResultCode: "SUCCESS", ResultMessage: "success.", SettledBy: by, SettledAt: t0.Add(time.Second),
				})
				return err
			})
			return won
		}
		if !settle(autodebit.ChargeSuccess, autodebit.SettledByNotification) {
			t.Fatal("first settle lost")
		}
		for _, st := range []autodebit.ChargeStatus{autodebit.ChargeSuccess, autodebit.ChargeFail, autodebit.ChargeCancelled} {
			if settle(st, autodebit.SettledByInquiry) {
				t.Fatalf("settling a final charge %s won", st)
			}
		}
		got, err := s.FindChargeByID(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != autodebit.ChargeSuccess || got.SettledBy != autodebit.SettledByNotification ||
			!got.SettledAt.Equal(t0.Add(time.Second)) || got.PaymentID != "pay_from_pay_response" ||
			!got.NextInquiryAt.IsZero() || got.Version != c.Version+1 || got.ResultCode != "SUCCESS" {
			t.Fatalf("settled charge %+v", *got)
		}

		for name, st := range map[string]autodebit.ChargeSettlement{
			"NotFinal":    {Status: autodebit.ChargeInit, SettledBy: autodebit.SettledByInquiry},
			"BadSettler":  {Status: autodebit.ChargeFail, SettledBy: "magic"},
			"EmptyStatus": {SettledBy: autodebit.SettledByInquiry},
		} {
			err := s.WithTx(ctx, func(tx autodebit.Tx) error { _, err := tx.SettleCharge(ctx, c.ID, st); return err })
			if autodebit.ErrorCode(err) != autodebit.EINVALID {
				t.Errorf("%s: err=%v, want EINVALID", name, err)
			}
		}
	})

	t.Run("SettleRace", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		for round := range 5 {
			c := mustCreateCharge(t, s, newCharge(tok, 100))
			const n = 8
			var wg sync.WaitGroup
			won := make([]bool, n)
			errs := make([]error, n)
			statuses := []autodebit.ChargeStatus{autodebit.ChargeSuccess, autodebit.ChargeFail, autodebit.ChargeCancelled}
			for i := range n {
				wg.Go(func() {
					errs[i] = s.WithTx(ctx, func(tx autodebit.Tx) error {
						// A notification or an inquiry: lock, check INIT, settle.
						cur, err := tx.FindChargeForUpdate(ctx, c.ID)
						if err != nil || cur.Status != autodebit.ChargeInit {
							return err
						}
						won[i], err = tx.SettleCharge(ctx, c.ID, autodebit.ChargeSettlement{
							Status: statuses[i%len(statuses)], ResultCode: "R", SettledBy: autodebit.SettledByInquiry,
						})
						return err
					})
				})
			}
			wg.Wait()
			winners := 0
			var want autodebit.ChargeStatus
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("round %d settler %d: %v", round, i, errs[i])
				} else if won[i] {
					winners++
					want = statuses[i%len(statuses)]
				}
			}
			if winners != 1 {
				t.Fatalf("round %d: %d settlers won, want 1", round, winners)
			}
			got, err := s.FindChargeByID(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			} else if got.Status != want || got.Version != 2 {
				t.Fatalf("round %d: stored %s version %d, want the winner's %s at version 2", round, got.Status, got.Version, want)
			}
		}
	})

	t.Run("SettleRaceWithoutLock", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := mustCreateCharge(t, s, newCharge(mustCreateToken(t, s, "cus_1"), 100))
		const n = 8
		var wg sync.WaitGroup
		won := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				errs[i] = s.WithTx(ctx, func(tx autodebit.Tx) (err error) {
					won[i], err = tx.SettleCharge(ctx, c.ID, autodebit.ChargeSettlement{Status: autodebit.ChargeFail, SettledBy: autodebit.SettledByNotification})
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
		if winners != 1 {
			t.Fatalf("%d settlers won, want 1", winners)
		}
	})

	t.Run("FinalEnforcedByDatabase", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := mustCreateCharge(t, s, newCharge(mustCreateToken(t, s, "cus_1"), 100))
		mustTx(t, s, func(tx autodebit.Tx) error {
			_, err := tx.SettleCharge(ctx, c.ID, autodebit.ChargeSettlement{Status: autodebit.ChargeFail, SettledBy: autodebit.SettledByPay})
			return err
		})
		for _, st := range []string{"INIT", "SUCCESS", "CANCELLED"} {
			if _, err := s.DB().Exec("UPDATE charges SET status = $1 WHERE id = $2", st, c.ID); err == nil {
				t.Fatalf("the database let a FAIL charge become %s", st)
			}
		}
		if _, err := s.DB().Exec("UPDATE charges SET result_message = 'note' WHERE id = $1", c.ID); err != nil {
			t.Fatalf("non-status column of a final charge: %v", err)
		}
	})

	t.Run("Filter", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ta, tb := mustCreateToken(t, s, "cus_a"), mustCreateToken(t, s, "cus_b")
		var all []*autodebit.Charge
		for i := range 6 {
			c := newCharge([]*autodebit.Token{ta, tb}[i%2], int64(100+i))
			c.CreatedAt = t0.Add(time.Duration(i) * time.Second)
			all = append(all, mustCreateCharge(t, s, c))
		}
		mustTx(t, s, func(tx autodebit.Tx) error {
			_, err := tx.SettleCharge(ctx, all[0].ID, autodebit.ChargeSettlement{Status: autodebit.ChargeSuccess, SettledBy: autodebit.SettledByPay})
			return err
		})
		check := func(f autodebit.ChargeFilter, total int, want ...int) {
			t.Helper()
			got, n, err := s.FindCharges(ctx, f)
			if err != nil {
				t.Fatal(err)
			} else if n != total || len(got) != len(want) {
				t.Fatalf("%+v: total=%d len=%d, want %d and %d", f, n, len(got), total, len(want))
			}
			for i, w := range want {
				if got[i].ID != all[w].ID {
					t.Fatalf("%+v: [%d]=%s, want #%d", f, i, got[i].ID, w)
				}
			}
		}
		check(autodebit.ChargeFilter{}, 6, 5, 4, 3, 2, 1, 0)
		check(autodebit.ChargeFilter{Status: autodebit.ChargeInit}, 5, 5, 4, 3, 2, 1)
		check(autodebit.ChargeFilter{Status: autodebit.ChargeSuccess}, 1, 0)
		check(autodebit.ChargeFilter{CustomerID: "cus_b"}, 3, 5, 3, 1)
		check(autodebit.ChargeFilter{TokenID: ta.ID, Status: autodebit.ChargeInit}, 2, 4, 2)
		check(autodebit.ChargeFilter{CreatedAfter: t0.Add(2 * time.Second)}, 4, 5, 4, 3, 2)
		check(autodebit.ChargeFilter{CreatedBefore: t0.Add(2 * time.Second)}, 2, 1, 0)
		check(autodebit.ChargeFilter{Limit: 2}, 6, 5, 4)
		check(autodebit.ChargeFilter{Limit: 2, Offset: 4}, 6, 1, 0)
		check(autodebit.ChargeFilter{Limit: 2, Offset: 6}, 6)
	})

	t.Run("SettleWithCancelPending", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		c := mustCreateCharge(t, s, newCharge(mustCreateToken(t, s, "cus_cancel"), 100))
		mustTx(t, s, func(tx autodebit.Tx) error {
			cur, err := tx.FindChargeForUpdate(ctx, c.ID)
			if err != nil {
				return err
			}
			cur.CancelRequestedAt = t0
			return tx.UpdateCharge(ctx, cur)
		})
		for _, by := range []string{autodebit.SettledByPay, autodebit.SettledByNotification, autodebit.SettledByInquiry} {
			mustTx(t, s, func(tx autodebit.Tx) error {
				won, err := tx.SettleCharge(ctx, c.ID, autodebit.ChargeSettlement{Status: autodebit.ChargeSuccess, SettledBy: by})
				if err == nil && won {
					t.Errorf("settled by %s while a cancel is pending", by)
				}
				return err
			})
		}
		mustTx(t, s, func(tx autodebit.Tx) error {
			won, err := tx.SettleCharge(ctx, c.ID, autodebit.ChargeSettlement{Status: autodebit.ChargeCancelled, SettledBy: autodebit.SettledByCancel})
			if err == nil && !won {
				t.Error("the cancel's answer did not settle the charge")
			}
			return err
		})
		if got, _ := s.FindChargeByID(ctx, c.ID); got.Status != autodebit.ChargeCancelled {
			t.Fatalf("status = %s, want CANCELLED", got.Status)
		}
	})

	t.Run("FindDue", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_due")
		var all []*autodebit.Charge
		for i, due := range []time.Duration{3, 1, 2, 9} {
			c := newCharge(tok, int64(100+i))
			c.NextInquiryAt = t0.Add(due * time.Second)
			all = append(all, mustCreateCharge(t, s, c))
		}
		noInquiry := newCharge(tok, 200)
		noInquiry.NextInquiryAt = time.Time{}
		mustCreateCharge(t, s, noInquiry)
		mustTx(t, s, func(tx autodebit.Tx) error { // a final charge is never due
			_, err := tx.SettleCharge(ctx, all[2].ID, autodebit.ChargeSettlement{Status: autodebit.ChargeFail, SettledBy: autodebit.SettledByPay})
			return err
		})
		got, err := s.FindDueCharges(ctx, t0.Add(5*time.Second), 10)
		if err != nil {
			t.Fatal(err)
		} else if len(got) != 2 || got[0].ID != all[1].ID || got[1].ID != all[0].ID {
			t.Fatalf("due = %v, want #1 then #0", got)
		}
		if got, _ := s.FindDueCharges(ctx, t0.Add(5*time.Second), 1); len(got) != 1 || got[0].ID != all[1].ID {
			t.Fatalf("limit 1: %v", got)
		}
		if _, err := s.FindDueCharges(ctx, t0, 0); autodebit.ErrorCode(err) != autodebit.EINVALID {
			t.Fatalf("limit 0: err = %v", err)
		}
	})

	t.Run("NeverLeavesFinal", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		statuses := autodebit.ChargeStatuses()
		rapid.Check(t, func(rt *rapid.T) {
			c := mustCreateCharge(rt, s, newCharge(tok, 100))
			model := *c
			for i := range rapid.IntRange(1, 12).Draw(rt, "steps") {
				to := rapid.SampledFrom(statuses).Draw(rt, "to")
				var err error
				var won bool
				switch op := rapid.SampledFrom([]string{"settle", "update", "stale"}).Draw(rt, "op"); op {
				case "settle":
					err = s.WithTx(ctx, func(tx autodebit.Tx) (err error) {
						won, err = tx.SettleCharge(ctx, c.ID, autodebit.ChargeSettlement{Status: to, SettledBy: autodebit.SettledByInquiry})
						return err
					})
					switch {
					case !to.Final():
						wantCode(rt, err, autodebit.EINVALID)
					case err != nil:
						rt.Fatalf("step %d settle %s: %v", i, to, err)
					case won != (model.Status == autodebit.ChargeInit):
						rt.Fatalf("step %d: settle %s from %s won=%v", i, to, model.Status, won)
					case won:
						model.Status, model.Version = to, model.Version+1
					}
				case "update", "stale":
					u := model
					if op == "stale" {
						u.Version--
					}
					u.Status, u.InquiryCount = to, i
					err = s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateCharge(ctx, &u) })
					ok := op == "update" && (model.Status == to || model.Status.CanTransition(to))
					if ok && err != nil {
						rt.Fatalf("step %d update %s -> %s: %v", i, model.Status, to, err)
					} else if !ok {
						wantCode(rt, err, autodebit.ECONFLICT)
					} else {
						model.Status, model.Version = to, model.Version+1
					}
				}
				got, err := s.FindChargeByID(ctx, c.ID)
				if err != nil {
					rt.Fatal(err)
				} else if got.Status != model.Status || got.Version != model.Version {
					rt.Fatalf("step %d: stored %s v%d, model %s v%d", i, got.Status, got.Version, model.Status, model.Version)
				}
			}
		})
	})
}
