package postgres_test

import (
	"testing"

	"github.com/autodebit/autodebit"
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
