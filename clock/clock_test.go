package clock_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autodebit/autodebit/clock"
)

var t0 = time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)

// fake is a waiter with a list of due times; settling runs (records) each
// one due, and a run may schedule more work on another fake.
type fake struct {
	name string
	clk  *clock.Clock
	log  *[]string
	mu   sync.Mutex
	due  []time.Time
	then map[time.Time]func() // work a run schedules
}

func (f *fake) at(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.due = append(f.due, t)
	slices.SortFunc(f.due, time.Time.Compare)
}

func (f *fake) NextDue(context.Context) (time.Time, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.due) == 0 {
		return time.Time{}, false, nil
	}
	return f.due[0], true, nil
}

func (f *fake) Settle(context.Context) error {
	now := f.clk.Now()
	for {
		f.mu.Lock()
		if len(f.due) == 0 || f.due[0].After(now) {
			f.mu.Unlock()
			return nil
		}
		d := f.due[0]
		f.due = f.due[1:]
		next := f.then[d]
		f.mu.Unlock()
		*f.log = append(*f.log, fmt.Sprintf("%s@%s ran at %s", f.name, d.Sub(t0), now.Sub(t0)))
		if next != nil {
			next()
		}
	}
}

// Advance runs each piece of work at its own due time, in order, across
// two waiters, including work one waiter's run schedules on the other, and
// ends at the target with nothing due left.
func TestAdvanceStepsInOrder(t *testing.T) {
	clk := clock.NewManual(t0)
	var log []string
	sim := &fake{name: "sim", clk: clk, log: &log, then: map[time.Time]func(){}}
	jobs := &fake{name: "jobs", clk: clk, log: &log, then: map[time.Time]func(){}}
	sim.at(t0.Add(2 * time.Hour))
	jobs.at(t0.Add(time.Hour))
	jobs.at(t0.Add(3 * time.Hour))
	sim.at(t0.Add(30 * time.Hour)) // past the target: must not run
	// The notification at 2h makes the engine queue a job 10 minutes on.
	sim.then[t0.Add(2*time.Hour)] = func() { jobs.at(t0.Add(2*time.Hour + 10*time.Minute)) }
	// Work already due runs first, at the current time.
	jobs.at(t0.Add(-time.Minute))

	got, err := clock.Advance(context.Background(), clk, 24*time.Hour, sim, jobs)
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(24 * time.Hour); !got.Equal(want) || !clk.Now().Equal(want) {
		t.Fatalf("Advance returned %s, clock %s; want %s", got, clk.Now(), want)
	}
	want := []string{
		"jobs@-1m0s ran at 0s",
		"jobs@1h0m0s ran at 1h0m0s",
		"sim@2h0m0s ran at 2h0m0s",
		"jobs@2h10m0s ran at 2h10m0s",
		"jobs@3h0m0s ran at 3h0m0s",
	}
	if strings.Join(log, "\n") != strings.Join(want, "\n") {
		t.Fatalf("runs:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(want, "\n"))
	}
	if next, ok, _ := sim.NextDue(context.Background()); !ok || !next.Equal(t0.Add(30*time.Hour)) {
		t.Fatalf("the work past the target is gone: %v %v", next, ok)
	}
}

// A waiter that cannot settle makes Advance fail with its error once ctx
// ends, leaving the clock where it got to.
type stuck struct{ clk *clock.Clock }

func (s stuck) NextDue(context.Context) (time.Time, bool, error) { return s.clk.Now(), true, nil }
func (s stuck) Settle(ctx context.Context) error {
	<-ctx.Done()
	return fmt.Errorf("1 job still running: %w", ctx.Err())
}

func TestAdvanceTimeout(t *testing.T) {
	clk := clock.NewManual(t0)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := clock.Advance(ctx, clk, time.Hour, stuck{clk})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 job still running") {
		t.Fatalf("err = %v", err)
	}
	if !clk.Now().Equal(t0) {
		t.Fatalf("clock moved to %s though nothing settled", clk.Now())
	}
}

func TestAdvanceRefusesNegative(t *testing.T) {
	clk := clock.NewManual(t0)
	if _, err := clock.Advance(context.Background(), clk, -time.Second); err == nil {
		t.Fatal("a negative advance was accepted")
	}
	if !clk.Now().Equal(t0) {
		t.Fatal("the clock moved")
	}
}

// One advance at a time: a second one waits for the first.
func TestStepperSerialises(t *testing.T) {
	clk := clock.NewManual(t0)
	var log []string
	w := &fake{name: "w", clk: clk, log: &log, then: map[time.Time]func(){}}
	var after []time.Time // AfterAdvance sees each advance's end, one at a time
	s := &clock.Stepper{Clock: clk, Waiters: []clock.Waiter{w}, AfterAdvance: func() { after = append(after, clk.Now()) }}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Advance(context.Background(), time.Hour); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if want := t0.Add(4 * time.Hour); !clk.Now().Equal(want) {
		t.Fatalf("clock %s, want %s", clk.Now(), want)
	}
	if len(after) != 4 || !after[3].Equal(t0.Add(4*time.Hour)) {
		t.Fatalf("AfterAdvance ran at %v, want once after each of the 4 advances", after)
	}
}

func TestScaledClock(t *testing.T) {
	c := clock.New(t0, 3600) // an hour per second
	if c.Manual() || c.Scale() != 3600 {
		t.Fatalf("manual %v scale %v", c.Manual(), c.Scale())
	}
	time.Sleep(20 * time.Millisecond)
	if el := c.Now().Sub(t0); el < time.Minute {
		t.Fatalf("after 20ms at 3600x the clock moved %s", el)
	}
	if w, ok := c.RealWait(time.Hour); !ok || w != time.Second {
		t.Fatalf("RealWait(1h) = %s %v, want 1s", w, ok)
	}
	c.Set(t0.Add(-time.Hour))
	if d := c.Now().Sub(t0.Add(-time.Hour)); d < 0 || d > time.Hour {
		t.Fatalf("after Set the clock is %s off", d)
	}
	m := clock.NewManual(t0)
	if _, ok := m.RealWait(time.Hour); ok || m.Scale() != 0 {
		t.Fatal("a manual clock waits in real time")
	}
	if got := m.Add(90 * time.Minute); !got.Equal(t0.Add(90 * time.Minute)) {
		t.Fatalf("Add = %s", got)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"720h": 720 * time.Hour, "30d": 30 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90m": 90 * time.Minute,
		" 1h ": time.Hour, "3660d": 3660 * 24 * time.Hour,
	} {
		if got, err := clock.ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"": "is empty", "0d": "must be positive", "-1h": "must be positive", "1.5d": "whole number",
		"d": "whole number", "soon": "not a duration", "3700d": "more than ten years", "1d-2h": "must be positive",
		"88000h": "more than ten years", "1dx": "not a duration",
	} {
		if _, err := clock.ParseDuration(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseDuration(%q) error = %v; want one saying %q", in, err, msg)
		}
	}
}
