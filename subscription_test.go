package autodebit_test

import (
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/autodebit/autodebit"
)

func TestSubscriptionStatus(t *testing.T) {
	lifecycle(t, autodebit.SubscriptionStatuses(), autodebit.SubscriptionStatus.CanTransition, autodebit.SubscriptionStatus.Final,
		map[autodebit.SubscriptionStatus][]autodebit.SubscriptionStatus{
			"active":   {"past_due", "unpaid", "paused", "cancelled", "completed"},
			"past_due": {"active", "unpaid", "paused", "cancelled", "completed"},
			"unpaid":   {"active", "past_due", "paused", "cancelled", "completed"},
			"paused":   {"active", "cancelled", "completed"},
		})
	for _, s := range autodebit.SubscriptionStatuses() {
		want := s == "active" || s == "past_due" || s == "unpaid"
		if s.Charging() != want {
			t.Errorf("%s.Charging() = %v", s, !want)
		}
	}
}

func sub(start string, interval autodebit.Interval, count int, zone string) *autodebit.Subscription {
	return &autodebit.Subscription{StartAt: mustTime(start), Interval: interval, IntervalCount: count, TimeZone: zone}
}

// TestPeriodStart_examples are the calendar cases a billing engineer checks
// first: month ends, leap days, and daylight saving in a named zone.
func TestPeriodStart_examples(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *autodebit.Subscription
		want []string // starts of periods 1, 2, 3, ...
	}{
		{"Jan 31 monthly clamps and comes back", sub("2026-01-31T09:00:00Z", "month", 1, ""),
			[]string{"2026-01-31T09:00:00Z", "2026-02-28T09:00:00Z", "2026-03-31T09:00:00Z", "2026-04-30T09:00:00Z", "2026-05-31T09:00:00Z"}},
		{"Jan 31 in a leap year", sub("2028-01-31T00:00:00Z", "month", 1, ""),
			[]string{"2028-01-31T00:00:00Z", "2028-02-29T00:00:00Z", "2028-03-31T00:00:00Z"}},
		{"Feb 29 yearly", sub("2028-02-29T12:00:00Z", "year", 1, ""),
			[]string{"2028-02-29T12:00:00Z", "2029-02-28T12:00:00Z", "2030-02-28T12:00:00Z", "2031-02-28T12:00:00Z", "2032-02-29T12:00:00Z"}},
		{"every 3 months from Nov 30", sub("2025-11-30T00:00:00Z", "month", 3, ""),
			[]string{"2025-11-30T00:00:00Z", "2026-02-28T00:00:00Z", "2026-05-30T00:00:00Z", "2026-08-30T00:00:00Z"}},
		{"weekly", sub("2026-03-02T10:00:00Z", "week", 2, ""),
			[]string{"2026-03-02T10:00:00Z", "2026-03-16T10:00:00Z", "2026-03-30T10:00:00Z"}},
		// Manila has no daylight saving: the 1st of the month at 00:00 local
		// is the day before at 16:00 UTC.
		{"monthly in Asia/Manila", sub("2026-01-31T16:00:00Z", "month", 1, "Asia/Manila"),
			[]string{"2026-01-31T16:00:00Z", "2026-02-28T16:00:00Z", "2026-03-31T16:00:00Z"}},
		// Jan 31 at 09:00 in Manila is Jan 31 01:00 UTC: the clamp is by
		// Manila's calendar, not UTC's.
		{"month end by the zone's calendar", sub("2026-01-31T01:00:00Z", "month", 1, "Asia/Manila"),
			[]string{"2026-01-31T01:00:00Z", "2026-02-28T01:00:00Z", "2026-03-31T01:00:00Z"}},
		// New York: 09:00 local stays 09:00 local across the March change,
		// so the UTC hour moves from 14:00 to 13:00.
		{"daily across a DST change", sub("2026-03-07T14:00:00Z", "day", 1, "America/New_York"),
			[]string{"2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z"}},
		{"monthly across a DST change", sub("2026-02-15T14:00:00Z", "month", 1, "America/New_York"),
			[]string{"2026-02-15T14:00:00Z", "2026-03-15T13:00:00Z", "2026-04-15T13:00:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, w := range tc.want {
				if got := tc.s.PeriodStart(i + 1); !got.Equal(mustTime(w)) {
					t.Errorf("period %d starts %s, want %s", i+1, got.Format(time.RFC3339), w)
				}
			}
			p := tc.s.PeriodOf(2)
			if !p.Start.Equal(mustTime(tc.want[1])) || !p.End.Equal(mustTime(tc.want[2])) {
				t.Errorf("PeriodOf(2) = %+v", p)
			}
		})
	}
}

