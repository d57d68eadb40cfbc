package jobs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// How River decides that a job is due, and how a steppable clock (NowFunc)
// keeps up with it. River v0.51.2, both drivers (riversqlite and
// riverdatabasesql, which shares riverpgxv5's queries):
//
//   - Every time River writes or compares is taken from Config.Test.Time
//     (our NowFunc, see stubClock) and passed to its queries as a parameter:
//     a job inserted without ScheduledAt gets scheduled_at = NowFunc(), a
//     snooze NowFunc() + delay, a retry the retry policy's time (ours, on
//     NowFunc). A producer fetches `available` jobs with scheduled_at ≤
//     NowFunc() (JobGetAvailable) every FetchPollInterval.
//   - A snooze or retry shorter than the scheduler's interval (5s) goes
//     straight to `available`; a longer one is `scheduled` (or `retryable`),
//     and only the leader's JobScheduler moves those to `available`, on its
//     own ticker of 5s of real time, for jobs with scheduled_at ≤ NowFunc()
//     + 5s.
//
// So once NowFunc passes a job's time the job is due, but a `scheduled` one
// waits for the next real-time tick: up to 5s after a clock advance, and far
// more of simulated time on a fast clock (5s at 60× is five minutes). The
// runner closes that gap itself: Settle (the runner's side of clock.Waiter,
// which clock.Advance calls at each step) and, on a fast clock, a loop every
// Config.PromoteInterval make each due `scheduled` or `retryable` job
// available with River's public JobRetryTx, in a transaction that first
// re-reads the row under a lock, so that a job River promoted and finished
// meanwhile is never run again.
//
// River's periodic jobs (the sweep, the events cleanup) are timed on NowFunc
// too: after a jump they would be inserted once for every interval jumped
// over (a month of 5s sweeps is half a million jobs). catchUp runs them once
// instead, then resumes their schedule from the new time. The engine's Settle
// (engine/clock.go) runs the same work directly at each step of an advance.

// catchUp is River's PeriodicInterval schedule, except that a run missed
// because the clock jumped (or ran faster than the periodic enqueuer's real
// timer) is made up for by one run, not one per interval.
type catchUp struct {
	interval time.Duration
	now      func() time.Time
}

func (c catchUp) Next(t time.Time) time.Time {
	next := t.Add(c.interval)
	if now := c.now(); next.Before(now) {
		return now.Add(c.interval)
	}
	return next
}

// NextDue returns the earliest scheduled time of a job still to run or
// running (available, scheduled, retryable, running): the job runner's side
// of clock.Waiter. A running job counts (its time is past), or a job a
// producer fetched right after it was queued (by another waiter's Settle)
// would be seen by nobody, and the clock would jump while it runs.
func (r *Runner) NextDue(ctx context.Context) (time.Time, bool, error) {
	r.stepped.Store(time.Now().UnixNano())
	res, err := r.client.JobList(ctx, river.NewJobListParams().
		States(rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStateRunning).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(1))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("jobs: next due job: %w", err)
	}
	if len(res.Jobs) == 0 {
		return time.Time{}, false, nil
	}
	at := res.Jobs[0].ScheduledAt
	if r.driver.DatabaseName() == "sqlite" {
		// riversqlite rounds times to the nearest millisecond: the job was
		// asked for some time in [at-0.5ms, at+0.5ms). Stepping the clock to
		// the end of that range runs it no earlier than asked (a handler
		// that finds its work not yet due would snooze past the step).
		at = at.Add(time.Millisecond / 2)
	}
	return at, true, nil
}

// Settle makes the jobs due at NowFunc's time available and returns once
// none is due or running any more: the job runner's side of clock.Waiter.
// Jobs they queue for later are left for a later step. When ctx ends first,
// the error names the jobs still busy.
func (r *Runner) Settle(ctx context.Context) error {
	r.settling.Add(1)
	defer func() {
		r.stepped.Store(time.Now().UnixNano())
		r.settling.Add(-1)
	}()
	for {
		promoted, err := r.promoteDue(ctx)
		if err != nil {
			return err
		}
		busy, err := r.busy(ctx)
		if err != nil {
			return err
		}
		if promoted == 0 && len(busy) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("jobs not settled: %s%s: %w", describe(busy), r.firstRunning(busy), ctx.Err())
		case <-time.After(r.settlePoll):
		}
	}
}

// dbNow is NowFunc's time as River writes and compares it in the
// database: riversqlite keeps milliseconds (rounded, both the job's time and
// the now it is compared with), PostgreSQL microseconds. A job is due when
// its stored scheduled_at is not after this.
func (r *Runner) dbNow() time.Time {
	now := r.now().UTC()
	if r.driver.DatabaseName() == "sqlite" {
		return now.Round(time.Millisecond)
	}
	return now.Truncate(time.Microsecond)
}

