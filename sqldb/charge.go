package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
)

const chargeColumns = `id, token_id, customer_id, wallet, currency, amount, description, status, payment_request_id,
	payment_id, result_code, result_message, idempotency_key, request_hash, expires_at, next_inquiry_at, inquiry_count,
	cancel_requested_at, settled_by, refunded_value, created_at, updated_at, settled_at, version,
	subscription_id, period, period_start, period_end`

func scanCharge(row scanner) (*autodebit.Charge, error) {
	var c autodebit.Charge
	var period sql.NullInt64
	if err := row.Scan(&c.ID, &c.TokenID, &c.CustomerID, &c.Wallet, &c.Amount.Currency, &c.Amount.Value,
		&c.Description, &c.Status, &c.PaymentRequestID, &c.PaymentID, &c.ResultCode, &c.ResultMessage,
		stringScanner{&c.IdempotencyKey}, &c.RequestHash, timeScanner{&c.ExpiresAt}, timeScanner{&c.NextInquiryAt},
		&c.InquiryCount, timeScanner{&c.CancelRequestedAt}, &c.SettledBy, &c.RefundedValue, timeScanner{&c.CreatedAt}, timeScanner{&c.UpdatedAt},
		timeScanner{&c.SettledAt}, &c.Version, stringScanner{&c.SubscriptionID}, &period,
		timeScanner{&c.PeriodStart}, timeScanner{&c.PeriodEnd}); err != nil {
		return nil, err
	}
	c.Period = int(period.Int64)
	return &c, nil
}

func (r reader) findCharge(ctx context.Context, lock bool, column, value string) (*autodebit.Charge, error) {
	q := "SELECT " + chargeColumns + " FROM charges WHERE " + column + " = $1"
	if lock {
		q += r.s.dialect.lockSuffix()
	}
	c, err := scanCharge(r.q.QueryRowContext(ctx, q, value))
	if err != nil {
		return nil, notFound(err, "Charge not found.")
	}
	return c, nil
}

// FindChargeByID implements autodebit.Reader.
func (r reader) FindChargeByID(ctx context.Context, id string) (*autodebit.Charge, error) {
	return r.findCharge(ctx, false, "id", id)
}

// FindChargeByPaymentRequestID implements autodebit.Reader.
func (r reader) FindChargeByPaymentRequestID(ctx context.Context, paymentRequestID string) (*autodebit.Charge, error) {
	return r.findCharge(ctx, false, "payment_request_id", paymentRequestID)
}

// FindChargeByIdempotencyKey implements autodebit.Reader.
func (r reader) FindChargeByIdempotencyKey(ctx context.Context, key string) (*autodebit.Charge, error) {
	if key == "" {
		return nil, autodebit.Errorf(autodebit.ENOTFOUND, "Charge not found.")
	}
	return r.findCharge(ctx, false, "idempotency_key", key)
}

// FindChargeForUpdate implements autodebit.Tx.
func (t *tx) FindChargeForUpdate(ctx context.Context, id string) (*autodebit.Charge, error) {
	return t.findCharge(ctx, true, "id", id)
}

// FindChargeByPaymentRequestIDForUpdate implements autodebit.Tx.
func (t *tx) FindChargeByPaymentRequestIDForUpdate(ctx context.Context, paymentRequestID string) (*autodebit.Charge, error) {
	return t.findCharge(ctx, true, "payment_request_id", paymentRequestID)
}

// FindDueCharges implements autodebit.Reader.
func (r reader) FindDueCharges(ctx context.Context, t time.Time, limit int) ([]*autodebit.Charge, error) {
	return findDue(ctx, r, "charges", chargeColumns, "status = 'INIT'", "next_inquiry_at", t, limit, scanCharge)
}

// FindCharges implements autodebit.Reader.
func (r reader) FindCharges(ctx context.Context, f autodebit.ChargeFilter) ([]*autodebit.Charge, int, error) {
	var w where
	if f.Status != "" {
		w.add("status = ?", string(f.Status))
	}
	if f.TokenID != "" {
		w.add("token_id = ?", f.TokenID)
	}
	if f.CustomerID != "" {
		w.add("customer_id = ?", f.CustomerID)
	}
	if f.Wallet != "" {
		w.add("wallet = ?", f.Wallet)
	}
	if f.SubscriptionID != "" {
		w.add("subscription_id = ?", f.SubscriptionID)
	}
	if f.Period != 0 {
		w.add("period = ?", f.Period)
	}
	r.createdRange(&w, f.CreatedAfter, f.CreatedBefore)
	total, err := r.count(ctx, "SELECT COUNT(*) FROM charges"+w.String(), w.args)
	if err != nil {
		return nil, 0, fmt.Errorf("count charges: %w", err)
	}
	page, args := w.page(f.Limit, f.Offset)
	rows, err := r.q.QueryContext(ctx, "SELECT "+chargeColumns+" FROM charges"+w.String()+" ORDER BY created_at DESC, id DESC"+page, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("find charges: %w", err)
	}
	out, err := collect(rows, scanCharge)
	if err != nil {
		return nil, 0, fmt.Errorf("find charges: %w", err)
	}
	return out, total, nil
}

