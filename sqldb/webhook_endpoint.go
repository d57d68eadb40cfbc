package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
)

const webhookEndpointColumns = `id, url, description, event_types, enabled, secret, previous_secret,
	previous_secret_expires_at, failing_since, disabled_reason, idempotency_key, request_hash,
	created_at, updated_at, version`

// The contexts that bind a sealed webhook secret to its row and column, so
// that a value copied to another endpoint, or from previous_secret to
// secret, does not open.
func webhookSecretContext(id string) string         { return "webhook_endpoints.secret:" + id }
func webhookPreviousSecretContext(id string) string { return "webhook_endpoints.previous_secret:" + id }

func (r reader) scanWebhookEndpoint(row scanner) (*autodebit.WebhookEndpoint, error) {
	var w autodebit.WebhookEndpoint
	var types, secret, previous string
	if err := row.Scan(&w.ID, &w.URL, &w.Description, &types, &w.Enabled, &secret, stringScanner{&previous},
		timeScanner{&w.PreviousSecretExpiresAt}, timeScanner{&w.FailingSince}, &w.DisabledReason,
		stringScanner{&w.IdempotencyKey}, &w.RequestHash, timeScanner{&w.CreatedAt}, timeScanner{&w.UpdatedAt}, &w.Version); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(types), &w.EventTypes); err != nil {
		return nil, fmt.Errorf("decode event types of webhook endpoint %s: %w", w.ID, err)
	}
	if len(w.EventTypes) == 0 {
		w.EventTypes = nil
	}
	var err error
	if w.Secret, err = r.s.secrets.open(webhookSecretContext(w.ID), secret); err != nil {
		return nil, fmt.Errorf("open secret of webhook endpoint %s: %w", w.ID, err)
	}
	if w.PreviousSecret, err = r.s.secrets.open(webhookPreviousSecretContext(w.ID), previous); err != nil {
		return nil, fmt.Errorf("open previous secret of webhook endpoint %s: %w", w.ID, err)
	}
	return &w, nil
}

func (r reader) findWebhookEndpoint(ctx context.Context, lock bool, column, value string) (*autodebit.WebhookEndpoint, error) {
	q := "SELECT " + webhookEndpointColumns + " FROM webhook_endpoints WHERE " + column + " = $1"
	if lock {
		q += r.s.dialect.lockSuffix()
	}
	w, err := r.scanWebhookEndpoint(r.q.QueryRowContext(ctx, q, value))
	if err != nil {
		return nil, notFound(err, "Webhook endpoint not found.")
	}
	return w, nil
}

// FindWebhookEndpointByID implements autodebit.Reader.
func (r reader) FindWebhookEndpointByID(ctx context.Context, id string) (*autodebit.WebhookEndpoint, error) {
	return r.findWebhookEndpoint(ctx, false, "id", id)
}

// FindWebhookEndpointByIdempotencyKey implements autodebit.Reader.
func (r reader) FindWebhookEndpointByIdempotencyKey(ctx context.Context, key string) (*autodebit.WebhookEndpoint, error) {
	if key == "" {
		return nil, autodebit.Errorf(autodebit.ENOTFOUND, "Webhook endpoint not found.")
	}
	return r.findWebhookEndpoint(ctx, false, "idempotency_key", key)
}

// FindWebhookEndpointForUpdate implements autodebit.Tx.
func (t *tx) FindWebhookEndpointForUpdate(ctx context.Context, id string) (*autodebit.WebhookEndpoint, error) {
	return t.findWebhookEndpoint(ctx, true, "id", id)
}

// FindWebhookEndpoints implements autodebit.Reader.
func (r reader) FindWebhookEndpoints(ctx context.Context, f autodebit.WebhookEndpointFilter) ([]*autodebit.WebhookEndpoint, int, error) {
	var w where
	if f.Enabled != nil {
		w.add("enabled = ?", *f.Enabled)
	}
	total, err := r.count(ctx, "SELECT COUNT(*) FROM webhook_endpoints"+w.String(), w.args)
	if err != nil {
		return nil, 0, fmt.Errorf("count webhook endpoints: %w", err)
	}
	page, args := w.page(f.Limit, f.Offset)
	rows, err := r.q.QueryContext(ctx, "SELECT "+webhookEndpointColumns+" FROM webhook_endpoints"+w.String()+
		" ORDER BY created_at DESC, id DESC"+page, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("find webhook endpoints: %w", err)
	}
	out, err := collect(rows, r.scanWebhookEndpoint)
	if err != nil {
		return nil, 0, fmt.Errorf("find webhook endpoints: %w", err)
	}
	return out, total, nil
}

// FindWebhookSubscribers implements autodebit.Tx. On PostgreSQL the rows
// are read FOR KEY SHARE: a concurrent delete waits for this transaction
// (instead of making its delivery insert fail the foreign key), while
// updates of the endpoint (health, PATCH, rotation) do not.
func (t *tx) FindWebhookSubscribers(ctx context.Context) ([]*autodebit.WebhookEndpoint, error) {
	q := "SELECT id, event_types FROM webhook_endpoints WHERE enabled = " + t.s.dialect.boolTrue() + " ORDER BY created_at, id"
	if t.s.dialect == Postgres {
		q += " FOR KEY SHARE"
	}
	rows, err := t.q.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("find webhook subscribers: %w", err)
	}
	out, err := collect(rows, func(row scanner) (*autodebit.WebhookEndpoint, error) {
		w := &autodebit.WebhookEndpoint{Enabled: true}
		var types string
		if err := row.Scan(&w.ID, &types); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(types), &w.EventTypes); err != nil {
			return nil, fmt.Errorf("decode event types of webhook endpoint %s: %w", w.ID, err)
		}
		return w, nil
	})
	if err != nil {
		return nil, fmt.Errorf("find webhook subscribers: %w", err)
	}
	return out, nil
}

