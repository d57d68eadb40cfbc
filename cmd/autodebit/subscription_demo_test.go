package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	adhttp "github.com/autodebit/autodebit/http"
)

// TestCLI_SubscriptionYearInAMinute runs the README's "A year in a minute"
// script as it is written, one command after the other, against a real
// engine on the one clock: a year of monthly charges on the calendar's days,
// a short balance that makes a period past_due, the top-up whose retry
// recovers it, and the revoke that cancels the subscription. It runs from
// today, and from the next January 31st, whose months are clamped (Feb 28,
// Apr 30) and whose second subscription has a month of 28 or 29 days.
func TestCLI_SubscriptionYearInAMinute(t *testing.T) {
	t.Run("Today", func(t *testing.T) {
		m, _ := startMain(t)
		yearInAMinute(t, m)
	})
	t.Run("FromJan31", func(t *testing.T) {
		m, _ := startMain(t)
		now := m.Clock.Clock.Now().UTC()
		jan31 := time.Date(now.Year()+1, time.January, 31, 12, 0, 0, 0, time.UTC)
		mustRun(t, m, "clock", "advance", jan31.Sub(now).Round(time.Second).String())
		if day := m.Clock.Clock.Now().UTC(); day.Day() != 31 {
			t.Fatalf("the clock is at %s, want January 31st", day)
		}
		yearInAMinute(t, m)
	})
}

func yearInAMinute(t *testing.T, m *Main) {
	// autodebit link --customer cus_42 --wallet GCASH
	tok := link(t, m, "cus_42")

	// autodebit subscribe --token tok_… --amount 15.00 --interval month --cycles 12
	yearly := subscriptionID(t, mustRun(t, m, "subscribe", "--token", tok, "--amount", "15.00", "--interval", "month", "--cycles", "12"))

	// autodebit clock advance 365d
	mustRun(t, m, "clock", "advance", "365d")

	// autodebit subscription show sub_…: 12 charges, one per period, status completed.
	show := mustRun(t, m, "subscription", "show", yearly)
	if n := len(regexp.MustCompile(`(?m)^\d+\s.*chg_\S+.*SUCCESS`).FindAllString(show, -1)); n != 12 ||
		!regexp.MustCompile(`(?m)^Status:\s+completed$`).MatchString(show) || !regexp.MustCompile(`(?m)^Paid periods:\s+12$`).MatchString(show) {
		t.Fatalf("after a year, %d SUCCESS charges, want 12 and completed:\n%s", n, show)
	}
	s, charges := showSubscription(t, m, yearly)
	if s.Status != "completed" || s.CyclesCompleted != 12 || s.NextChargeAt != nil || len(charges) != 12 {
		t.Fatalf("after a year: %s, %d paid, next %v, %d charges; want completed, 12, none, 12", s.Status, s.CyclesCompleted, s.NextChargeAt, len(charges))
	}
	for i, c := range charges {
		n := i + 1
		want := monthlyStart(s.StartAt, n)
		if c.Period == nil || c.Period.Number != n || c.Status != "SUCCESS" || !c.Period.Start.Equal(want) || !c.Period.End.Equal(monthlyStart(s.StartAt, n+1)) {
			t.Fatalf("charge %d of the year: %s %s period %+v, want SUCCESS for period %d from %s", n, c.ID, c.Status, c.Period, n, want)
		}
		// Charged when its period started (its day on the calendar), not
		// at the end of the jump.
		if late := c.CreatedAt.Sub(want); late < -time.Second || late > time.Minute {
			t.Fatalf("period %d (from %s) was charged at %s", n, want, c.CreatedAt)
		}
	}

	// autodebit subscribe --token tok_… --amount 15.00 --interval month --retry-schedule 4d
	monthly := subscriptionID(t, mustRun(t, m, "subscribe", "--token", tok, "--amount", "15.00", "--interval", "month", "--retry-schedule", "4d"))
	// Its first period is paid by a job a moment later: a reader typing the
	// next command is slower than that.
	waitPaid(t, m, monthly, 1)

	// curl … -XPATCH …/sim/v1/accounts/GCASH/09171234567 -d '{"balance":"1000"}'
	patchAccount(t, m, "GCASH/09171234567", `{"balance":"1000"}`)

	// autodebit clock advance 31d: period 2 FAIL USER_BALANCE_NOT_ENOUGH → past_due, retry in 4d.
	mustRun(t, m, "clock", "advance", "31d")
	s, charges = showSubscription(t, m, monthly)
	if s.Status != "past_due" || s.FailureCode != "USER_BALANCE_NOT_ENOUGH" || s.Period.Number != 2 || s.Attempt != 1 || s.NextChargeAt == nil || len(charges) != 2 {
		t.Fatalf("after a short month: %s, %s, period %d attempt %d, %d charges; want past_due after 1 failure of period 2",
			s.Status, s.FailureCode, s.Period.Number, s.Attempt, len(charges))
	}
	if last := charges[1]; last.Status != "FAIL" || last.ResultCode != "USER_BALANCE_NOT_ENOUGH" || last.Period.Number != 2 {
		t.Fatalf("period 2's charge: %s %s period %d", last.Status, last.ResultCode, last.Period.Number)
	}
	if retry := s.NextChargeAt.Sub(charges[1].CreatedAt); retry < 4*24*time.Hour || retry > 4*24*time.Hour+time.Minute {
		t.Fatalf("retry %s after the failed charge, want 4d", retry)
	}

	// autodebit subscriptions --status past_due
	list := mustRun(t, m, "subscriptions", "--status", "past_due")
	if !regexp.MustCompile(`(?m)^`+monthly+`\s.*past_due`).MatchString(list) || strings.Contains(list, yearly) || !strings.Contains(list, "1 of 1 subscriptions") {
		t.Fatalf("subscriptions --status past_due:\n%s", list)
	}

	// curl … -d '{"balance":"100000"}'; autodebit clock advance 5d: the retry succeeds → active.
	patchAccount(t, m, "GCASH/09171234567", `{"balance":"100000"}`)
	mustRun(t, m, "clock", "advance", "5d")
	s, charges = showSubscription(t, m, monthly)
	if s.Status != "active" || s.FailureCode != "" || s.CyclesCompleted != 2 || s.Period.Number != 3 || len(charges) != 3 ||
		charges[2].Status != "SUCCESS" || charges[2].Period.Number != 2 {
		t.Fatalf("after the top-up: %s, %d paid, period %d, %d charges; want active with period 2 paid by its retry",
			s.Status, s.CyclesCompleted, s.Period.Number, len(charges))
	}
	if got := scrape(t, m.URL, m.APIKey)["autodebit_subscription_dunning_recoveries_total"]; got != 1 {
		t.Fatalf("dunning recoveries = %v, want 1", got)
	}

	// autodebit revoke tok_… --yes: the token ends → the subscription is cancelled.
	if out := mustRun(t, m, "revoke", tok, "--yes"); !strings.Contains(out, "REVOKED") {
		t.Fatalf("revoke:\n%s", out)
	}
	// autodebit subscription show sub_…
	show = mustRun(t, m, "subscription", "show", monthly)
	if !regexp.MustCompile(`(?m)^Status:\s+cancelled$`).MatchString(show) || !regexp.MustCompile(`(?m)^Cancel reason:\s+the token was revoked by merchant$`).MatchString(show) {
		t.Fatalf("after the revoke:\n%s", show)
	}
	if s, _ := showSubscription(t, m, yearly); s.Status != "completed" {
		t.Fatalf("the revoke changed the completed subscription to %s", s.Status)
	}

	// The timeline tells the same story, in order.
	status := mustRun(t, m, "status", monthly)
	rest := status
	for _, want := range []string{"RENEWAL of period 1", "PAID period 1", "RENEWAL of period 2", "PAST DUE: period 2 attempt 1 failed (FAIL USER_BALANCE_NOT_ENOUGH)", "RETRY of period 2",
		"PAID period 2 by charge " + charges[2].ID + " on attempt 2", "CANCELLED: the token was revoked by merchant"} {
		i := strings.Index(rest, want)
		if i < 0 {
			t.Fatalf("status %s: no %q after what came before:\n%s", monthly, want, status)
		}
		rest = rest[i+len(want):]
	}
}

