package sqldb

import (
	"context"
	"fmt"
	"time"

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
	if err := r.q.QueryRowContext(ctx, `SELECT COUNT(*), MIN(created_at)
		FROM deliveries WHERE status = 'pending'`).Scan(&b.PendingDeliveries, timeScanner{&b.OldestPendingDeliveryAt}); err != nil {
		return nil, fmt.Errorf("find pending webhook deliveries: %w", err)
	}
	if err := r.findSubscriptionBacklog(ctx, &b); err != nil {
		return nil, err
	}
	if err := r.findJobs(ctx, &b); err != nil {
		return nil, err
	}
	if err := r.findNotificationLag(ctx, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// CountSubscriptions implements autodebit.Reader.
func (r reader) CountSubscriptions(ctx context.Context) (map[autodebit.SubscriptionStatus]int, error) {
	out := map[autodebit.SubscriptionStatus]int{}
	for _, st := range autodebit.SubscriptionStatuses() {
		out[st] = 0
	}
	rows, err := r.q.QueryContext(ctx, `SELECT status, COUNT(*) FROM subscriptions GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count subscriptions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count subscriptions: %w", err)
		}
		out[autodebit.SubscriptionStatus(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count subscriptions: %w", err)
	}
	return out, nil
}

// findSubscriptionBacklog finds the next renewal due.
func (r reader) findSubscriptionBacklog(ctx context.Context, b *autodebit.Backlog) error {
	next, err := r.FindNextSubscriptionChargeAt(ctx)
	if err != nil {
		return err
	}
	b.NextSubscriptionChargeAt = next
	return nil
}

// findJobs counts River's jobs by state.
func (r reader) findJobs(ctx context.Context, b *autodebit.Backlog) error {
	rows, err := r.q.QueryContext(ctx, `SELECT state, COUNT(*) FROM river_job
		WHERE state IN ('available', 'scheduled', 'running', 'retryable') GROUP BY state`)
	if err != nil {
		return fmt.Errorf("count jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return fmt.Errorf("count jobs: %w", err)
		}
		switch state {
		case "available", "scheduled":
			b.JobsWaiting += n
		case "running":
			b.JobsRunning += n
		case "retryable":
			b.JobsRetrying += n
		}
	}
	return rows.Err()
}

// findNotificationLag reads the latest notifications' times.
func (r reader) findNotificationLag(ctx context.Context, b *autodebit.Backlog) error {
	rows, err := r.q.QueryContext(ctx, `SELECT sent_at, received_at FROM notifications ORDER BY received_at DESC LIMIT 100`)
	if err != nil {
		return fmt.Errorf("read notification times: %w", err)
	}
	defer rows.Close()
	var total time.Duration
	var n int
	for rows.Next() {
		var sent, received time.Time
		if err := rows.Scan(timeScanner{&sent}, timeScanner{&received}); err != nil {
			return fmt.Errorf("read notification times: %w", err)
		}
		if b.LastNotificationAt.IsZero() {
			b.LastNotificationAt = received
		}
		if !sent.IsZero() {
			total += received.Sub(sent)
			n++
		}
	}
	if n > 0 {
		b.NotificationLag = total / time.Duration(n)
	}
	return rows.Err()
}
