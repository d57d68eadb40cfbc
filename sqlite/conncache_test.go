package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autodebit/autodebit/sqldb"
)

// The connection keeps each single statement it ran prepared, runs a query
// whose statement is still reading rows unprepared beside it, and runs
// scripts as before.
func TestConnCache(t *testing.T) {
	ctx := context.Background()
	store, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"), sqldb.Config{TokenKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	db := store.DB()
	cached := func() map[string]bool {
		t.Helper()
		out := map[string]bool{}
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Raw(func(dc any) error {
			c := dc.(*cachingConn)
			c.mu.Lock()
			defer c.mu.Unlock()
			for q, s := range c.stmts {
				out[q] = s.busy
			}
			return nil
		})
		return out
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (n INTEGER); CREATE TABLE u (n INTEGER)"); err != nil {
		t.Fatal(err)
	}
	if _, ok := cached()["CREATE TABLE t (n INTEGER); CREATE TABLE u (n INTEGER)"]; ok {
		t.Fatal("a script was kept prepared")
	}
	const ins = "INSERT INTO t (n) VALUES (?)"
	for i := range 3 {
		if _, err := db.ExecContext(ctx, ins, i); err != nil {
			t.Fatal(err)
		}
	}
	const sel = "SELECT n FROM t ORDER BY n"
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	outer, err := tx.QueryContext(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for outer.Next() {
		var n int
		outer.Scan(&n)
		// The same query while its statement is busy reading: unprepared.
		var sum int
		if err := tx.QueryRowContext(ctx, "SELECT sum(n) FROM ("+sel+")").Scan(&sum); err != nil || sum != 3 {
			t.Fatalf("inner query: %d, %v", sum, err)
		}
		inner, err := tx.QueryContext(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for inner.Next() {
			k++
		}
		inner.Close()
		if k != 3 {
			t.Fatalf("the same query beside itself read %d rows, want 3", k)
		}
		got = append(got, n)
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2] != 2 {
		t.Fatalf("outer rows %v", got)
	}
	c := cached()
	if busy, ok := c[ins]; !ok || busy {
		t.Fatalf("insert cached %v busy %v", ok, busy)
	}
	if busy, ok := c[sel]; !ok || busy {
		t.Fatalf("select cached %v, still busy %v after its rows closed", ok, busy)
	}
	// A long list of parameters runs unprepared: each length would be a
	// statement kept for ever.
	long := "SELECT count(*) FROM t WHERE n IN (" + strings.TrimSuffix(strings.Repeat("?,", maxCachedParams+1), ",") + ")"
	args := make([]any, maxCachedParams+1)
	for i := range args {
		args[i] = i
	}
	var k int
	if err := db.QueryRowContext(ctx, long, args...).Scan(&k); err != nil || k != 3 {
		t.Fatalf("long IN list: %d, %v", k, err)
	}
	if _, ok := cached()[long]; ok {
		t.Fatal("a statement of more than maxCachedParams parameters was kept prepared")
	}
	// An error reads as before: no such table.
	var n int
	if err := db.QueryRowContext(ctx, "SELECT n FROM nope").Scan(&n); err == nil || err == sql.ErrNoRows {
		t.Fatalf("a query of a missing table: %v", err)
	}
}
