package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit/chaos"
)

func init() { commands = append(commands, newChaosCommand) }

// errChaosFailed makes `autodebit chaos` exit non-zero after printing its table.
var errChaosFailed = errors.New("chaos: the engine diverged from Antom's truth, or an event was missing, extra or lost (see the table)")

func newChaosCommand() *cobra.Command {
	var cfg chaos.Config
	var jsonFile string
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Run the engine against a faulty simulator, kill it at random, and check every result against Antom's truth",
		Long: `chaos runs the engine (autodebit serve) as a child process against an
in-process Antom simulator with faults on (30% of notifications dropped, 10%
duplicated, 10% reordered; 10% of API calls answered U, 5% timing out after the
work is committed, 2% HTTP 5xx), links wallets, creates --charges charges at
--concurrency (and refunds some), kills the engine with SIGKILL --kills times at
random moments and restarts it on the same database. Before linking it starts
a webhook receiver of its own on 127.0.0.1, registered as an endpoint for every
event type, that verifies each delivery's signature and at random answers 503
(10%), holds a delivery past the engine's --webhook-timeout (3%) or answers
slowly (10%); the engine retries on a schedule of seconds instead of a day.
A renewal phase follows the charges (--subscriptions): subscriptions whose
first period falls due within 15 seconds and is retried after 3, 6, 12 and 24
seconds, half of the accounts short of money until they are topped up, and
--kills more kills (at least one). After that it revokes one token and unlinks
another in the wallet. It then waits until every charge is final, moves the
simulator's clock a day on so that every resend happens, waits (at most
--drain-wait) until no webhook delivery is pending, and compares every charge,
token and refund with the simulator's truth, and every event with those records
and with what the receiver got (deduplicated by webhook-id).

It prints a table and exits non-zero if any order diverged, any buyer was
debited twice, any subscription period was paid twice, any token was lost, any
charge is still INIT two minutes after its order closed, any final change has
no event or more than one, any event has no change, sequences have a gap, any
event never reached the receiver, or any delivery failed verification.
Duplicate deliveries are counted, not failures.`,
		Example: "  autodebit chaos --charges 500 --kills 3 --db sqlite:$(mktemp -d)/chaos.db",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			cfg.Command = func(args []string) *exec.Cmd { return exec.Command(exe, args...) }
			cfg.Out = cmd.ErrOrStderr()
			if cfg.DB == "" {
				dir, err := os.MkdirTemp("", "autodebit-chaos-")
				if err != nil {
					return err
				}
				cfg.Dir, cfg.DB = dir, "sqlite:"+filepath.Join(dir, "chaos.db")
			}
			rep, err := chaos.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			rep.WriteTable(cmd.OutOrStdout())
			fmt.Fprintf(cmd.OutOrStdout(), "engine log: %s\n", rep.LogFile)
			if jsonFile != "" {
				b, _ := json.MarshalIndent(rep, "", "  ")
				if err := os.WriteFile(jsonFile, b, 0o644); err != nil {
					return err
				}
			}
			if !rep.OK() {
				return errChaosFailed
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DB, "db", "", "engine database, empty at the start: sqlite:PATH or a postgres:// URL (default: a new SQLite file in a temporary directory)")
	f.IntVar(&cfg.Charges, "charges", 500, "charges to create")
	f.IntVar(&cfg.Concurrency, "concurrency", 8, "charges created at once")
	f.IntVar(&cfg.Kills, "kills", 3, "times the engine is killed with SIGKILL and restarted")
	f.IntVar(&cfg.Tokens, "tokens", 8, "wallets linked before charging")
	f.IntVar(&cfg.Subscriptions, "subscriptions", 40, "subscriptions of the renewal phase (first periods due within 15s, retries after 3s, 6s, 12s and 24s, some accounts short of money until topped up, kills during it); 0 skips the phase")
	f.Int64Var(&cfg.Seed, "seed", 0, "seed for fault decisions and kill moments (0: random, printed)")
	f.DurationVar(&cfg.Wait, "wait", 3*time.Minute, "longest wait for every charge to be final")
	f.DurationVar(&cfg.WebhookTimeout, "webhook-timeout", time.Second, "the engine's webhook delivery timeout in the run; the receiver holds some deliveries longer")
	f.DurationVar(&cfg.DrainWait, "drain-wait", 2*time.Minute, "longest wait, at the end, for every webhook delivery to settle")
	f.StringVar(&jsonFile, "json", "", "also write the report as JSON to this file")
	return cmd
}
