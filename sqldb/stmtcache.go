package sqldb

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds the statement cache; queries beyond it run
// unprepared. The store issues far fewer distinct queries than this.
const maxCachedStmts = 256

// stmtCache keeps one prepared statement per distinct query, so that SQLite
// parses each query once instead of on every call (parsing was a fifth of
// the store's CPU per charge). pgx already caches prepared statements per
// connection, so PostgreSQL does not use it.
//
// A query first seen inside a transaction cannot be prepared there: the
// SQLite pool has one connection, which the transaction holds. It runs
// unprepared and is prepared at the start of the next transaction, before
// that one takes the connection.
type stmtCache struct {
	db      *sql.DB
	mu      sync.RWMutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// lookup returns the prepared statement of query, or nil; a miss marks the
// query to be prepared by the next prepare.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.RLock()
	st := c.stmts[query]
	known := st != nil || c.pending[query]
	full := len(c.stmts)+len(c.pending) >= maxCachedStmts
	c.mu.RUnlock()
	if st == nil && !known && !full {
		c.mu.Lock()
		c.pending[query] = true
		c.mu.Unlock()
	}
	return st
}

// prepare prepares the pending queries. It must not be called by a
// goroutine that holds a connection (inside a transaction). A query that
// fails to prepare is dropped and keeps running unprepared.
func (c *stmtCache) prepare(ctx context.Context) {
	c.mu.Lock()
	queries := make([]string, 0, len(c.pending))
	for q := range c.pending {
		queries = append(queries, q)
		delete(c.pending, q)
	}
	c.mu.Unlock()
	// Prepare without the lock: preparing waits for a connection, and the
	// goroutine holding it may need the lock to look a query up.
	for _, q := range queries {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if c.stmts[q] == nil {
			c.stmts[q] = st
			st = nil
		}
		c.mu.Unlock()
		if st != nil {
			st.Close()
		}
	}
}

// close closes every prepared statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		st.Close()
		delete(c.stmts, q)
	}
}

// cachedQueryer runs queries through the cache, on the database or, when tx
// is set, in that transaction.
type cachedQueryer struct {
	c  *stmtCache
	q  queryer
	tx *sql.Tx
}

func (q cachedQueryer) stmt(ctx context.Context, query string) *sql.Stmt {
	st := q.c.lookup(query)
	if q.tx == nil {
		if st == nil {
			// Outside a transaction no connection is held: prepare now.
			q.c.prepare(ctx)
			st = q.c.lookup(query)
		}
		return st
	}
	if st == nil {
		return nil
	}
	return q.tx.StmtContext(ctx, st)
}

func (q cachedQueryer) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.q.ExecContext(ctx, query, args...)
}

func (q cachedQueryer) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.q.QueryContext(ctx, query, args...)
}

func (q cachedQueryer) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.q.QueryRowContext(ctx, query, args...)
}