// CreateCharge implements autodebit.Tx. The charge must be INIT (or have no
// status). Returns ECONFLICT if its paymentRequestId or idempotency key is
// taken, or if it is a subscription's charge and its period already has a
// charge INIT or SUCCESS (charges_subscription_period); on PostgreSQL that aborts the transaction, so look the key up first
// with FindChargeByIdempotencyKey, and after ECONFLICT look it up again
// outside the failed transaction.
func (t *tx) CreateCharge(ctx context.Context, c *autodebit.Charge) error {
	if c.Status == "" {
		c.Status = autodebit.ChargeInit
	} else if c.Status != autodebit.ChargeInit {
		return autodebit.Errorf(autodebit.EINVALID, "A new charge must be %s.", autodebit.ChargeInit)
	}
	if err := c.Validate(); err != nil {
		return err
	} else if c.RefundedValue != 0 || !c.SettledAt.IsZero() || c.SettledBy != "" {
		return autodebit.Errorf(autodebit.EINVALID, "A new charge cannot be settled or refunded.")
	}
	now := t.s.nowUTC()
	id, err := assignID(c.ID, autodebit.ChargeIDPrefix, "Charge")
	if err != nil {
		return err
	}
	createdAt := c.CreatedAt
	if createdAt.IsZero() {
		createdAt = now
	}
	d := t.s.dialect
	if _, err := t.q.ExecContext(ctx, `INSERT INTO charges (`+chargeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, NULL, '', 0, $18, $19, NULL, 1,
		$20, $21, $22, $23)`,
		id, c.TokenID, c.CustomerID, c.Wallet, c.Amount.Currency, c.Amount.Value, c.Description, string(c.Status),
		c.PaymentRequestID, c.PaymentID, c.ResultCode, c.ResultMessage, nullString(c.IdempotencyKey), c.RequestHash,
		d.time(c.ExpiresAt), d.time(c.NextInquiryAt), c.InquiryCount, d.time(createdAt), d.time(now),
		nullString(c.SubscriptionID), nullInt(c.Period), d.time(c.PeriodStart), d.time(c.PeriodEnd),
	); err != nil {
		return insertErr(err, "Charge", id)
	}
	c.ID, c.CreatedAt, c.UpdatedAt, c.Version = id, createdAt.UTC().Truncate(time.Microsecond), now, 1
	return nil
}

// UpdateCharge implements autodebit.Tx.
func (t *tx) UpdateCharge(ctx context.Context, c *autodebit.Charge) error {
	if err := c.Validate(); err != nil {
		return err
	}
	now := t.s.nowUTC()
	d := t.s.dialect
	args := []any{string(c.Status), c.PaymentID, c.ResultCode, c.ResultMessage, d.time(c.ExpiresAt),
		d.time(c.NextInquiryAt), c.InquiryCount, c.SettledBy, c.RefundedValue, d.time(c.SettledAt), d.time(now),
		c.ID, c.Version, d.time(c.CancelRequestedAt)}
	guard, args := statusIn(args, sources(autodebit.ChargeStatuses(), autodebit.ChargeStatus.CanTransition, c.Status))
	res, err := t.q.ExecContext(ctx, `UPDATE charges SET status = $1, payment_id = $2, result_code = $3,
		result_message = $4, expires_at = $5, next_inquiry_at = $6, inquiry_count = $7, settled_by = $8,
		refunded_value = $9, settled_at = $10, updated_at = $11, cancel_requested_at = $14, version = version + 1
		WHERE id = $12 AND version = $13 AND `+guard, args...)
	if err != nil {
		return fmt.Errorf("update charge %s: %w", c.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update charge %s: %w", c.ID, err)
	} else if n == 0 {
		return t.casFailed(ctx, "charges", "Charge", c.ID, c.Version, string(c.Status))
	}
	c.UpdatedAt, c.Version = now, c.Version+1
	return nil
}

// SettleCharge implements autodebit.Tx.
func (t *tx) SettleCharge(ctx context.Context, id string, s autodebit.ChargeSettlement) (bool, error) {
	if !s.Status.Final() {
		return false, autodebit.Errorf(autodebit.EINVALID, "A charge settles SUCCESS, FAIL or CANCELLED, not %q.", s.Status)
	}
	switch s.SettledBy {
	case autodebit.SettledByPay, autodebit.SettledByNotification, autodebit.SettledByInquiry, autodebit.SettledByCancel:
	default:
		return false, autodebit.Errorf(autodebit.EINVALID, "Charge settled by %q is not a known source.", s.SettledBy)
	}
	now := t.s.nowUTC()
	settledAt := s.SettledAt
	if settledAt.IsZero() {
		settledAt = now
	}
	d := t.s.dialect
	res, err := t.q.ExecContext(ctx, `UPDATE charges SET status = $2, result_code = $3, result_message = $4,
		payment_id = CASE WHEN $5 = '' THEN payment_id ELSE $5 END, settled_by = $6, settled_at = $7,
		next_inquiry_at = NULL, updated_at = $8, version = version + 1
		WHERE id = $1 AND status = 'INIT' AND (cancel_requested_at IS NULL OR $6 = 'cancel')`,
		id, string(s.Status), s.ResultCode, s.ResultMessage, s.PaymentID, s.SettledBy, d.time(settledAt), d.time(now))
	if err != nil {
		return false, fmt.Errorf("settle charge %s %s: %w", id, s.Status, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, fmt.Errorf("settle charge %s %s: %w", id, s.Status, err)
	} else if n == 1 {
		return true, nil
	}
	return false, t.exists(ctx, "charges", "Charge", id)
}

// exists returns nil if table has row id and ENOTFOUND otherwise.
func (r reader) exists(ctx context.Context, table, noun, id string) error {
	var one int
	err := r.q.QueryRowContext(ctx, "SELECT 1 FROM "+table+" WHERE id = $1", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return autodebit.Errorf(autodebit.ENOTFOUND, "%s %s not found.", noun, id)
	} else if err != nil {
		return fmt.Errorf("find %s %s: %w", noun, id, err)
	}
	return nil
}
