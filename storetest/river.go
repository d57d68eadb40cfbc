package storetest

import (
	"context"
	"database/sql"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/sqldb"
)

// settleArgs is a job that settles a charge, as an inquiry job would.
type settleArgs struct {
	ChargeID string `json:"chargeId"`
}

func (settleArgs) Kind() string { return "storetest_settle" }

type settleWorker struct {
	river.WorkerDefaults[settleArgs]
	store autodebit.Store
	done  chan<- string
}

func (w *settleWorker) Work(ctx context.Context, job *river.Job[settleArgs]) error {
	err := w.store.WithTx(ctx, func(tx autodebit.Tx) error {
		_, err := tx.SettleCharge(ctx, job.Args.ChargeID, autodebit.ChargeSettlement{Status: autodebit.ChargeSuccess, SettledBy: autodebit.SettledByInquiry})
		return err
	})
	if err == nil {
		w.done <- job.Args.ChargeID
	}
	return err
}

// RunRiver proves that River works on the store's own database and driver,
// as the jobs package will use them: open returns a new, empty, migrated
// store built with cfg. Jobs enqueued through Tx.Enqueue with River's
// InsertManyFastTx, as jobs.Runner.Enqueue inserts them, run only if their
// transaction commits, and a worker can use the store while River runs.
func RunRiver(t *testing.T, open func(tb testing.TB, cfg sqldb.Config) *sqldb.Store) {
	t.Run("River", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()

		var client *river.Client[*sql.Tx]
		s := open(t, sqldb.Config{TokenKey: TokenKey, EnqueueFunc: func(ctx context.Context, tx *sql.Tx, jobs []autodebit.Job) error {
			params := make([]river.InsertManyParams, len(jobs))
			for i, j := range jobs {
				params[i] = river.InsertManyParams{Args: j.Args, InsertOpts: &river.InsertOpts{ScheduledAt: j.ScheduledAt, Queue: j.Queue}}
			}
			_, err := client.InsertManyFastTx(ctx, tx, params)
			return err
		}})

		done := make(chan string, 2)
		workers := river.NewWorkers()
		river.AddWorker(workers, &settleWorker{store: s, done: done})
		var err error
		client, err = river.NewClient(s.RiverDriver(), &river.Config{
			Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
			Workers:           workers,
			FetchCooldown:     20 * time.Millisecond,
			FetchPollInterval: 50 * time.Millisecond,
			Logger:            slog.New(slog.DiscardHandler),
			TestOnly:          true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := client.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := client.Stop(stopCtx); err != nil {
				t.Error(err)
			}
		})

		tok := mustCreateToken(t, s, "cus_1")
		rolledBack := mustCreateCharge(t, s, newCharge(tok, 100))
		err = s.WithTx(ctx, func(tx autodebit.Tx) error {
			if err := tx.Enqueue(ctx, autodebit.Job{Args: settleArgs{rolledBack.ID}}); err != nil {
				return err
			}
			return autodebit.Errorf(autodebit.EUNAVAILABLE, "Roll back.")
		})
		wantCode(t, err, autodebit.EUNAVAILABLE)

		c := newCharge(tok, 100)
		mustTx(t, s, func(tx autodebit.Tx) error {
			if err := tx.CreateCharge(ctx, c); err != nil {
				return err
			}
			return tx.Enqueue(ctx, autodebit.Job{Args: settleArgs{c.ID}})
		})
		select {
		case id := <-done:
			if id != c.ID {
				t.Fatalf("worked %s, want %s", id, c.ID)
			}
		case <-ctx.Done():
			t.Fatal("the committed job did not run")
		}
		if got, err := s.FindChargeByID(ctx, c.ID); err != nil || got.Status != autodebit.ChargeSuccess {
			t.Fatalf("charge after job %+v, %v", got, err)
		}
		var jobs int
		if err := s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM river_job").Scan(&jobs); err != nil {
			t.Fatal(err)
		} else if jobs != 1 {
			t.Fatalf("%d River jobs, want 1: the rolled-back one must not exist", jobs)
		}
	})
}
