// Package jobs runs the engine's durable background work on River. Jobs are
// inserted in the same database transaction as the state change that needs
// them (Runner.Enqueue is the store's EnqueueFunc), so both commit or
// neither does. Several processes sharing one PostgreSQL database share the
// work: River locks each job for one worker.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/engine"
)

// Config configures a Runner.
type Config struct {
	// Driver is River's driver for the store's database (riversqlite or
	// riverdatabasesql). Required.
	Driver riverdriver.Driver[*sql.Tx]
	// Workers bounds the jobs run at once on the default queue. Zero means 20.
	Workers int
	// UrgentWorkers bounds the applyToken jobs run at once. Zero means 10.
	UrgentWorkers int
	// PollInterval is how often each queue looks for new jobs; with SQLite
	// and database/sql River can only poll. It bounds the delay from an
	// authCode notification to applyToken. Zero means 50ms.
	PollInterval time.Duration
	// Logger receives River's logs, its INFO lines lowered to DEBUG: River
	// reports routine work (periodic inserts, leadership, queue starts) at
	// INFO every few seconds, which would drown the engine's own lines.
	// Nil means slog.Default().
	Logger *slog.Logger
	// NowFunc, when set, is River's clock: when a scheduled or snoozed job
	// falls due (see clock.go for how River decides). In simulator mode
	// serve gives it the one clock, and tests a manual one, so that
	// advancing that clock runs the jobs due. Nil means the real time.
	NowFunc func() time.Time
	// PromoteInterval, with NowFunc set, is how often the runner itself
	// makes the jobs NowFunc has made due available, rather than wait for
	// River's scheduler, which looks every 5s of real time: on a clock that
	// runs N times as fast that is 5N seconds late. Zero means only Settle
	// does (enough for real time and for a manual clock, which moves only
	// through clock.Advance).
	PromoteInterval time.Duration
	// SweepInterval is how often the leader runs the sweep that re-queues
	// work whose job was lost (charge and refund inquiries, revokes). Zero
	// means 5s.
	SweepInterval time.Duration
	// RenewInterval is how often the leader runs RenewDue
	// (RenewSubscriptionsArgs), which charges the subscriptions that fell
	// due: a renewal is made at most this long after its time. Zero means
	// 5s.
	RenewInterval time.Duration
	// CleanupInterval is how often the leader deletes the events past the
	// engine's retention (CleanupEventsArgs). Zero means an hour.
	CleanupInterval time.Duration
	// JobTimeout bounds one run of a job, in real time. Zero means
	// DefaultJobTimeout.
	JobTimeout time.Duration
	// RescueAfter is how long a job left running by a process that died
	// waits before another process runs it again. River's rescuer compares
	// the job's attempted_at (written on NowFunc's clock) with the wall
	// clock, so on a clock that runs ahead it would wait for the wall to
	// catch up: see SoleRunner. It must exceed JobTimeout. Zero means
	// JobTimeout + 1 minute.
	RescueAfter time.Duration
	// SoleRunner says that no other runner shares the database: simulator
	// mode, where the simulator's state file is locked to one process. A
	// job still running when Start is called was then left by a process
	// that died, and is made available again at once. River's rescuer
	// would wait RescueAfter past its attempted_at on the wall clock, which
	// never comes while the one clock is ahead (advanced, or faster), and
	// each clock advance would wait for it meanwhile.
	SoleRunner bool
	// FailedFunc, when set, is called with the job kind each time a job
	// attempt fails with an error or a panic (not a snooze), for metrics.
	FailedFunc func(kind string)
}

// failureCounter is a river.ErrorHandler that reports each failed attempt
// and leaves the retry to the retry policy.
type failureCounter struct{ fn func(kind string) }

func (f failureCounter) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	f.fn(job.Kind)
	return nil
}

func (f failureCounter) HandlePanic(ctx context.Context, job *rivertype.JobRow, v any, trace string) *river.ErrorHandlerResult {
	f.fn(job.Kind)
	return nil
}

