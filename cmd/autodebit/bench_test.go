package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/bench"
	_ "modernc.org/sqlite"
)

func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("bench starts child processes")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, bench.Config{
		Command: selfCommand, DB: "sqlite:" + filepath.Join(dir, "bench.db"), Dir: dir,
		Tokens: 2, Concurrency: 2, Duration: time.Second, NotifyDuration: 500 * time.Millisecond, SeedCharges: 2000, Webhook: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.WriteTable(&out)
	t.Logf("\n%s", out.String())
	switch {
	case rep.Charges == 0 || rep.Errors != 0 || rep.ChargesPerSec <= 0:
		t.Fatalf("charges = %d, errors %d, %.1f/s", rep.Charges, rep.Errors, rep.ChargesPerSec)
	case !(rep.LatencyP50Ms > 0 && rep.LatencyP50Ms <= rep.LatencyP95Ms && rep.LatencyP95Ms <= rep.LatencyP99Ms):
		t.Fatalf("latency p50/p95/p99 = %v/%v/%v", rep.LatencyP50Ms, rep.LatencyP95Ms, rep.LatencyP99Ms)
	case rep.SignMs <= 0 || rep.SignMs > 100 || rep.VerifyMs <= 0 || rep.PhaseSignMs <= 0 || rep.PhaseSignMs > 100:
		t.Fatalf("sign %v ms (%v ms during the phase), verify %v ms", rep.SignMs, rep.PhaseSignMs, rep.VerifyMs)
	case rep.Engine.CPUPerCharge <= 0 || rep.Sim.CPUPerCharge <= 0 || rep.Engine.SignsPerCharge <= 0:
		t.Fatalf("CPU per charge: engine %+v, simulator %+v", rep.Engine, rep.Sim)
	case rep.Engine.PeakRSSMB < 5 || rep.Engine.PeakRSSMB > 2000 || rep.Sim.PeakRSSMB < 5:
		t.Fatalf("peak RSS engine %v MB, simulator %v MB", rep.Engine.PeakRSSMB, rep.Sim.PeakRSSMB)
	case rep.Notifications == 0 || rep.NotifyErrors != 0 || rep.NotifyPerSec <= 0:
		t.Fatalf("notifications %d acked, %d errors", rep.Notifications, rep.NotifyErrors)
	case rep.AuthToTokenP50 <= 0 || rep.AuthToTokenP99 < rep.AuthToTokenP50:
		t.Fatalf("authCode → token p50 %v p99 %v", rep.AuthToTokenP50, rep.AuthToTokenP99)
	case len(rep.Targets) != 7 || rep.CryptoBound <= 0 || !rep.Targets[1].Measured || rep.Targets[1].Got <= 0:
		t.Fatalf("targets %+v, bound %v", rep.Targets, rep.CryptoBound)
	case rep.Engine.AllocsPerCharge < 100 || rep.Engine.AllocBytesPerCharge < 10_000:
		// A charge decodes a request, signs, stores and answers: hundreds
		// of allocations, tens of KB.
		t.Fatalf("engine allocations per charge %.0f (%.0f bytes)", rep.Engine.AllocsPerCharge, rep.Engine.AllocBytesPerCharge)
	}
	// Each seeded charge came with its event.
	db, err := sql.Open("sqlite", filepath.Join(dir, "bench.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var seeded int
	if err := db.QueryRow(`SELECT count(*) FROM events e JOIN charges c ON c.id = e.object_id WHERE c.payment_request_id LIKE 'seed\_%' ESCAPE '\'`).Scan(&seeded); err != nil || seeded != 2000 {
		t.Fatalf("events of the seeded charges = %d, %v; want 2000", seeded, err)
	}
	// The webhook phase: each of its charges made one event, and the
	// receiver verified and accepted every one.
	switch wh := rep.Webhook; {
	case wh == nil:
		t.Fatal("no webhook phase in the report")
	case wh.Charges == 0 || wh.Errors != 0 || wh.ChargesPerSec <= 0 || wh.LatencyP50Ms <= 0:
		t.Fatalf("webhook phase: %d charges, %d errors, %.1f/s, p50 %v ms", wh.Charges, wh.Errors, wh.ChargesPerSec, wh.LatencyP50Ms)
	case !wh.AllReceived || wh.Events != wh.Charges || wh.Received != wh.Events || wh.BadSignatures != 0:
		t.Fatalf("webhook phase: %d events for %d charges, %d received, %d bad signatures", wh.Events, wh.Charges, wh.Received, wh.BadSignatures)
	case wh.Engine.CPUPerCharge <= 0 || wh.Engine.AllocsPerCharge <= rep.Engine.AllocsPerCharge || wh.DeliveryP50Ms <= 0 || wh.DeliveryP99Ms < wh.DeliveryP50Ms:
		t.Fatalf("webhook phase: engine %+v, delivery p50 %v p99 %v ms", wh.Engine, wh.DeliveryP50Ms, wh.DeliveryP99Ms)
	}
	for _, want := range []string{"charges/s", "PASS", "authCode → token", "with one webhook endpoint", "all received"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("table lacks %q", want)
		}
	}
}

// benchDir returns the temporary directory runBench named on stderr.
func benchDir(tb testing.TB, stderr string) string {
	tb.Helper()
	m := regexp.MustCompile(`bench: keys, logs and database in (\S+) `).FindStringSubmatch(stderr)
	if m == nil {
		tb.Fatalf("stderr does not say where the temporary files are:\n%s", stderr)
	}
	return m[1]
}

// TestBenchCommand runs `autodebit bench` as the CLI does, with stderr not a
// terminal: no progress bars, the temporary directory named, and removed at
// the end unless --keep.
func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("bench starts child processes")
	}
	cfg := bench.Config{Command: selfCommand, Tokens: 1, Concurrency: 1, Duration: 300 * time.Millisecond, NotifyDuration: 200 * time.Millisecond}
	for _, keep := range []bool{false, true} {
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err := runBench(ctx, cfg, benchOptions{keep: keep}, &stdout, &stderr)
		cancel()
		if err != nil {
			t.Fatalf("keep=%v: %v\n%s", keep, err, stderr.String())
		}
		for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			if !strings.HasPrefix(line, "bench: ") {
				t.Errorf("keep=%v: stderr is not a terminal, yet it got %q (a progress bar?)", keep, line)
			}
		}
		if !strings.Contains(stdout.String(), "charges/s") {
			t.Errorf("keep=%v: no table on stdout:\n%s", keep, stdout.String())
		}
		dir := benchDir(t, stderr.String())
		_, err = os.Stat(filepath.Join(dir, "engine.log"))
		switch {
		case keep && err != nil:
			t.Errorf("--keep: %v", err)
		case !keep && !errors.Is(err, fs.ErrNotExist):
			t.Errorf("without --keep %s is left behind (%v)", dir, err)
		}
		if keep {
			os.RemoveAll(dir)
		}
	}
}

