package sqldb

import (
	"context"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
)

const authorizationColumns = `id, customer_id, wallet, status, auth_state, qr_text, qr_image_url, auth_code,
	token_id, failure_code, failure_message, expires_at, authorized_at, created_at, updated_at, version, link_session_id`

func (r reader) scanAuthorization(row scanner) (*autodebit.Authorization, error) {
	var a autodebit.Authorization
	var authCode string
	if err := row.Scan(&a.ID, &a.CustomerID, &a.Wallet, &a.Status, &a.AuthState, &a.QRText, &a.QRImageURL,
		stringScanner{&authCode}, stringScanner{&a.TokenID}, &a.FailureCode, &a.FailureMessage,
		timeScanner{&a.ExpiresAt}, timeScanner{&a.AuthorizedAt}, timeScanner{&a.CreatedAt}, timeScanner{&a.UpdatedAt},
		&a.Version, stringScanner{&a.LinkSessionID}); err != nil {
		return nil, err
	}
	code, err := r.s.secrets.open(authCodeContext(a.ID), authCode)
	if err != nil {
		return nil, fmt.Errorf("open auth code of authorization %s: %w", a.ID, err)
	}
	a.AuthCode = code
	return &a, nil
}

func authCodeContext(id string) string { return "authorizations.auth_code:" + id }

func (r reader) findAuthorization(ctx context.Context, lock bool, column, value string) (*autodebit.Authorization, error) {
	q := "SELECT " + authorizationColumns + " FROM authorizations WHERE " + column + " = $1"
	if lock {
		q += r.s.dialect.lockSuffix()
	}
	a, err := r.scanAuthorization(r.q.QueryRowContext(ctx, q, value))
	if err != nil {
		return nil, notFound(err, "Authorization not found.")
	}
	return a, nil
}

// FindAuthorizationByID implements autodebit.Reader.
func (r reader) FindAuthorizationByID(ctx context.Context, id string) (*autodebit.Authorization, error) {
	return r.findAuthorization(ctx, false, "id", id)
}

// FindAuthorizationByAuthState implements autodebit.Reader.
func (r reader) FindAuthorizationByAuthState(ctx context.Context, authState string) (*autodebit.Authorization, error) {
	return r.findAuthorization(ctx, false, "auth_state", authState)
}

// FindAuthorizationForUpdate implements autodebit.Tx.
func (t *tx) FindAuthorizationForUpdate(ctx context.Context, id string) (*autodebit.Authorization, error) {
	return t.findAuthorization(ctx, true, "id", id)
}

// FindAuthorizationByAuthStateForUpdate implements autodebit.Tx.
func (t *tx) FindAuthorizationByAuthStateForUpdate(ctx context.Context, authState string) (*autodebit.Authorization, error) {
	return t.findAuthorization(ctx, true, "auth_state", authState)
}

// FindAuthorizations implements autodebit.Reader.
func (r reader) FindAuthorizations(ctx context.Context, f autodebit.AuthorizationFilter) ([]*autodebit.Authorization, int, error) {
	var w where
	w.addOwner(string(f.Status), f.CustomerID, f.Wallet)
	if f.LinkSessionID != "" {
		w.add("link_session_id = ?", f.LinkSessionID)
	}
	r.createdRange(&w, f.CreatedAfter, f.CreatedBefore)
	return findPage(ctx, r, "authorizations", authorizationColumns, "authorizations", w, f.Limit, f.Offset, r.scanAuthorization)
}

// CreateAuthorization implements autodebit.Tx.
func (t *tx) CreateAuthorization(ctx context.Context, a *autodebit.Authorization) error {
	if a.Status == "" {
		a.Status = autodebit.AuthorizationPending
	} else if a.Status != autodebit.AuthorizationPending {
		return autodebit.Errorf(autodebit.EINVALID, "A new authorization must be %s.", autodebit.AuthorizationPending)
	}
	if err := a.Validate(); err != nil {
		return err
	}
	now := t.s.nowUTC()
	id, err := assignID(a.ID, autodebit.AuthorizationIDPrefix, "Authorization")
	if err != nil {
		return err
	}
	createdAt := a.CreatedAt
	if createdAt.IsZero() {
		createdAt = now
	}
	d := t.s.dialect
	if _, err := t.q.ExecContext(ctx, `INSERT INTO authorizations (`+authorizationColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1, $16)`,
		id, a.CustomerID, a.Wallet, string(a.Status), a.AuthState, a.QRText, a.QRImageURL,
		nullString(t.s.secrets.seal(authCodeContext(id), a.AuthCode)), nullString(a.TokenID), a.FailureCode, a.FailureMessage,
		d.time(a.ExpiresAt), d.time(a.AuthorizedAt), d.time(createdAt), d.time(now), nullString(a.LinkSessionID),
	); err != nil {
		return insertErr(err, "Authorization", id)
	}
	a.ID, a.CreatedAt, a.UpdatedAt, a.Version = id, createdAt.UTC().Truncate(time.Microsecond), now, 1
	return nil
}

// UpdateAuthorization implements autodebit.Tx.
func (t *tx) UpdateAuthorization(ctx context.Context, a *autodebit.Authorization) error {
	if err := a.Validate(); err != nil {
		return err
	}
	now := t.s.nowUTC()
	d := t.s.dialect
	args := []any{string(a.Status), a.QRText, a.QRImageURL, nullString(t.s.secrets.seal(authCodeContext(a.ID), a.AuthCode)),
		nullString(a.TokenID), a.FailureCode, a.FailureMessage, d.time(a.ExpiresAt), d.time(a.AuthorizedAt), d.time(now),
		a.ID, a.Version}
	guard, args := statusIn(args, sources(autodebit.AuthorizationStatuses(), autodebit.AuthorizationStatus.CanTransition, a.Status))
	res, err := t.q.ExecContext(ctx, `UPDATE authorizations SET status = $1, qr_text = $2, qr_image_url = $3, auth_code = $4,
		token_id = $5, failure_code = $6, failure_message = $7, expires_at = $8, authorized_at = $9, updated_at = $10,
		version = version + 1
		WHERE id = $11 AND version = $12 AND `+guard, args...)
	if err != nil {
		return fmt.Errorf("update authorization %s: %w", a.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update authorization %s: %w", a.ID, err)
	} else if n == 0 {
		return t.casFailed(ctx, "authorizations", "Authorization", a.ID, a.Version, string(a.Status))
	}
	a.UpdatedAt, a.Version = now, a.Version+1
	return nil
}

// createdRange adds the created_at bounds of a filter to w.
func (r reader) createdRange(w *where, after, before time.Time) {
	if !after.IsZero() {
		w.add("created_at >= ?", r.s.dialect.time(after))
	}
	if !before.IsZero() {
		w.add("created_at < ?", r.s.dialect.time(before))
	}
}
