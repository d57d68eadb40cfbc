package main

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/chaos"
	"github.com/autodebit/autodebit/storetest"
)

// selfCommand runs this test binary as `autodebit args…` (see TestMain).
func selfCommand(args []string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "AUTODEBIT_TEST_EXEC=1")
	return cmd
}

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos starts child processes and takes about a minute")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "chaos.db")
	rep := runChaos(t, chaos.Config{DB: "sqlite:" + db, Dir: dir, Charges: 50, Concurrency: 4, Kills: 1, Tokens: 4, Seed: 42})
	files := []string{db, db + "-wal", rep.LogFile}
	assertNoSecrets(t, rep.AccessTokens, files...)
}

// TestChaos_Postgres runs a small chaos run on PostgreSQL and greps a
// pg_dump of its schema and the engine's log for every access token.
func TestChaos_Postgres(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos starts child processes")
	}
	dsn := storetest.PostgresSchemaURL(t)
	dir := t.TempDir()
	rep := runChaos(t, chaos.Config{DB: dsn, Dir: dir, Charges: 20, Concurrency: 4, Kills: 1, Tokens: 3, Seed: 7})
	dump := filepath.Join(dir, "dump.sql")
	out, err := exec.Command(pgDump(t), "--no-owner", "--file", dump, "--dbname", dsnWithoutSearchPath(t, dsn), "--schema", searchPath(t, dsn)).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(dump); !bytes.Contains(b, []byte("charges")) {
		t.Fatalf("pg_dump wrote no charges table:\n%.500s", b)
	}
	assertNoSecrets(t, rep.AccessTokens, dump, rep.LogFile)
}

func runChaos(t *testing.T, cfg chaos.Config) *chaos.Report {
	t.Helper()
	cfg.Command = selfCommand
	var progress bytes.Buffer
	cfg.Out = &progress
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := chaos.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("chaos: %v\n%s", err, progress.String())
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	t.Logf("\n%s", table.String())
	if !rep.OK() {
		t.Fatalf("chaos found divergences:\n%s\n%s", table.String(), progress.String())
	}
	if rep.Charges != cfg.Charges || rep.Kills != cfg.Kills || rep.Tokens != cfg.Tokens {
		t.Fatalf("report = %d charges, %d kills, %d tokens; want %d, %d, %d", rep.Charges, rep.Kills, rep.Tokens, cfg.Charges, cfg.Kills, cfg.Tokens)
	}
	if rep.Faults["notify.drop"] == 0 || rep.Faults["api.unknown"] == 0 {
		t.Fatalf("faults = %v, want drops and U answers injected", rep.Faults)
	}
	// Every event reached the run's own webhook receiver despite its
	// faults and the kills; two tokens were ended, so token events too.
	faults := rep.Receiver.Faults["5xx"] + rep.Receiver.Faults["timeout"] + rep.Receiver.Faults["slow"]
	if e := rep.Events; e.Produced < cfg.Charges || e.Delivered != e.Produced || e.Expected != e.Produced || faults == 0 ||
		rep.TokensEnded != 2 || e.ByType["token.revoked"] != 2 || e.ByType["authorization.active"] != cfg.Tokens {
		t.Fatalf("events = %+v, receiver faults %v, tokens ended %d; want every event delivered despite faults", e, rep.Receiver.Faults, rep.TokensEnded)
	}
	if len(rep.AccessTokens) < cfg.Tokens {
		t.Fatalf("%d access tokens in the truth, want %d", len(rep.AccessTokens), cfg.Tokens)
	}
	return rep
}

// assertNoSecrets fails if any file holds any of the secrets.
func assertNoSecrets(t *testing.T, secrets []string, files ...string) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) && strings.HasSuffix(f, "-wal") {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			t.Fatalf("%s is empty: nothing was checked", f)
		}
		for _, s := range secrets {
			if s == "" {
				t.Fatal("an empty access token in the truth")
			}
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s contains an access token in clear", f)
			}
		}
	}
}

func pgDump(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("pg_dump"); err == nil {
		return p
	}
	ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	if len(ms) == 0 {
		t.Fatal("pg_dump not found (install postgresql-client)")
	}
	return ms[len(ms)-1]
}

func searchPath(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("search_path")
}

func dsnWithoutSearchPath(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("search_path")
	u.RawQuery = q.Encode()
	return u.String()
}