// quietInfo is a slog.Handler that passes River's INFO records on as DEBUG
// and every other level unchanged, so warnings and errors still show.
//
// On a steppable clock (Config.NowFunc) it also lowers River's warning that
// the leader steps down because its reelection deadline elapsed: River
// measures its leader's term on that clock, so a jump of the clock, or a
// clock running more than 3× as fast (a 15s term against a reelection
// every 5s of real time), ends the term early. The leader steps down and is
// elected again at once (simulator mode is one process); River's leader-only
// maintenance restarts, which it is built to do.
type quietInfo struct {
	h         slog.Handler
	steppable bool
}

func (q quietInfo) Enabled(ctx context.Context, l slog.Level) bool {
	// A warning that may be lowered must reach Handle to be looked at.
	return q.h.Enabled(ctx, demote(l))
}

func (q quietInfo) Handle(ctx context.Context, r slog.Record) error {
	r.Level = demote(r.Level)
	if q.steppable && r.Level == slog.LevelWarn && strings.Contains(r.Message, "stepping down because the reelection deadline elapsed") {
		if r.Level = slog.LevelDebug; !q.h.Enabled(ctx, r.Level) {
			return nil
		}
	}
	return q.h.Handle(ctx, r)
}

func (q quietInfo) WithAttrs(as []slog.Attr) slog.Handler {
	return quietInfo{q.h.WithAttrs(as), q.steppable}
}
func (q quietInfo) WithGroup(name string) slog.Handler {
	return quietInfo{q.h.WithGroup(name), q.steppable}
}

func demote(l slog.Level) slog.Level {
	if l == slog.LevelInfo {
		return slog.LevelDebug
	}
	return l
}

// stubClock is a rivertype.TimeGenerator over a NowFunc.
type stubClock struct{ now func() time.Time }

// Now returns the time in UTC at the databases' microsecond precision, so
// that a job scheduled "now" on a stopped clock is due at that same "now"
// (PostgreSQL would round it up a fraction past it).
func (c stubClock) Now() time.Time { return c.now().UTC().Truncate(time.Microsecond) }

func (c stubClock) NowOrNil() *time.Time {
	t := c.Now()
	return &t
}

// DefaultJobTimeout bounds one run of a job when Config.JobTimeout is zero:
// applyToken may resend for a minute.
const DefaultJobTimeout = 2 * time.Minute

// Runner inserts and runs jobs. It is safe for concurrent use.
type Runner struct {
	client       *river.Client[*sql.Tx]
	driver       riverdriver.Driver[*sql.Tx]
	engine       atomic.Pointer[engine.Engine]
	log          *slog.Logger
	now          func() time.Time
	promoteEvery time.Duration // Config.PromoteInterval, when NowFunc is set
	settlePoll   time.Duration // how often Settle looks again while jobs run
	settling     atomic.Int32  // Settles in progress: jobs complete at once (completeNow)
	stepped      atomic.Int64  // wall time (UnixNano) of the last NextDue or Settle: an advance is on
	sole         bool          // Config.SoleRunner
}

