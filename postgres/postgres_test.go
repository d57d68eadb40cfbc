package postgres_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"testing"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/postgres"
	"github.com/autodebit/autodebit/sqldb"
	"github.com/autodebit/autodebit/storetest"
)

// testURL returns AUTODEBIT_TEST_POSTGRES_URL. Without it the test skips,
// except under CI=true, where PostgreSQL must be tested and it fails.
func testURL(tb testing.TB) string {
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

// MustOpen opens a store for the conformance suite.
func MustOpen(tb testing.TB) autodebit.Store {
	tb.Helper()
	return mustOpen(tb, storetest.Config())
}

// mustOpen opens a store in a new schema of the test database, dropped at
// cleanup, so that tests run in parallel without sharing state.
func mustOpen(tb testing.TB, cfg sqldb.Config) *sqldb.Store {
	tb.Helper()
	ctx := context.Background()
	base := testURL(tb)
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
	s, err := postgres.Open(ctx, u.String(), cfg)
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

func TestStore(t *testing.T) {
	testURL(t)
	storetest.Run(t, MustOpen)
}

func TestRiver(t *testing.T) {
	testURL(t)
	storetest.RunRiver(t, mustOpen)
}
