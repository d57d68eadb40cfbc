package sqldb

import (
	"context"
	"fmt"

	"github.com/autodebit/autodebit"
)

// RecordNotification implements autodebit.Tx. A repeated DedupKey is not an
// error and leaves the transaction usable.
func (t *tx) RecordNotification(ctx context.Context, n *autodebit.InboundNotification) (bool, error) {
	if n.DedupKey == "" {
		return false, autodebit.Errorf(autodebit.EINVALID, "Notification dedup key is required.")
	} else if n.Type == "" {
		return false, autodebit.Errorf(autodebit.EINVALID, "Notification type is required.")
	}
	receivedAt := n.ReceivedAt
	if receivedAt.IsZero() {
		receivedAt = t.s.nowUTC()
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO notifications (dedup_key, type, object_id, body, sent_at, received_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dedup_key) DO NOTHING`,
		n.DedupKey, n.Type, n.ObjectID, n.Body, t.s.dialect.time(n.SentAt), t.s.dialect.time(receivedAt))
	if err != nil {
		return false, fmt.Errorf("record %s notification: %w", n.Type, err)
	}
	rows, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record %s notification: %w", n.Type, err)
	}
	return rows == 1, nil
}
