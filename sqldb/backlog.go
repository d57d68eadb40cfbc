package sqldb

import (
	"context"
	"fmt"

	"github.com/autodebit/autodebit"
)

// FindBacklog implements autodebit.Reader.
func (r reader) FindBacklog(ctx context.Context) (*autodebit.Backlog, error) {
	var b autodebit.Backlog
	if err := r.q.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at), MIN(next_inquiry_at)
		FROM charges WHERE status = 'INIT'`).Scan(&b.OpenCharges, timeScanner{&b.OldestOpenChargeAt}, timeScanner{&b.NextInquiryAt}); err != nil {
		return nil, fmt.Errorf("find open charges: %w", err)
	}
	if err := r.q.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at)
		FROM refunds WHERE status = 'PROCESSING'`).Scan(&b.ProcessingRefunds, timeScanner{&b.OldestProcessingRefundAt}); err != nil {
		return nil, fmt.Errorf("find processing refunds: %w", err)
	}
	return &b, nil
}
