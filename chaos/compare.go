package chaos

import (
	"fmt"
	"sort"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
)

// Records is what the engine's store holds at the end of a run.
type Records struct {
	Charges        []*autodebit.Charge
	Tokens         []*autodebit.Token
	Refunds        []*autodebit.Refund
	Authorizations []*autodebit.Authorization
	Events         []*autodebit.Event
	Deliveries     []*autodebit.Delivery
	Subscriptions  []*autodebit.Subscription
}

// Comparison is the result of comparing the engine's records with the
// simulator's truth. Each slice holds one sentence per problem; a run is
// correct when all four are empty.
type Comparison struct {
	// Divergent lists charges and refunds whose final state disagrees with
	// Antom's, and tokens whose status disagrees.
	Divergent []string
	// DoubleDebits lists money taken more than once for one charge, or
	// taken with no charge to show for it.
	DoubleDebits []string
	// LostTokens lists tokens Antom issued and still holds ACTIVE that the
	// engine has no record of.
	LostTokens []string
	// StuckInit lists charges still INIT two minutes after their order
	// closed.
	StuckInit []string
}

// OK reports whether nothing diverged.
func (c *Comparison) OK() bool {
	return len(c.Divergent)+len(c.DoubleDebits)+len(c.LostTokens)+len(c.StuckInit) == 0
}

// Compare checks every charge, token and refund in r against truth. now is
// the engine's clock at the end of the run, used to find charges still INIT
// more than two minutes after their order's close.
func Compare(truth antomsim.Truth, r Records, now time.Time) Comparison {
	var out Comparison
	out.DoubleDebits = append(out.DoubleDebits, truth.Violations...)

	payments := map[string]antomsim.Payment{}
	kept := map[string][]string{} // charge ID (referenceOrderId) → paymentRequestIds that kept money
	for _, p := range truth.Payments {
		payments[p.PaymentRequestID] = p
		if p.Status == antom.PaymentStatusSuccess {
			kept[p.ReferenceOrderID] = append(kept[p.ReferenceOrderID], p.PaymentRequestID)
		}
	}
	charges := map[string]*autodebit.Charge{}
	for _, c := range r.Charges {
		charges[c.PaymentRequestID] = c
		p, ok := payments[c.PaymentRequestID]
		if !c.Status.Final() {
			if now.After(c.ExpiresAt.Add(2 * time.Minute)) {
				out.StuckInit = append(out.StuckInit, fmt.Sprintf("charge %s is still INIT, its order closed at %s", c.ID, c.ExpiresAt.Format(time.RFC3339)))
			}
			continue
		}
		keptMoney := ok && p.Status == antom.PaymentStatusSuccess
		switch {
		case (c.Status == autodebit.ChargeSuccess) != keptMoney:
			out.Divergent = append(out.Divergent, fmt.Sprintf("charge %s is %s but Antom says %s", c.ID, c.Status, antomStatus(p, ok)))
		case c.Status == autodebit.ChargeCancelled && ok && p.Status != antom.PaymentStatusCancelled && p.Status != antom.PaymentStatusFail:
			out.Divergent = append(out.Divergent, fmt.Sprintf("charge %s is CANCELLED but Antom says %s", c.ID, p.Status))
		case keptMoney && c.RefundedValue != p.Refunded.Value:
			out.Divergent = append(out.Divergent, fmt.Sprintf("charge %s refunded %d, Antom refunded %d", c.ID, c.RefundedValue, p.Refunded.Value))
		}
	}
	for _, p := range truth.Payments {
		if p.Debits == 0 {
			continue
		}
		if _, ok := charges[p.PaymentRequestID]; !ok && p.Status == antom.PaymentStatusSuccess {
			out.DoubleDebits = append(out.DoubleDebits, fmt.Sprintf("payment %s (order %s) took money but no charge has its paymentRequestId", p.PaymentRequestID, p.ReferenceOrderID))
		}
	}
	for _, id := range sortedKeys(kept) {
		if ids := kept[id]; len(ids) > 1 {
			out.DoubleDebits = append(out.DoubleDebits, fmt.Sprintf("order %s was paid %d times: %v", id, len(ids), ids))
		}
	}

	simRefunds := map[string]antomsim.Refund{}
	for _, f := range truth.Refunds {
		simRefunds[f.RefundRequestID] = f
	}
	for _, f := range r.Refunds {
		sf, ok := simRefunds[f.RefundRequestID]
		switch f.Status {
		case autodebit.RefundProcessing:
			// Not final yet: nothing to compare.
		case autodebit.RefundSuccess:
			if !ok || sf.Status != antom.RefundStatusSuccess {
				out.Divergent = append(out.Divergent, fmt.Sprintf("refund %s is SUCCESS but Antom says %s", f.ID, refundStatus(sf, ok)))
			}
		default:
			if ok && sf.Status == antom.RefundStatusSuccess {
				out.Divergent = append(out.Divergent, fmt.Sprintf("refund %s is %s but Antom refunded it", f.ID, f.Status))
			}
		}
	}

	mine := map[string]*autodebit.Token{}
	for _, t := range r.Tokens {
		mine[t.AccessToken] = t
	}
	for _, st := range truth.Tokens {
		t, ok := mine[st.AccessToken]
		if !ok {
			if st.Status == antomsim.TokenActive {
				out.LostTokens = append(out.LostTokens, fmt.Sprintf("Antom's ACTIVE token for %s/%s (authState %s) is not in the store", st.Wallet, st.UserLoginID, st.AuthState))
			}
			continue
		}
		if (t.Status == autodebit.TokenActive) != (st.Status == antomsim.TokenActive) {
			out.Divergent = append(out.Divergent, fmt.Sprintf("token %s is %s, Antom says %s", t.ID, t.Status, st.Status))
		}
		delete(mine, st.AccessToken)
	}
	for _, t := range r.Tokens {
		if _, ok := mine[t.AccessToken]; ok {
			out.Divergent = append(out.Divergent, fmt.Sprintf("token %s is unknown to Antom", t.ID))
		}
	}
	return out
}

func antomStatus(p antomsim.Payment, ok bool) string {
	if !ok {
		return "no such payment"
	}
	return p.Status
}

func refundStatus(f antomsim.Refund, ok bool) string {
	if !ok {
		return "no such refund"
	}
	return f.Status
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