var zones = []string{"", "Asia/Manila", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Chatham"}

func drawSubscription(t *rapid.T) *autodebit.Subscription {
	interval := rapid.SampledFrom(autodebit.Intervals()).Draw(t, "interval")
	maxCount := map[autodebit.Interval]int{"day": 40, "week": 10, "month": 36, "year": 3}[interval]
	start := time.Date(rapid.IntRange(1990, 2090).Draw(t, "year"), time.Month(rapid.IntRange(1, 12).Draw(t, "month")),
		rapid.IntRange(1, 31).Draw(t, "day"), rapid.IntRange(0, 23).Draw(t, "hour"), rapid.IntRange(0, 59).Draw(t, "minute"), 0, 0, time.UTC)
	return &autodebit.Subscription{StartAt: start, Interval: interval, IntervalCount: rapid.IntRange(1, maxCount).Draw(t, "count"),
		TimeZone: rapid.SampledFrom(zones).Draw(t, "zone")}
}

// TestProperty_periodCalendar checks the calendar rules on random
// schedules: starts increase and each period ends where the next starts;
// in UTC a month or year period keeps the anchor's day of the month unless
// the month is shorter, then its last day, and keeps the time of day; a
// day or week period is exactly that many days; FirstPeriodFrom finds the
// first period starting at or after a time.
func TestProperty_periodCalendar(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := drawSubscription(t)
		loc, err := s.Location()
		if err != nil {
			t.Fatal(err)
		}
		anchor := s.StartAt.In(loc)
		n := rapid.IntRange(1, 400).Draw(t, "n")
		start, next := s.PeriodStart(n), s.PeriodStart(n+1)
		if !next.After(start) {
			t.Fatalf("period %d starts %s, period %d %s: not after", n, start, n+1, next)
		}
		if p := s.PeriodOf(n); !p.Start.Equal(start) || !p.End.Equal(next) || p.Number != n {
			t.Fatalf("PeriodOf(%d) = %+v", n, p)
		}
		if s.PeriodStart(1) != s.StartAt.UTC() {
			t.Fatalf("period 1 starts %s, not at StartAt %s", s.PeriodStart(1), s.StartAt)
		}
		local := start.In(loc)
		switch s.Interval {
		case autodebit.IntervalMonth, autodebit.IntervalYear:
			months := (n - 1) * s.IntervalCount
			if s.Interval == autodebit.IntervalYear {
				months *= 12
			}
			total := anchor.Year()*12 + int(anchor.Month()) - 1 + months
			wy, wm := total/12, time.Month(total%12+1)
			if s.TimeZone == "" { // with no zone gaps the wall time is exact
				wantDay := min(anchor.Day(), autodebit.DaysIn(wy, wm))
				if local.Year() != wy || local.Month() != wm || local.Day() != wantDay {
					t.Fatalf("period %d of %s starts %s, want %d-%02d-%02d", n, anchor, local, wy, wm, wantDay)
				}
				if local.Hour() != anchor.Hour() || local.Minute() != anchor.Minute() {
					t.Fatalf("period %d starts at %s, not the anchor's time of day %s", n, local, anchor)
				}
			} else if local.Year() != wy || local.Month() != wm && local.Day() > 3 {
				// A DST gap may push the wall time past midnight, never by a month.
				t.Fatalf("period %d of %s starts %s, want in %d-%02d", n, anchor, local, wy, wm)
			}
		case autodebit.IntervalDay, autodebit.IntervalWeek:
			days := (n - 1) * s.IntervalCount
			if s.Interval == autodebit.IntervalWeek {
				days *= 7
			}
			if s.TimeZone == "" && !start.Equal(s.StartAt.Add(time.Duration(days)*24*time.Hour)) {
				t.Fatalf("period %d starts %s, want %d days after %s", n, start, days, s.StartAt)
			}
			y, m, d := anchor.AddDate(0, 0, days).Date()
			if ly, lm, ld := local.Date(); s.TimeZone == "" && (ly != y || lm != m || ld != d) {
				t.Fatalf("period %d starts on %s, want %d-%02d-%02d", n, local, y, m, d)
			}
		}
		// FirstPeriodFrom: the first start at or after a time.
		at := start.Add(time.Duration(rapid.Int64Range(-int64(time.Hour), int64(time.Hour)).Draw(t, "offset")))
		k := s.FirstPeriodFrom(at)
		if s.PeriodStart(k).Before(at) || (k > 1 && !s.PeriodStart(k-1).Before(at)) {
			t.Fatalf("FirstPeriodFrom(%s) = %d (starts %s; the one before %s)", at, k, s.PeriodStart(k), s.PeriodStart(k-1))
		}
	})
}

