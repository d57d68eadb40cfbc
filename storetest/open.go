package storetest

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/postgres"
	"github.com/autodebit/autodebit/sqldb"
	"github.com/autodebit/autodebit/sqlite"
)

// Opener opens a fresh, empty store for one test; the store is closed and
// its data removed at cleanup.
type Opener struct {
	Name string
	Open func(tb testing.TB, cfg sqldb.Config) *sqldb.Store
}

// Openers returns the stores every engine-level test runs on: SQLite always,
// PostgreSQL when AUTODEBIT_TEST_POSTGRES_URL is set (see PostgresURL).
func Openers() []Opener {
	return []Opener{{"sqlite", OpenSQLite}, {"postgres", OpenPostgres}}
}

// OpenSQLite opens a store in a new SQLite file under tb.TempDir().
func OpenSQLite(tb testing.TB, cfg sqldb.Config) *sqldb.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "autodebit.db"), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// PostgresURL returns AUTODEBIT_TEST_POSTGRES_URL. Without it the test
// skips, except under CI=true, where PostgreSQL must be tested and it fails.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("AUTODEBIT_TEST_POSTGRES_URL")
	if u == "" {
		const why = "AUTODEBIT_TEST_POSTGRES_URL is not set (start a throwaway cluster with: eval \"$(scripts/pg-test.sh)\")"
		if os.Getenv("CI") == "true" {
			tb.Fatal(why + " and CI=true requires the PostgreSQL tests")
		}
		tb.Skip(why)
	}
	return u
}

// PostgresSchemaURL creates a new schema in the test database, dropped at
// cleanup, and returns a URL whose connections use it, so that tests run in
// parallel without sharing state.
func PostgresSchemaURL(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	base := PostgresURL(tb)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { admin.Close() })
	schema := "test_" + autodebit.NewID("")
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("AUTODEBIT_TEST_POSTGRES_URL must be a postgres:// URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenPostgres opens a store in a new schema of the test database.
func OpenPostgres(tb testing.TB, cfg sqldb.Config) *sqldb.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), PostgresSchemaURL(tb), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	s.DB().SetMaxOpenConns(10)
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}
