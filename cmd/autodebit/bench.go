package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit/bench"
)

func init() { commands = append(commands, newBenchCommand) }

// benchOptions are the flags of `autodebit bench` that are not bench.Config.
type benchOptions struct {
	jsonFile   string
	noProgress bool
	keep       bool
	failOnMiss bool
}

func newBenchCommand() *cobra.Command {
	var cfg bench.Config
	var opts benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure charges/s, latency, CPU per charge, RSS, notification ingestion and authCode → token latency",
		Long: `bench starts the simulator (autodebit sim) and the engine (autodebit serve) as
separate child processes, links --tokens wallets, creates charges at
--concurrency for --duration, then sends a burst of signed payment
notifications at the engine. It prints charges/s, latency percentiles, the CPU
seconds per charge of each process (from /proc) next to one RSA-2048 signature
timed in this run, peak RSS (VmHWM), verified notifications/s and authCode →
token latency, and PASS or MISS for each of the targets. With --fail-on-miss a
MISS makes it exit non-zero.

With --webhook (the default) it then registers one webhook endpoint, for every
event type, on a receiver of its own on 127.0.0.1 that verifies each
delivery's signature, runs the charge phase again for --duration, and prints
its charges/s, latency and CPU per charge (including delivering its events)
beside the first phase's, with the time from each event to its delivery. It
exits non-zero if the receiver did not get every event made meanwhile.

The keys, the child processes' logs and (without --db) the SQLite database go
into a new temporary directory, named on stderr at the start; it is removed
at the end unless --keep is given, and kept after a failure for its logs.
Progress bars are drawn only when stderr is a terminal.

With --server, --api-key, --sim and --sim-key it targets a running engine and
simulator instead (CPU and RSS are then not measured).`,
		Example: "  autodebit bench --tokens 20 --concurrency 8 --duration 30s --json bench.json --fail-on-miss",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			cfg.Command = func(args []string) *exec.Cmd { return exec.Command(exe, args...) }
			return runBench(cmd.Context(), cfg, opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DB, "db", "", "engine database: sqlite:PATH or a postgres:// URL (default: a new SQLite file in the temporary directory)")
	f.StringVar(&cfg.Server, "server", "", "URL of a running engine to measure instead of starting one")
	f.StringVar(&cfg.APIKey, "api-key", "", "operator API key of --server")
	f.StringVar(&cfg.SimURL, "sim", "", "URL of the simulator --server talks to")
	f.StringVar(&cfg.SimKey, "sim-key", "", "control key of --sim (autodebit sim prints it)")
	f.IntVar(&cfg.Tokens, "tokens", 20, "wallets to link")
	f.IntVar(&cfg.Concurrency, "concurrency", 0, "charges in flight (default 2 × cores)")
	f.DurationVar(&cfg.Duration, "duration", 20*time.Second, "length of the charge phase")
	f.DurationVar(&cfg.NotifyDuration, "notify-duration", 3*time.Second, "length of the notification burst")
	f.IntVar(&cfg.SeedCharges, "seed-charges", 0, "final charges, each with its event, inserted into the database before the engine starts")
	f.BoolVar(&cfg.Webhook, "webhook", true, "also charge for --duration with one webhook endpoint receiving and verifying every event, and compare")
	f.StringVar(&opts.jsonFile, "json", "", "also write every figure as JSON to this file")
	f.BoolVar(&opts.noProgress, "no-progress", false, "hide the progress bars (they are hidden anyway when stderr is not a terminal)")
	f.BoolVar(&opts.keep, "keep", false, "keep the temporary directory (keys, logs, database) after the run")
	f.BoolVar(&opts.failOnMiss, "fail-on-miss", false, "exit non-zero when a measured target is missed")
	return cmd
}

// runBench does one `autodebit bench`: the table goes to stdout; progress,
// where the temporary files are, and what was kept go to stderr.
func runBench(ctx context.Context, cfg bench.Config, opts benchOptions, stdout, stderr io.Writer) error {
	cfg.Out, cfg.Progress = stderr, !opts.noProgress && isTerminal(stderr)
	var dir string
	if cfg.Server == "" {
		d, err := os.MkdirTemp("", "autodebit-bench-")
		if err != nil {
			return fmt.Errorf("create the temporary directory: %w", err)
		}
		dir, cfg.Dir = d, d
		if cfg.DB == "" {
			cfg.DB = "sqlite:" + filepath.Join(dir, "bench.db")
		}
		if opts.keep {
			fmt.Fprintf(stderr, "bench: keys, logs and database in %s (kept: --keep)\n", dir)
		} else {
			fmt.Fprintf(stderr, "bench: keys, logs and database in %s (removed at the end; --keep keeps them)\n", dir)
		}
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		if dir != "" {
			fmt.Fprintf(stderr, "bench: kept %s for its logs\n", dir)
		}
		return err
	}
	if dir != "" && !opts.keep {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(stderr, "bench: could not remove %s: %v\n", dir, err)
		}
	}
	rep.WriteTable(stdout)
	if opts.jsonFile != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(opts.jsonFile, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if wh := rep.Webhook; wh != nil && !wh.AllReceived {
		return fmt.Errorf("bench: the webhook receiver got %d of the %d events made with the endpoint registered (%d bad signatures)", wh.Received, wh.Events, wh.BadSignatures)
	}
	if missed := rep.Missed(); opts.failOnMiss && len(missed) > 0 {
		return missedError(missed)
	}
	return nil
}

// missedError names every target a run missed, with what it got.
func missedError(missed []bench.Target) error {
	parts := make([]string, len(missed))
	for i, t := range missed {
		parts[i] = fmt.Sprintf("%s %.2f %s (want %s)", t.Name, t.Got, t.Unit, t.Want)
	}
	return fmt.Errorf("bench: %d target(s) missed (--fail-on-miss): %s", len(missed), strings.Join(parts, "; "))
}

// isTerminal reports whether w is a terminal, where progress bars belong;
// in a log file or a CI job's output they are only noise.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
