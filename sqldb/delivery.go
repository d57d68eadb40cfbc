package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
)

const deliveryColumns = `id, event_id, endpoint_id, status, attempts, next_attempt_at, last_status_code,
	last_error, created_at, updated_at, delivered_at, version`

func scanDelivery(row scanner) (*autodebit.Delivery, error) {
	var d autodebit.Delivery
	if err := row.Scan(&d.ID, &d.EventID, &d.EndpointID, &d.Status, &d.Attempts, timeScanner{&d.NextAttemptAt},
		&d.LastStatusCode, &d.LastError, timeScanner{&d.CreatedAt}, timeScanner{&d.UpdatedAt},
		timeScanner{&d.DeliveredAt}, &d.Version); err != nil {
		return nil, err
	}
	return &d, nil
}

func (r reader) findDelivery(ctx context.Context, lock bool, id string) (*autodebit.Delivery, error) {
	q := "SELECT " + deliveryColumns + " FROM deliveries WHERE id = $1"
	if lock {
		q += r.s.dialect.lockSuffix()
	}
	d, err := scanDelivery(r.q.QueryRowContext(ctx, q, id))
	if err != nil {
		return nil, notFound(err, "Delivery %s not found.", id)
	}
	return d, nil
}

// FindDeliveryByID implements autodebit.Reader.
func (r reader) FindDeliveryByID(ctx context.Context, id string) (*autodebit.Delivery, error) {
	return r.findDelivery(ctx, false, id)
}

// FindDeliveryForUpdate implements autodebit.Tx.
func (t *tx) FindDeliveryForUpdate(ctx context.Context, id string) (*autodebit.Delivery, error) {
	return t.findDelivery(ctx, true, id)
}

// FindDueDeliveries implements autodebit.Reader.
func (r reader) FindDueDeliveries(ctx context.Context, t time.Time, limit int) ([]*autodebit.Delivery, error) {
	return findDue(ctx, r, "deliveries", deliveryColumns, "status = 'pending'", "next_attempt_at", t, limit, scanDelivery)
}

// FindDeliveries implements autodebit.Reader.
func (r reader) FindDeliveries(ctx context.Context, f autodebit.DeliveryFilter) ([]*autodebit.Delivery, int, error) {
	if f.Status != "" && !f.Status.Valid() {
		return nil, 0, autodebit.Errorf(autodebit.EINVALID, "Delivery status %q is not pending, delivered or failed.", f.Status)
	}
	var w where
	if f.EventID != "" {
		w.add("event_id = ?", f.EventID)
	}
	if f.EndpointID != "" {
		w.add("endpoint_id = ?", f.EndpointID)
	}
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	total, err := r.count(ctx, "SELECT COUNT(*) FROM deliveries"+w.String(), w.args)
	if err != nil {
		return nil, 0, fmt.Errorf("count deliveries: %w", err)
	}
	page, args := w.page(f.Limit, f.Offset)
	rows, err := r.q.QueryContext(ctx, "SELECT "+deliveryColumns+" FROM deliveries"+w.String()+
		" ORDER BY created_at, id"+page, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("find deliveries: %w", err)
	}
	out, err := collect(rows, scanDelivery)
	if err != nil {
		return nil, 0, fmt.Errorf("find deliveries: %w", err)
	}
	return out, total, nil
}

