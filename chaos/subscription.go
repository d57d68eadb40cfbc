package chaos

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/client"
	adhttp "github.com/autodebit/autodebit/http"
)

// The subscription phase: subscriptions whose first period starts within
// the next seconds and retries after seconds, on accounts some of which are
// short of money until they are topped up mid-phase, with the faults on
// and the engine killed at random moments. Then each period is checked
// against the simulator's truth: at most one payment kept per period.

// renewalRetries is the phase's retry schedule: seconds, so that a period's
// retries (and their meeting with late results, kills and restarts) happen
// within the run.
var renewalRetries = []string{"3s", "6s", "12s", "24s"}

// renewalWindow is how far ahead the phase's first periods start; the
// short accounts are topped up twice as long after the start, once their
// first attempts have failed (an engine restarted after a kill renews only
// once River has elected it leader, up to some 20 s later), and the kills
// fall in that time too.
const renewalWindow = 15 * time.Second

// SubscriptionReport is what the subscription phase did and found.
type SubscriptionReport struct {
	Subscriptions int            `json:"subscriptions"`
	ByStatus      map[string]int `json:"byStatus"`
	Renewals      int            `json:"renewals"` // charges made by subscriptions
	Retries       int            `json:"retries"`  // of those, attempts after a failed one
	PeriodsPaid   int            `json:"periodsPaid"`
	Kills         int            `json:"kills"`
	// DoublePaid lists the periods paid more than once (at Antom or in
	// the engine's records); they are double debits too.
	DoublePaid []string `json:"doublePaid"`
}

// writeRows adds the phase's rows to the report's table.
func (s *SubscriptionReport) writeRows(w io.Writer) {
	if s == nil {
		return
	}
	fmt.Fprintf(w, "subscriptions\t%d\t%s\n", s.Subscriptions, statusLine(s.ByStatus))
	fmt.Fprintf(w, "renewal charges\t%d\tretries %d, kills during renewals %d\n", s.Renewals, s.Retries, s.Kills)
	fmt.Fprintf(w, "periods paid\t%d\t\n", s.PeriodsPaid)
	fmt.Fprintf(w, "double-paid periods\t%d\t%s\n", len(s.DoublePaid), verdict(s.DoublePaid))
}

// renewals runs the subscription phase on tokens: Config.Subscriptions
// subscriptions, half of the tokens short of money for 30 s,
// Config.Kills kills (at least one) at random moments. It returns the kills
// and waits until every subscription is done (its one period paid or given
// up) or Config.Wait passes.
func (r *run) renewals(ctx context.Context, tokens []string) (int, error) {
	n := r.cfg.Subscriptions
	if n <= 0 {
		return 0, nil
	}
	short := max(len(tokens)/2, 1)
	zero := int64(0)
	for i := range short {
		if _, err := r.sim.UpdateAccount("GCASH", chaosLogin(i), antomsim.AccountUpdate{Balance: &zero}); err != nil {
			return 0, fmt.Errorf("empty account: %w", err)
		}
	}
	start := time.Now()
	for i := range n {
		p := client.SubscriptionParams{
			TokenID: tokens[i%len(tokens)], Amount: adhttp.Amount{Currency: "PHP", Value: strconv.FormatInt(100+r.rng.Int64N(9900), 10)},
			Interval: string(autodebit.IntervalDay), Cycles: 1, Description: fmt.Sprintf("chaos subscription %d", i),
			StartAt:        start.Add(time.Duration(r.rng.Int64N(int64(renewalWindow)))).UTC().Format(time.RFC3339),
			RetrySchedule:  &renewalRetries,
			IdempotencyKey: fmt.Sprintf("chaos-sub-%d-%d", r.cfg.Seed, i),
		}
		if _, err := retry(ctx, func() (*adhttp.Subscription, error) { return r.api.CreateSubscription(ctx, p) }); err != nil {
			return 0, fmt.Errorf("subscription %d: %w", i, err)
		}
	}
	fmt.Fprintf(r.out, "chaos: %d subscriptions, first periods due within %s; %d of %d accounts short of money\n", n, renewalWindow, short, len(tokens))
	kills := max(r.cfg.Kills, 1)
	var at []time.Duration
	for range kills {
		at = append(at, time.Duration(r.rng.Int64N(int64(3*renewalWindow))))
	}
	sort.Slice(at, func(i, j int) bool { return at[i] < at[j] })
	toppedUp := false
	for _, d := range at {
		if !toppedUp && d > 2*renewalWindow {
			time.Sleep(time.Until(start.Add(2 * renewalWindow)))
			if err := r.topUp(short); err != nil {
				return 0, err
			}
			toppedUp = true
		}
		time.Sleep(time.Until(start.Add(d)))
		r.kill()
		fmt.Fprintf(r.out, "chaos: killed the engine (SIGKILL) %s into the renewals; restarting\n", d.Round(time.Millisecond))
		if err := r.startEngine(ctx); err != nil {
			return kills, err
		}
	}
	if !toppedUp {
		time.Sleep(time.Until(start.Add(2 * renewalWindow)))
		if err := r.topUp(short); err != nil {
			return kills, err
		}
	}
	r.waitRenewals(ctx)
	return kills, nil
}

