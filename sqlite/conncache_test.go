package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/autodebit/autodebit/sqldb"
)

// The connection keeps each single statement it ran prepared, runs a query
// whose statement is still reading rows unprepared beside it, and runs
// scripts as before.
func TestConnCache(t *testing.T) {
	ctx := context.Background()
	db := openStore(t).DB()
	cached := func() map[string]bool { return cachedStatements(t, db) }
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

// scanStatement counts what SQLite binds, not each "?" in the text, and
// finds scripts by a semicolon outside comments, quotes and [names]. River's job
// completion uses ?1 ten times over and has a semicolon in a comment: it was
// parsed anew for every job until both were read this way.
func TestScanStatement(t *testing.T) {
	for q, want := range map[string]struct {
		params int
		script bool
	}{
		"SELECT 1":                                    {0, false},
		"SELECT ?":                                    {1, false},
		"SELECT ?, ?, ?":                              {3, false},
		"SELECT ?1, ?1, ?2, ?1":                       {2, false},
		"SELECT ?12 WHERE a = ?1":                     {12, false},
		"SELECT ?, ?5":                                {5, false},
		"SELECT '?', \"?\" -- ? ; ? ?\n, ?":           {1, false},
		"SELECT /* ? ?9; */ ?2":                       {2, false},
		"SELECT 'it''s ?;', ?":                        {1, false},
		"SELECT ?99999999999999999999":                {maxCachedParams + 1, false},
		"SELECT 1 /* an unterminated comment ? ? ?":   {0, false},
		"SELECT 1; SELECT ?":                          {1, true},
		"SELECT $1, $2, $1":                           {2, false},
		"SELECT :a, @b, :a, ?":                        {3, false},
		"SELECT ?5, :a":                               {6, false},
		"SELECT a$b, x:y, ::":                         {0, false},
		"SELECT [a'b]; SELECT 'c'":                    {0, true},
		"SELECT 1 AS [--]; INSERT INTO zz VALUES (7)": {0, true},
		"SELECT 1 AS [it's], ? -- '":                  {1, false},
		"CREATE TABLE a (n); -- done":                 {0, true},
	} {
		if n, script := scanStatement(q); n != want.params || script != want.script {
			t.Errorf("scanStatement(%q) = %d, %v; want %d, %v", q, n, script, want.params, want.script)
		}
	}
	named := "SELECT "
	for i := range maxCachedParams + 1 {
		named += fmt.Sprintf(":a%d, ", i)
	}
	if named += "1"; cacheable(named) {
		t.Errorf("a statement of %d named parameters is cacheable", maxCachedParams+1)
	}
	if long := "UPDATE t SET a = CASE WHEN ?1 THEN ?2 ELSE ?1 END" + strings.Repeat(", b = ?1", 40) + " -- once; twice\n WHERE id = ?3"; !cacheable(long) {
		t.Errorf("a statement repeating ?1 %d times, with a semicolon in a comment, is not cacheable", strings.Count(long, "?1"))
	}
}

type noopArgs struct{}

func (noopArgs) Kind() string { return "conncache_noop" }

type noopWorker struct{ river.WorkerDefaults[noopArgs] }

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

// The statements River runs for every job, fetching it and recording its
// completion, are kept prepared: on the webhook path, parsing the
// completion anew for each delivery was a tenth of the engine's CPU.
func TestConnCacheKeepsRiversJobStatements(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	workers := river.NewWorkers()
	river.AddWorker(workers, noopWorker{})
	client, err := river.NewClient(store.RiverDriver(), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}},
		Workers:           workers,
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		Logger:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer client.Stop(ctx)
	for range 3 {
		if _, err := client.Insert(ctx, noopArgs{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := store.DB().QueryRowContext(ctx, "SELECT count(*) FROM river_job WHERE state = 'completed'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 3 jobs completed after 10s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	kept := map[string]bool{}
	for q := range cachedStatements(t, store.DB()) {
		for _, name := range []string{"JobGetAvailable", "JobSetStateIfRunning"} {
			if strings.Contains(q, "-- name: "+name+" ") {
				kept[name] = true
			}
		}
	}
	for _, name := range []string{"JobGetAvailable", "JobSetStateIfRunning"} {
		if !kept[name] {
			t.Errorf("River's %s statement is not kept prepared", name)
		}
	}
}

// openStore opens a new, migrated store in a temporary directory, closed
// when the test ends.
func openStore(t *testing.T) *sqldb.Store {
	t.Helper()
	store, err := Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqldb.Config{TokenKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// cachedStatements returns the statements one of db's connections keeps
// prepared, each with whether it is busy.
func cachedStatements(t *testing.T, db *sql.DB) map[string]bool {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	out := map[string]bool{}
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
