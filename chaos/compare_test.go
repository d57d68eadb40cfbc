package chaos_test

import (
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/chaos"
)

func TestCompare(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	php := func(v int64) antom.Amount { return antom.Amount{Currency: "PHP", Value: v} }
	charge := func(id string, st autodebit.ChargeStatus) *autodebit.Charge {
		return &autodebit.Charge{ID: id, PaymentRequestID: "pr_" + id, Status: st, Amount: autodebit.Amount{Currency: "PHP", Value: 100}, ExpiresAt: now.Add(-time.Hour)}
	}
	pay := func(id, st string, debits int) antomsim.Payment {
		return antomsim.Payment{PaymentRequestID: "pr_" + id, ReferenceOrderID: id, Status: st, Debits: debits, Amount: php(100), Refunded: php(0)}
	}
	truth := antomsim.Truth{
		Payments: []antomsim.Payment{
			pay("ok", antom.PaymentStatusSuccess, 1),
			pay("fail", antom.PaymentStatusFail, 0),
			pay("diverged", antom.PaymentStatusSuccess, 1), // the engine says FAIL
		},
		Tokens: []antomsim.Token{{AccessToken: "at_1", Status: antomsim.TokenActive}},
	}
	recs := chaos.Records{
		Charges: []*autodebit.Charge{charge("ok", autodebit.ChargeSuccess), charge("fail", autodebit.ChargeFail), charge("diverged", autodebit.ChargeFail)},
		Tokens:  []*autodebit.Token{{ID: "tok_1", AccessToken: "at_1", Status: autodebit.TokenActive}},
	}

	t.Run("Agree", func(t *testing.T) {
		tr := truth
		tr.Payments = tr.Payments[:2]
		r := recs
		r.Charges = r.Charges[:2]
		if c := chaos.Compare(tr, r, now); !c.OK() {
			t.Fatalf("Compare = %+v, want OK", c)
		}
	})
	t.Run("Divergent", func(t *testing.T) {
		c := chaos.Compare(truth, recs, now)
		if len(c.Divergent) != 1 || !strings.Contains(c.Divergent[0], "diverged") || c.OK() {
			t.Fatalf("Divergent = %q", c.Divergent)
		}
	})
	t.Run("DoubleDebit", func(t *testing.T) {
		tr := truth
		tr.Payments = append(append([]antomsim.Payment(nil), truth.Payments[:2]...),
			// A second payment for order "ok" under another paymentRequestId,
			// and one debited twice.
			antomsim.Payment{PaymentRequestID: "pr_other", ReferenceOrderID: "ok", Status: antom.PaymentStatusSuccess, Debits: 1, Amount: php(100)},
		)
		tr.Payments[1].Debits = 2
		tr.Violations = []string{"payment pr_fail was debited 2 times"}
		r := recs
		r.Charges = r.Charges[:2]
		c := chaos.Compare(tr, r, now)
		if len(c.DoubleDebits) != 3 {
			t.Fatalf("DoubleDebits = %q, want the violation, the orphan payment and order ok paid twice", c.DoubleDebits)
		}
	})
	t.Run("LostTokenAndStuck", func(t *testing.T) {
		r := recs
		r.Tokens = nil
		r.Charges = append(r.Charges[:2:2], charge("stuck", autodebit.ChargeInit))
		tr := truth
		tr.Payments = tr.Payments[:2]
		c := chaos.Compare(tr, r, now)
		if len(c.LostTokens) != 1 || len(c.StuckInit) != 1 || len(c.Divergent) != 0 {
			t.Fatalf("Compare = %+v", c)
		}
	})
	t.Run("Refunds", func(t *testing.T) {
		tr := truth
		tr.Payments = tr.Payments[:2]
		tr.Refunds = []antomsim.Refund{{RefundRequestID: "rr_1", Status: antom.RefundStatusFail}}
		r := recs
		r.Charges = r.Charges[:2]
		r.Refunds = []*autodebit.Refund{{ID: "ref_1", RefundRequestID: "rr_1", Status: autodebit.RefundSuccess}}
		if c := chaos.Compare(tr, r, now); len(c.Divergent) != 1 {
			t.Fatalf("Divergent = %q, want the refund", c.Divergent)
		}
	})
}