// busy returns the jobs running, or available and due, by kind.
func (r *Runner) busy(ctx context.Context) ([]*rivertype.JobRow, error) {
	now := r.dbNow()
	// One query for both states: listed one after the other, a job a
	// producer fetched in between (available → running) would be in
	// neither list, and Settle would return while it runs.
	res, err := r.client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateRunning, rivertype.JobStateAvailable).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(100))
	if err != nil {
		return nil, fmt.Errorf("jobs: list running and available jobs: %w", err)
	}
	var out []*rivertype.JobRow
	for _, j := range res.Jobs {
		if j.State == rivertype.JobStateRunning || !j.ScheduledAt.After(now) {
			out = append(out, j)
		}
	}
	return out, nil
}

// describe says what jobs are busy: "2 running (inquire_charge ×2), 1 due
// (deliver_webhook)".
func describe(jobs []*rivertype.JobRow) string {
	if len(jobs) == 0 {
		return "nothing running, but more kept falling due"
	}
	kinds := map[rivertype.JobState]map[string]int{}
	for _, j := range jobs {
		if kinds[j.State] == nil {
			kinds[j.State] = map[string]int{}
		}
		kinds[j.State][j.Kind]++
	}
	var parts []string
	for _, state := range []rivertype.JobState{rivertype.JobStateRunning, rivertype.JobStateAvailable} {
		byKind := kinds[state]
		if len(byKind) == 0 {
			continue
		}
		n := 0
		var names []string
		for _, k := range slices.Sorted(maps.Keys(byKind)) {
			n += byKind[k]
			if byKind[k] > 1 {
				names = append(names, fmt.Sprintf("%s ×%d", k, byKind[k]))
			} else {
				names = append(names, k)
			}
		}
		what := "running"
		if state == rivertype.JobStateAvailable {
			what = "due, not started"
		}
		parts = append(parts, fmt.Sprintf("%d %s (%s)", n, what, strings.Join(names, ", ")))
	}
	return strings.Join(parts, ", ")
}

// firstRunning names the first running job of jobs, when it went running
// (on the one clock) and by which River client, for a Settle that timed out:
// a job left running by a client that is gone is what a rescue is for.
func (r *Runner) firstRunning(jobs []*rivertype.JobRow) string {
	for _, j := range jobs {
		if j.State != rivertype.JobStateRunning {
			continue
		}
		var at time.Time
		if j.AttemptedAt != nil {
			at = *j.AttemptedAt
		}
		by := ""
		if len(j.AttemptedBy) > 0 {
			by = j.AttemptedBy[len(j.AttemptedBy)-1]
		}
		return fmt.Sprintf("; job %d (%s) running since %s by %s (this runner is %s), attempt %d",
			j.ID, j.Kind, at.Format(time.RFC3339Nano), by, r.client.ID(), j.Attempt)
	}
	return ""
}

// promoteDue makes available every scheduled or retryable job whose time
// NowFunc has reached, and returns how many it moved.
func (r *Runner) promoteDue(ctx context.Context) (int, error) {
	now := r.dbNow()
	res, err := r.client.JobList(ctx, river.NewJobListParams().
		States(rivertype.JobStateScheduled, rivertype.JobStateRetryable).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(100))
	if err != nil {
		return 0, fmt.Errorf("jobs: list scheduled jobs: %w", err)
	}
	n := 0
	for _, j := range res.Jobs {
		if j.ScheduledAt.After(now) {
			break
		}
		ok, err := r.promote(ctx, j.ID, now)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// promote makes job id available if it is still scheduled or retryable and
// due at now. The row is locked first (PostgreSQL: FOR UPDATE; SQLite's
// write transactions exclude each other), so River cannot run and finish
// it between the check and JobRetryTx, which would run it again.
func (r *Runner) promote(ctx context.Context, id int64, now time.Time) (bool, error) {
	etx, err := r.driver.GetExecutor().Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("jobs: promote job %d: %w", id, err)
	}
	defer etx.Rollback(context.WithoutCancel(ctx))
	if r.driver.DatabaseName() == "postgres" {
		if err := etx.Exec(ctx, "SELECT id FROM river_job WHERE id = $1 FOR UPDATE", id); err != nil {
			return false, fmt.Errorf("jobs: lock job %d: %w", id, err)
		}
	}
	tx := r.driver.UnwrapTx(etx)
	j, err := r.client.JobGetTx(ctx, tx, id)
	if errors.Is(err, river.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("jobs: promote job %d: %w", id, err)
	}
	if (j.State != rivertype.JobStateScheduled && j.State != rivertype.JobStateRetryable) || j.ScheduledAt.After(now) {
		return false, nil
	}
	if _, err := r.client.JobRetryTx(ctx, tx, id); err != nil {
		return false, fmt.Errorf("jobs: promote job %d: %w", id, err)
	}
	if err := etx.Commit(ctx); err != nil {
		return false, fmt.Errorf("jobs: promote job %d: %w", id, err)
	}
	return true, nil
}

// promoteLoop promotes due jobs every interval until ctx ends: on a clock
// that runs faster than real time River's 5s scheduler tick is minutes late.
func (r *Runner) promoteLoop(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := r.promoteDue(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("promote due jobs", "err", err)
		}
	}
}
