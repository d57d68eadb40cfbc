package sqldb

import (
	"context"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
)

const linkSessionColumns = `id, customer_id, wallet, buyer_chooses_wallet, status, secret_hash, return_url, cancel_url, locale,
	authorization_id, token_id, idempotency_key, request_hash, expires_at, completed_at, cancelled_at,
	created_at, updated_at, version`

func (r reader) scanLinkSession(row scanner) (*autodebit.LinkSession, error) {
	var s autodebit.LinkSession
	var hash string
	if err := row.Scan(&s.ID, &s.CustomerID, &s.Wallet, &s.BuyerChoosesWallet, &s.Status, &hash, &s.ReturnURL, &s.CancelURL, &s.Locale,
		stringScanner{&s.AuthorizationID}, stringScanner{&s.TokenID}, stringScanner{&s.IdempotencyKey}, &s.RequestHash,
		timeScanner{&s.ExpiresAt}, timeScanner{&s.CompletedAt}, timeScanner{&s.CancelledAt},
		timeScanner{&s.CreatedAt}, timeScanner{&s.UpdatedAt}, &s.Version); err != nil {
		return nil, err
	}
	s.Secret = r.s.secrets.linkSecret(s.ID)
	if r.s.secrets.linkSecretHash(s.Secret) != hash {
		// The row was made under another token key: its URL no longer works.
		return nil, fmt.Errorf("link session %s: its secret hash does not match the token key (was the token key changed?)", s.ID)
	}
	return &s, nil
}

func (r reader) findLinkSession(ctx context.Context, lock bool, column, value string) (*autodebit.LinkSession, error) {
	q := "SELECT " + linkSessionColumns + " FROM link_sessions WHERE " + column + " = $1"
	if lock {
		q += r.s.dialect.lockSuffix()
	}
	s, err := r.scanLinkSession(r.q.QueryRowContext(ctx, q, value))
	if err != nil {
		return nil, notFound(err, "Link session not found.")
	}
	return s, nil
}

// FindLinkSessionByID implements autodebit.Reader.
func (r reader) FindLinkSessionByID(ctx context.Context, id string) (*autodebit.LinkSession, error) {
	return r.findLinkSession(ctx, false, "id", id)
}

// FindLinkSessionBySecret implements autodebit.Reader.
func (r reader) FindLinkSessionBySecret(ctx context.Context, secret string) (*autodebit.LinkSession, error) {
	if secret == "" {
		return nil, autodebit.Errorf(autodebit.ENOTFOUND, "Link session not found.")
	}
	return r.findLinkSession(ctx, false, "secret_hash", r.s.secrets.linkSecretHash(secret))
}

// FindLinkSessionByIdempotencyKey implements autodebit.Reader.
func (r reader) FindLinkSessionByIdempotencyKey(ctx context.Context, key string) (*autodebit.LinkSession, error) {
	if key == "" {
		return nil, autodebit.Errorf(autodebit.ENOTFOUND, "Link session not found.")
	}
	return r.findLinkSession(ctx, false, "idempotency_key", key)
}

// FindLinkSessionForUpdate implements autodebit.Tx.
func (t *tx) FindLinkSessionForUpdate(ctx context.Context, id string) (*autodebit.LinkSession, error) {
	return t.findLinkSession(ctx, true, "id", id)
}

// FindLinkSessions implements autodebit.Reader.
func (r reader) FindLinkSessions(ctx context.Context, f autodebit.LinkSessionFilter) ([]*autodebit.LinkSession, int, error) {
	var w where
	w.addOwner(string(f.Status), f.CustomerID, f.Wallet)
	r.createdRange(&w, f.CreatedAfter, f.CreatedBefore)
	return findPage(ctx, r, "link_sessions", linkSessionColumns, "link sessions", w, f.Limit, f.Offset, r.scanLinkSession)
}

// CreateLinkSession implements autodebit.Tx. Returns ECONFLICT if the ID
// or the Idempotency-Key is taken.
func (t *tx) CreateLinkSession(ctx context.Context, s *autodebit.LinkSession) error {
	if s.Status == "" {
		s.Status = autodebit.LinkSessionOpen
	} else if s.Status != autodebit.LinkSessionOpen {
		return autodebit.Errorf(autodebit.EINVALID, "A new link session must be %s.", autodebit.LinkSessionOpen)
	}
	if err := s.Validate(); err != nil {
		return err
	}
	id, err := assignID(s.ID, autodebit.LinkSessionIDPrefix, "Link session")
	if err != nil {
		return err
	}
	now := t.s.nowUTC()
	createdAt := s.CreatedAt
	if createdAt.IsZero() {
		createdAt = now
	}
	secret := t.s.secrets.linkSecret(id)
	d := t.s.dialect
	if _, err := t.q.ExecContext(ctx, `INSERT INTO link_sessions (`+linkSessionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 1)`,
		id, s.CustomerID, s.Wallet, s.BuyerChoosesWallet, string(s.Status), t.s.secrets.linkSecretHash(secret),
		s.ReturnURL, s.CancelURL, s.Locale, nullString(s.AuthorizationID), nullString(s.TokenID),
		nullString(s.IdempotencyKey), s.RequestHash, d.time(s.ExpiresAt), d.time(s.CompletedAt), d.time(s.CancelledAt),
		d.time(createdAt), d.time(now),
	); err != nil {
		return insertErr(err, "Link session", id)
	}
	s.ID, s.Secret, s.CreatedAt, s.UpdatedAt, s.Version = id, secret, createdAt.UTC().Truncate(time.Microsecond), now, 1
	s.ExpiresAt = s.ExpiresAt.UTC().Truncate(time.Microsecond)
	return nil
}

// UpdateLinkSession implements autodebit.Tx.
func (t *tx) UpdateLinkSession(ctx context.Context, s *autodebit.LinkSession) error {
	if err := s.Validate(); err != nil {
		return err
	}
	now := t.s.nowUTC()
	d := t.s.dialect
	args := []any{s.Wallet, string(s.Status), nullString(s.AuthorizationID), nullString(s.TokenID),
		d.time(s.CompletedAt), d.time(s.CancelledAt), d.time(now), s.ID, s.Version}
	guard, args := statusIn(args, sources(autodebit.LinkSessionStatuses(), autodebit.LinkSessionStatus.CanTransition, s.Status))
	res, err := t.q.ExecContext(ctx, `UPDATE link_sessions SET wallet = $1, status = $2, authorization_id = $3, token_id = $4,
		completed_at = $5, cancelled_at = $6, updated_at = $7, version = version + 1
		WHERE id = $8 AND version = $9 AND `+guard, args...)
	if err != nil {
		return fmt.Errorf("update link session %s: %w", s.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update link session %s: %w", s.ID, err)
	} else if n == 0 {
		return t.casFailed(ctx, "link_sessions", "Link session", s.ID, s.Version, string(s.Status))
	}
	s.UpdatedAt, s.Version = now, s.Version+1
	return nil
}
