package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/autodebit/autodebit/chaos"
)

// TestChaos_Subscriptions runs a small chaos run with the renewal phase:
// subscriptions renewing and retrying across faults, an account short of
// money until topped up, and kills. Every period is paid at most once
// against the simulator's truth, and the short account's periods recover.
func TestChaos_Subscriptions(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos starts child processes and takes about a minute")
	}
	dir := t.TempDir()
	cfg := chaos.Config{DB: "sqlite:" + filepath.Join(dir, "chaos.db"), Dir: dir, Charges: 8, Concurrency: 4, Kills: 1, Tokens: 4,
		Subscriptions: 12, Seed: 13, Command: selfCommand}
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
	s := rep.Subscriptions
	if !rep.OK() || s == nil {
		t.Fatalf("chaos found divergences:\n%s\n%s", table.String(), progress.String())
	}
	if s.Subscriptions != 12 || s.ByStatus["completed"] != 12 || s.Kills != 1 || s.Renewals < 12 || s.Retries == 0 {
		t.Fatalf("renewal phase: %+v; want 12 completed, retries (one account was short), one kill\n%s", s, progress.String())
	}
	if s.PeriodsPaid < 9 {
		t.Fatalf("%d of 12 periods paid: the short account's retries did not recover after the top-up\n%s", s.PeriodsPaid, table.String())
	}
}
