package chaos_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/chaos"
	adhttp "github.com/autodebit/autodebit/http"
)

// TestCheckRenewals: one payment kept per period is fine, retries
// included; a second kept payment, or a second SUCCESS charge, for one
// period is a double-paid period and a double debit; a subscription whose
// count of paid periods disagrees with its charges diverges.
func TestCheckRenewals(t *testing.T) {
	t.Parallel()
	renewal := func(id, sub string, period int, st autodebit.ChargeStatus) *autodebit.Charge {
		return &autodebit.Charge{ID: id, PaymentRequestID: "pr_" + id, SubscriptionID: sub, Period: period, Status: st}
	}
	pay := func(id, st string) antomsim.Payment {
		return antomsim.Payment{PaymentRequestID: "pr_" + id, ReferenceOrderID: id, Status: st}
	}
	subs := []adhttp.Subscription{{ID: "sub_a", Status: "completed", CyclesCompleted: 1}, {ID: "sub_b", Status: "completed", CyclesCompleted: 1}}
	recs := chaos.Records{Charges: []*autodebit.Charge{
		renewal("a1", "sub_a", 1, autodebit.ChargeFail), renewal("a2", "sub_a", 1, autodebit.ChargeSuccess), // a retry that worked
		renewal("b1", "sub_b", 1, autodebit.ChargeSuccess),
		{ID: "one_off", PaymentRequestID: "pr_one_off", Status: autodebit.ChargeSuccess},
	}}
	truth := antomsim.Truth{Payments: []antomsim.Payment{pay("a1", antom.PaymentStatusFail), pay("a2", antom.PaymentStatusSuccess),
		pay("b1", antom.PaymentStatusSuccess), pay("one_off", antom.PaymentStatusSuccess)}}

	var cmp chaos.Comparison
	rep := chaos.CheckRenewals(subs, truth, recs, &cmp)
	if !cmp.OK() || len(rep.DoublePaid) != 0 || rep.Renewals != 3 || rep.Retries != 1 || rep.PeriodsPaid != 2 || rep.ByStatus["completed"] != 2 {
		t.Fatalf("clean run: %+v, %+v", rep, cmp)
	}
	// Period 1 of sub_a paid by its first attempt as well (Antom kept it,
	// the engine recorded it).
	truth.Payments[0].Status = antom.PaymentStatusSuccess
	recs.Charges[0] = renewal("a1", "sub_a", 1, autodebit.ChargeSuccess)
	cmp = chaos.Comparison{}
	rep = chaos.CheckRenewals(subs, truth, recs, &cmp)
	if len(rep.DoublePaid) != 2 || len(cmp.DoubleDebits) != 2 || cmp.OK() || !strings.Contains(rep.DoublePaid[0], "sub_a period 1") {
		t.Fatalf("double-paid period: %q, double debits %q", rep.DoublePaid, cmp.DoubleDebits)
	}
	if len(cmp.Divergent) != 1 || !strings.Contains(cmp.Divergent[0], "sub_a counts 1 paid periods, its charges 2") {
		t.Fatalf("divergent: %q", cmp.Divergent)
	}
	report := &chaos.Report{Subscriptions: rep, Comparison: cmp}
	var table bytes.Buffer
	report.WriteTable(&table)
	if !strings.Contains(table.String(), "double-paid periods") || !strings.Contains(table.String(), "FAIL") {
		t.Fatalf("table:\n%s", table.String())
	}
	if chaos.CheckRenewals(nil, truth, recs, &cmp) != nil {
		t.Fatal("a run without subscriptions has a subscription report")
	}
}
