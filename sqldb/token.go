package sqldb

import (
	"context"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
)

const tokenColumns = `id, customer_id, wallet, authorization_id, status, access_token, access_token_hash, refresh_token,
	access_token_expires_at, refresh_token_expires_at, user_login_id, revoke_reason, revoke_pending,
	created_at, updated_at, revoked_at, version, revoked_by, revoke_next_at`

func accessTokenContext(id string) string  { return "tokens.access_token:" + id }
func refreshTokenContext(id string) string { return "tokens.refresh_token:" + id }

func (r reader) scanToken(row scanner) (*autodebit.Token, error) {
	var t autodebit.Token
	var access, hash, refresh string
	if err := row.Scan(&t.ID, &t.CustomerID, &t.Wallet, &t.AuthorizationID, &t.Status, &access, &hash,
		stringScanner{&refresh}, timeScanner{&t.AccessTokenExpiresAt}, timeScanner{&t.RefreshTokenExpiresAt},
		&t.UserLoginID, &t.RevokeReason, &t.RevokePending,
		timeScanner{&t.CreatedAt}, timeScanner{&t.UpdatedAt}, timeScanner{&t.RevokedAt}, &t.Version,
		&t.RevokedBy, timeScanner{&t.RevokeNextAt}); err != nil {
		return nil, err
	}
	var err error
	if t.AccessToken, err = r.s.secrets.open(accessTokenContext(t.ID), access); err != nil {
		return nil, fmt.Errorf("open access token of token %s: %w", t.ID, err)
	}
	if t.RefreshToken, err = r.s.secrets.open(refreshTokenContext(t.ID), refresh); err != nil {
		return nil, fmt.Errorf("open refresh token of token %s: %w", t.ID, err)
	}
	return &t, nil
}

func (r reader) findToken(ctx context.Context, lock bool, column, value string) (*autodebit.Token, error) {
	q := "SELECT " + tokenColumns + " FROM tokens WHERE " + column + " = $1"
	if lock {
		q += r.s.dialect.lockSuffix()
	}
	t, err := r.scanToken(r.q.QueryRowContext(ctx, q, value))
	if err != nil {
		return nil, notFound(err, "Token not found.")
	}
	return t, nil
}

// FindTokenByID implements autodebit.Reader.
func (r reader) FindTokenByID(ctx context.Context, id string) (*autodebit.Token, error) {
	return r.findToken(ctx, false, "id", id)
}

// FindTokenByAccessToken implements autodebit.Reader.
func (r reader) FindTokenByAccessToken(ctx context.Context, accessToken string) (*autodebit.Token, error) {
	return r.findToken(ctx, false, "access_token_hash", r.s.secrets.hash(accessToken))
}

// FindTokenForUpdate implements autodebit.Tx.
func (t *tx) FindTokenForUpdate(ctx context.Context, id string) (*autodebit.Token, error) {
	return t.findToken(ctx, true, "id", id)
}

// FindTokenByAccessTokenForUpdate implements autodebit.Tx.
func (t *tx) FindTokenByAccessTokenForUpdate(ctx context.Context, accessToken string) (*autodebit.Token, error) {
	return t.findToken(ctx, true, "access_token_hash", t.s.secrets.hash(accessToken))
}

// FindDueRevokes implements autodebit.Reader.
func (r reader) FindDueRevokes(ctx context.Context, t time.Time, limit int) ([]*autodebit.Token, error) {
	return findDue(ctx, r, "tokens", tokenColumns, "status = 'ACTIVE' AND revoke_pending = "+r.s.dialect.boolTrue(), "revoke_next_at", t, limit, r.scanToken)
}

// FindTokens implements autodebit.Reader.
func (r reader) FindTokens(ctx context.Context, f autodebit.TokenFilter) ([]*autodebit.Token, int, error) {
	var w where
	w.addOwner(string(f.Status), f.CustomerID, f.Wallet)
	r.createdRange(&w, f.CreatedAfter, f.CreatedBefore)
	return findPage(ctx, r, "tokens", tokenColumns, "tokens", w, f.Limit, f.Offset, r.scanToken)
}

