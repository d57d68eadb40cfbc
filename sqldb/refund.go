package sqldb

import (
	"context"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
)

const refundColumns = `id, charge_id, currency, amount, reason, status, refund_request_id, refund_id, result_code,
	result_message, idempotency_key, request_hash, created_at, updated_at, settled_at, version, next_inquiry_at`

func scanRefund(row scanner) (*autodebit.Refund, error) {
	var r autodebit.Refund
	if err := row.Scan(&r.ID, &r.ChargeID, &r.Amount.Currency, &r.Amount.Value, &r.Reason, &r.Status,
		&r.RefundRequestID, &r.RefundID, &r.ResultCode, &r.ResultMessage, stringScanner{&r.IdempotencyKey},
		&r.RequestHash, timeScanner{&r.CreatedAt}, timeScanner{&r.UpdatedAt}, timeScanner{&r.SettledAt},
		&r.Version, timeScanner{&r.NextInquiryAt}); err != nil {
		return nil, err
	}
	return &r, nil
}

func (r reader) findRefund(ctx context.Context, lock bool, cond string, args ...any) (*autodebit.Refund, error) {
	q := "SELECT " + refundColumns + " FROM refunds WHERE " + cond
	if lock {
		q += r.s.dialect.lockSuffix()
	}
	rf, err := scanRefund(r.q.QueryRowContext(ctx, q, args...))
	if err != nil {
		return nil, notFound(err, "Refund not found.")
	}
	return rf, nil
}

// FindRefundByID implements autodebit.Reader.
func (r reader) FindRefundByID(ctx context.Context, id string) (*autodebit.Refund, error) {
	return r.findRefund(ctx, false, "id = $1", id)
}

// FindRefundByRefundRequestID implements autodebit.Reader.
func (r reader) FindRefundByRefundRequestID(ctx context.Context, refundRequestID string) (*autodebit.Refund, error) {
	return r.findRefund(ctx, false, "refund_request_id = $1", refundRequestID)
}

// FindRefundByIdempotencyKey implements autodebit.Reader.
func (r reader) FindRefundByIdempotencyKey(ctx context.Context, key string) (*autodebit.Refund, error) {
	if key == "" {
		return nil, autodebit.Errorf(autodebit.ENOTFOUND, "Refund not found.")
	}
	return r.findRefund(ctx, false, "idempotency_key = $1", key)
}

// FindDueRefunds implements autodebit.Reader.
func (r reader) FindDueRefunds(ctx context.Context, t time.Time, limit int) ([]*autodebit.Refund, error) {
	return findDue(ctx, r, "refunds", refundColumns, "status = 'PROCESSING'", "next_inquiry_at", t, limit, scanRefund)
}

// FindRefundForUpdate implements autodebit.Tx.
func (t *tx) FindRefundForUpdate(ctx context.Context, id string) (*autodebit.Refund, error) {
	return t.findRefund(ctx, true, "id = $1", id)
}

// FindRefundByRefundRequestIDForUpdate implements autodebit.Tx.
func (t *tx) FindRefundByRefundRequestIDForUpdate(ctx context.Context, refundRequestID string) (*autodebit.Refund, error) {
	return t.findRefund(ctx, true, "refund_request_id = $1", refundRequestID)
}

// FindRefunds implements autodebit.Reader.
func (r reader) FindRefunds(ctx context.Context, f autodebit.RefundFilter) ([]*autodebit.Refund, int, error) {
	var w where
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	if f.ChargeID != "" {
		w.add("charge_id = ?", f.ChargeID)
	}
	r.createdRange(&w, f.CreatedAfter, f.CreatedBefore)
	total, err := r.count(ctx, "SELECT COUNT(*) FROM refunds"+w.String(), w.args)
	if err != nil {
		return nil, 0, fmt.Errorf("count refunds: %w", err)
	}
	page, args := w.page(f.Limit, f.Offset)
	rows, err := r.q.QueryContext(ctx, "SELECT "+refundColumns+" FROM refunds"+w.String()+" ORDER BY created_at DESC, id DESC"+page, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("find refunds: %w", err)
	}
	out, err := collect(rows, scanRefund)
	if err != nil {
		return nil, 0, fmt.Errorf("find refunds: %w", err)
	}
	return out, total, nil
}

