package sqldb

import (
	"context"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
)

const eventColumns = `id, type, object_id, sequence, data, created_at`

func scanEvent(row scanner) (*autodebit.Event, error) {
	var e autodebit.Event
	var data string
	if err := row.Scan(&e.ID, &e.Type, &e.ObjectID, &e.Sequence, &data, timeScanner{&e.CreatedAt}); err != nil {
		return nil, err
	}
	e.Data = []byte(data)
	return &e, nil
}

// FindEventByID implements autodebit.Reader.
func (r reader) FindEventByID(ctx context.Context, id string) (*autodebit.Event, error) {
	e, err := scanEvent(r.q.QueryRowContext(ctx, "SELECT "+eventColumns+" FROM events WHERE id = $1", id))
	if err != nil {
		return nil, notFound(err, "Event %s not found.", id)
	}
	return e, nil
}

// FindEvents implements autodebit.Reader.
func (r reader) FindEvents(ctx context.Context, f autodebit.EventFilter) ([]*autodebit.Event, int, error) {
	if f.Type != "" && !f.Type.Valid() {
		return nil, 0, autodebit.Errorf(autodebit.EINVALID, "Event type %q is not one of %s.", f.Type, autodebit.EventTypeList())
	}
	var w where
	if f.Type != "" {
		w.add("type = ?", string(f.Type))
	}
	if f.ObjectID != "" {
		w.add("object_id = ?", f.ObjectID)
	}
	r.createdRange(&w, f.CreatedAfter, f.CreatedBefore)
	total, err := r.count(ctx, "SELECT COUNT(*) FROM events"+w.String(), w.args)
	if err != nil {
		return nil, 0, fmt.Errorf("count events: %w", err)
	}
	page, args := w.page(f.Limit, f.Offset)
	rows, err := r.q.QueryContext(ctx, "SELECT "+eventColumns+" FROM events"+w.String()+
		" ORDER BY created_at DESC, id DESC"+page, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("find events: %w", err)
	}
	out, err := collect(rows, scanEvent)
	if err != nil {
		return nil, 0, fmt.Errorf("find events: %w", err)
	}
	return out, total, nil
}

// CreateEvent implements autodebit.Tx. The sequence is read and written in
// two statements: safe because the caller holds the object's row lock (and
// SQLite has one writer), and checked by the unique (object_id, sequence)
// index, which turns a caller that forgot the lock into ECONFLICT.
func (t *tx) CreateEvent(ctx context.Context, e *autodebit.Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	id, err := assignID(e.ID, autodebit.EventIDPrefix, "Event")
	if err != nil {
		return err
	}
	if e.Sequence != 0 {
		return autodebit.Errorf(autodebit.EINVALID, "Event sequence is assigned by the store; leave it zero.")
	}
	createdAt := e.CreatedAt
	if createdAt.IsZero() {
		createdAt = t.s.nowUTC()
	}
	// The counter row, not the events still stored: retention deletes
	// events, and a sequence must never start again at 1.
	var seq int64
	if err := t.q.QueryRowContext(ctx, `INSERT INTO event_sequences (object_id, last) VALUES ($1, 1)
		ON CONFLICT (object_id) DO UPDATE SET last = event_sequences.last + 1 RETURNING last`, e.ObjectID).Scan(&seq); err != nil {
		return fmt.Errorf("count the event sequence of %s: %w", e.ObjectID, err)
	}
	if _, err := t.q.ExecContext(ctx, "INSERT INTO events ("+eventColumns+") VALUES ($1, $2, $3, $4, $5, $6)",
		id, string(e.Type), e.ObjectID, seq, string(e.Data), t.s.dialect.time(createdAt)); err != nil {
		if isUniqueViolation(err) {
			return autodebit.Errorf(autodebit.ECONFLICT, "Event %d of %s already exists.", seq, e.ObjectID)
		}
		return fmt.Errorf("insert %s event of %s: %w", e.Type, e.ObjectID, err)
	}
	e.ID, e.Sequence, e.CreatedAt = id, seq, createdAt.UTC().Truncate(time.Microsecond)
	return nil
}

// DeleteEventsBefore implements autodebit.Tx.
func (t *tx) DeleteEventsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, autodebit.Errorf(autodebit.EINVALID, "Limit must be positive.")
	} else if before.IsZero() {
		return 0, autodebit.Errorf(autodebit.EINVALID, "A cutoff time is required to delete events.")
	}
	// An event with a delivery still pending stays until it is delivered
	// or failed: deleting it would cascade the delivery away.
	const notPending = "NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.status = 'pending')"
	rows, err := t.q.QueryContext(ctx, "SELECT id FROM events WHERE created_at < $1 AND "+notPending+
		" ORDER BY created_at, id LIMIT $2", t.s.dialect.time(before), limit)
	if err != nil {
		return 0, fmt.Errorf("find events before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("find events before %s: %w", before.UTC().Format(time.RFC3339), err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("find events before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	// Their deliveries, which cascade with them, are locked first (the lock
	// order: see lockDeliveriesOf); the pending check is made again under
	// the locks, as a redelivery may have made one pending meanwhile.
	if err := t.lockDeliveriesOf(ctx, "events", "event_id", "events", ids); err != nil {
		return 0, err
	}
	in, args := inList(ids)
	res, err := t.q.ExecContext(ctx, "DELETE FROM events WHERE id IN "+in+" AND "+notPending, args...)
	if err != nil {
		return 0, fmt.Errorf("delete events before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete events before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return int(n), nil
}