// CreateToken implements autodebit.Tx. Returns ECONFLICT if the access
// token is already stored.
func (t *tx) CreateToken(ctx context.Context, tok *autodebit.Token) error {
	if tok.Status == "" {
		tok.Status = autodebit.TokenActive
	} else if tok.Status != autodebit.TokenActive {
		return autodebit.Errorf(autodebit.EINVALID, "A new token must be %s.", autodebit.TokenActive)
	}
	if err := tok.Validate(); err != nil {
		return err
	}
	now := t.s.nowUTC()
	id, err := assignID(tok.ID, autodebit.TokenIDPrefix, "Token")
	if err != nil {
		return err
	}
	createdAt := tok.CreatedAt
	if createdAt.IsZero() {
		createdAt = now
	}
	d, sec := t.s.dialect, t.s.secrets
	if _, err := t.q.ExecContext(ctx, `INSERT INTO tokens (`+tokenColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 1, $17, $18)`,
		id, tok.CustomerID, tok.Wallet, tok.AuthorizationID, string(tok.Status),
		sec.seal(accessTokenContext(id), tok.AccessToken), sec.hash(tok.AccessToken),
		nullString(sec.seal(refreshTokenContext(id), tok.RefreshToken)),
		d.time(tok.AccessTokenExpiresAt), d.time(tok.RefreshTokenExpiresAt), tok.UserLoginID, tok.RevokeReason,
		tok.RevokePending, d.time(createdAt), d.time(now), d.time(tok.RevokedAt), tok.RevokedBy, d.time(tok.RevokeNextAt),
	); err != nil {
		return insertErr(err, "Token", id)
	}
	tok.ID, tok.CreatedAt, tok.UpdatedAt, tok.Version = id, createdAt.UTC().Truncate(time.Microsecond), now, 1
	return nil
}

// UpdateToken implements autodebit.Tx. The access and refresh tokens may
// change (a refresh); CustomerID, Wallet and AuthorizationID may not.
func (t *tx) UpdateToken(ctx context.Context, tok *autodebit.Token) error {
	if err := tok.Validate(); err != nil {
		return err
	}
	now := t.s.nowUTC()
	d, sec := t.s.dialect, t.s.secrets
	args := []any{string(tok.Status), sec.seal(accessTokenContext(tok.ID), tok.AccessToken), sec.hash(tok.AccessToken),
		nullString(sec.seal(refreshTokenContext(tok.ID), tok.RefreshToken)),
		d.time(tok.AccessTokenExpiresAt), d.time(tok.RefreshTokenExpiresAt), tok.UserLoginID, tok.RevokeReason,
		tok.RevokePending, d.time(tok.RevokedAt), d.time(now), tok.ID, tok.Version, tok.RevokedBy, d.time(tok.RevokeNextAt)}
	guard, args := statusIn(args, sources(autodebit.TokenStatuses(), autodebit.TokenStatus.CanTransition, tok.Status))
	res, err := t.q.ExecContext(ctx, `UPDATE tokens SET status = $1, access_token = $2, access_token_hash = $3,
		refresh_token = $4, access_token_expires_at = $5, refresh_token_expires_at = $6, user_login_id = $7,
		revoke_reason = $8, revoke_pending = $9, revoked_at = $10, updated_at = $11, version = version + 1,
		revoked_by = $14, revoke_next_at = $15
		WHERE id = $12 AND version = $13 AND `+guard, args...)
	if err != nil {
		if isUniqueViolation(err) {
			return autodebit.Errorf(autodebit.ECONFLICT, "Another token has the same access token.")
		}
		return fmt.Errorf("update token %s: %w", tok.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update token %s: %w", tok.ID, err)
	} else if n == 0 {
		return t.casFailed(ctx, "tokens", "Token", tok.ID, tok.Version, string(tok.Status))
	}
	tok.UpdatedAt, tok.Version = now, tok.Version+1
	return nil
}