func TestSubscription_Validate(t *testing.T) {
	valid := func() *autodebit.Subscription {
		return &autodebit.Subscription{
			TokenID: "tok_1", CustomerID: "cus_1", Wallet: "GCASH", Amount: autodebit.Amount{Currency: "PHP", Value: 1500},
			Interval: "month", IntervalCount: 1, StartAt: mustTime("2026-01-31T00:00:00Z"), Status: "active", Period: 1,
			RetrySchedule: autodebit.DefaultRetrySchedule,
		}
	}
	if err := valid().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		change func(s *autodebit.Subscription)
		want   string
	}{
		"interval":        {func(s *autodebit.Subscription) { s.Interval = "fortnight" }, "interval"},
		"zero count":      {func(s *autodebit.Subscription) { s.IntervalCount = 0 }, "intervalCount"},
		"37 months":       {func(s *autodebit.Subscription) { s.IntervalCount = 37 }, "intervalCount"},
		"4 years":         {func(s *autodebit.Subscription) { s.Interval, s.IntervalCount = "year", 4 }, "intervalCount"},
		"cycles":          {func(s *autodebit.Subscription) { s.Cycles = -1 }, "cycles"},
		"zone":            {func(s *autodebit.Subscription) { s.TimeZone = "Mars/Olympus" }, "Time zone"},
		"zone path":       {func(s *autodebit.Subscription) { s.TimeZone = "../../etc/passwd" }, "Time zone"},
		"negative retry":  {func(s *autodebit.Subscription) { s.RetrySchedule = []time.Duration{-time.Hour} }, "retrySchedule[0]"},
		"long retry":      {func(s *autodebit.Subscription) { s.RetrySchedule = []time.Duration{time.Hour, 100 * 24 * time.Hour} }, "retrySchedule[1]"},
		"too many":        {func(s *autodebit.Subscription) { s.RetrySchedule = make([]time.Duration, 11) }, "at most 10"},
		"no start":        {func(s *autodebit.Subscription) { s.StartAt = time.Time{} }, "startAt"},
		"no token":        {func(s *autodebit.Subscription) { s.TokenID = "" }, "tokenId"},
		"status":          {func(s *autodebit.Subscription) { s.Status = "trialing" }, "status"},
		"description":     {func(s *autodebit.Subscription) { s.Description = "a\x00b" }, "description"},
		"period":          {func(s *autodebit.Subscription) { s.Period = 0 }, "period"},
		"amount":          {func(s *autodebit.Subscription) { s.Amount.Value = 0 }, "mount"},
		"cancel reason":   {func(s *autodebit.Subscription) { s.CancelReason = "\u202e" }, "cancel reason"},
		"idempotency key": {func(s *autodebit.Subscription) { s.IdempotencyKey = string(make([]byte, 256)) }, "Idempotency-Key"},
	} {
		s := valid()
		tc.change(s)
		err := s.Validate()
		if autodebit.ErrorCode(err) != autodebit.EINVALID || !contains(autodebit.ErrorMessage(err), tc.want) {
			t.Errorf("%s: Validate() = %v, want EINVALID naming %q", name, err, tc.want)
		}
	}
}

func TestRetrySchedule(t *testing.T) {
	got, err := autodebit.ParseRetrySchedule([]string{"24h", "3d", "90m"})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{24 * time.Hour, 72 * time.Hour, 90 * time.Minute}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ParseRetrySchedule = %v, want %v", got, want)
		}
	}
	for _, bad := range []string{"", "tomorrow", "d", "1.5d", "-d"} {
		if _, err := autodebit.ParseRetrySchedule([]string{bad}); autodebit.ErrorCode(err) != autodebit.EINVALID {
			t.Errorf("ParseRetrySchedule(%q) = %v, want EINVALID", bad, err)
		}
	}
	for d, want := range map[time.Duration]string{24 * time.Hour: "24h", 168 * time.Hour: "168h", 90 * time.Minute: "1h30m", 90 * time.Second: "1m30s"} {
		if got := autodebit.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %q, want %q", d, got, want)
		}
	}
	s := &autodebit.Subscription{RetrySchedule: autodebit.DefaultRetrySchedule}
	for attempt, want := range map[int]time.Duration{1: 24 * time.Hour, 2: 72 * time.Hour, 3: 168 * time.Hour} {
		if d, ok := s.RetryDelay(attempt); !ok || d != want {
			t.Errorf("RetryDelay(%d) = %s, %v; want %s", attempt, d, ok, want)
		}
	}
	if _, ok := s.RetryDelay(4); ok {
		t.Error("RetryDelay(4) of a three-wait schedule is not spent")
	}
}
