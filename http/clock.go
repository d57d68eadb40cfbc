package http

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/clock"
)

// Clock is the body of GET /v1/clock: the one clock of simulator mode.
type Clock struct {
	// Now is the clock's time, which the engine, its jobs and the
	// simulator all read.
	Now time.Time `json:"now"`
	// Scale is how many seconds of the clock pass per real second (serve
	// --time-scale); 0 for a clock that moves only when advanced.
	Scale float64 `json:"scale"`
	// Simulated is true: the route exists only in simulator mode (with a
	// real Antom it is a 404, and the clock is the real time).
	Simulated bool `json:"simulated"`
}

// ClockAdvance is the answer to POST /v1/clock/advance.
type ClockAdvance struct {
	Clock
	// From is where the clock was when the advance started.
	From time.Time `json:"from"`
}

type advanceClockRequest struct {
	// By is how far to move the clock: a Go duration ("720h", "90m") or
	// days, alone or before one ("30d", "1d12h"); at most ten years.
	By string `json:"by"`
	// Timeout bounds the wait for what fell due to run and settle: a Go
	// duration up to 80s. Empty means 60s.
	Timeout string `json:"timeout,omitempty"`
}

// DefaultAdvanceTimeout and MaxAdvanceTimeout bound POST
// /v1/clock/advance's wait: under serve's 90s write timeout.
const (
	DefaultAdvanceTimeout = 60 * time.Second
	MaxAdvanceTimeout     = 80 * time.Second
)

var clockOperations = []apiOperation{
	{Pattern: "GET /v1/clock", ID: "getClock", Summary: "Read the one clock (simulator mode only)",
		Description: "With the in-process simulator (serve without --antom-url), the engine, its jobs and the simulator run on one clock; this is it. With a real Antom the route is a 404 and the clock is the real time.",
		Status:      200, Response: Clock{}},
	{Pattern: "POST /v1/clock/advance", ID: "advanceClock", Summary: "Move the one clock forward (simulator mode only)",
		Description: "Moves the clock by `by` in steps, stopping at each moment something falls due on the way (a job: inquiry, cancel, expiry, webhook retry, …; a simulator event: order close, notification and its resends; the engine's periodic work), and answers once everything due has run and settled: no job due or running, the simulator idle. " +
			"If that takes longer than `timeout`, the answer is a 503 saying where the clock got to and what was still busy; the work goes on. With a real Antom the route is a 404.",
		Body: advanceClockRequest{}, Status: 200, Response: ClockAdvance{}},
}

// errNoClock is the answer to the clock routes with a real Antom.
func errNoClock() error {
	return autodebit.Errorf(autodebit.ENOTFOUND,
		"There is no simulated clock: this engine runs against a real Antom (--antom-url), so its clock is the real time. GET /v1/clock and POST /v1/clock/advance exist only with the in-process simulator (serve without --antom-url).")
}

func toClock(c *clock.Clock) Clock {
	return Clock{Now: apiTime(c.Now()), Scale: c.Scale(), Simulated: true}
}

func (s *Server) getClock(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Clock == nil {
		return errNoClock()
	}
	return writeJSON(w, http.StatusOK, toClock(s.cfg.Clock.Clock))
}

func (s *Server) advanceClock(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Clock == nil {
		return errNoClock()
	}
	var req advanceClockRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	by, timeout, err := parseAdvance(req)
	if err != nil {
		return err
	}
	from, err := AdvanceClock(r.Context(), s.cfg.Clock, by, timeout)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ClockAdvance{Clock: toClock(s.cfg.Clock.Clock), From: apiTime(from)})
}

// parseAdvance checks an advance request, naming the field at fault.
func parseAdvance(req advanceClockRequest) (by, timeout time.Duration, err error) {
	if req.By == "" {
		return 0, 0, autodebit.Errorf(autodebit.EINVALID, "Field \"by\" is required: how far to move the clock, e.g. \"1h\", \"30d\" or \"720h\".")
	}
	if by, err = clock.ParseDuration(req.By); err != nil {
		return 0, 0, autodebit.Errorf(autodebit.EINVALID, "Field \"by\": %v.", err)
	}
	timeout = DefaultAdvanceTimeout
	if req.Timeout != "" {
		timeout, err = time.ParseDuration(req.Timeout)
		if err != nil || timeout <= 0 || timeout > MaxAdvanceTimeout {
			return 0, 0, autodebit.Errorf(autodebit.EINVALID, "Field \"timeout\" must be a duration from 1s to %s, such as \"30s\"; got %q.", MaxAdvanceTimeout, req.Timeout)
		}
	}
	return by, timeout, nil
}

// AdvanceClock moves the stepper's clock by d and waits up to timeout for
// what fell due to settle, returning where the clock was before. A caller
// that goes away does not stop it half-way. Past the timeout the error
// (EUNAVAILABLE) says where the clock got to and what was still busy. The
// console's clock control shares it.
func AdvanceClock(ctx context.Context, st *clock.Stepper, d, timeout time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	from := st.Clock.Now()
	at, err := st.Advance(ctx, d)
	switch {
	case err == nil:
		return from, nil
	case ctx.Err() == nil:
		return from, fmt.Errorf("advance the clock by %s: %w", d, err)
	case at.Sub(from) < d:
		return from, autodebit.Errorf(autodebit.EUNAVAILABLE,
			"The clock moved from %s to %s, short of the %s asked: what fell due had not settled within %s (%v). Work already started carries on; advance again for the rest.",
			apiTime(from).Format(time.RFC3339), apiTime(at).Format(time.RFC3339), d, timeout, err)
	default:
		return from, autodebit.Errorf(autodebit.EUNAVAILABLE,
			"The clock moved from %s to %s, but what fell due had not settled within %s (%v). It carries on: look again in a moment.",
			apiTime(from).Format(time.RFC3339), apiTime(at).Format(time.RFC3339), timeout, err)
	}
}
