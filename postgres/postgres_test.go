package postgres_test

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/postgres"
	"github.com/autodebit/autodebit/sqldb"
	"github.com/autodebit/autodebit/storetest"
)

// testURL returns the test database URL, skipping (failing under CI=true)
// without one.
func testURL(tb testing.TB) string { return storetest.PostgresURL(tb) }

// MustOpen opens a store for the conformance suite.
func MustOpen(tb testing.TB) autodebit.Store {
	tb.Helper()
	return mustOpen(tb, storetest.Config())
}

func mustOpen(tb testing.TB, cfg sqldb.Config) *sqldb.Store { return storetest.OpenPostgres(tb, cfg) }

func TestStore(t *testing.T) {
	testURL(t)
	storetest.Run(t, MustOpen)
}

func TestRiver(t *testing.T) {
	testURL(t)
	storetest.RunRiver(t, mustOpen)
}

// A search_path naming no existing schema is refused with an error that
// says so, and nothing is created.
func TestOpen_MissingSchema(t *testing.T) {
	u, err := url.Parse(testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	schema := "missing_" + autodebit.NewID("")
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	_, err = postgres.Open(context.Background(), u.String(), storetest.Config())
	if err == nil || !strings.Contains(err.Error(), "no schema of the search_path") || !strings.Contains(err.Error(), schema) {
		t.Fatalf("Open with search_path=%s: %v, want an error naming the missing schema", schema, err)
	}
	db, err := sql.Open("pgx", testURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema).Scan(&n); err != nil || n != 0 {
		t.Fatalf("schema %s: count %d, %v; want none created", schema, n, err)
	}
}
