// Package postgres opens the PostgreSQL store through pgx's database/sql
// driver, with the autodebit and River schemas migrated.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/autodebit/autodebit/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// MaxOpenConns is the pool size Open sets. Change it with
// store.DB().SetMaxOpenConns.
const MaxOpenConns = 20

// Open connects to the PostgreSQL database at dsn (a postgres:// URL or
// key=value string as pgx accepts, e.g. with search_path to use a schema
// other than public), migrates the autodebit and River schemas, and returns
// the store. Close the store to close the pool.
//
// Several processes may Open the same database at once: migrations run under
// a session advisory lock per schema. Transactions are READ COMMITTED; the
// store's row locks (SELECT … FOR UPDATE) and compare-and-set updates make
// that safe. The returned store's RiverDriver is riverdatabasesql on the same
// pool.
func Open(ctx context.Context, dsn string, cfg sqldb.Config) (*sqldb.Store, error) {
	if dsn == "" {
		return nil, errors.New("open postgres: empty connection string")
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(MaxOpenConns)
	db.SetMaxIdleConns(MaxOpenConns)
	db.SetConnMaxIdleTime(5 * time.Minute)

	store, err := open(ctx, db, cfg)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return store, nil
}

func open(ctx context.Context, db *sql.DB, cfg sqldb.Config) (*sqldb.Store, error) {
	if err := db.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("ping: %w", err)
	}
	// current_schema() is NULL when no schema of the search_path exists:
	// say so, rather than fail in the first migration with PostgreSQL's
	// "no schema has been selected to create in".
	var schema sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return nil, fmt.Errorf("read the current schema: %w", err)
	} else if !schema.Valid {
		var path string
		if err := db.QueryRowContext(ctx, "SHOW search_path").Scan(&path); err != nil {
			return nil, fmt.Errorf("read the search_path: %w", err)
		}
		return nil, fmt.Errorf("no schema of the search_path %q exists in this database: create it first (CREATE SCHEMA …), or name an existing one in the URL's search_path", path)
	}
	driver := riverdatabasesql.New(db)
	if err := migrate(ctx, db, driver); err != nil {
		return nil, err
	}
	return sqldb.New(db, sqldb.Postgres, driver, cfg)
}

// migrate runs both schemas' migrations holding an advisory lock keyed by
// the current schema, so that concurrent starts apply each migration once.
func migrate(ctx context.Context, db *sql.DB, driver *riverdatabasesql.Driver) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migration lock connection: %w", err)
	}
	defer conn.Close()
	const key = "hashtext('autodebit migrate ' || current_schema())"
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock("+key+")"); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		if _, unlockErr := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock("+key+")"); unlockErr != nil {
			err = errors.Join(err, fmt.Errorf("release migration lock: %w", unlockErr))
		}
	}()

	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("new migration provider: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate autodebit schema: %w", err)
	}
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("new river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate river schema: %w", err)
	}
	return nil
}
