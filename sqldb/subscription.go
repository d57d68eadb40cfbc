package sqldb

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
)

const subscriptionColumns = `id, token_id, customer_id, wallet, currency, amount, description, interval_unit,
	interval_count, time_zone, start_at, cycles, retry_schedule, status, period, attempt, next_charge_at,
	cycles_completed, last_charge_id, failure_code, failure_message, cancel_reason, paused_at, cancelled_at,
	idempotency_key, request_hash, created_at, updated_at, version`

func scanSubscription(row scanner) (*autodebit.Subscription, error) {
	var s autodebit.Subscription
	var retries string
	if err := row.Scan(&s.ID, &s.TokenID, &s.CustomerID, &s.Wallet, &s.Amount.Currency, &s.Amount.Value, &s.Description,
		&s.Interval, &s.IntervalCount, &s.TimeZone, timeScanner{&s.StartAt}, &s.Cycles, &retries, &s.Status, &s.Period,
		&s.Attempt, timeScanner{&s.NextChargeAt}, &s.CyclesCompleted, &s.LastChargeID, &s.FailureCode, &s.FailureMessage,
		&s.CancelReason, timeScanner{&s.PausedAt}, timeScanner{&s.CancelledAt}, stringScanner{&s.IdempotencyKey},
		&s.RequestHash, timeScanner{&s.CreatedAt}, timeScanner{&s.UpdatedAt}, &s.Version); err != nil {
		return nil, err
	}
	var waits []string
	if err := json.Unmarshal([]byte(retries), &waits); err != nil {
		return nil, fmt.Errorf("decode retry schedule of subscription %s: %w", s.ID, err)
	}
	s.RetrySchedule = make([]time.Duration, len(waits))
	for i, w := range waits {
		d, err := time.ParseDuration(w)
		if err != nil {
			return nil, fmt.Errorf("decode retry schedule of subscription %s: %w", s.ID, err)
		}
		s.RetrySchedule[i] = d
	}
	return &s, nil
}

// retryScheduleJSON encodes a retry schedule for the retry_schedule
// column: a JSON array of Go durations, [] for none.
func retryScheduleJSON(waits []time.Duration) string {
	out := make([]string, len(waits))
	for i, d := range waits {
		out[i] = d.String()
	}
	b, _ := json.Marshal(out) // a []string always encodes
	return string(b)
}

func (r reader) findSubscription(ctx context.Context, lock bool, column, value string) (*autodebit.Subscription, error) {
	q := "SELECT " + subscriptionColumns + " FROM subscriptions WHERE " + column + " = $1"
	if lock {
		q += r.s.dialect.lockSuffix()
	}
	s, err := scanSubscription(r.q.QueryRowContext(ctx, q, value))
	if err != nil {
		return nil, notFound(err, "Subscription not found.")
	}
	return s, nil
}

// FindSubscriptionByID implements autodebit.Reader.
func (r reader) FindSubscriptionByID(ctx context.Context, id string) (*autodebit.Subscription, error) {
	return r.findSubscription(ctx, false, "id", id)
}

// FindSubscriptionByIdempotencyKey implements autodebit.Reader.
func (r reader) FindSubscriptionByIdempotencyKey(ctx context.Context, key string) (*autodebit.Subscription, error) {
	if key == "" {
		return nil, autodebit.Errorf(autodebit.ENOTFOUND, "Subscription not found.")
	}
	return r.findSubscription(ctx, false, "idempotency_key", key)
}

// FindSubscriptionForUpdate implements autodebit.Tx.
func (t *tx) FindSubscriptionForUpdate(ctx context.Context, id string) (*autodebit.Subscription, error) {
	return t.findSubscription(ctx, true, "id", id)
}

// chargingSubscriptions selects the subscriptions that charge on schedule,
// in the words of the partial index subscriptions_due, so that both
// databases use it.
const chargingSubscriptions = "status IN ('active', 'past_due', 'unpaid')"

// FindDueSubscriptions implements autodebit.Reader. Times are stored to
// the microsecond, so "before t plus a microsecond" is "at or before t".
func (r reader) FindDueSubscriptions(ctx context.Context, t time.Time, limit int) ([]*autodebit.Subscription, error) {
	return findDue(ctx, r, "subscriptions", subscriptionColumns, chargingSubscriptions, "next_charge_at",
		t.UTC().Truncate(time.Microsecond).Add(time.Microsecond), limit, scanSubscription)
}

