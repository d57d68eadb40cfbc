package engine

import (
	"context"
	"fmt"
	"time"
)

// DueRunner is periodic work the engine does when its clock says so: River
// runs it as a periodic job in the background, and in simulator mode
// clock.Advance runs it at every step through Settle, so that moving the one
// clock by a month runs it at the month's due times, not once a month late.
type DueRunner struct {
	// Name says what it is, in errors.
	Name string
	// Run does what is due at the engine's time (e.now()). It must be
	// idempotent: it runs at every step of an advance, and beside River's
	// periodic job.
	Run func(ctx context.Context) error
	// Next, when set, returns when Run next has something to do (false:
	// nothing is scheduled), so that an advance stops there and runs it
	// then: a renewal at its period's start, not at the end of the jump.
	// Nil means Run is a safety net with no due time of its own.
	Next func(ctx context.Context) (time.Time, bool, error)
}

// dueRunners is the engine's periodic work, in the order Settle runs it.
// Work with a due time of its own has a Next: subscription renewals (and
// their retries) at each subscription's nextChargeAt.
func (e *Engine) dueRunners() []DueRunner {
	return []DueRunner{
		{Name: "sweep", Run: e.sweep},
		{Name: "renew_subscriptions", Run: func(ctx context.Context) error {
			_, err := e.RenewDue(ctx)
			return err
		}, Next: e.NextRenewalAt},
		{Name: "cleanup_events", Run: func(ctx context.Context) error {
			_, err := e.CleanupEvents(ctx)
			return err
		}},
	}
}

// NextDue returns the earliest Next of the engine's due runners: the
// engine's side of clock.Waiter. The work its jobs do is the job runner's.
func (e *Engine) NextDue(ctx context.Context) (time.Time, bool, error) {
	var first time.Time
	found := false
	for _, d := range e.dueRunners() {
		if d.Next == nil {
			continue
		}
		t, ok, err := d.Next(ctx)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("engine: when is %s next due: %w", d.Name, err)
		}
		if ok && (!found || t.Before(first)) {
			first, found = t, true
		}
	}
	return first, found, nil
}

// Settle runs every due runner once, at the engine's time: the engine's
// side of clock.Waiter. The jobs they queue are the job runner's to settle.
func (e *Engine) Settle(ctx context.Context) error {
	for _, d := range e.dueRunners() {
		if err := d.Run(ctx); err != nil {
			return fmt.Errorf("engine: %s: %w", d.Name, err)
		}
	}
	return nil
}