func subscriptionID(tb testing.TB, out string) string {
	tb.Helper()
	return printedID(tb, out, "Subscription", "sub_")
}

// showSubscription runs `subscription show ID --json` and returns the
// subscription and its charges, oldest first.
func showSubscription(tb testing.TB, m *Main, id string) (*adhttp.Subscription, []adhttp.Charge) {
	tb.Helper()
	var got struct {
		Subscription *adhttp.Subscription
		Charges      []adhttp.Charge
	}
	if out := mustRun(tb, m, "subscription", "show", id, "--json"); json.Unmarshal([]byte(out), &got) != nil || got.Subscription == nil {
		tb.Fatalf("subscription show %s --json:\n%s", id, out)
	}
	sort.SliceStable(got.Charges, func(i, j int) bool { return got.Charges[i].CreatedAt.Before(got.Charges[j].CreatedAt) })
	return got.Subscription, got.Charges
}

// waitPaid waits until subscription id has paid periods.
func waitPaid(tb testing.TB, m *Main, id string, periods int) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s, _ := showSubscription(tb, m, id)
		if s.CyclesCompleted >= periods {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: %d periods paid after 15s, want %d", id, s.CyclesCompleted, periods)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// patchAccount changes a simulator account as the README's curl does:
// PATCH with the control key, a body and no Content-Type of JSON.
func patchAccount(tb testing.TB, m *Main, account, body string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPatch, m.SimURL+"/sim/v1/accounts/"+account, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+m.SimKey)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // curl -d
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("PATCH /sim/v1/accounts/%s %s: %s", account, body, resp.Status)
	}
}

// monthlyStart is the start of period n of a monthly schedule from start,
// on the UTC calendar: start's day of the month and time of day, clamped to
// the month's last day.
func monthlyStart(start time.Time, n int) time.Time {
	start = start.UTC()
	y, mo, d := start.Date()
	first := time.Date(y, mo+time.Month(n-1), 1, start.Hour(), start.Minute(), start.Second(), start.Nanosecond(), time.UTC)
	days := time.Date(first.Year(), first.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return first.AddDate(0, 0, min(d, days)-1)
}
