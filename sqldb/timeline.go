package sqldb

import (
	"context"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
)

// FindTimeline implements autodebit.Reader. Entries come back in the order
// they were appended.
func (r reader) FindTimeline(ctx context.Context, objectID string) ([]*autodebit.TimelineEntry, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT id, object_id, kind, direction, request, response, result_status,
		result_code, error, duration_ms, created_at
		FROM timeline WHERE object_id = $1 ORDER BY seq`, objectID)
	if err != nil {
		return nil, fmt.Errorf("find the timeline of %s: %w", objectID, err)
	}
	defer rows.Close()
	out := []*autodebit.TimelineEntry{}
	for rows.Next() {
		var e autodebit.TimelineEntry
		if err := rows.Scan(&e.ID, &e.ObjectID, &e.Kind, &e.Direction, &e.Request, &e.Response, &e.ResultStatus,
			&e.ResultCode, &e.Error, &e.DurationMS, timeScanner{&e.CreatedAt}); err != nil {
			return nil, fmt.Errorf("scan a timeline entry of %s: %w", objectID, err)
		}
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find the timeline of %s: %w", objectID, err)
	}
	return out, nil
}

// AppendTimelineEntry implements autodebit.Tx.
func (t *tx) AppendTimelineEntry(ctx context.Context, e *autodebit.TimelineEntry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	id, err := assignID(e.ID, autodebit.TimelineEntryIDPrefix, "Timeline entry")
	if err != nil {
		return err
	}
	createdAt := e.CreatedAt
	if createdAt.IsZero() {
		createdAt = t.s.nowUTC()
	}
	if _, err := t.q.ExecContext(ctx, `INSERT INTO timeline (id, object_id, kind, direction, request, response,
		result_status, result_code, error, duration_ms, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		id, e.ObjectID, e.Kind, e.Direction, e.Request, e.Response, e.ResultStatus, e.ResultCode, e.Error,
		e.DurationMS, t.s.dialect.time(createdAt),
	); err != nil {
		return fmt.Errorf("append %s entry to the timeline of %s: %w", e.Kind, e.ObjectID, err)
	}
	e.ID, e.CreatedAt = id, createdAt.UTC().Truncate(time.Microsecond)
	return nil
}
