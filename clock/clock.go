// Package clock is the one steppable clock of simulator mode: the engine
// (its store, jobs, console and metrics) and the in-process Antom simulator
// read the same Clock, so that moving it makes orders close, notifications
// resend and scheduled jobs fall due together, in time order.
//
// Our timers live in database rows and in the simulator's event heap, not in
// goroutines, so Now is the only seam: every component keeps its NowFunc and
// is given Clock.Now. Advance steps the clock the way clockwork's fake clock
// does: to the earliest moment something falls due, where it lets that work
// run and settle, and on to the next, so that effects keep their order. It
// imports only the standard library.
package clock

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Clock is real time times a scale, plus whatever Add and Set moved it by.
// A manual clock moves only through Add and Set. It is safe for concurrent
// use; its zero value is not usable.
type Clock struct {
	mu        sync.Mutex
	start     time.Time // the clock's time at realStart, before offset
	realStart time.Time
	scale     float64
	manual    bool
	offset    time.Duration
}

// New returns a clock that reads start now and runs scale times as fast as
// real time (1 is real time, 60 a minute per second). A scale that is not
// positive means 1.
func New(start time.Time, scale float64) *Clock {
	if scale <= 0 {
		scale = 1
	}
	return &Clock{start: start, realStart: time.Now(), scale: scale}
}

// NewManual returns a stopped clock at start: it moves only through Add and
// Set, so tests get repeatable times.
func NewManual(start time.Time) *Clock {
	return &Clock{start: start, realStart: time.Now(), manual: true}
}

// Now returns the clock's time, in the location of its start.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	if c.manual {
		return c.start.Add(c.offset)
	}
	el := time.Duration(float64(time.Since(c.realStart)) * c.scale)
	return c.start.Add(el + c.offset)
}

// Scale returns how many seconds of the clock pass per real second: 0 for a
// manual clock.
func (c *Clock) Scale() float64 {
	if c.manual {
		return 0
	}
	return c.scale
}

// Manual reports whether the clock moves only when told.
func (c *Clock) Manual() bool { return c.manual }

// Add moves the clock by d (forward when d is positive) and returns the new
// time. Work that falls due meanwhile is not run: Advance does that.
func (c *Clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
	return c.nowLocked()
}

// Set moves the clock to t, forward or back. Moving it back is meant for
// restoring a saved clock before anything runs on it (antomsim does, from
// its state file); afterwards use Add or Advance.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += t.Sub(c.nowLocked())
}

// RealWait converts a wait on the clock into real time; ok is false for a
// manual clock, on which nothing happens by itself.
func (c *Clock) RealWait(d time.Duration) (wait time.Duration, ok bool) {
	if c.manual {
		return 0, false
	}
	if d <= 0 {
		return 0, true
	}
	return time.Duration(float64(d) / c.scale), true
}

// Waiter is work that falls due on the clock: the simulator's events, the
// job runner's scheduled jobs, the engine's periodic work.
type Waiter interface {
	// NextDue returns when the earliest work still to do falls due (it may
	// be now or past); false means nothing is scheduled.
	NextDue(ctx context.Context) (time.Time, bool, error)
	// Settle runs what is due now and returns once it has finished, or
	// with an error saying what is left when ctx ends first.
	Settle(ctx context.Context) error
}

// Advance moves c forward by d and runs everything that falls due on the way,
// in time order: it settles the waiters at the current time, then repeatedly
// steps the clock to the earliest NextDue of any waiter within d and settles
// them all there, until the clock has moved by d in all and nothing due is
// left. It returns the clock's time then. A running (scaled) clock keeps
// running meanwhile, so it ends d plus the real time the advance took ahead.
//
// When ctx ends first, the clock stays where the last step put it and the
// error says what had not settled.
func Advance(ctx context.Context, c *Clock, d time.Duration, ws ...Waiter) (time.Time, error) {
	if d < 0 {
		return c.Now(), fmt.Errorf("advance by %s: the clock only moves forward", d)
	}
	if err := settle(ctx, c, ws); err != nil {
		return c.Now(), err
	}
	left := d
	for {
		next, ok, err := earliest(ctx, ws)
		if err != nil {
			return c.Now(), err
		}
		step := left
		if ok {
			step = min(max(next.Sub(c.Now()), 0), left)
		}
		if step > 0 {
			c.Add(step)
			left -= step
		}
		if err := settle(ctx, c, ws); err != nil {
			return c.Now(), err
		}
		if left == 0 {
			// Done once nothing is due at the target either: settle ran to
			// a fixed point, so only work that fell due since is left.
			if next, ok, err := earliest(ctx, ws); err != nil || !ok || next.After(c.Now()) {
				return c.Now(), err
			}
		}
	}
}

