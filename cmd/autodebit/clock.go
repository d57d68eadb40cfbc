package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/client"
	"github.com/autodebit/autodebit/clock"
	adhttp "github.com/autodebit/autodebit/http"
)

func init() { commands = append(commands, newClockCommand) }

func newClockCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clock",
		Short: "Show the one clock of simulator mode (clock advance DURATION moves it)",
		Long: `With the in-process simulator (serve without --antom-url), the engine, its
jobs and the simulator run on one clock. clock shows it; clock advance moves
it forward and returns once everything that fell due on the way has run, in
order: inquiries, cancels, expiries, notifications and their resends,
webhook retries. Against an engine on a real Antom there is no such clock.`,
		Example: "  autodebit clock\n  autodebit clock advance 30d",
		Args:    cobra.NoArgs,
	}
	api := addAPIFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := func() error {
			c, err := api.client()
			if err != nil {
				return err
			}
			got, err := c.Clock(cmd.Context())
			if err != nil {
				return clockError(err)
			}
			if api.json {
				return writeJSON(cmd.OutOrStdout(), got)
			}
			return printClock(cmd.OutOrStdout(), got)
		}(); err != nil {
			return fmt.Errorf("clock: %w", err)
		}
		return nil
	}
	cmd.AddCommand(newClockAdvanceCommand())
	return cmd
}

func newClockAdvanceCommand() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "advance DURATION",
		Short: "Move the one clock forward and wait until everything due has run",
		Long: `advance moves the one clock of simulator mode forward by DURATION: days
(30d), a Go duration (720h, 90m) or both (1d12h), at most ten years. It steps
to each moment something falls due on the way, lets it run, and returns once
all of it has settled (no job due or running, the simulator idle), or fails
after --timeout saying where the clock got to.`,
		Example: "  autodebit clock advance 1h\n  autodebit clock advance 30d --timeout 80s",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("clock advance: want one DURATION, got %d arguments (usage: autodebit clock advance DURATION, e.g. 30d)", len(args))
			}
			return nil
		},
	}
	api := addAPIFlags(cmd)
	cmd.Flags().DurationVar(&timeout, "timeout", adhttp.DefaultAdvanceTimeout, fmt.Sprintf("how long the server waits for what fell due to settle, at most %s", adhttp.MaxAdvanceTimeout))
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := func() error {
			// Checked here too, so that a typo costs no call.
			if _, err := clock.ParseDuration(args[0]); err != nil {
				return fmt.Errorf("DURATION %v", err)
			}
			if timeout <= 0 || timeout > adhttp.MaxAdvanceTimeout {
				return fmt.Errorf("--timeout %s must be positive and at most %s", timeout, adhttp.MaxAdvanceTimeout)
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			got, err := c.AdvanceClock(cmd.Context(), args[0], timeout)
			if err != nil {
				return clockError(err)
			}
			if api.json {
				return writeJSON(cmd.OutOrStdout(), got)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Moved the clock from %s to %s; everything due on the way has run.\n",
				got.From.UTC().Format(time.RFC3339), got.Now.UTC().Format(time.RFC3339))
			return nil
		}(); err != nil {
			return fmt.Errorf("clock advance: %w", err)
		}
		return nil
	}
	return cmd
}

func printClock(w io.Writer, c *adhttp.Clock) error {
	_, err := fmt.Fprintf(w, "now     %s\nrunning %s\n(one clock for the engine and the in-process simulator; `autodebit clock advance 30d` moves it)\n",
		c.Now.UTC().Format(time.RFC3339), scaleText(c.Scale))
	return err
}

// clockError says what a 404 from the clock routes means.
func clockError(err error) error {
	var ce *client.Error
	if errors.As(err, &ce) && ce.Code == autodebit.ENOTFOUND {
		msg := "the server has no simulated clock: it runs against a real Antom (--antom-url), so its clock is the real time"
		if !strings.Contains(ce.Message, "real Antom") {
			msg = "the server has no /v1/clock (an older autodebit?): " + ce.Message
		}
		return &client.Error{Status: ce.Status, Code: ce.Code, Message: msg}
	}
	return apiError(err)
}