func chaosLogin(i int) string { return fmt.Sprintf("0917%07d", i+1) }

// topUp gives the short accounts their money back, so that their retries
// can succeed.
func (r *run) topUp(short int) error {
	full := int64(100_000_000)
	for i := range short {
		if _, err := r.sim.UpdateAccount("GCASH", chaosLogin(i), antomsim.AccountUpdate{Balance: &full}); err != nil {
			return fmt.Errorf("top up account: %w", err)
		}
	}
	fmt.Fprintf(r.out, "chaos: topped up the %d short accounts\n", short)
	return nil
}

// waitRenewals waits until no subscription charges on schedule any more
// (each one-period subscription is completed or cancelled), or Config.Wait
// passes.
func (r *run) waitRenewals(ctx context.Context) {
	deadline := time.Now().Add(r.cfg.Wait)
	last := -1
	for time.Now().Before(deadline) && ctx.Err() == nil {
		open := 0
		for _, st := range []autodebit.SubscriptionStatus{autodebit.SubscriptionActive, autodebit.SubscriptionPastDue, autodebit.SubscriptionUnpaid} {
			l, err := r.api.Subscriptions(ctx, client.ListParams{Status: string(st), Limit: 1})
			if err != nil {
				open = -1
				break
			}
			open += l.Total
		}
		if open == 0 {
			return
		}
		if open > 0 && open != last {
			fmt.Fprintf(r.out, "chaos: %d subscriptions still renewing\n", open)
			last = open
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// subscriptionsNow reads every subscription through the engine's API.
func (r *run) subscriptionsNow(ctx context.Context) ([]adhttp.Subscription, error) {
	if r.cfg.Subscriptions <= 0 {
		return nil, nil
	}
	var out []adhttp.Subscription
	for off := 0; ; off += 100 {
		l, err := retry(ctx, func() (*adhttp.List[adhttp.Subscription], error) {
			return r.api.Subscriptions(ctx, client.ListParams{Limit: 100, Offset: off})
		})
		if err != nil {
			return nil, fmt.Errorf("read subscriptions: %w", err)
		}
		out = append(out, l.Data...)
		if len(l.Data) < 100 {
			return out, nil
		}
	}
}

// CheckRenewals compares the renewal charges in recs with truth, period by
// period: a period with more than one payment Antom kept, or more than one
// SUCCESS charge, is double-paid and is added to cmp's DoubleDebits; a
// subscription whose cyclesCompleted is not its number of paid periods is
// added to cmp's Divergent. It returns nil when subs is empty (no phase).
func CheckRenewals(subs []adhttp.Subscription, truth antomsim.Truth, recs Records, cmp *Comparison) *SubscriptionReport {
	if len(subs) == 0 {
		return nil
	}
	rep := &SubscriptionReport{Subscriptions: len(subs), ByStatus: map[string]int{}}
	for _, s := range subs {
		rep.ByStatus[s.Status]++
	}
	payments := map[string]antomsim.Payment{}
	for _, p := range truth.Payments {
		payments[p.PaymentRequestID] = p
	}
	type period struct {
		sub string
		n   int
	}
	kept, paid, attempts := map[period]int{}, map[period]int{}, map[period]int{}
	paidBySub := map[string]int{}
	for _, c := range recs.Charges {
		if c.SubscriptionID == "" {
			continue
		}
		rep.Renewals++
		k := period{c.SubscriptionID, c.Period}
		if attempts[k]++; attempts[k] > 1 {
			rep.Retries++
		}
		if p, ok := payments[c.PaymentRequestID]; ok && p.Status == antom.PaymentStatusSuccess {
			kept[k]++
		}
		if c.Status == autodebit.ChargeSuccess {
			paid[k]++
			paidBySub[c.SubscriptionID]++
		}
	}
	for k, n := range kept {
		if n > 1 {
			rep.DoublePaid = append(rep.DoublePaid, fmt.Sprintf("subscription %s period %d: Antom kept %d payments", k.sub, k.n, n))
		}
	}
	for k, n := range paid {
		rep.PeriodsPaid++
		if n > 1 {
			rep.DoublePaid = append(rep.DoublePaid, fmt.Sprintf("subscription %s period %d: %d SUCCESS charges", k.sub, k.n, n))
		}
	}
	sort.Strings(rep.DoublePaid)
	cmp.DoubleDebits = append(cmp.DoubleDebits, rep.DoublePaid...)
	for _, s := range subs {
		if s.CyclesCompleted != paidBySub[s.ID] {
			cmp.Divergent = append(cmp.Divergent, fmt.Sprintf("subscription %s counts %d paid periods, its charges %d", s.ID, s.CyclesCompleted, paidBySub[s.ID]))
		}
	}
	return rep
}
