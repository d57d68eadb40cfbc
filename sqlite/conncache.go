package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"

	msqlite "modernc.org/sqlite"
)

// maxConnStmts bounds the statements one connection keeps prepared; past
// it, a new query runs unprepared. The store and River together issue a
// few hundred distinct queries.
const maxConnStmts = 1000

// cachingConnector opens modernc's connections wrapped in cachingConn: every
// single statement run through database/sql's Exec and Query (the store's and
// River's alike) is parsed once per connection and kept prepared. modernc's
// driver parses a query anew on each Exec or Query that was not prepared
// (parsing was a fifth of the store's CPU per charge), and River's SQLite
// driver rewrites its templates before each call, so a cache of the store's
// own queries (sqldb had one) cannot reach River's statements: on the webhook
// path SQLite spent a fifth of the engine's CPU parsing them.
type cachingConnector struct {
	dsn string
	drv *msqlite.Driver
}

func (c cachingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &cachingConn{Conn: conn, stmts: map[string]*connStmt{}}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.drv }

// cachingConn is a modernc connection that keeps each single statement it
// ran prepared. A statement still reading rows (an open Rows) is busy: the
// same query meanwhile runs unprepared, as before.
type cachingConn struct {
	driver.Conn
	mu    sync.Mutex
	stmts map[string]*connStmt
}

type connStmt struct {
	st   driver.Stmt
	busy bool
}

// maxCachedParams bounds the parameters of a statement kept prepared:
// River expands a list argument into one parameter per element, so each
// length of a long list would be a statement of its own, kept for ever.
const maxCachedParams = 32

// cacheable says whether query is one statement that can be kept prepared:
// a script (a migration) has a semicolon before its end and runs as before,
// and so does a statement with more than maxCachedParams parameters.
func cacheable(query string) bool {
	q := strings.TrimRight(query, " \t\r\n;")
	n, script := scanStatement(q)
	return q != "" && !script && n <= maxCachedParams
}

// scanStatement reads a statement's text as SQLite does, skipping comments,
// quoted text and [bracketed] names: script is a semicolon outside them
// (River's statements carry one in a comment), and params counts the
// parameters as SQLite numbers them (sqlite3ExprAssignVarNumber): a bare ?
// and each new :name, @name or $name take the next number, ?N is number N,
// and the count is the highest number (River's statements use ?1 ten times
// over and mention PostgreSQL's ? operator in a comment; the store's use $1
// and up). modernc's statements report no count of their own (NumInput is
// -1), so this is the only one.
func scanStatement(q string) (params int, script bool) {
	var names map[string]bool
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == ';':
			script = true
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				return params, script
			}
			i += j
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			j := strings.Index(q[i+2:], "*/")
			if j < 0 {
				return params, script
			}
			i += j + 3
		case c == '\'' || c == '"' || c == '`' || c == '[':
			end := c
			if c == '[' {
				end = ']'
			}
			j := strings.IndexByte(q[i+1:], end)
			if j < 0 {
				return params, script
			}
			i += j + 1 // a doubled quote reads as two quoted runs in a row: the same
		case c == '?':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			if j == i+1 {
				params++
			} else if k, err := strconv.Atoi(q[i+1 : j]); err == nil {
				params = max(params, k)
			} else {
				params = maxCachedParams + 1 // no such parameter: leave it to SQLite
			}
			i = j - 1
		case (c == ':' || c == '@' || c == '$') && (i == 0 || !isNameByte(q[i-1])):
			j := i + 1
			for j < len(q) && isNameByte(q[j]) {
				j++
			}
			if j == i+1 {
				continue
			}
			if names == nil {
				names = map[string]bool{}
			}
			if name := q[i:j]; !names[name] {
				names[name] = true
				params++
			}
			i = j - 1
		}
	}
	return params, script
}

// isNameByte reports whether c may continue a name (an identifier, or a
// parameter's name after its : @ or $); bytes of UTF-8 letters count, as
// in SQLite.
func isNameByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// take returns query's prepared statement, marked busy, or nil when it
// cannot be used now (busy, not cacheable, the cache full, or it failed
// to prepare: the caller runs the query unprepared, which reports the
// error).
func (c *cachingConn) take(ctx context.Context, query string) *connStmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.stmts[query]
	if !ok {
		// Read the text only once it is not kept: a hit costs a map lookup.
		if len(c.stmts) >= maxConnStmts || !cacheable(query) {
			return nil
		}
		st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
		if err != nil {
			return nil
		}
		s = &connStmt{st: st}
		c.stmts[query] = s
	}
	if s.busy {
		return nil
	}
	s.busy = true
	return s
}

func (c *cachingConn) give(s *connStmt) {
	c.mu.Lock()
	s.busy = false
	c.mu.Unlock()
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if s := c.take(ctx, query); s != nil {
		defer c.give(s)
		return s.st.(driver.StmtExecContext).ExecContext(ctx, args)
	}
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if s := c.take(ctx, query); s != nil {
		rows, err := s.st.(driver.StmtQueryContext).QueryContext(ctx, args)
		if err != nil {
			c.give(s)
			return nil, err
		}
		return &connRows{Rows: rows, done: func() { c.give(s) }}, nil
	}
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

// The rest is modernc's connection as it is.

// Unwrap returns modernc's connection, for its extras (backup, serialize,
// hooks) through sql.Conn.Raw.
func (c *cachingConn) Unwrap() driver.Conn { return c.Conn }

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *cachingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// Close closes the prepared statements, then the connection.
func (c *cachingConn) Close() error {
	c.mu.Lock()
	var errs []error
	for q, s := range c.stmts {
		errs = append(errs, s.st.Close())
		delete(c.stmts, q)
	}
	c.mu.Unlock()
	return errors.Join(append(errs, c.Conn.Close())...)
}

// connRows gives its statement back once closed.
type connRows struct {
	driver.Rows
	once sync.Once
	done func()
}

func (r *connRows) Close() error {
	err := r.Rows.Close()
	r.once.Do(r.done)
	return err
}

// The optional interfaces of modernc's rows, passed through so that
// database/sql sees the column types it did before.

func (r *connRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *connRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *connRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *connRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *connRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
