// Package sqlite opens the embedded SQLite store: modernc.org/sqlite (pure
// Go) in WAL mode, with the autodebit and River schemas migrated.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	msqlite "modernc.org/sqlite"

	"github.com/autodebit/autodebit/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// BusyTimeoutMS is how long a connection waits for another process's write
// lock before failing with SQLITE_BUSY.
const BusyTimeoutMS = 10000

// Open opens (creating if needed) the SQLite database at path, migrates the
// autodebit and River schemas, and returns the store. Close the store to
// close the database.
//
// The database is in WAL mode with synchronous=NORMAL (a committed
// transaction survives a process crash; the last ones may be lost on power
// loss), foreign keys on, and every transaction BEGIN IMMEDIATE, so that a
// transaction that reads and then writes never fails to upgrade its lock.
//
// The pool has one connection, as River's riversqlite driver recommends:
// SQLite runs one writer at a time anyway, and a single connection makes the
// store, River's producers and River's maintenance queue in Go instead of
// failing with SQLITE_BUSY. Therefore never use the Store's own methods
// inside WithTx (use the Tx), and keep transactions short. Another process
// on the same file waits up to BusyTimeoutMS for the lock.
//
// The returned store's RiverDriver is riversqlite on the same pool.
func Open(ctx context.Context, path string, cfg sqldb.Config) (*sqldb.Store, error) {
	if path == "" {
		return nil, errors.New("open sqlite: empty path")
	} else if strings.ContainsAny(path, "?#") || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open sqlite %q: want a plain file path", path)
	}
	// Create the file readable by its owner only; SQLite gives its -wal and
	// -shm files the database's permissions.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	f.Close()
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeoutMS))
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	db := sql.OpenDB(cachingConnector{dsn: path + "?" + q.Encode(), drv: &msqlite.Driver{}})
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)

	store, err := open(ctx, db, cfg)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return store, nil
}

func open(ctx context.Context, db *sql.DB, cfg sqldb.Config) (*sqldb.Store, error) {
	if err := db.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("ping: %w", err)
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("new migration provider: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return nil, fmt.Errorf("migrate autodebit schema: %w", err)
	}
	driver := riversqlite.New(db)
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("new river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("migrate river schema: %w", err)
	}
	return sqldb.New(db, sqldb.SQLite, driver, cfg)
}
