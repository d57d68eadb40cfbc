package jobs

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A periodic job missed because the clock jumped a month runs once, then
// keeps its interval from the new time; on schedule it keeps River's.
func TestCatchUp(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	c := catchUp{interval: 5 * time.Second, now: func() time.Time { return now }}
	if got := c.Next(start); !got.Equal(start.Add(5 * time.Second)) {
		t.Fatalf("on schedule: next %s, want %s", got, start.Add(5*time.Second))
	}
	now = start.Add(30 * 24 * time.Hour)
	// River inserts the run due at start+5s, then asks for the next one.
	got := c.Next(start.Add(5 * time.Second))
	if !got.Equal(now.Add(5 * time.Second)) {
		t.Fatalf("after a month's jump: next %s, want %s (one run, then the interval from now)", got, now.Add(5*time.Second))
	}
	runs := 0
	for at := start.Add(5 * time.Second); !at.After(now); at = c.Next(at) {
		runs++
	}
	if runs != 1 {
		t.Fatalf("%d runs for a month jumped over, want 1", runs)
	}
}

// On a steppable clock River's early step-down warning is lowered to DEBUG;
// other warnings, and that one on real time, still show.
func TestQuietInfoStepDown(t *testing.T) {
	const stepDown = "leadership.Elector: Current leader stepping down because the reelection deadline elapsed"
	for _, steppable := range []bool{true, false} {
		var b strings.Builder
		log := slog.New(quietInfo{h: slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelInfo}), steppable: steppable})
		log.Warn(stepDown)
		log.Warn("jobs: something else")
		log.Info("routine")
		out := b.String()
		if strings.Contains(out, "stepping down") == steppable || !strings.Contains(out, "something else") || strings.Contains(out, "routine") {
			t.Errorf("steppable %v logged:\n%s", steppable, out)
		}
	}
}
