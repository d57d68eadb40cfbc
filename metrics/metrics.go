// Package metrics exposes autodebit's Prometheus metrics. Metrics implements
// engine.Metrics, counts job failures for the jobs package and, at scrape
// time, reads the open charges and the job queue from the database.
//
// Every name starts with autodebit_, carries its unit, and labels take a few
// fixed values: never an ID.
package metrics

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/autodebit/autodebit"
)

// Config configures Metrics.
type Config struct {
	// Store is read at scrape time for the open charges and refunds. Nil
	// leaves those gauges out.
	Store autodebit.Store
	// DB holds River's job table (river_job), read at scrape time for the
	// queue depth. Nil leaves autodebit_jobs out.
	DB *sql.DB
	// NowFunc measures the age of the oldest open charge. Nil means time.Now.
	NowFunc func() time.Time
	// Logger receives scrape errors. Nil means slog.Default().
	Logger *slog.Logger
}

// Metrics holds the collectors on a registry of its own. Create it with New;
// it is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	antomCalls    *prometheus.HistogramVec
	notifications *prometheus.CounterVec
	settled       *prometheus.CounterVec
	tokenIssue    prometheus.Histogram
	notifyLag     *prometheus.HistogramVec
	jobFailures   *prometheus.CounterVec
	authFailures  *prometheus.CounterVec
	webhooks      *prometheus.CounterVec
	webhookTime   prometheus.Histogram
	subs          subscriptionCounters // subscription.go
}

// New returns Metrics with every collector registered.
func New(cfg Config) *Metrics {
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		antomCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "autodebit_antom_call_duration_seconds",
			Help:    "Time of each call to Antom, by API (pay, consult, applyToken, …) and resultStatus (S, F, U, or error when no result was read). The _count series counts the calls.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"api", "result_status"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "autodebit_notifications_received_total",
			Help: "Antom notifications received, by kind (authorization, payment, refund) and result: accepted, or rejected (bad signature, malformed, not stored).",
		}, []string{"kind", "result"}),
		settled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "autodebit_charges_settled_total",
			Help: "Charges that reached a final status, by status (SUCCESS, FAIL, CANCELLED) and by what settled them (pay, notification, inquiry, cancel).",
		}, []string{"status", "settled_by"}),
		tokenIssue: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "autodebit_authcode_to_token_seconds",
			Help:    "Time from receiving an authCode to storing its token; the authCode dies after 60s.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 20, 30, 45, 60},
		}),
		notifyLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "autodebit_notification_lag_seconds",
			Help:    "Time from Antom sending a notification (its request-time header) to the engine having applied it, by kind. Includes clock skew between Antom and this host.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"kind"}),
		jobFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "autodebit_job_failures_total",
			Help: "Background job attempts that failed with an error or a panic (River retries them), by job kind.",
		}, []string{"kind"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "autodebit_auth_failures_total",
			Help: "Failed authentications, by surface (api: a wrong API key on /v1 or /metrics; console: a wrong key at login) and result: rejected (checked and wrong) or limited (refused with 429, unchecked, after too many failures from the address).",
		}, []string{"surface", "result"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "autodebit_webhook_deliveries_total",
			Help: "Webhook delivery attempts recorded, by result: delivered (a 2xx), retrying (failed; another attempt is scheduled) or failed (the delivery gave up).",
		}, []string{"result"}),
		webhookTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "autodebit_webhook_attempt_duration_seconds",
			Help:    "Time of each webhook delivery attempt, connection to the receiver's answer (at most the 15s timeout).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
		}),
	}
	m.subs = newSubscriptionCounters()
	m.reg.MustRegister(m.antomCalls, m.notifications, m.settled, m.tokenIssue, m.notifyLag, m.jobFailures, m.authFailures,
		m.webhooks, m.webhookTime, m.subs.renewals, m.subs.recoveries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.Store != nil {
		m.reg.MustRegister(&backlogCollector{store: cfg.Store, now: cfg.NowFunc, log: cfg.Logger})
		m.reg.MustRegister(&subscriptionsCollector{store: cfg.Store, now: cfg.NowFunc, log: cfg.Logger})
	}
	if cfg.DB != nil {
		m.reg.MustRegister(&jobsCollector{db: cfg.DB, log: cfg.Logger})
	}
	return m
}

// Registry returns the registry, e.g. to gather in tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus' text format. A failed database
// read leaves its gauges out of that scrape and serves the rest.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// AntomCall implements engine.Metrics.
func (m *Metrics) AntomCall(api, resultStatus string, d time.Duration) {
	m.antomCalls.WithLabelValues(api, resultStatus).Observe(d.Seconds())
}

// ChargeSettled implements engine.Metrics.
func (m *Metrics) ChargeSettled(status autodebit.ChargeStatus, by string) {
	m.settled.WithLabelValues(string(status), by).Inc()
}

// TokenIssued implements engine.Metrics.
func (m *Metrics) TokenIssued(sinceAuthCode time.Duration) {
	m.tokenIssue.Observe(sinceAuthCode.Seconds())
}

// NotificationReceived implements engine.Metrics.
func (m *Metrics) NotificationReceived(kind string, accepted bool) {
	result := "accepted"
	if !accepted {
		result = "rejected"
	}
	m.notifications.WithLabelValues(kind, result).Inc()
}

