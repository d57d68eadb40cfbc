package http_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	adclock "github.com/autodebit/autodebit/clock"
	adhttp "github.com/autodebit/autodebit/http"
)

// busyAt is work due at an hour that never finishes once the clock is there.
type busyAt struct {
	clk *adclock.Clock
	at  time.Time
}

func (b busyAt) NextDue(context.Context) (time.Time, bool, error) { return b.at, true, nil }
func (b busyAt) Settle(ctx context.Context) error {
	if b.clk.Now().Before(b.at) {
		return nil
	}
	<-ctx.Done()
	return fmt.Errorf("jobs not settled: 1 running (deliver_webhook): %w", ctx.Err())
}

// An advance that cannot settle in time is a 503 (EUNAVAILABLE) saying
// where the clock got to, short of what was asked, and what was busy.
func TestAdvanceClockTimeout(t *testing.T) {
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clk := adclock.NewManual(start)
	st := &adclock.Stepper{Clock: clk, Waiters: []adclock.Waiter{busyAt{clk, start.Add(time.Hour)}}}
	from, err := adhttp.AdvanceClock(context.Background(), st, 2*time.Hour, 50*time.Millisecond)
	if !from.Equal(start) || autodebit.ErrorCode(err) != autodebit.EUNAVAILABLE || adhttp.StatusCode(err) != 503 {
		t.Fatalf("from %s, err %v (%s), want 503 from %s", from, err, autodebit.ErrorCode(err), start)
	}
	for _, want := range []string{"2026-05-01T12:00:00Z to 2026-05-01T13:00:00Z", "short of the 2h0m0s asked", "within 50ms", "1 running (deliver_webhook)", "advance again"} {
		if !strings.Contains(autodebit.ErrorMessage(err), want) {
			t.Errorf("message %q lacks %q", autodebit.ErrorMessage(err), want)
		}
	}
	if !clk.Now().Equal(start.Add(time.Hour)) {
		t.Fatalf("clock at %s, want where the busy work stopped it", clk.Now())
	}
}
