package jobs

import (
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
