// Package sqldb is the database/sql implementation of autodebit.Store,
// shared by SQLite and PostgreSQL. The sqlite and postgres packages open the
// database with the right driver and settings, run the migrations, and
// return a *Store from New.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/riverqueue/river/riverdriver"
)

// EnqueueFunc inserts jobs in the transaction tx. The jobs package passes a
// function over River's InsertManyFastTx.
type EnqueueFunc func(ctx context.Context, tx *sql.Tx, jobs []autodebit.Job) error

// Config configures a Store.
type Config struct {
	// TokenKey encrypts secrets at rest (access tokens, refresh tokens,
	// authCodes) with AES-256-GCM and keys the access token lookup hash.
	// Required; exactly TokenKeySize bytes. Changing it makes existing
	// secrets unreadable.
	TokenKey []byte

	// EnqueueFunc inserts jobs in a transaction. Nil means Tx.Enqueue
	// returns an error.
	EnqueueFunc EnqueueFunc

	// NowFunc returns the current time for CreatedAt and UpdatedAt. Nil
	// means time.Now.
	NowFunc func() time.Time
}

// Store is an autodebit.Store on a *sql.DB. It is safe for concurrent use.
// Create it with New (or sqlite.Open, postgres.Open).
type Store struct {
	reader
	db          *sql.DB
	dialect     Dialect
	riverDriver riverdriver.Driver[*sql.Tx]
	secrets     *secrets
	enqueue     EnqueueFunc
	now         func() time.Time
}

var _ autodebit.Store = (*Store)(nil)

// New returns a Store on db, whose schema must be migrated already. The
// River driver is kept for RiverDriver; it is not used by the Store itself.
func New(db *sql.DB, dialect Dialect, riverDriver riverdriver.Driver[*sql.Tx], cfg Config) (*Store, error) {
	sec, err := newSecrets(cfg.TokenKey)
	if err != nil {
		return nil, fmt.Errorf("new store: %w", err)
	}
	s := &Store{
		db:          db,
		dialect:     dialect,
		riverDriver: riverDriver,
		secrets:     sec,
		enqueue:     cfg.EnqueueFunc,
		now:         cfg.NowFunc,
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.reader = reader{s: s, q: db}
	return s, nil
}

// DB returns the database the Store uses, for the jobs package's River client.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect returns the database the Store runs on.
func (s *Store) Dialect() Dialect { return s.dialect }

// RiverDriver returns the River driver on the same database, whose River
// tables are migrated by sqlite.Open and postgres.Open.
func (s *Store) RiverDriver() riverdriver.Driver[*sql.Tx] { return s.riverDriver }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Close closes the database. The Store must not be used afterwards.
func (s *Store) Close() error {
	return s.db.Close()
}

// WithTx implements autodebit.Store. On SQLite the transaction is BEGIN
// IMMEDIATE: it takes the write lock when it starts.
func (s *Store) WithTx(ctx context.Context, fn func(tx autodebit.Tx) error) (err error) {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			sqlTx.Rollback()
			panic(p)
		}
	}()
	tx := &tx{reader: reader{s: s, q: sqlTx}, tx: sqlTx}
	if err := fn(tx); err != nil {
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("roll back transaction: %w", rbErr))
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// queryer is what reader needs from *sql.DB and *sql.Tx.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader implements autodebit.Reader on the database or on a transaction.
type reader struct {
	s *Store
	q queryer
}

// tx implements autodebit.Tx.
type tx struct {
	reader
	tx *sql.Tx
}

var _ autodebit.Tx = (*tx)(nil)

// Enqueue implements autodebit.Tx.
func (t *tx) Enqueue(ctx context.Context, jobs ...autodebit.Job) error {
	if len(jobs) == 0 {
		return nil
	} else if t.s.enqueue == nil {
		return fmt.Errorf("enqueue %d jobs (first %s): no EnqueueFunc configured", len(jobs), jobs[0].Args.Kind())
	}
	if err := t.s.enqueue(ctx, t.tx, jobs); err != nil {
		return fmt.Errorf("enqueue %d jobs (first %s): %w", len(jobs), jobs[0].Args.Kind(), err)
	}
	return nil
}

// nowUTC returns the Store's current time as it will be stored.
func (s *Store) nowUTC() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// notFound translates sql.ErrNoRows into ENOTFOUND with msg.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return autodebit.Errorf(autodebit.ENOTFOUND, format, args...)
	}
	return err
}

