package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/client"
	adhttp "github.com/autodebit/autodebit/http"
)

func init() {
	commands = append(commands, newSubscribeCommand, newSubscriptionsCommand, newSubscriptionCommand)
}

func newSubscribeCommand() *cobra.Command {
	var token, amount, currency, interval, startAt, description, zone, retries, idemKey string
	var count, cycles int
	cmd := &cobra.Command{
		Use:   "subscribe --token TOKEN_ID --amount AMOUNT --interval day|week|month|year",
		Short: "Charge a token on a schedule",
		Long: `subscribe charges a linked wallet once per period: the first charge at --start-at
(default now), then every --interval-count intervals on the calendar of --time-zone
(UTC by default). A month keeps the start's day, clamped to the month's end
(Jan 31, Feb 28, Mar 31). A charge that fails with a retryable code (a short
balance, a limit) is retried after each wait of --retry-schedule; then the
period is unpaid and the next one is charged on schedule. --cycles ends it after
that many periods. The request carries an Idempotency-Key (random unless
--idempotency-key is given), so running it again with the same key and fields
returns the first subscription.`,
		Example: "  autodebit subscribe --token tok_… --amount 15.00 --interval month --cycles 12\n" +
			"  autodebit subscribe --token tok_… --amount 99.00 --interval year --start-at 2026-06-01 --time-zone Asia/Manila\n" +
			"  autodebit subscribe --token tok_… --amount 5.00 --interval week --retry-schedule 6h,1d",
		Args: cobra.NoArgs,
	}
	api := addAPIFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&token, "token", "", "token ID to charge (required)")
	f.StringVar(&amount, "amount", "", "amount per period in major units, e.g. 15.00 (required)")
	f.StringVar(&currency, "currency", "", "ISO 4217 currency (default: the currency of the token's wallet)")
	f.StringVar(&interval, "interval", "", "day, week, month or year (required)")
	f.IntVar(&count, "interval-count", 1, "intervals per period, e.g. 3 with --interval month for every quarter")
	f.StringVar(&startAt, "start-at", "", "first charge: an RFC 3339 time, or a date (midnight in --time-zone); default now")
	f.IntVar(&cycles, "cycles", 0, "periods to charge (default: until cancelled)")
	f.StringVar(&description, "description", "", "what it is for, shown to the buyer on each charge")
	f.StringVar(&zone, "time-zone", "", "IANA time zone whose calendar the periods follow, e.g. Asia/Manila (default UTC)")
	f.StringVar(&retries, "retry-schedule", "", "waits before each retry of a failed period, e.g. 24h,3d,7d; none for no retries (default 24h,72h,168h)")
	f.StringVar(&idemKey, "idempotency-key", "", "Idempotency-Key header (default: a random key, printed)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := func() error {
			if token == "" {
				return fmt.Errorf("--token is required, e.g. --token tok_… (see `autodebit tokens`)")
			}
			if err := checkID("--token", token, autodebit.TokenIDPrefix); err != nil {
				return err
			}
			if strings.TrimSpace(amount) == "" {
				return fmt.Errorf("--amount is required, in major units, e.g. --amount 15.00")
			}
			interval = strings.ToLower(interval)
			if interval == "" {
				return fmt.Errorf("--interval is required: day, week, month or year")
			}
			if err := checkChoice("--interval", interval, "an interval", intervals()); err != nil {
				return err
			}
			if count < 1 {
				return fmt.Errorf("--interval-count must be at least 1")
			}
			if cycles < 0 {
				return fmt.Errorf("--cycles must be at least 1, or left out for no end")
			}
			loc, err := autodebit.LoadTimeZone(zone)
			if err != nil {
				return fmt.Errorf("--time-zone: %s", autodebit.ErrorMessage(err))
			}
			p := client.SubscriptionParams{TokenID: token, Interval: interval, IntervalCount: count, Cycles: cycles,
				Description: description, TimeZone: zone}
			if startAt != "" {
				t, err := parseStart(startAt, loc)
				if err != nil {
					return err
				}
				p.StartAt = t.UTC().Format(time.RFC3339)
			}
			if retries != "" {
				list := []string{}
				if strings.ToLower(retries) != "none" {
					list = strings.Split(retries, ",")
				}
				if _, err := autodebit.ParseRetrySchedule(list); err != nil {
					return fmt.Errorf("--retry-schedule: %s", autodebit.ErrorMessage(err))
				}
				p.RetrySchedule = &list
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			if strings.TrimSpace(currency) == "" {
				if currency, err = tokenCurrency(cmd.Context(), c, token); err != nil {
					return err
				}
			}
			if p.Amount, err = parseAmount(amount, currency); err != nil {
				return err
			}
			if idemKey == "" {
				idemKey = newIdempotencyKey()
			}
			p.IdempotencyKey = idemKey
			sub, err := c.CreateSubscription(cmd.Context(), p)
			if err != nil {
				return apiErrorID(err, token)
			}
			out := cmd.OutOrStdout()
			if api.json {
				return writeJSON(out, struct {
					IdempotencyKey string `json:"idempotencyKey"`
					Subscription   any    `json:"subscription"`
				}{idemKey, sub})
			}
			if err := printSubscription(out, sub); err != nil {
				return err
			}
			fmt.Fprintf(out, "Idempotency-Key:  %s\n", idemKey)
			return nil
		}(); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		return nil
	}
	return cmd
}

