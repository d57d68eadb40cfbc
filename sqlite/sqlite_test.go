package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/sqldb"
	"github.com/autodebit/autodebit/sqlite"
	"github.com/autodebit/autodebit/storetest"
)

// MustOpen opens a new store in a temporary directory, closed at cleanup.
func MustOpen(tb testing.TB) autodebit.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "autodebit.db"), storetest.Config())
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

func TestStore(t *testing.T) {
	storetest.Run(t, MustOpen)
}

func TestRiver(t *testing.T) {
	storetest.RunRiver(t, func(tb testing.TB, cfg sqldb.Config) *sqldb.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "autodebit.db"), cfg)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	})
}
