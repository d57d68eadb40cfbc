package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/engine"
)

// subscriptionCounters count renewals by outcome and dunning recoveries;
// Metrics implements engine.SubscriptionMetrics with them.
type subscriptionCounters struct {
	renewals   *prometheus.CounterVec
	recoveries prometheus.Counter
}

func newSubscriptionCounters() subscriptionCounters {
	c := subscriptionCounters{
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "autodebit_subscription_renewals_total",
			Help: "Renewal charges of subscriptions that settled, by outcome: paid, retry (failed, a retry is scheduled), unpaid (the period was given up), cancelled (the token is gone) or ignored (the subscription was paused or cancelled meanwhile).",
		}, []string{"outcome"}),
		recoveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "autodebit_subscription_dunning_recoveries_total",
			Help: "Periods paid by a retry after at least one failed attempt.",
		}),
	}
	for _, o := range []string{engine.RenewalPaid, engine.RenewalRetry, engine.RenewalUnpaid, engine.RenewalCancelled, engine.RenewalIgnored} {
		c.renewals.WithLabelValues(o)
	}
	return c
}

var _ engine.SubscriptionMetrics = (*Metrics)(nil)

// Renewal implements engine.SubscriptionMetrics.
func (m *Metrics) Renewal(outcome string) { m.subs.renewals.WithLabelValues(outcome).Inc() }

// DunningRecovered implements engine.SubscriptionMetrics.
func (m *Metrics) DunningRecovered() { m.subs.recoveries.Inc() }

var (
	subscriptionsDesc = prometheus.NewDesc("autodebit_subscriptions",
		"Subscriptions by status (active, past_due, unpaid, paused, cancelled, completed).", []string{"status"}, nil)
	nextRenewalDesc = prometheus.NewDesc("autodebit_subscriptions_next_renewal_delay_seconds",
		"Seconds until the earliest renewal or retry is due; negative when overdue (renewals are behind), 0 when none is scheduled.", nil, nil)
)

// subscriptionsCollector counts subscriptions by status at scrape time.
type subscriptionsCollector struct {
	store autodebit.Store
	now   func() time.Time
	log   *slog.Logger
}

func (c *subscriptionsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- subscriptionsDesc
	ch <- nextRenewalDesc
}

func (c *subscriptionsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	counts, err := c.store.CountSubscriptions(ctx)
	if err != nil {
		c.log.Error("metrics: count subscriptions", "err", err)
		ch <- prometheus.NewInvalidMetric(subscriptionsDesc, err)
		return
	}
	for _, st := range autodebit.SubscriptionStatuses() {
		ch <- prometheus.MustNewConstMetric(subscriptionsDesc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
	b, err := c.store.FindBacklog(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(nextRenewalDesc, err)
		return
	}
	next := 0.0
	if !b.NextSubscriptionChargeAt.IsZero() {
		next = b.NextSubscriptionChargeAt.Sub(c.now()).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(nextRenewalDesc, prometheus.GaugeValue, next)
}
