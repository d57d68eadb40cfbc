package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/sqldb"
)

func testConsoleSession(t *testing.T, open opener) {
	ctx := context.Background()
	hash := func(c string) string { return strings.Repeat(c, 64) }

	t.Run("CreateFindRevoke", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		sess := &autodebit.ConsoleSession{SecretHash: hash("a"), CreatedAt: t0, ExpiresAt: t0.Add(12 * time.Hour)}
		if err := s.CreateConsoleSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		got, err := s.FindConsoleSession(ctx, sess.SecretHash)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, sess)
		if !got.Active(t0) || got.Active(t0.Add(12*time.Hour)) {
			t.Fatalf("Active at creation %v, at expiry %v; want true, false", got.Active(t0), got.Active(t0.Add(12*time.Hour)))
		}

		if err := s.RevokeConsoleSession(ctx, sess.SecretHash); err != nil {
			t.Fatal(err)
		}
		got, err = s.FindConsoleSession(ctx, sess.SecretHash)
		if err != nil {
			t.Fatal(err)
		} else if got.RevokedAt.IsZero() || got.Active(t0) {
			t.Fatalf("revoked session: RevokedAt=%v Active=%v, want set and false", got.RevokedAt, got.Active(t0))
		}
		// Revoking again keeps the first time.
		first := got.RevokedAt
		if err := s.RevokeConsoleSession(ctx, sess.SecretHash); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.FindConsoleSession(ctx, sess.SecretHash); !got.RevokedAt.Equal(first) {
			t.Fatalf("RevokedAt moved from %v to %v", first, got.RevokedAt)
		}

		// Another Store on the same database (another engine process) sees
		// the revocation: nothing is cached in the Store.
		other, err := sqldb.New(s.DB(), s.Dialect(), s.RiverDriver(), Config())
		if err != nil {
			t.Fatal(err)
		}
		if got, err := other.FindConsoleSession(ctx, sess.SecretHash); err != nil || got.Active(t0) {
			t.Fatalf("other store: %+v, %v; want the revoked session", got, err)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		_, err := s.FindConsoleSession(ctx, hash("b"))
		wantCode(t, err, autodebit.ENOTFOUND)
		wantCode(t, s.RevokeConsoleSession(ctx, hash("b")), autodebit.ENOTFOUND)
	})

	t.Run("Conflict", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		sess := &autodebit.ConsoleSession{SecretHash: hash("c"), ExpiresAt: t0.Add(time.Hour)}
		if err := s.CreateConsoleSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if sess.CreatedAt.IsZero() {
			t.Fatal("CreatedAt not set")
		}
		again := &autodebit.ConsoleSession{SecretHash: hash("c"), ExpiresAt: t0.Add(2 * time.Hour)}
		wantCode(t, s.CreateConsoleSession(ctx, again), autodebit.ECONFLICT)
		if got, _ := s.FindConsoleSession(ctx, hash("c")); !got.ExpiresAt.Equal(sess.ExpiresAt) {
			t.Fatalf("ExpiresAt=%v after a refused create, want %v", got.ExpiresAt, sess.ExpiresAt)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for _, sess := range []*autodebit.ConsoleSession{
			{ExpiresAt: t0},
			{SecretHash: strings.Repeat("d", 129), ExpiresAt: t0},
			{SecretHash: hash("d")},
			{SecretHash: hash("d"), ExpiresAt: t0, RevokedAt: t0},
		} {
			wantCode(t, s.CreateConsoleSession(ctx, sess), autodebit.EINVALID)
		}
		if n := countRows(t, s, "console_sessions"); n != 0 {
			t.Fatalf("%d sessions stored, want 0", n)
		}
	})

	t.Run("DeleteExpired", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for i, exp := range []time.Time{t0.Add(-time.Hour), t0.Add(-time.Microsecond), t0, t0.Add(time.Hour)} {
			sess := &autodebit.ConsoleSession{SecretHash: hash(string(rune('e' + i))), CreatedAt: t0.Add(-2 * time.Hour), ExpiresAt: exp}
			if err := s.CreateConsoleSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
		}
		// A revoked session goes when it expires, like any other.
		if err := s.RevokeConsoleSession(ctx, hash("f")); err != nil {
			t.Fatal(err)
		}
		n, err := s.DeleteExpiredConsoleSessions(ctx, t0)
		if err != nil || n != 2 {
			t.Fatalf("deleted %d (%v), want 2", n, err)
		}
		for c, want := range map[string]string{"e": autodebit.ENOTFOUND, "f": autodebit.ENOTFOUND, "g": "", "h": ""} {
			_, err := s.FindConsoleSession(ctx, hash(c))
			wantCode(t, err, want)
		}
	})
}

// countRows counts the rows of table, bypassing the store.
func countRows(tb testing.TB, s *sqldb.Store, table string) int {
	tb.Helper()
	var n int
	if err := s.DB().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		tb.Fatalf("count %s: %v", table, err)
	}
	return n
}
