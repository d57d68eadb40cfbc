package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/metrics"
)

// backlogStore answers FindBacklog and CountSubscriptions; the rest of
// autodebit.Store is unused.
type backlogStore struct {
	autodebit.Store
	b    autodebit.Backlog
	subs map[autodebit.SubscriptionStatus]int
	err  error
}

func (s *backlogStore) FindBacklog(context.Context) (*autodebit.Backlog, error) { return &s.b, s.err }

func (s *backlogStore) CountSubscriptions(context.Context) (map[autodebit.SubscriptionStatus]int, error) {
	return s.subs, s.err
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	store := &backlogStore{b: autodebit.Backlog{OpenCharges: 3, OldestOpenChargeAt: now.Add(-90 * time.Second), NextInquiryAt: now.Add(-2 * time.Second),
		PendingDeliveries: 4, OldestPendingDeliveryAt: now.Add(-time.Hour)}}
	m := metrics.New(metrics.Config{Store: store, NowFunc: func() time.Time { return now }})

	m.AntomCall("pay", "S", 40*time.Millisecond)
	m.AntomCall("pay", "U", 3*time.Second)
	m.ChargeSettled(autodebit.ChargeSuccess, autodebit.SettledByInquiry)
	m.NotificationReceived("payment", false)
	m.TokenIssued(800 * time.Millisecond)
	m.JobFailed("inquire_charge")
	m.JobFailed("inquire_charge")
	m.AuthFailure("console", "rejected")
	m.AuthFailure("console", "rejected")
	m.AuthFailure("api", "limited")
	m.WebhookAttempt("retrying", 15*time.Second)
	m.WebhookAttempt("retrying", 200*time.Millisecond)
	m.WebhookAttempt("delivered", 30*time.Millisecond)

	want := `
# HELP autodebit_charges_open Charges still INIT: their result is not known yet.
# TYPE autodebit_charges_open gauge
autodebit_charges_open 3
# HELP autodebit_charges_oldest_open_age_seconds Age of the oldest INIT charge; 0 when none is open. A charge should settle within about 90s.
# TYPE autodebit_charges_oldest_open_age_seconds gauge
autodebit_charges_oldest_open_age_seconds 90
# HELP autodebit_charges_next_inquiry_delay_seconds Seconds until the earliest inquiry due on an INIT charge; negative when overdue, 0 when none.
# TYPE autodebit_charges_next_inquiry_delay_seconds gauge
autodebit_charges_next_inquiry_delay_seconds -2
# HELP autodebit_job_failures_total Background job attempts that failed with an error or a panic (River retries them), by job kind.
# TYPE autodebit_job_failures_total counter
autodebit_job_failures_total{kind="inquire_charge"} 2
# HELP autodebit_auth_failures_total Failed authentications, by surface (api: a wrong API key on /v1 or /metrics; console: a wrong key at login) and result: rejected (checked and wrong) or limited (refused with 429, unchecked, after too many failures from the address).
# TYPE autodebit_auth_failures_total counter
autodebit_auth_failures_total{result="limited",surface="api"} 1
autodebit_auth_failures_total{result="rejected",surface="console"} 2
# HELP autodebit_webhook_deliveries_total Webhook delivery attempts recorded, by result: delivered (a 2xx), retrying (failed; another attempt is scheduled) or failed (the delivery gave up).
# TYPE autodebit_webhook_deliveries_total counter
autodebit_webhook_deliveries_total{result="delivered"} 1
autodebit_webhook_deliveries_total{result="retrying"} 2
# HELP autodebit_webhook_deliveries_pending Webhook deliveries still pending (not yet delivered, attempts left).
# TYPE autodebit_webhook_deliveries_pending gauge
autodebit_webhook_deliveries_pending 4
# HELP autodebit_webhook_deliveries_oldest_pending_age_seconds Age of the oldest pending webhook delivery; 0 when none. Retries span a little over a day.
# TYPE autodebit_webhook_deliveries_oldest_pending_age_seconds gauge
autodebit_webhook_deliveries_oldest_pending_age_seconds 3600
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"autodebit_charges_open", "autodebit_charges_oldest_open_age_seconds", "autodebit_charges_next_inquiry_delay_seconds", "autodebit_job_failures_total",
		"autodebit_auth_failures_total", "autodebit_webhook_deliveries_total", "autodebit_webhook_deliveries_pending",
		"autodebit_webhook_deliveries_oldest_pending_age_seconds"); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{
		"autodebit_antom_call_duration_seconds":      2,
		"autodebit_charges_settled_total":            1,
		"autodebit_notifications_received_total":     1,
		"autodebit_authcode_to_token_seconds":        1,
		"autodebit_webhook_attempt_duration_seconds": 1,
	} {
		if got, err := testutil.GatherAndCount(m.Registry(), name); err != nil || got != n {
			t.Errorf("%s: %d series (%v), want %d", name, got, err, n)
		}
	}
	if problems, err := testutil.GatherAndLint(m.Registry()); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}

	t.Run("StoreDown", func(t *testing.T) {
		store := &backlogStore{err: errors.New("database is locked")}
		m := metrics.New(metrics.Config{Store: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		m.JobFailed("x")
		w := httptest.NewRecorder()
		m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		if w.Code != 200 || !strings.Contains(w.Body.String(), `autodebit_job_failures_total{kind="x"} 1`) {
			t.Fatalf("a failed backlog read hid the other metrics: %d\n%s", w.Code, w.Body)
		}
	})
}