// FindNextSubscriptionChargeAt implements autodebit.Reader: one MIN over
// the index subscriptions_due.
func (r reader) FindNextSubscriptionChargeAt(ctx context.Context) (time.Time, error) {
	var next time.Time
	if err := r.q.QueryRowContext(ctx, `SELECT MIN(next_charge_at) FROM subscriptions WHERE `+chargingSubscriptions).Scan(timeScanner{&next}); err != nil {
		return time.Time{}, fmt.Errorf("find the next subscription charge: %w", err)
	}
	return next, nil
}

// FindSubscriptions implements autodebit.Reader.
func (r reader) FindSubscriptions(ctx context.Context, f autodebit.SubscriptionFilter) ([]*autodebit.Subscription, int, error) {
	var w where
	w.addOwner(string(f.Status), f.CustomerID, f.Wallet)
	if f.TokenID != "" {
		w.add("token_id = ?", f.TokenID)
	}
	r.createdRange(&w, f.CreatedAfter, f.CreatedBefore)
	return findPage(ctx, r, "subscriptions", subscriptionColumns, "subscriptions", w, f.Limit, f.Offset, scanSubscription)
}

// CreateSubscription implements autodebit.Tx.
func (t *tx) CreateSubscription(ctx context.Context, s *autodebit.Subscription) error {
	if s.Status == "" {
		s.Status = autodebit.SubscriptionActive
	}
	if s.Period == 0 {
		s.Period = 1
	}
	if s.Status != autodebit.SubscriptionActive || s.Period != 1 || s.Attempt != 0 || s.CyclesCompleted != 0 {
		return autodebit.Errorf(autodebit.EINVALID, "A new subscription must be %s at period 1 with no attempt made.", autodebit.SubscriptionActive)
	}
	if err := s.Validate(); err != nil {
		return err
	}
	id, err := assignID(s.ID, autodebit.SubscriptionIDPrefix, "Subscription")
	if err != nil {
		return err
	}
	now := t.s.nowUTC()
	createdAt := s.CreatedAt
	if createdAt.IsZero() {
		createdAt = now
	}
	d := t.s.dialect
	if _, err := t.q.ExecContext(ctx, `INSERT INTO subscriptions (`+subscriptionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
		$23, $24, $25, $26, $27, $28, 1)`,
		id, s.TokenID, s.CustomerID, s.Wallet, s.Amount.Currency, s.Amount.Value, s.Description, string(s.Interval),
		s.IntervalCount, s.TimeZone, d.time(s.StartAt), s.Cycles, retryScheduleJSON(s.RetrySchedule), string(s.Status),
		s.Period, s.Attempt, d.time(s.NextChargeAt), s.CyclesCompleted, s.LastChargeID, s.FailureCode, s.FailureMessage,
		s.CancelReason, d.time(s.PausedAt), d.time(s.CancelledAt), nullString(s.IdempotencyKey), s.RequestHash,
		d.time(createdAt), d.time(now),
	); err != nil {
		return insertErr(err, "Subscription", id)
	}
	s.ID, s.CreatedAt, s.UpdatedAt, s.Version = id, createdAt.UTC().Truncate(time.Microsecond), now, 1
	return nil
}

// UpdateSubscription implements autodebit.Tx.
func (t *tx) UpdateSubscription(ctx context.Context, s *autodebit.Subscription) error {
	if err := s.Validate(); err != nil {
		return err
	}
	now := t.s.nowUTC()
	d := t.s.dialect
	args := []any{string(s.Status), s.Period, s.Attempt, d.time(s.NextChargeAt), s.CyclesCompleted, s.LastChargeID,
		s.FailureCode, s.FailureMessage, s.CancelReason, d.time(s.PausedAt), d.time(s.CancelledAt), d.time(now), s.ID, s.Version}
	guard, args := statusIn(args, sources(autodebit.SubscriptionStatuses(), autodebit.SubscriptionStatus.CanTransition, s.Status))
	res, err := t.q.ExecContext(ctx, `UPDATE subscriptions SET status = $1, period = $2, attempt = $3, next_charge_at = $4,
		cycles_completed = $5, last_charge_id = $6, failure_code = $7, failure_message = $8, cancel_reason = $9,
		paused_at = $10, cancelled_at = $11, updated_at = $12, version = version + 1
		WHERE id = $13 AND version = $14 AND `+guard, args...)
	if err != nil {
		return fmt.Errorf("update subscription %s: %w", s.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update subscription %s: %w", s.ID, err)
	} else if n == 0 {
		return t.casFailed(ctx, "subscriptions", "Subscription", s.ID, s.Version, string(s.Status))
	}
	s.UpdatedAt, s.Version = now, s.Version+1
	return nil
}