// TestBenchCommand_KeepsFilesOnFailure checks that a failed run keeps its
// directory, and says so, since its logs explain the failure.
func TestBenchCommand_KeepsFilesOnFailure(t *testing.T) {
	t.Parallel()
	cfg := bench.Config{Command: func(args []string) *exec.Cmd { return exec.Command("false") }}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as after Ctrl-C: the run stops at its first wait
	var stdout, stderr bytes.Buffer
	if err := runBench(ctx, cfg, benchOptions{}, &stdout, &stderr); err == nil {
		t.Fatal("bench with children that exit at once succeeded")
	}
	dir := benchDir(t, stderr.String())
	defer os.RemoveAll(dir)
	if !strings.Contains(stderr.String(), "bench: kept "+dir+" for its logs") {
		t.Errorf("stderr does not say the directory was kept:\n%s", stderr.String())
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("failed run removed its directory: %v", err)
	}
}

func TestBench_FailOnMiss(t *testing.T) {
	t.Parallel()
	rep := &bench.Report{Targets: []bench.Target{
		{Name: "engine CPU per charge", Want: "≤ 1.3 RSA-2048 signs", Got: 1.5, Unit: "signs", Met: false, Measured: true},
		{Name: "engine peak RSS", Want: "≤ 150 MB", Got: 0, Unit: "MB", Met: false, Measured: false},
		{Name: "authCode → token p99", Want: "≤ 250 ms", Got: 40, Unit: "ms", Met: true, Measured: true},
	}}
	missed := rep.Missed()
	if len(missed) != 1 || missed[0].Name != "engine CPU per charge" {
		t.Fatalf("Missed() = %+v, want only the measured MISS", missed)
	}
	if err := missedError(missed); !strings.Contains(err.Error(), "engine CPU per charge 1.50 signs (want ≤ 1.3 RSA-2048 signs)") {
		t.Fatalf("error %q does not name the target and what it got", err)
	}
	rep.Targets = rep.Targets[1:]
	if m := rep.Missed(); len(m) != 0 {
		t.Fatalf("Missed() = %+v with every measured target met", m)
	}
}