// CreateRefund implements autodebit.Tx. The refund must be PROCESSING (or
// have no status) and its charge must exist (ENOTFOUND otherwise). Whether
// the charge can be refunded by this much is the caller's rule, checked
// with the charge locked. ECONFLICT aborts a PostgreSQL transaction as for
// CreateCharge.
func (t *tx) CreateRefund(ctx context.Context, rf *autodebit.Refund) error {
	if rf.Status == "" {
		rf.Status = autodebit.RefundProcessing
	} else if rf.Status != autodebit.RefundProcessing {
		return autodebit.Errorf(autodebit.EINVALID, "A new refund must be %s.", autodebit.RefundProcessing)
	}
	if err := rf.Validate(); err != nil {
		return err
	} else if !rf.SettledAt.IsZero() {
		return autodebit.Errorf(autodebit.EINVALID, "A new refund cannot be settled.")
	} else if err := t.exists(ctx, "charges", "Charge", rf.ChargeID); err != nil {
		return err
	}
	now := t.s.nowUTC()
	id, err := assignID(rf.ID, autodebit.RefundIDPrefix, "Refund")
	if err != nil {
		return err
	}
	createdAt := rf.CreatedAt
	if createdAt.IsZero() {
		createdAt = now
	}
	d := t.s.dialect
	if _, err := t.q.ExecContext(ctx, `INSERT INTO refunds (`+refundColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL, 1, $15)`,
		id, rf.ChargeID, rf.Amount.Currency, rf.Amount.Value, rf.Reason, string(rf.Status), rf.RefundRequestID,
		rf.RefundID, rf.ResultCode, rf.ResultMessage, nullString(rf.IdempotencyKey), rf.RequestHash,
		d.time(createdAt), d.time(now), d.time(rf.NextInquiryAt),
	); err != nil {
		return insertErr(err, "Refund", id)
	}
	rf.ID, rf.CreatedAt, rf.UpdatedAt, rf.Version = id, createdAt.UTC().Truncate(time.Microsecond), now, 1
	return nil
}

// UpdateRefund implements autodebit.Tx. It never moves a refund to SUCCESS
// (ECONFLICT): only SettleRefund does, because it also adds the refund to
// its charge's RefundedValue.
func (t *tx) UpdateRefund(ctx context.Context, rf *autodebit.Refund) error {
	if err := rf.Validate(); err != nil {
		return err
	}
	from := sources(autodebit.RefundStatuses(), autodebit.RefundStatus.CanTransition, rf.Status)
	if rf.Status == autodebit.RefundSuccess {
		from = []string{string(autodebit.RefundSuccess)}
	}
	now := t.s.nowUTC()
	d := t.s.dialect
	args := []any{string(rf.Status), rf.RefundID, rf.ResultCode, rf.ResultMessage, d.time(rf.SettledAt), d.time(now),
		rf.ID, rf.Version, d.time(rf.NextInquiryAt)}
	guard, args := statusIn(args, from)
	res, err := t.q.ExecContext(ctx, `UPDATE refunds SET status = $1, refund_id = $2, result_code = $3,
		result_message = $4, settled_at = $5, updated_at = $6, version = version + 1, next_inquiry_at = $9
		WHERE id = $7 AND version = $8 AND `+guard, args...)
	if err != nil {
		return fmt.Errorf("update refund %s: %w", rf.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update refund %s: %w", rf.ID, err)
	} else if n == 0 {
		return t.casFailed(ctx, "refunds", "Refund", rf.ID, rf.Version, string(rf.Status))
	}
	rf.UpdatedAt, rf.Version = now, rf.Version+1
	return nil
}

// SettleRefund implements autodebit.Tx.
func (t *tx) SettleRefund(ctx context.Context, id string, s autodebit.RefundSettlement) (bool, error) {
	if !s.Status.Final() {
		return false, autodebit.Errorf(autodebit.EINVALID, "A refund settles SUCCESS or FAIL, not %q.", s.Status)
	}
	now := t.s.nowUTC()
	settledAt := s.SettledAt
	if settledAt.IsZero() {
		settledAt = now
	}
	d := t.s.dialect
	res, err := t.q.ExecContext(ctx, `UPDATE refunds SET status = $2, result_code = $3, result_message = $4,
		refund_id = CASE WHEN $5 = '' THEN refund_id ELSE $5 END, settled_at = $6, updated_at = $7,
		version = version + 1
		WHERE id = $1 AND status = 'PROCESSING'`,
		id, string(s.Status), s.ResultCode, s.ResultMessage, s.RefundID, d.time(settledAt), d.time(now))
	if err != nil {
		return false, fmt.Errorf("settle refund %s %s: %w", id, s.Status, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, fmt.Errorf("settle refund %s %s: %w", id, s.Status, err)
	} else if n == 0 {
		return false, t.exists(ctx, "refunds", "Refund", id)
	}
	if s.Status != autodebit.RefundSuccess {
		return true, nil
	}
	res, err = t.q.ExecContext(ctx, `UPDATE charges SET refunded_value = refunded_value + r.amount, updated_at = $2,
		version = charges.version + 1
		FROM (SELECT charge_id, amount FROM refunds WHERE id = $1) AS r
		WHERE charges.id = r.charge_id`, id, d.time(now))
	if err != nil {
		return false, fmt.Errorf("add refund %s to its charge: %w", id, err)
	} else if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, fmt.Errorf("add refund %s to its charge: %d rows, %v", id, n, err)
	}
	return true, nil
}
