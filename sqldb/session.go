package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/autodebit/autodebit"
)

var _ autodebit.ConsoleSessionStore = (*Store)(nil)

// maxSecretHash bounds a session's SecretHash (a hex SHA-256 is 64).
const maxSecretHash = 128

// CreateConsoleSession implements autodebit.ConsoleSessionStore.
func (s *Store) CreateConsoleSession(ctx context.Context, sess *autodebit.ConsoleSession) error {
	if sess.SecretHash == "" || len(sess.SecretHash) > maxSecretHash {
		return autodebit.Errorf(autodebit.EINVALID, "Console session secret hash is required (at most %d characters).", maxSecretHash)
	} else if sess.ExpiresAt.IsZero() {
		return autodebit.Errorf(autodebit.EINVALID, "Console session expiry is required.")
	} else if !sess.RevokedAt.IsZero() {
		return autodebit.Errorf(autodebit.EINVALID, "A new console session cannot be revoked already.")
	}
	if sess.CreatedAt.IsZero() {
		sess.CreatedAt = s.nowUTC()
	}
	sess.CreatedAt = sess.CreatedAt.UTC().Truncate(time.Microsecond)
	sess.ExpiresAt = sess.ExpiresAt.UTC().Truncate(time.Microsecond)
	_, err := s.reader.q.ExecContext(ctx, `INSERT INTO console_sessions (secret_hash, created_at, expires_at) VALUES ($1, $2, $3)`,
		sess.SecretHash, s.dialect.time(sess.CreatedAt), s.dialect.time(sess.ExpiresAt))
	if isUniqueViolation(err) {
		return autodebit.Errorf(autodebit.ECONFLICT, "Console session already exists.")
	} else if err != nil {
		return fmt.Errorf("insert console session: %w", err)
	}
	return nil
}

// FindConsoleSession implements autodebit.ConsoleSessionStore.
func (s *Store) FindConsoleSession(ctx context.Context, secretHash string) (*autodebit.ConsoleSession, error) {
	var sess autodebit.ConsoleSession
	err := s.reader.q.QueryRowContext(ctx, `SELECT secret_hash, created_at, expires_at, revoked_at FROM console_sessions WHERE secret_hash = $1`, secretHash).
		Scan(&sess.SecretHash, timeScanner{&sess.CreatedAt}, timeScanner{&sess.ExpiresAt}, timeScanner{&sess.RevokedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, autodebit.Errorf(autodebit.ENOTFOUND, "Console session not found.")
	} else if err != nil {
		return nil, fmt.Errorf("find console session: %w", err)
	}
	return &sess, nil
}

// RevokeConsoleSession implements autodebit.ConsoleSessionStore.
func (s *Store) RevokeConsoleSession(ctx context.Context, secretHash string) error {
	res, err := s.reader.q.ExecContext(ctx, `UPDATE console_sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE secret_hash = $1`,
		secretHash, s.dialect.time(s.nowUTC()))
	if err != nil {
		return fmt.Errorf("revoke console session: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("revoke console session: %w", err)
	} else if n == 0 {
		return autodebit.Errorf(autodebit.ENOTFOUND, "Console session not found.")
	}
	return nil
}

// DeleteExpiredConsoleSessions implements autodebit.ConsoleSessionStore.
func (s *Store) DeleteExpiredConsoleSessions(ctx context.Context, t time.Time) (int, error) {
	res, err := s.reader.q.ExecContext(ctx, `DELETE FROM console_sessions WHERE expires_at < $1`, s.dialect.time(t))
	if err != nil {
		return 0, fmt.Errorf("delete expired console sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired console sessions: %w", err)
	}
	return int(n), nil
}