// NotificationLag implements engine.Metrics.
func (m *Metrics) NotificationLag(kind string, d time.Duration) {
	m.notifyLag.WithLabelValues(kind).Observe(max(d, 0).Seconds())
}

// WebhookAttempt implements engine.Metrics.
func (m *Metrics) WebhookAttempt(result string, d time.Duration) {
	m.webhooks.WithLabelValues(result).Inc()
	m.webhookTime.Observe(max(d, 0).Seconds())
}

// JobFailed counts a failed job attempt; it is jobs.Config.FailedFunc.
func (m *Metrics) JobFailed(kind string) { m.jobFailures.WithLabelValues(kind).Inc() }

// AuthFailure counts a failed authentication; it is
// http.AuthLimitConfig.CountFunc.
func (m *Metrics) AuthFailure(surface, result string) {
	m.authFailures.WithLabelValues(surface, result).Inc()
}

const scrapeTimeout = 5 * time.Second

var (
	openChargesDesc = prometheus.NewDesc("autodebit_charges_open",
		"Charges still INIT: their result is not known yet.", nil, nil)
	oldestOpenDesc = prometheus.NewDesc("autodebit_charges_oldest_open_age_seconds",
		"Age of the oldest INIT charge; 0 when none is open. A charge should settle within about 90s.", nil, nil)
	nextInquiryDesc = prometheus.NewDesc("autodebit_charges_next_inquiry_delay_seconds",
		"Seconds until the earliest inquiry due on an INIT charge; negative when overdue, 0 when none.", nil, nil)
	processingRefundsDesc = prometheus.NewDesc("autodebit_refunds_processing",
		"Refunds still PROCESSING.", nil, nil)
	oldestRefundDesc = prometheus.NewDesc("autodebit_refunds_oldest_processing_age_seconds",
		"Age of the oldest PROCESSING refund; 0 when none.", nil, nil)
	pendingDeliveriesDesc = prometheus.NewDesc("autodebit_webhook_deliveries_pending",
		"Webhook deliveries still pending (not yet delivered, attempts left).", nil, nil)
	oldestDeliveryDesc = prometheus.NewDesc("autodebit_webhook_deliveries_oldest_pending_age_seconds",
		"Age of the oldest pending webhook delivery; 0 when none. Retries span a little over a day.", nil, nil)
	jobsDesc = prometheus.NewDesc("autodebit_jobs",
		"Background jobs in River's table, by queue and state (available, scheduled, running, retryable, completed, discarded, …).",
		[]string{"queue", "state"}, nil)
)

// backlogCollector reads Store.FindBacklog at scrape time.
type backlogCollector struct {
	store autodebit.Store
	now   func() time.Time
	log   *slog.Logger
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- openChargesDesc
	ch <- oldestOpenDesc
	ch <- nextInquiryDesc
	ch <- processingRefundsDesc
	ch <- oldestRefundDesc
	ch <- pendingDeliveriesDesc
	ch <- oldestDeliveryDesc
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	b, err := c.store.FindBacklog(ctx)
	if err != nil {
		c.log.Error("metrics: read backlog", "err", err)
		ch <- prometheus.NewInvalidMetric(openChargesDesc, err)
		return
	}
	now := c.now()
	age := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return now.Sub(t).Seconds()
	}
	next := 0.0
	if !b.NextInquiryAt.IsZero() {
		next = b.NextInquiryAt.Sub(now).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(openChargesDesc, prometheus.GaugeValue, float64(b.OpenCharges))
	ch <- prometheus.MustNewConstMetric(oldestOpenDesc, prometheus.GaugeValue, max(age(b.OldestOpenChargeAt), 0))
	ch <- prometheus.MustNewConstMetric(nextInquiryDesc, prometheus.GaugeValue, next)
	ch <- prometheus.MustNewConstMetric(processingRefundsDesc, prometheus.GaugeValue, float64(b.ProcessingRefunds))
	ch <- prometheus.MustNewConstMetric(oldestRefundDesc, prometheus.GaugeValue, max(age(b.OldestProcessingRefundAt), 0))
	ch <- prometheus.MustNewConstMetric(pendingDeliveriesDesc, prometheus.GaugeValue, float64(b.PendingDeliveries))
	ch <- prometheus.MustNewConstMetric(oldestDeliveryDesc, prometheus.GaugeValue, max(age(b.OldestPendingDeliveryAt), 0))
}

// jobsCollector counts River's jobs by queue and state at scrape time, with
// one grouped query that works on SQLite and PostgreSQL.
type jobsCollector struct {
	db  *sql.DB
	log *slog.Logger
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc }

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	rows, err := c.db.QueryContext(ctx, `SELECT queue, state, COUNT(*) FROM river_job GROUP BY queue, state`)
	if err != nil {
		c.log.Error("metrics: count jobs", "err", err)
		ch <- prometheus.NewInvalidMetric(jobsDesc, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var queue, state string
		var n int64
		if err := rows.Scan(&queue, &state, &n); err != nil {
			ch <- prometheus.NewInvalidMetric(jobsDesc, err)
			return
		}
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n), queue, state)
	}
	if err := rows.Err(); err != nil {
		ch <- prometheus.NewInvalidMetric(jobsDesc, err)
	}
}