// eventTypesJSON encodes an endpoint's event types for the event_types
// column: a JSON array, [] for every type.
func eventTypesJSON(types []string) string {
	if len(types) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(types) // a []string always encodes
	return string(b)
}

// CreateWebhookEndpoint implements autodebit.Tx. Returns ECONFLICT if the
// ID or the Idempotency-Key is taken.
func (t *tx) CreateWebhookEndpoint(ctx context.Context, w *autodebit.WebhookEndpoint) error {
	if err := w.Validate(); err != nil {
		return err
	}
	id, err := assignID(w.ID, autodebit.WebhookEndpointIDPrefix, "Webhook endpoint")
	if err != nil {
		return err
	}
	now := t.s.nowUTC()
	createdAt := w.CreatedAt
	if createdAt.IsZero() {
		createdAt = now
	}
	d, sec := t.s.dialect, t.s.secrets
	if _, err := t.q.ExecContext(ctx, `INSERT INTO webhook_endpoints (`+webhookEndpointColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1)`,
		id, w.URL, w.Description, eventTypesJSON(w.EventTypes), w.Enabled,
		sec.seal(webhookSecretContext(id), w.Secret), nullString(sec.seal(webhookPreviousSecretContext(id), w.PreviousSecret)),
		d.time(w.PreviousSecretExpiresAt), d.time(w.FailingSince), w.DisabledReason,
		nullString(w.IdempotencyKey), w.RequestHash, d.time(createdAt), d.time(now),
	); err != nil {
		return insertErr(err, "Webhook endpoint", id)
	}
	w.ID, w.CreatedAt, w.UpdatedAt, w.Version = id, createdAt.UTC().Truncate(time.Microsecond), now, 1
	return nil
}

// UpdateWebhookEndpoint implements autodebit.Tx.
func (t *tx) UpdateWebhookEndpoint(ctx context.Context, w *autodebit.WebhookEndpoint) error {
	if err := w.Validate(); err != nil {
		return err
	}
	now := t.s.nowUTC()
	d, sec := t.s.dialect, t.s.secrets
	res, err := t.q.ExecContext(ctx, `UPDATE webhook_endpoints SET url = $1, description = $2, event_types = $3,
		enabled = $4, secret = $5, previous_secret = $6, previous_secret_expires_at = $7, failing_since = $8,
		disabled_reason = $9, updated_at = $10, version = version + 1
		WHERE id = $11 AND version = $12`,
		w.URL, w.Description, eventTypesJSON(w.EventTypes), w.Enabled,
		sec.seal(webhookSecretContext(w.ID), w.Secret), nullString(sec.seal(webhookPreviousSecretContext(w.ID), w.PreviousSecret)),
		d.time(w.PreviousSecretExpiresAt), d.time(w.FailingSince), w.DisabledReason, d.time(now), w.ID, w.Version)
	if err != nil {
		return fmt.Errorf("update webhook endpoint %s: %w", w.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update webhook endpoint %s: %w", w.ID, err)
	} else if n == 0 {
		return t.webhookEndpointCASFailed(ctx, w.ID)
	}
	w.UpdatedAt, w.Version = now, w.Version+1
	return nil
}

// webhookEndpointCASFailed explains an update that matched no row: the
// endpoint is gone (ENOTFOUND) or was changed since it was read
// (ECONFLICT). Endpoints have no status, so casFailed does not fit.
func (t *tx) webhookEndpointCASFailed(ctx context.Context, id string) error {
	var one int
	err := t.q.QueryRowContext(ctx, "SELECT 1 FROM webhook_endpoints WHERE id = $1", id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return autodebit.Errorf(autodebit.ENOTFOUND, "Webhook endpoint %s not found.", id)
	} else if err != nil {
		return fmt.Errorf("check webhook endpoint %s after failed update: %w", id, err)
	}
	return autodebit.Errorf(autodebit.ECONFLICT, "Webhook endpoint %s was changed concurrently; read it again and retry.", id)
}

// DeleteWebhookEndpoint implements autodebit.Tx. Its deliveries and their
// attempts go with it (ON DELETE CASCADE), locked first (the lock order:
// see lockDeliveriesOf).
func (t *tx) DeleteWebhookEndpoint(ctx context.Context, id string) (*autodebit.WebhookEndpoint, error) {
	if err := t.lockDeliveriesOf(ctx, "webhook_endpoints", "endpoint_id", "webhook endpoint "+id, []string{id}); err != nil {
		return nil, err
	}
	w, err := t.scanWebhookEndpoint(t.q.QueryRowContext(ctx, "DELETE FROM webhook_endpoints WHERE id = $1 RETURNING "+webhookEndpointColumns, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, autodebit.Errorf(autodebit.ENOTFOUND, "Webhook endpoint %s not found.", id)
	} else if err != nil {
		return nil, fmt.Errorf("delete webhook endpoint %s: %w", id, err)
	}
	return w, nil
}