// settle settles every waiter, again and again, until none has work due at
// the clock's time: work one settles (a notification) often queues work for
// another (a job).
func settle(ctx context.Context, c *Clock, ws []Waiter) error {
	for {
		for _, w := range ws {
			if err := w.Settle(ctx); err != nil {
				return err
			}
		}
		next, ok, err := earliest(ctx, ws)
		if err != nil {
			return err
		}
		if !ok || next.After(c.Now()) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("work due at %s is still waiting: %w", next.Format(time.RFC3339), err)
		}
	}
}

// earliest returns the earliest NextDue of ws.
func earliest(ctx context.Context, ws []Waiter) (time.Time, bool, error) {
	var first time.Time
	found := false
	for _, w := range ws {
		t, ok, err := w.NextDue(ctx)
		if err != nil {
			return time.Time{}, false, err
		}
		if ok && (!found || t.Before(first)) {
			first, found = t, true
		}
	}
	return first, found, nil
}

// Stepper is a clock with the work that falls due on it: what GET /v1/clock
// shows and POST /v1/clock/advance, `autodebit clock advance` and the
// console's control move. It runs one advance at a time.
type Stepper struct {
	Clock   *Clock
	Waiters []Waiter
	// AfterAdvance, when set, runs after each advance, before it returns:
	// serve writes the simulator's state (which keeps the clock) at once,
	// so that a kill right after an answered advance keeps the move.
	AfterAdvance func()

	mu sync.Mutex
}

// Advance is Advance on the stepper's clock and waiters, after any advance
// already running has finished (or ctx ended).
func (s *Stepper) Advance(ctx context.Context, d time.Duration) (time.Time, error) {
	// A mutex cannot be given up when ctx ends; a one-slot channel can.
	if err := s.lock(ctx); err != nil {
		return s.Clock.Now(), errors.New("another clock advance is still running")
	}
	defer s.mu.Unlock()
	t, err := Advance(ctx, s.Clock, d, s.Waiters...)
	if s.AfterAdvance != nil {
		s.AfterAdvance()
	}
	return t, err
}

func (s *Stepper) lock(ctx context.Context) error {
	for !s.mu.TryLock() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// MaxAdvance is the longest single advance ParseDuration accepts: ten years.
const MaxAdvance = 10 * 366 * 24 * time.Hour

// ParseDuration reads how far to advance the clock: a Go duration ("720h",
// "90m", "1h30m") or whole days, alone or before one ("30d", "1d12h"). It
// must be positive and at most MaxAdvance. Errors name what is wrong.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, errors.New("is empty; give a duration such as 1h, 30d or 720h")
	}
	var days time.Duration
	if i := strings.IndexByte(in, 'd'); i >= 0 {
		n, err := strconv.ParseUint(in[:i], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%q: days must be a whole number before the d, as in 30d or 1d12h", s)
		}
		if n > uint64(MaxAdvance/(24*time.Hour)) {
			return 0, fmt.Errorf("%q is more than ten years", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		in = in[i+1:]
	}
	var rest time.Duration
	if in != "" {
		var err error
		if rest, err = time.ParseDuration(in); err != nil {
			return 0, fmt.Errorf("%q is not a duration; give one such as 1h, 30d or 720h", s)
		}
	}
	d := days + rest
	switch {
	case rest < 0 || d <= 0:
		return 0, fmt.Errorf("%q must be positive: the clock only moves forward", s)
	case d > MaxAdvance:
		return 0, fmt.Errorf("%q is more than ten years", s)
	}
	return d, nil
}