// parseStart reads --start-at: an RFC 3339 time, or a date meaning its
// midnight in loc.
func parseStart(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--start-at %q is not an RFC 3339 time (2026-05-01T09:00:00+08:00) or a date (2026-05-01)", s)
}

func intervals() []string {
	var out []string
	for _, i := range autodebit.Intervals() {
		out = append(out, string(i))
	}
	return out
}

func subscriptionStatuses() []string {
	var out []string
	for _, s := range autodebit.SubscriptionStatuses() {
		out = append(out, string(s))
	}
	return out
}

func newSubscriptionsCommand() *cobra.Command {
	var p client.ListParams
	cmd := &cobra.Command{
		Use:     "subscriptions",
		Short:   "List subscriptions, newest first",
		Example: "  autodebit subscriptions --status past_due\n  autodebit subscriptions --customer cus_42 --json",
		Args:    cobra.NoArgs,
	}
	api := addAPIFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&p.Status, "status", "", strings.Join(subscriptionStatuses(), ", "))
	f.StringVar(&p.CustomerID, "customer", "", "only this customer's subscriptions")
	f.StringVar(&p.Wallet, "wallet", "", "only subscriptions on this wallet")
	f.StringVar(&p.TokenID, "token", "", "only subscriptions of this token")
	f.IntVar(&p.Limit, "limit", 20, "how many to show (at most 100)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := func() error {
			p.Status, p.Wallet = strings.ToLower(p.Status), strings.ToUpper(p.Wallet)
			if err := checkChoice("--status", p.Status, "a subscription status", subscriptionStatuses()); err != nil {
				return err
			}
			if err := checkChoice("--wallet", p.Wallet, "a Scan to Link wallet", walletCodes()); err != nil {
				return err
			}
			if p.TokenID != "" {
				if err := checkID("--token", p.TokenID, autodebit.TokenIDPrefix); err != nil {
					return err
				}
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			list, err := c.Subscriptions(cmd.Context(), p)
			if err != nil {
				return apiError(err)
			}
			out := cmd.OutOrStdout()
			if api.json {
				return writeJSON(out, list)
			}
			if len(list.Data) == 0 {
				fmt.Fprintln(out, "No subscriptions.")
				return nil
			}
			t := newTable(out, "ID", "CUSTOMER", "AMOUNT", "EVERY", "STATUS", "PERIOD", "PAID", "NEXT CHARGE")
			for _, s := range list.Data {
				t.row(s.ID, s.CustomerID, formatAmount(s.Amount), every(&s), s.Status, periodLabel(&s), strconv.Itoa(s.CyclesCompleted),
					fmtTimePtr(s.NextChargeAt))
			}
			if err := t.flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "%d of %d subscriptions\n", len(list.Data), list.Total)
			return nil
		}(); err != nil {
			return fmt.Errorf("subscriptions: %w", err)
		}
		return nil
	}
	return cmd
}

func newSubscriptionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "subscription show|pause|resume|cancel SUBSCRIPTION_ID",
		Short: "Show, pause, resume or cancel a subscription",
		Long: `subscription show prints a subscription and each period's charges.
pause stops charging until resume; a charge in flight finishes. resume goes on
with the first period that starts at or after now (the periods that started
while it was paused are skipped). cancel ends it for good (--reason is kept).`,
		Example: "  autodebit subscription show sub_…\n  autodebit subscription pause sub_…\n  autodebit subscription cancel sub_… --reason 'customer moved away'",
	}
	action := func(name, short string, run func(ctx context.Context, c *client.Client, id, reason string) (*adhttp.Subscription, error)) *cobra.Command {
		sub := &cobra.Command{Use: name + " SUBSCRIPTION_ID", Short: short, Args: oneArg("SUBSCRIPTION_ID")}
		api := addAPIFlags(sub)
		var reason string
		if name == "cancel" {
			sub.Flags().StringVar(&reason, "reason", "", "why, kept on the subscription")
		}
		sub.RunE = func(cmd *cobra.Command, args []string) error {
			if err := func() error {
				id := args[0]
				if err := checkID("", id, autodebit.SubscriptionIDPrefix); err != nil {
					return err
				}
				c, err := api.client()
				if err != nil {
					return err
				}
				s, err := run(cmd.Context(), c, id, reason)
				if err != nil {
					return apiErrorID(err, id)
				}
				out := cmd.OutOrStdout()
				if name != "show" {
					if api.json {
						return writeJSON(out, s)
					}
					return printSubscription(out, s)
				}
				charges, err := c.SubscriptionCharges(cmd.Context(), id, 0)
				if err != nil {
					return apiErrorID(err, id)
				}
				if api.json {
					return writeJSON(out, map[string]any{"subscription": s, "charges": charges.Data})
				}
				if err := printSubscription(out, s); err != nil {
					return err
				}
				fmt.Fprintln(out)
				return printPeriodCharges(out, charges.Data)
			}(); err != nil {
				return fmt.Errorf("subscription %s: %w", name, err)
			}
			return nil
		}
		return sub
	}
	cmd.AddCommand(
		action("show", "Show a subscription and each period's charges", func(ctx context.Context, c *client.Client, id, reason string) (*adhttp.Subscription, error) {
			return c.Subscription(ctx, id)
		}),
		action("pause", "Stop charging until resumed", func(ctx context.Context, c *client.Client, id, reason string) (*adhttp.Subscription, error) {
			return c.PauseSubscription(ctx, id)
		}),
		action("resume", "Charge again from the next period that starts", func(ctx context.Context, c *client.Client, id, reason string) (*adhttp.Subscription, error) {
			return c.ResumeSubscription(ctx, id)
		}),
		action("cancel", "End a subscription for good", func(ctx context.Context, c *client.Client, id, reason string) (*adhttp.Subscription, error) {
			return c.CancelSubscription(ctx, id, reason)
		}),
	)
	return cmd
}

// every describes a subscription's period length: "month", "3 months".
func every(s *adhttp.Subscription) string {
	if s.IntervalCount <= 1 {
		return s.Interval
	}
	return fmt.Sprintf("%d %ss", s.IntervalCount, s.Interval)
}

// periodLabel is "3" or "3 of 12".
func periodLabel(s *adhttp.Subscription) string {
	if s.Cycles > 0 {
		return fmt.Sprintf("%d of %d", min(s.Period.Number, s.Cycles), s.Cycles)
	}
	return strconv.Itoa(s.Period.Number)
}

func printSubscription(w io.Writer, s *adhttp.Subscription) error {
	failure := s.FailureCode
	if s.FailureMessage != "" && s.FailureMessage != s.FailureCode {
		failure = strings.TrimSpace(failure + " (" + s.FailureMessage + ")")
	}
	cycles := "until cancelled"
	if s.Cycles > 0 {
		cycles = strconv.Itoa(s.Cycles) + " periods"
	}
	zone := s.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	retries := strings.Join(s.RetrySchedule, ", ")
	if retries == "" {
		retries = "none"
	}
	return fields(w,
		"Subscription", s.ID,
		"Status", s.Status,
		"Amount", formatAmount(s.Amount)+" every "+every(s),
		"Cycles", cycles,
		"Period", fmt.Sprintf("%s (%s to %s)", periodLabel(s), fmtTime(s.Period.Start), fmtTime(s.Period.End)),
		"Next charge", fmtTimePtr(s.NextChargeAt),
		"Paid periods", strconv.Itoa(s.CyclesCompleted),
		"Last charge", s.LastChargeID,
		"Failure", failure,
		"Cancel reason", s.CancelReason,
		"Retries after", retries,
		"Calendar", zone,
		"Token", s.TokenID,
		"Customer", s.CustomerID,
		"Wallet", s.Wallet,
		"Description", s.Description,
		"Started", fmtTime(s.StartAt),
		"Created", fmtTime(s.CreatedAt),
	)
}

// printPeriodCharges lists a subscription's charges, one line each, by
// period (the API gives them newest first).
func printPeriodCharges(w io.Writer, charges []adhttp.Charge) error {
	if len(charges) == 0 {
		fmt.Fprintln(w, "No charges yet.")
		return nil
	}
	t := newTable(w, "PERIOD", "STARTS", "CHARGE", "CREATED", "STATUS", "RESULT")
	for i := len(charges) - 1; i >= 0; i-- {
		c := charges[i]
		period, start := "-", "-"
		if c.Period != nil {
			period, start = strconv.Itoa(c.Period.Number), fmtTime(c.Period.Start)
		}
		t.row(period, start, c.ID, fmtTime(c.CreatedAt), c.Status, dash(c.ResultCode))
	}
	return t.flush()
}
