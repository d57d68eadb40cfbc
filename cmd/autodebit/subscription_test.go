package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/client"
)

// TestCLI_Subscriptions runs subscribe, subscriptions and subscription
// show|pause|resume|cancel against a real engine, and bad input that must
// fail before anything is sent.
func TestCLI_Subscriptions(t *testing.T) {
	m, _ := startMain(t)
	tok := link(t, m, "cus_cli_sub")

	out := mustRun(t, m, "subscribe", "--token", tok, "--amount", "15.00", "--interval", "month", "--cycles", "12", "--description", "Gym")
	id := regexp.MustCompile(`Subscription:\s+(sub_\S+)`).FindStringSubmatch(out)
	if id == nil || !strings.Contains(out, "PHP 15.00 every month") || !strings.Contains(out, "1 of 12") || !strings.Contains(out, "Idempotency-Key:") {
		t.Fatalf("subscribe printed:\n%s", out)
	}
	sub := id[1]
	// The first period is charged at once (by a job): wait for it.
	c := client.New(m.URL, m.APIKey)
	deadline := time.Now().Add(15 * time.Second)
	for {
		s, err := c.Subscription(context.Background(), sub)
		if err == nil && s.CyclesCompleted == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("period 1 not paid after 15s: %+v, %v", s, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The engine tells the metrics of the renewal.
	if got := scrape(t, m.URL, m.APIKey); got[`autodebit_subscription_renewals_total{outcome="paid"}`] != 1 ||
		got[`autodebit_subscriptions{status="active"}`] != 1 || got[`autodebit_subscriptions{status="cancelled"}`] != 0 {
		t.Fatalf("metrics after period 1: renewals paid %v, active %v", got[`autodebit_subscription_renewals_total{outcome="paid"}`],
			got[`autodebit_subscriptions{status="active"}`])
	}
	show := mustRun(t, m, "subscription", "show", sub)
	if !strings.Contains(show, "Paid periods:") || !regexp.MustCompile(`(?m)^1\s+\S.*chg_\S+.*SUCCESS`).MatchString(show) {
		t.Fatalf("subscription show:\n%s", show)
	}
	if list := mustRun(t, m, "subscriptions", "--customer", "cus_cli_sub"); !strings.Contains(list, sub) || !strings.Contains(list, "1 of 1 subscriptions") {
		t.Fatalf("subscriptions:\n%s", list)
	}
	if out := mustRun(t, m, "subscription", "pause", sub); !strings.Contains(out, "paused") {
		t.Fatalf("pause:\n%s", out)
	}
	if out := mustRun(t, m, "subscription", "resume", sub); !strings.Contains(out, "active") || !strings.Contains(out, "Next charge:") {
		t.Fatalf("resume:\n%s", out)
	}
	out = mustRun(t, m, "subscription", "cancel", sub, "--reason", "moved away", "--json")
	var got struct{ Status, CancelReason string }
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Status != "cancelled" || got.CancelReason != "moved away" {
		t.Fatalf("cancel --json: %s (%v)", out, err)
	}
	if out := mustRun(t, m, "status", sub); !strings.Contains(out, "CANCELLED: moved away") || !strings.Contains(out, "RENEWAL of period 1") {
		t.Fatalf("status %s:\n%s", sub, out)
	}
	// A later start, a zone, a retry schedule; the same key returns it.
	future := time.Now().Add(48 * time.Hour).Format(time.DateOnly)
	args := []string{"subscribe", "--token", tok, "--amount", "5", "--interval", "week", "--interval-count", "2", "--start-at", future,
		"--time-zone", "Asia/Manila", "--retry-schedule", "6h,1d", "--idempotency-key", "cli-sub-1", "--json"}
	out = mustRun(t, m, args...)
	var created struct {
		Subscription struct {
			ID, TimeZone  string
			StartAt       time.Time
			RetrySchedule []string
			NextChargeAt  *time.Time
		}
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	s := created.Subscription
	manila, _ := time.LoadLocation("Asia/Manila")
	wantStart, _ := time.ParseInLocation(time.DateOnly, future, manila)
	if !s.StartAt.Equal(wantStart) || s.TimeZone != "Asia/Manila" || strings.Join(s.RetrySchedule, ",") != "6h,24h" || s.NextChargeAt == nil {
		t.Fatalf("subscribe --json: %s", out)
	}
	if again := mustRun(t, m, args...); !strings.Contains(again, s.ID) {
		t.Fatalf("the same Idempotency-Key made another subscription:\n%s", again)
	}
	// Bad input: refused before anything is sent, with the valid values.
	before := mustRun(t, m, "subscriptions", "--json")
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"--interval \"fortnight\" is not an interval; use one of day, week, month, year", []string{"subscribe", "--token", tok, "--amount", "1", "--interval", "fortnight"}},
		{"--interval is required", []string{"subscribe", "--token", tok, "--amount", "1"}},
		{"--token " + sub + " is a subscription ID, not a token ID", []string{"subscribe", "--token", sub, "--amount", "1", "--interval", "day"}},
		{"--time-zone: Time zone \"Mars/Base\" is not an IANA time zone name", []string{"subscribe", "--token", tok, "--amount", "1", "--interval", "day", "--time-zone", "Mars/Base"}},
		{"--retry-schedule: Subscription retrySchedule[1] \"soon\" is not a duration", []string{"subscribe", "--token", tok, "--amount", "1", "--interval", "day", "--retry-schedule", "1h,soon"}},
		{"--start-at \"next week\" is not an RFC 3339 time", []string{"subscribe", "--token", tok, "--amount", "1", "--interval", "day", "--start-at", "next week"}},
		{"more decimals than PHP allows", []string{"subscribe", "--token", tok, "--amount", "1.234", "--interval", "day"}},
		{"--status \"overdue\" is not a subscription status", []string{"subscriptions", "--status", "overdue"}},
		{tok + " is a token ID, not a subscription ID", []string{"subscription", "pause", tok}},
		{"Subscription sub_nope not found", []string{"subscription", "resume", "sub_nope"}},
		{"subscription pause: Subscription " + sub + " is cancelled and cannot be paused.", []string{"subscription", "pause", sub}},
	} {
		mustFail(t, m, "", tc.want, tc.args...)
	}
	if after := mustRun(t, m, "subscriptions", "--json"); after != before {
		t.Fatalf("bad input changed the subscriptions:\n%s\nthen\n%s", before, after)
	}
}
