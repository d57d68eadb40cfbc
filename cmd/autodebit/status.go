package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/client"
)

func init() { commands = append(commands, newStatusCommand) }

func newStatusCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Show an authorization, token, charge, refund, subscription or link session and its audit trail",
		Long: `status shows the object named by its ID (auth_…, tok_…, chg_…, rfd_…, sub_… or ls_…)
and every exchange with Antom and every notification that concerned it, oldest
first. Secrets in the trail are masked.`,
		Example: "  autodebit status chg_…",
		Args:    oneArg("ID"),
	}
	api := addAPIFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := func() error {
			c, err := api.client()
			if err != nil {
				return err
			}
			obj, print, err := fetchObject(cmd.Context(), c, args[0])
			if err != nil {
				return apiErrorID(err, args[0])
			}
			events, err := c.Timeline(cmd.Context(), args[0])
			if err != nil {
				return apiErrorID(err, args[0])
			}
			out := cmd.OutOrStdout()
			if api.json {
				return writeJSON(out, map[string]any{"object": obj, "timeline": events.Data})
			}
			if err := print(out); err != nil {
				return err
			}
			fmt.Fprintln(out)
			return printEvents(out, events.Data)
		}(); err != nil {
			return fmt.Errorf("status: %w", err)
		}
		return nil
	}
	return cmd
}

// fetchObject reads the object id names, by its prefix.
func fetchObject(ctx context.Context, c *client.Client, id string) (any, func(io.Writer) error, error) {
	switch {
	case strings.HasPrefix(id, autodebit.AuthorizationIDPrefix):
		a, err := c.Authorization(ctx, id)
		return a, func(w io.Writer) error { return printAuthorization(w, a) }, err
	case strings.HasPrefix(id, autodebit.TokenIDPrefix):
		t, err := c.Token(ctx, id)
		return t, func(w io.Writer) error { return printToken(w, t) }, err
	case strings.HasPrefix(id, autodebit.ChargeIDPrefix):
		ch, err := c.Charge(ctx, id)
		return ch, func(w io.Writer) error { return printCharge(w, ch) }, err
	case strings.HasPrefix(id, autodebit.RefundIDPrefix):
		r, err := c.Refund(ctx, id)
		return r, func(w io.Writer) error { return printRefund(w, r) }, err
	case strings.HasPrefix(id, autodebit.SubscriptionIDPrefix):
		s, err := c.Subscription(ctx, id)
		return s, func(w io.Writer) error { return printSubscription(w, s) }, err
	case strings.HasPrefix(id, autodebit.LinkSessionIDPrefix):
		ls, err := c.LinkSession(ctx, id)
		return ls, func(w io.Writer) error { return printLinkSession(w, ls) }, err
	}
	return nil, nil, fmt.Errorf("%q is not an ID: want auth_…, tok_…, chg_…, rfd_…, sub_… or ls_…", id)
}

func printEvents(w io.Writer, events []*autodebit.TimelineEntry) error {
	if len(events) == 0 {
		fmt.Fprintln(w, "No timeline entries.")
		return nil
	}
	t := newTable(w, "TIME", "EVENT", "DIR", "RESULT", "MS", "DETAIL")
	for _, ev := range events {
		result := strings.TrimSpace(ev.ResultStatus + " " + ev.ResultCode)
		detail := ev.Error
		if ev.Kind == "state" {
			detail = ev.Response
		}
		ms := "-"
		if ev.Direction == autodebit.TimelineOut {
			ms = strconv.FormatInt(ev.DurationMS, 10)
		}
		t.row(fmtTime(ev.CreatedAt), ev.Kind, dash(ev.Direction), dash(result), ms, dash(oneLine(detail, 80)))
	}
	return t.flush()
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
