package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/metrics"
)

func TestMetrics_subscriptions(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	store := &backlogStore{b: autodebit.Backlog{NextSubscriptionChargeAt: now.Add(-30 * time.Second)},
		subs: map[autodebit.SubscriptionStatus]int{"active": 7, "past_due": 2, "unpaid": 1, "paused": 0, "cancelled": 3, "completed": 4}}
	m := metrics.New(metrics.Config{Store: store, NowFunc: func() time.Time { return now }})
	m.Renewal("paid")
	m.Renewal("paid")
	m.Renewal("retry")
	m.DunningRecovered()
	want := `
# HELP autodebit_subscriptions Subscriptions by status (active, past_due, unpaid, paused, cancelled, completed).
# TYPE autodebit_subscriptions gauge
autodebit_subscriptions{status="active"} 7
autodebit_subscriptions{status="cancelled"} 3
autodebit_subscriptions{status="completed"} 4
autodebit_subscriptions{status="past_due"} 2
autodebit_subscriptions{status="paused"} 0
autodebit_subscriptions{status="unpaid"} 1
# HELP autodebit_subscriptions_next_renewal_delay_seconds Seconds until the earliest renewal or retry is due; negative when overdue (renewals are behind), 0 when none is scheduled.
# TYPE autodebit_subscriptions_next_renewal_delay_seconds gauge
autodebit_subscriptions_next_renewal_delay_seconds -30
# HELP autodebit_subscription_renewals_total Renewal charges of subscriptions that settled, by outcome: paid, retry (failed, a retry is scheduled), unpaid (the period was given up), cancelled (the token is gone) or ignored (the subscription was paused or cancelled meanwhile).
# TYPE autodebit_subscription_renewals_total counter
autodebit_subscription_renewals_total{outcome="cancelled"} 0
autodebit_subscription_renewals_total{outcome="ignored"} 0
autodebit_subscription_renewals_total{outcome="paid"} 2
autodebit_subscription_renewals_total{outcome="retry"} 1
autodebit_subscription_renewals_total{outcome="unpaid"} 0
# HELP autodebit_subscription_dunning_recoveries_total Periods paid by a retry after at least one failed attempt.
# TYPE autodebit_subscription_dunning_recoveries_total counter
autodebit_subscription_dunning_recoveries_total 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "autodebit_subscriptions",
		"autodebit_subscriptions_next_renewal_delay_seconds", "autodebit_subscription_renewals_total",
		"autodebit_subscription_dunning_recoveries_total"); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.GatherAndLint(m.Registry()); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}
