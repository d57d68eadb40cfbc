package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/engine"
	"github.com/autodebit/autodebit/storetest"
)

// Concurrent retries of one refund (same Idempotency-Key, the full amount)
// all get that one refund; none is told the charge has nothing left.
func TestRefund_ConcurrentRetriesWithOneKey(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		c := s.mustCharge(tok.ID, 1500, "PHP")
		in := engine.RefundInput{ChargeID: c.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 1500}, IdempotencyKey: "rf-1001"}
		const n = 8
		var wg sync.WaitGroup
		ids := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				r, err := s.eng.CreateRefund(ctx, in)
				if err == nil {
					ids[i] = r.ID
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("retry %d: %v", i, errs[i])
			}
			if ids[i] != ids[0] {
				t.Fatalf("retry %d got refund %s, retry 0 got %s", i, ids[i], ids[0])
			}
		}
		refunds, total, err := s.store.FindRefunds(ctx, autodebit.RefundFilter{ChargeID: c.ID})
		if err != nil || total != 1 {
			t.Fatalf("refunds = %v (%d), %v; want exactly one", refunds, total, err)
		}
		// The key names that refund everywhere: on another charge it is a
		// conflict, not a second refund.
		other := s.mustCharge(tok.ID, 1500, "PHP")
		_, err = s.eng.CreateRefund(ctx, engine.RefundInput{ChargeID: other.ID, Amount: in.Amount, IdempotencyKey: in.IdempotencyKey})
		if autodebit.ErrorCode(err) != autodebit.ECONFLICT {
			t.Fatalf("same key on another charge: %v, want ECONFLICT", err)
		}
		s.checkTruth()
	})
}

// deleteJobs removes every queued job of a kind, as if it had been lost
// (discarded after too many failures, or never committed by a process that
// died).
func (s *stack) deleteJobs(kind string) {
	s.tb.Helper()
	// A job still running when its row goes would carry on (and retry,
	// or succeed) behind the test's back: wait for it to stop first.
	s.waitFor("no "+kind+" job running", func() bool {
		var n int
		if err := s.store.DB().QueryRowContext(context.Background(), "SELECT count(*) FROM river_job WHERE kind = $1 AND state = 'running'", kind).Scan(&n); err != nil {
			s.tb.Fatal(err)
		}
		return n == 0
	})
	if _, err := s.store.DB().ExecContext(context.Background(), "DELETE FROM river_job WHERE kind = $1", kind); err != nil {
		s.tb.Fatal(err)
	}
}

// A PROCESSING refund whose inquiry job was lost is found by the sweep and
// settled.
func TestRefund_LostJobRecoveredBySweep(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		c := s.mustCharge(tok.ID, 1500, "PHP")
		// Antom refunds, but every answer and notification is lost.
		s.setFaults(antomsim.Faults{
			API:    map[string][]antomsim.APIFault{antom.APIRefund: {{Kind: antomsim.FaultTimeout, Probability: 1, Latency: antomsim.Duration(5 * time.Millisecond)}}},
			Notify: map[string][]antomsim.NotifyFault{antom.KindRefund: {{Kind: antomsim.FaultDrop, Probability: 1}}},
		})
		r, err := s.eng.CreateRefund(ctx, engine.RefundInput{ChargeID: c.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 500}})
		if err != nil || r.Status != autodebit.RefundProcessing || r.NextInquiryAt.IsZero() {
			t.Fatalf("refund = %+v, %v; want PROCESSING with a next inquiry", r, err)
		}
		s.setFaults(antomsim.Faults{})
		s.deleteJobs(engine.InquireRefundArgs{}.Kind())
		s.advance(30 * time.Second) // past the next inquiry and the sweep's lag
		if err := s.eng.Work(ctx, engine.SweepArgs{}); err != nil {
			t.Fatal(err)
		}
		s.waitFor("refund SUCCESS", func() bool {
			got, _ := s.store.FindRefundByID(ctx, r.ID)
			return got.Status == autodebit.RefundSuccess
		})
		if !s.timelineHas(r.ID, "sweep") {
			t.Error("no sweep entry in the refund's timeline")
		}
		s.checkTruth()
	})
}

// A pending revoke whose job was lost is found by the sweep and sent.
func TestToken_LostRevokeRecoveredBySweep(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		s.setFaults(antomsim.Faults{API: map[string][]antomsim.APIFault{antom.APIRevoke: {{Kind: antomsim.FaultHTTP5xx, Probability: 1}}}})
		got, err := s.eng.RevokeToken(ctx, tok.ID)
		if err != nil || got.Status != autodebit.TokenActive || !got.RevokePending {
			t.Fatalf("token = %+v, %v; want ACTIVE with a revoke pending", got, err)
		}
		s.deleteJobs(engine.RevokeTokenArgs{}.Kind())
		s.setFaults(antomsim.Faults{})
		s.advance(time.Minute)
		if err := s.eng.Work(ctx, engine.SweepArgs{}); err != nil {
			t.Fatal(err)
		}
		s.waitFor("token REVOKED", func() bool {
			got, _ := s.store.FindTokenByID(ctx, tok.ID)
			return got.Status == autodebit.TokenRevoked
		})
		if got, _ := s.store.FindTokenByID(ctx, tok.ID); got.RevokedBy != autodebit.RevokedByMerchant {
			t.Fatalf("revokedBy = %q, want merchant", got.RevokedBy)
		}
		if !s.timelineHas(tok.ID, "REVOKE queued by the sweep") {
			t.Error("no sweep entry in the token's timeline")
		}
		s.checkTruth()
	})
}
