package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit/bench"
)

func init() { commands = append(commands, newBenchCommand) }

func newBenchCommand() *cobra.Command {
	var cfg bench.Config
	var jsonFile string
	var noProgress bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure charges/s, latency, CPU per charge, RSS, notification ingestion and authCode → token latency",
		Long: `bench starts the simulator (autodebit sim) and the engine (autodebit serve) as
separate child processes, links --tokens wallets, creates charges at
--concurrency for --duration, then sends a burst of signed payment
notifications at the engine. It prints charges/s, latency percentiles, the CPU
seconds per charge of each process (from /proc) next to one RSA-2048 signature
timed in this run, peak RSS (VmHWM), verified notifications/s and authCode →
token latency, and PASS or MISS for each of the targets.

With --server, --api-key, --sim and --sim-key it targets a running engine and
simulator instead (CPU and RSS are then not measured).`,
		Example: "  autodebit bench --tokens 20 --concurrency 8 --duration 30s --json bench.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			cfg.Command = func(args []string) *exec.Cmd { return exec.Command(exe, args...) }
			cfg.Out, cfg.Progress = cmd.ErrOrStderr(), !noProgress
			if cfg.DB == "" && cfg.Server == "" {
				dir, err := os.MkdirTemp("", "autodebit-bench-")
				if err != nil {
					return err
				}
				cfg.Dir, cfg.DB = dir, "sqlite:"+filepath.Join(dir, "bench.db")
			}
			rep, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			rep.WriteTable(cmd.OutOrStdout())
			if jsonFile != "" {
				b, _ := json.MarshalIndent(rep, "", "  ")
				return os.WriteFile(jsonFile, append(b, '\n'), 0o644)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DB, "db", "", "engine database: sqlite:PATH or a postgres:// URL (default: a new SQLite file in a temporary directory)")
	f.StringVar(&cfg.Server, "server", "", "URL of a running engine to measure instead of starting one")
	f.StringVar(&cfg.APIKey, "api-key", "", "operator API key of --server")
	f.StringVar(&cfg.SimURL, "sim", "", "URL of the simulator --server talks to")
	f.StringVar(&cfg.SimKey, "sim-key", "", "control key of --sim (autodebit sim prints it)")
	f.IntVar(&cfg.Tokens, "tokens", 20, "wallets to link")
	f.IntVar(&cfg.Concurrency, "concurrency", 0, "charges in flight (default 2 × cores)")
	f.DurationVar(&cfg.Duration, "duration", 20*time.Second, "length of the charge phase")
	f.DurationVar(&cfg.NotifyDuration, "notify-duration", 3*time.Second, "length of the notification burst")
	f.IntVar(&cfg.SeedCharges, "seed-charges", 0, "final charges inserted into the database before the engine starts")
	f.StringVar(&jsonFile, "json", "", "also write every figure as JSON to this file")
	f.BoolVar(&noProgress, "no-progress", false, "hide the progress bars")
	return cmd
}