// casFailed explains why a compare-and-set UPDATE of table's row id matched
// no row: it does not exist (ENOTFOUND), its version moved on (ECONFLICT),
// or its status could not make the requested change (ECONFLICT).
func (r reader) casFailed(ctx context.Context, table, noun, id string, version int64, to string) error {
	var status string
	var current int64
	err := r.q.QueryRowContext(ctx, "SELECT status, version FROM "+table+" WHERE id = $1", id).Scan(&status, &current)
	if errors.Is(err, sql.ErrNoRows) {
		return autodebit.Errorf(autodebit.ENOTFOUND, "%s %s not found.", noun, id)
	} else if err != nil {
		return fmt.Errorf("check %s %s after failed update: %w", noun, id, err)
	} else if current != version {
		return autodebit.Errorf(autodebit.ECONFLICT, "%s %s was changed concurrently; read it again and retry.", noun, id)
	}
	return autodebit.Errorf(autodebit.ECONFLICT, "%s %s cannot go from %s to %s.", noun, id, status, to)
}

// insertErr translates a failed INSERT: a unique violation is ECONFLICT.
func insertErr(err error, noun, id string) error {
	if isUniqueViolation(err) {
		return autodebit.Errorf(autodebit.ECONFLICT, "%s already exists (a unique identifier or idempotency key is taken).", noun)
	}
	return fmt.Errorf("insert %s %s: %w", noun, id, err)
}

// count runs a SELECT COUNT(*) query.
func (r reader) count(ctx context.Context, query string, args []any) (int, error) {
	var n int
	if err := r.q.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, err
	}
	return n, nil
}

// statusIn returns "status IN ($n, …)" for statuses, numbering placeholders
// after the n-1 arguments already in args, and the extended args.
func statusIn(args []any, statuses []string) (string, []any) {
	ph := make([]string, len(statuses))
	for i, st := range statuses {
		args = append(args, st)
		ph[i] = "$" + strconv.Itoa(len(args))
	}
	return "status IN (" + strings.Join(ph, ", ") + ")", args
}

// sources returns to and every status that may move to it: the statuses an
// UPDATE to status to may start from.
func sources[S ~string](all []S, can func(from, to S) bool, to S) []string {
	out := []string{string(to)}
	for _, from := range all {
		if can(from, to) {
			out = append(out, string(from))
		}
	}
	return out
}

// assignID returns id, or a new ID with prefix when id is empty. A caller
// may choose an object's ID up front (to record events against it before
// the object is stored); it must carry the object's prefix.
func assignID(id, prefix, noun string) (string, error) {
	if id == "" {
		return autodebit.NewID(prefix), nil
	}
	if !strings.HasPrefix(id, prefix) || !autodebit.IsRequestID(id) {
		return "", autodebit.Errorf(autodebit.EINVALID, "%s ID %q must start with %q and be 1 to 64 letters, digits, _ or -.", noun, id, prefix)
	}
	return id, nil
}

// collect scans every row with scan and closes rows.
// findDue returns up to limit rows of table where cond holds and whose
// time column at is before t, the longest overdue first: the work a sweep
// recovers. cond is literal SQL (it matches a partial index).
func findDue[T any](ctx context.Context, r reader, table, columns, cond, at string, t time.Time, limit int, scan func(scanner) (*T, error)) ([]*T, error) {
	if limit <= 0 {
		return nil, autodebit.Errorf(autodebit.EINVALID, "Limit must be positive.")
	}
	rows, err := r.q.QueryContext(ctx, "SELECT "+columns+" FROM "+table+" WHERE "+cond+" AND "+at+" IS NOT NULL AND "+at+" < $1 ORDER BY "+at+" LIMIT $2",
		r.s.dialect.time(t), limit)
	if err != nil {
		return nil, fmt.Errorf("find due %s: %w", table, err)
	}
	out, err := collect(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("find due %s: %w", table, err)
	}
	return out, nil
}

// findPage returns one page of table's rows matching w, newest first (by
// creation time, then ID), and the number of all matches; noun names the
// rows in errors.
func findPage[T any](ctx context.Context, r reader, table, columns, noun string, w where, limit, offset int, scan func(scanner) (*T, error)) ([]*T, int, error) {
	total, err := r.count(ctx, "SELECT COUNT(*) FROM "+table+w.String(), w.args)
	if err != nil {
		return nil, 0, fmt.Errorf("count %s: %w", noun, err)
	}
	page, args := w.page(limit, offset)
	rows, err := r.q.QueryContext(ctx, "SELECT "+columns+" FROM "+table+w.String()+" ORDER BY created_at DESC, id DESC"+page, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("find %s: %w", noun, err)
	}
	out, err := collect(rows, scan)
	if err != nil {
		return nil, 0, fmt.Errorf("find %s: %w", noun, err)
	}
	return out, total, nil
}

func collect[T any](rows *sql.Rows, scan func(scanner) (*T, error)) ([]*T, error) {
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
