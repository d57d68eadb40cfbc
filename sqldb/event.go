package sqldb

import (
	"context"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
)

// FindEvents implements autodebit.Reader. Events come back in the order they
// were appended.
func (r reader) FindEvents(ctx context.Context, objectID string) ([]*autodebit.Event, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT id, object_id, kind, direction, request, response, result_status,
		result_code, error, duration_ms, created_at
		FROM events WHERE object_id = $1 ORDER BY seq`, objectID)
	if err != nil {
		return nil, fmt.Errorf("find events of %s: %w", objectID, err)
	}
	defer rows.Close()
	out := []*autodebit.Event{}
	for rows.Next() {
		var e autodebit.Event
		if err := rows.Scan(&e.ID, &e.ObjectID, &e.Kind, &e.Direction, &e.Request, &e.Response, &e.ResultStatus,
			&e.ResultCode, &e.Error, &e.DurationMS, timeScanner{&e.CreatedAt}); err != nil {
			return nil, fmt.Errorf("scan event of %s: %w", objectID, err)
		}
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find events of %s: %w", objectID, err)
	}
	return out, nil
}

// AppendEvent implements autodebit.Tx.
func (t *tx) AppendEvent(ctx context.Context, e *autodebit.Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	id, err := assignID(e.ID, autodebit.EventIDPrefix, "Event")
	if err != nil {
		return err
	}
	createdAt := e.CreatedAt
	if createdAt.IsZero() {
		createdAt = t.s.nowUTC()
	}
	if _, err := t.q.ExecContext(ctx, `INSERT INTO events (id, object_id, kind, direction, request, response,
		result_status, result_code, error, duration_ms, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		id, e.ObjectID, e.Kind, e.Direction, e.Request, e.Response, e.ResultStatus, e.ResultCode, e.Error,
		e.DurationMS, t.s.dialect.time(createdAt),
	); err != nil {
		return fmt.Errorf("append %s event to %s: %w", e.Kind, e.ObjectID, err)
	}
	e.ID, e.CreatedAt = id, createdAt.UTC().Truncate(time.Microsecond)
	return nil
}
