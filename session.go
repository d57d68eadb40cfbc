package autodebit

import (
	"context"
	"time"
)

// ConsoleSession is an operator's login to the console. The browser holds a
// random secret in a cookie; the store keeps only SecretHash, a keyed hash
// of it, so that a copy of the database lets no one log in.
//
// A session is valid until ExpiresAt unless revoked (logged out). Because
// the store keeps it, a logout holds on every engine process that shares the
// database, and after a restart.
type ConsoleSession struct {
	SecretHash string    // hex; unique; computed by the console from the cookie's secret
	CreatedAt  time.Time // set by the store unless set
	ExpiresAt  time.Time // required
	RevokedAt  time.Time // zero while the session is not logged out
}

// Active reports whether the session lets a browser in at time now.
func (s *ConsoleSession) Active(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt)
}

// ConsoleSessionStore keeps console sessions. Each method is one statement,
// outside any transaction. Implementations are safe for concurrent use.
type ConsoleSessionStore interface {
	// CreateConsoleSession stores a new session. Returns EINVALID if
	// SecretHash or ExpiresAt is missing and ECONFLICT if SecretHash is
	// taken; nothing is stored then.
	CreateConsoleSession(ctx context.Context, s *ConsoleSession) error
	// FindConsoleSession returns the session with secretHash, whether or not
	// it is still active, or ENOTFOUND.
	FindConsoleSession(ctx context.Context, secretHash string) (*ConsoleSession, error)
	// RevokeConsoleSession logs the session out: from now on it is not
	// Active anywhere. Revoking a revoked session keeps its first RevokedAt.
	// Returns ENOTFOUND if there is no such session.
	RevokeConsoleSession(ctx context.Context, secretHash string) error
	// DeleteExpiredConsoleSessions removes the sessions that expired before
	// t (revoked or not) and returns how many it removed.
	DeleteExpiredConsoleSessions(ctx context.Context, t time.Time) (int, error)
}