// CreateDelivery implements autodebit.Tx.
func (t *tx) CreateDelivery(ctx context.Context, d *autodebit.Delivery) error {
	if d.Status == "" {
		d.Status = autodebit.DeliveryPending
	}
	if d.Status != autodebit.DeliveryPending {
		return autodebit.Errorf(autodebit.EINVALID, "A delivery is created pending, not %s.", d.Status)
	}
	if err := d.Validate(); err != nil {
		return err
	}
	id, err := assignID(d.ID, autodebit.DeliveryIDPrefix, "Delivery")
	if err != nil {
		return err
	}
	now := t.s.nowUTC()
	createdAt := d.CreatedAt
	if createdAt.IsZero() {
		createdAt = now
	}
	dl := t.s.dialect
	if _, err := t.q.ExecContext(ctx, `INSERT INTO deliveries (`+deliveryColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1)`,
		id, d.EventID, d.EndpointID, string(d.Status), d.Attempts, dl.time(d.NextAttemptAt), d.LastStatusCode,
		d.LastError, dl.time(createdAt), dl.time(now), dl.time(d.DeliveredAt)); err != nil {
		if isUniqueViolation(err) {
			return autodebit.Errorf(autodebit.ECONFLICT, "Event %s already has a delivery to webhook endpoint %s.", d.EventID, d.EndpointID)
		}
		return fmt.Errorf("insert delivery of event %s to %s: %w", d.EventID, d.EndpointID, err)
	}
	d.ID, d.CreatedAt, d.UpdatedAt, d.Version = id, createdAt.UTC().Truncate(time.Microsecond), now, 1
	d.NextAttemptAt = truncUTC(d.NextAttemptAt)
	return nil
}

// truncUTC is t as the store keeps it: UTC, microseconds.
func truncUTC(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// UpdateDelivery implements autodebit.Tx.
func (t *tx) UpdateDelivery(ctx context.Context, d *autodebit.Delivery) error {
	if err := d.Validate(); err != nil {
		return err
	}
	now := t.s.nowUTC()
	dl := t.s.dialect
	res, err := t.q.ExecContext(ctx, `UPDATE deliveries SET status = $1, attempts = $2, next_attempt_at = $3,
		last_status_code = $4, last_error = $5, delivered_at = $6, updated_at = $7, version = version + 1
		WHERE id = $8 AND version = $9`,
		string(d.Status), d.Attempts, dl.time(d.NextAttemptAt), d.LastStatusCode, d.LastError,
		dl.time(d.DeliveredAt), dl.time(now), d.ID, d.Version)
	if err != nil {
		return fmt.Errorf("update delivery %s: %w", d.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update delivery %s: %w", d.ID, err)
	} else if n == 0 {
		var one int
		err := t.q.QueryRowContext(ctx, "SELECT 1 FROM deliveries WHERE id = $1", d.ID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return autodebit.Errorf(autodebit.ENOTFOUND, "Delivery %s not found.", d.ID)
		} else if err != nil {
			return fmt.Errorf("check delivery %s after failed update: %w", d.ID, err)
		}
		return autodebit.Errorf(autodebit.ECONFLICT, "Delivery %s was changed concurrently; read it again and retry.", d.ID)
	}
	d.UpdatedAt, d.Version = now, d.Version+1
	d.NextAttemptAt, d.DeliveredAt = truncUTC(d.NextAttemptAt), truncUTC(d.DeliveredAt)
	return nil
}

const deliveryAttemptColumns = `delivery_id, attempt, started_at, finished_at, duration_ms, status_code, error, response`

func scanDeliveryAttempt(row scanner) (*autodebit.DeliveryAttempt, error) {
	var a autodebit.DeliveryAttempt
	var ms int64
	if err := row.Scan(&a.DeliveryID, &a.Attempt, timeScanner{&a.StartedAt}, timeScanner{&a.FinishedAt}, &ms,
		&a.StatusCode, &a.Error, &a.Response); err != nil {
		return nil, err
	}
	a.Duration = time.Duration(ms) * time.Millisecond
	return &a, nil
}

// FindDeliveryAttempts implements autodebit.Reader.
func (r reader) FindDeliveryAttempts(ctx context.Context, deliveryID string) ([]*autodebit.DeliveryAttempt, error) {
	rows, err := r.q.QueryContext(ctx, "SELECT "+deliveryAttemptColumns+" FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt", deliveryID)
	if err != nil {
		return nil, fmt.Errorf("find attempts of delivery %s: %w", deliveryID, err)
	}
	out, err := collect(rows, scanDeliveryAttempt)
	if err != nil {
		return nil, fmt.Errorf("find attempts of delivery %s: %w", deliveryID, err)
	}
	return out, nil
}

// CreateDeliveryAttempt implements autodebit.Tx.
func (t *tx) CreateDeliveryAttempt(ctx context.Context, a *autodebit.DeliveryAttempt) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if !a.FinishedAt.IsZero() {
		return autodebit.Errorf(autodebit.EINVALID, "A delivery attempt is claimed open: leave FinishedAt zero and record it with FinishDeliveryAttempt.")
	}
	if _, err := t.q.ExecContext(ctx, "INSERT INTO delivery_attempts ("+deliveryAttemptColumns+") VALUES ($1, $2, $3, NULL, 0, 0, '', '')",
		a.DeliveryID, a.Attempt, t.s.dialect.time(a.StartedAt)); err != nil {
		if isUniqueViolation(err) {
			return autodebit.Errorf(autodebit.ECONFLICT, "Attempt %d of delivery %s is already claimed.", a.Attempt, a.DeliveryID)
		}
		return fmt.Errorf("insert attempt %d of delivery %s: %w", a.Attempt, a.DeliveryID, err)
	}
	a.StartedAt, a.Duration, a.StatusCode, a.Error, a.Response = truncUTC(a.StartedAt), 0, 0, "", ""
	return nil
}

// FinishDeliveryAttempt implements autodebit.Tx.
func (t *tx) FinishDeliveryAttempt(ctx context.Context, a *autodebit.DeliveryAttempt) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if a.FinishedAt.IsZero() {
		return autodebit.Errorf(autodebit.EINVALID, "A recorded delivery attempt needs the time it finished.")
	}
	res, err := t.q.ExecContext(ctx, `UPDATE delivery_attempts SET finished_at = $1, duration_ms = $2, status_code = $3,
		error = $4, response = $5 WHERE delivery_id = $6 AND attempt = $7 AND finished_at IS NULL`,
		t.s.dialect.time(a.FinishedAt), a.Duration.Milliseconds(), a.StatusCode, a.Error, a.Response, a.DeliveryID, a.Attempt)
	if err != nil {
		return fmt.Errorf("record attempt %d of delivery %s: %w", a.Attempt, a.DeliveryID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("record attempt %d of delivery %s: %w", a.Attempt, a.DeliveryID, err)
	} else if n == 0 {
		var one int
		err := t.q.QueryRowContext(ctx, "SELECT 1 FROM delivery_attempts WHERE delivery_id = $1 AND attempt = $2", a.DeliveryID, a.Attempt).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return autodebit.Errorf(autodebit.ENOTFOUND, "Attempt %d of delivery %s not found.", a.Attempt, a.DeliveryID)
		} else if err != nil {
			return fmt.Errorf("check attempt %d of delivery %s: %w", a.Attempt, a.DeliveryID, err)
		}
		return autodebit.Errorf(autodebit.ECONFLICT, "Attempt %d of delivery %s is already recorded.", a.Attempt, a.DeliveryID)
	}
	a.FinishedAt, a.Duration = truncUTC(a.FinishedAt), a.Duration.Truncate(time.Millisecond)
	return nil
}

// Lock order. On PostgreSQL rows are locked one by one, and two
// transactions that lock the same rows in different orders can each wait
// for the other (a deadlock: PostgreSQL aborts one of them). Every
// transaction that locks deliveries, their attempts, a webhook endpoint or
// events therefore takes them in this order:
//
//  1. deliveries, by ascending id when it locks several;
//  2. the delivery_attempts rows of those deliveries;
//  3. then the webhook endpoint, or the events, the deliveries belong to.
//
// The engine's claim and record of an attempt lock the delivery
// (FindDeliveryForUpdate) before writing its attempts and before the
// endpoint (its health); a Redeliver locks the event's deliveries by id
// before creating any. A delete of an endpoint or of events, which cascades
// to their deliveries and attempts, would lock the parent first; so
// DeleteWebhookEndpoint and DeleteEventsBefore call lockDeliveriesOf
// first. SQLite needs none of this: a write transaction (BEGIN IMMEDIATE)
// excludes every other.

// maxLockRounds bounds lockDeliveriesOf's rounds: each one that finds
// deliveries added meanwhile starts over, and such a race is rare.
const maxLockRounds = 10

// lockDeliveriesOf locks, in the lock order, the deliveries of the rows ids
// of parent (webhook_endpoints or events, whose id column in deliveries is
// column) and then those rows themselves, ahead of a delete of the rows.
// A delivery created between the two steps would be locked by the delete's
// cascade after its parent, against the order: once the parents are
// locked no delivery can be added to them (its insert checks the foreign
// key with a lock that waits for ours), so a count then shows whether any
// was, and if so the round is rolled back (to a savepoint, releasing its
// locks) and run again. Ids with no row are skipped; what names the rows
// in the error returned when rounds run out.
func (t *tx) lockDeliveriesOf(ctx context.Context, parent, column, what string, ids []string) error {
	if t.s.dialect != Postgres || len(ids) == 0 {
		return nil
	}
	in, args := inList(ids)
	lockAll := func(q string) (int, error) {
		rows, err := t.q.QueryContext(ctx, q, args...)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		return n, rows.Err()
	}
	if _, err := t.q.ExecContext(ctx, "SAVEPOINT lock_deliveries"); err != nil {
		return fmt.Errorf("lock deliveries of %s: %w", parent, err)
	}
	for round := 1; ; round++ {
		locked, err := lockAll("SELECT id FROM deliveries WHERE " + column + " IN " + in + " ORDER BY id FOR UPDATE")
		if err != nil {
			return fmt.Errorf("lock deliveries of %s: %w", parent, err)
		}
		if _, err := lockAll("SELECT id FROM " + parent + " WHERE id IN " + in + " ORDER BY id FOR UPDATE"); err != nil {
			return fmt.Errorf("lock %s: %w", parent, err)
		}
		var now int
		if err := t.q.QueryRowContext(ctx, "SELECT COUNT(*) FROM deliveries WHERE "+column+" IN "+in, args...).Scan(&now); err != nil {
			return fmt.Errorf("count deliveries of %s: %w", parent, err)
		}
		if now == locked {
			if _, err := t.q.ExecContext(ctx, "RELEASE SAVEPOINT lock_deliveries"); err != nil {
				return fmt.Errorf("lock deliveries of %s: %w", parent, err)
			}
			return nil
		}
		if _, err := t.q.ExecContext(ctx, "ROLLBACK TO SAVEPOINT lock_deliveries"); err != nil {
			return fmt.Errorf("lock deliveries of %s: %w", parent, err)
		}
		if round == maxLockRounds {
			return autodebit.Errorf(autodebit.ECONFLICT, "New deliveries kept being added to the %s being deleted; try again.", what)
		}
	}
}