// New builds a Runner. Jobs can be enqueued at once; Start runs them.
func New(cfg Config) (*Runner, error) {
	if cfg.Driver == nil {
		return nil, errors.New("jobs: Driver is required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 20
	}
	if cfg.UrgentWorkers <= 0 {
		cfg.UrgentWorkers = 10
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 5 * time.Second
	}
	if cfg.RenewInterval <= 0 {
		cfg.RenewInterval = 5 * time.Second
	}
	if cfg.CleanupInterval <= 0 {
		cfg.CleanupInterval = time.Hour
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = DefaultJobTimeout
	}
	if cfg.RescueAfter <= 0 {
		// River's default is an hour: far too long for a payment left INIT.
		cfg.RescueAfter = cfg.JobTimeout + time.Minute
	}
	if cfg.RescueAfter <= cfg.JobTimeout {
		return nil, fmt.Errorf("jobs: RescueAfter %s must exceed JobTimeout %s", cfg.RescueAfter, cfg.JobTimeout)
	}
	r := &Runner{log: cfg.Logger, driver: cfg.Driver, now: time.Now, settlePoll: min(cfg.PollInterval, 20*time.Millisecond), sole: cfg.SoleRunner}
	// River's periodic schedule, or, on a steppable clock, catchUp.
	every := river.PeriodicInterval
	if cfg.NowFunc != nil {
		r.now, r.promoteEvery = cfg.NowFunc, cfg.PromoteInterval
		every = func(d time.Duration) river.PeriodicSchedule { return catchUp{interval: d, now: cfg.NowFunc} }
	}
	workers := river.NewWorkers()
	addWorker[engine.ApplyTokenArgs](workers, r)
	addWorker[engine.ExpireAuthorizationArgs](workers, r)
	addWorker[engine.InquireChargeArgs](workers, r)
	addWorker[engine.InquireRefundArgs](workers, r)
	addWorker[engine.RevokeTokenArgs](workers, r)
	addWorker[engine.SweepArgs](workers, r)
	addWorker[engine.CleanupEventsArgs](workers, r)
	addWorker[engine.DeliverWebhookArgs](workers, r)
	addWorker[engine.LegacySweepChargesArgs](workers, r)
	addWorker[engine.ExpireLinkSessionArgs](workers, r)
	addWorker[engine.RenewSubscriptionsArgs](workers, r)
	addWorker[engine.ChargeSubscriptionArgs](workers, r)
	rc := &river.Config{
		Logger:               slog.New(quietInfo{h: cfg.Logger.Handler(), steppable: cfg.NowFunc != nil}),
		FetchCooldown:        cfg.PollInterval / 5,
		FetchPollInterval:    cfg.PollInterval,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: cfg.Workers},
			engine.QueueUrgent: {MaxWorkers: cfg.UrgentWorkers},
		},
		Workers: workers,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(
				every(cfg.SweepInterval),
				func() (river.JobArgs, *river.InsertOpts) { return engine.SweepArgs{}, nil },
				&river.PeriodicJobOpts{ID: engine.SweepArgs{}.Kind(), RunOnStart: true},
			),
			// Only a trigger: the schedule lives in the subscriptions'
			// rows, so a missed or doubled run charges nothing twice.
			river.NewPeriodicJob(
				river.PeriodicInterval(cfg.RenewInterval),
				func() (river.JobArgs, *river.InsertOpts) { return engine.RenewSubscriptionsArgs{}, nil },
				&river.PeriodicJobOpts{ID: engine.RenewSubscriptionsArgs{}.Kind(), RunOnStart: true},
			),
			// The schedule is approximate (River's periodic jobs live on
			// the leader, in memory), which retention can afford: an event
			// kept an hour longer harms nothing.
			river.NewPeriodicJob(
				every(cfg.CleanupInterval),
				func() (river.JobArgs, *river.InsertOpts) { return engine.CleanupEventsArgs{}, nil },
				&river.PeriodicJobOpts{ID: engine.CleanupEventsArgs{}.Kind(), RunOnStart: true},
			),
		},
		RetryPolicy: retryPolicy{now: time.Now},
	}
	if cfg.FailedFunc != nil {
		rc.ErrorHandler = failureCounter{fn: cfg.FailedFunc}
	}
	if cfg.NowFunc != nil {
		rc.Test.Time = stubClock{now: cfg.NowFunc}
		rc.RetryPolicy = retryPolicy{now: cfg.NowFunc}
	}
	client, err := river.NewClient(cfg.Driver, rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	r.client = client
	return r, nil
}

// Enqueue inserts jobs in tx. It is the store's EnqueueFunc.
func (r *Runner) Enqueue(ctx context.Context, tx *sql.Tx, jobs []autodebit.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		opts := &river.InsertOpts{Queue: j.Queue}
		if !j.ScheduledAt.IsZero() {
			// At the databases' precision, rounded down: never later
			// than asked.
			opts.ScheduledAt = j.ScheduledAt.UTC().Truncate(time.Microsecond)
		}
		params[i] = river.InsertManyParams{Args: j.Args, InsertOpts: opts}
	}
	// The fast insert: nothing here reads the inserted rows back, and no job
	// is unique (River's InsertManyTx returns each row, which on SQLite
	// costs a nonce in its metadata and a RETURNING of the whole row).
	if _, err := r.client.InsertManyFastTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue %d jobs: %w", len(jobs), err)
	}
	return nil
}

// Start runs jobs with e until ctx ends or Stop is called.
func (r *Runner) Start(ctx context.Context, e *engine.Engine) error {
	r.engine.Store(e)
	if r.sole {
		if err := r.releaseOrphans(ctx); err != nil {
			return err
		}
	}
	if err := r.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	if r.promoteEvery > 0 {
		go r.promoteLoop(ctx, r.promoteEvery)
	}
	return nil
}

