package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/engine"
	"github.com/autodebit/autodebit/storetest"
)

// Benchmarks of the engine's hot paths besides CreateCharge (issue 14), on
// SQLite with the simulator in this process, as BenchmarkCreateCharge. Each
// sets up its work outside the timer and fails if the work did not happen.

// paymentNotification is the verified notification the HTTP handler hands
// HandleNotification: a PAYMENT_RESULT S for charge c, parsed as
// NotificationVerifier.Verify parses it (the signature check, benchmarked
// in antom's BenchmarkVerify, is not part of this path).
func (s *stack) paymentNotification(c *autodebit.Charge) *antom.Notification {
	s.tb.Helper()
	// An unsent charge has no paymentId yet: Antom's notification brings one.
	n, err := antom.ParseNotification([]byte(paymentResult(c.PaymentRequestID, "2026000001", "1500")))
	if err != nil {
		s.tb.Fatal(err)
	}
	n.ClientID, n.Path, n.RequestTime = s.sim.ClientID(), engine.NotifyPaymentPath, s.sim.Now().Format(time.RFC3339)
	return n
}

// BenchmarkApplyNotification applies a verified PAYMENT_RESULT S to a
// charge still INIT: record the notification, the timeline entry, settle
// the charge SUCCESS and publish its event, in one transaction. Duplicate
// applies it again to a charge already SUCCESS: the dedup key is found and
// nothing changes.
func BenchmarkApplyNotification(b *testing.B) {
	b.Run("Settle", func(b *testing.B) {
		s := newStack(b, storetest.Openers()[0], stackOptions{})
		tok := s.link("cus_bench", "GCASH")
		ctx := context.Background()
		charges := make([]*autodebit.Charge, b.N)
		ns := make([]*antom.Notification, b.N)
		for i := range charges {
			charges[i] = s.storeUnsentCharge(tok)
			ns[i] = s.paymentNotification(charges[i])
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := s.eng.HandleNotification(ctx, ns[i]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		for _, c := range charges {
			if got := s.charge(c.ID); got.Status != autodebit.ChargeSuccess || got.SettledBy != autodebit.SettledByNotification {
				b.Fatalf("charge %s is %s by %s after its notification, want SUCCESS by notification", c.ID, got.Status, got.SettledBy)
			}
		}
	})
	b.Run("Duplicate", func(b *testing.B) {
		s := newStack(b, storetest.Openers()[0], stackOptions{})
		tok := s.link("cus_bench", "GCASH")
		ctx := context.Background()
		c := s.storeUnsentCharge(tok)
		n := s.paymentNotification(c)
		if err := s.eng.HandleNotification(ctx, n); err != nil {
			b.Fatal(err)
		}
		if got := s.charge(c.ID); got.Status != autodebit.ChargeSuccess {
			b.Fatalf("charge %s is %s after its first notification, want SUCCESS", c.ID, got.Status)
		}
		before, err := s.store.FindTimeline(ctx, c.ID)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := s.eng.HandleNotification(ctx, n); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		after, err := s.store.FindTimeline(ctx, c.ID)
		if err != nil {
			b.Fatal(err)
		}
		if got := s.charge(c.ID); got.Status != autodebit.ChargeSuccess || len(after) != len(before) {
			b.Fatalf("duplicates changed the charge: %s, timeline %d entries, was %d", got.Status, len(after), len(before))
		}
	})
}

// BenchmarkDeliverEvent runs one webhook delivery attempt end to end, as
// the deliver_webhook job does: claim it (tx 1), sign it (Standard
// Webhooks), POST it to a receiver on this machine answering 204, record
// the outcome (tx 2). The events and their deliveries are stored first,
// without jobs, so that only the benchmark delivers them.
func BenchmarkDeliverEvent(b *testing.B) {
	s := newStack(b, storetest.Openers()[0], stackOptions{engine: func(c *engine.Config) {
		c.WebhookURLPolicy = engine.WebhookURLsAny
	}})
	var hits atomic.Int64
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("webhook-signature") != "" {
			hits.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(rc.Close)
	w := s.endpoint(rc.URL)
	ctx := context.Background()
	ids := make([]string, b.N)
	now := s.sim.Now()
	if err := s.store.WithTx(ctx, func(tx autodebit.Tx) error {
		for i := range ids {
			id := fmt.Sprintf("chg_bench%d", i)
			ev := &autodebit.Event{Type: autodebit.EventChargeSucceeded, ObjectID: id, Data: []byte(`{"id":"` + id + `","status":"SUCCESS"}`)}
			if err := tx.CreateEvent(ctx, ev); err != nil {
				return err
			}
			d := &autodebit.Delivery{EventID: ev.ID, EndpointID: w.ID, NextAttemptAt: now}
			if err := tx.CreateDelivery(ctx, d); err != nil {
				return err
			}
			ids[i] = d.ID
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.eng.Work(ctx, engine.DeliverWebhookArgs{DeliveryID: ids[i]}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if got := hits.Load(); got != int64(b.N) {
		b.Fatalf("the receiver got %d signed requests, want %d", got, b.N)
	}
	for _, id := range ids {
		d, err := s.store.FindDeliveryByID(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		if d.Status != autodebit.DeliveryDelivered || d.Attempts != 1 {
			b.Fatalf("delivery %s is %s after %d attempts, want delivered after 1", id, d.Status, d.Attempts)
		}
	}
}