// releaseOrphans makes every job left running available again, before this
// runner's client starts (so none is its own): with SoleRunner, they belong
// to a process that died. The work is idempotent, as after River's rescue;
// the attempt it was on counts.
func (r *Runner) releaseOrphans(ctx context.Context) error {
	left, err := r.client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateRunning).First(1000))
	if err != nil {
		return fmt.Errorf("jobs: list the jobs a dead process left running: %w", err)
	}
	if len(left.Jobs) == 0 {
		return nil
	}
	if err := r.driver.GetExecutor().Exec(ctx, "UPDATE river_job SET state = 'available' WHERE state = 'running'"); err != nil {
		return fmt.Errorf("jobs: release the jobs a dead process left running: %w", err)
	}
	r.log.Warn("jobs left running by a process that died are run again", "jobs", len(left.Jobs))
	return nil
}

// Stop waits for running jobs to finish, up to ctx's deadline, then cancels
// them; a cancelled job runs again later (its work is idempotent).
func (r *Runner) Stop(ctx context.Context) error {
	if err := r.client.Stop(ctx); err != nil {
		return r.client.StopAndCancel(context.Background())
	}
	return nil
}

// Client returns the River client, for queue statistics.
func (r *Runner) Client() *river.Client[*sql.Tx] { return r.client }

// addWorker registers the worker of one job kind: it hands the job to the
// engine and turns a RetryError into a River snooze.
func addWorker[T interface {
	autodebit.JobArgs
	river.JobArgs
}](workers *river.Workers, r *Runner) {
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[T]) error {
		e := r.engine.Load()
		if e == nil {
			return errors.New("jobs: runner not started")
		}
		err := e.Work(ctx, job.Args)
		if err == nil && r.advancing() {
			r.completeNow(ctx, job.JobRow)
		}
		var re *engine.RetryError
		if errors.As(err, &re) {
			return river.JobSnooze(max(re.Delay, 10*time.Millisecond))
		}
		if err != nil {
			r.log.Warn("job failed; River will retry it", "kind", job.Kind, "job", job.ID, "attempt", job.Attempt, "err", err)
		}
		return err
	}))
}

// completeNow marks a job that worked as completed in a transaction of its
// own, at once, while a clock advance is on (advancing). River's batch
// completer records a result up to 250ms of real time after the job
// returns, and an advance waits for each job it runs: a year of daily
// renewals, each queueing the next, would spend minutes waiting on the
// completer. River's completer then finds the job no longer running and
// leaves it. Outside an advance nothing changes: one write per job fewer.
// A failure here costs only the wait.
func (r *Runner) completeNow(ctx context.Context, row *rivertype.JobRow) {
	etx, err := r.driver.GetExecutor().Begin(ctx)
	if err != nil {
		return
	}
	defer etx.Rollback(context.WithoutCancel(ctx))
	job := &river.Job[completedArgs]{JobRow: row}
	tx := r.driver.UnwrapTx(etx)
	if _, err = river.JobCompleteTx[riverdriver.Driver[*sql.Tx]](ctx, tx, job); err == nil {
		err = etx.Commit(ctx)
	}
	if err != nil && ctx.Err() == nil {
		r.log.Debug("complete job at once; River's completer will", "kind", row.Kind, "job", row.ID, "err", err)
	}
}

// advancing says whether a clock advance is on: a Settle waits, or one
// asked what is due a moment ago (the other waiters settle in between,
// and the jobs they queue are waited for next).
func (r *Runner) advancing() bool {
	return r.settling.Load() > 0 || time.Since(time.Unix(0, r.stepped.Load())) < time.Second
}

// completedArgs stands for any job's args in completeNow: JobCompleteTx
// reads only the row.
type completedArgs struct{}

func (completedArgs) Kind() string { return "" }

// retryPolicy retries failed jobs after 1s, 2s, 4s, … up to 5 minutes: the
// engine's jobs are idempotent and usually fail on a brief outage.
type retryPolicy struct{ now func() time.Time }

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d := time.Second << min(max(job.Attempt-1, 0), 8)
	return p.now().Add(min(d, 5*time.Minute))
}
