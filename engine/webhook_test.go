package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/client"
	"github.com/autodebit/autodebit/engine"
	"github.com/autodebit/autodebit/storetest"
	"github.com/autodebit/autodebit/webhook"
)

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a merchant's webhook endpoint: it records every request and
// answers the nth (from 1) with respond.
type receiver struct {
	mu      sync.Mutex
	reqs    []received
	respond func(n int, w http.ResponseWriter, r *http.Request)
	srv     *httptest.Server
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, received{header: r.Header.Clone(), body: body})
		n := len(rc.reqs)
		rc.mu.Unlock()
		rc.respond(n, w, r)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

// status answers every request with code.
func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// newWebhookStack is a stack whose engine may deliver to this machine.
func newWebhookStack(t *testing.T, open storetest.Opener, cfg func(*engine.Config)) *stack {
	return newStack(t, open, stackOptions{engine: func(c *engine.Config) {
		c.WebhookURLPolicy = engine.WebhookURLsAny
		if cfg != nil {
			cfg(c)
		}
	}})
}

func (s *stack) endpoint(url string, types ...string) *autodebit.WebhookEndpoint {
	s.tb.Helper()
	w, err := s.eng.CreateWebhookEndpoint(context.Background(), engine.WebhookEndpointInput{URL: url, EventTypes: types})
	if err != nil {
		s.tb.Fatal(err)
	}
	return w
}

// publish commits an event of objectID, with its deliveries and jobs.
func (s *stack) publish(typ autodebit.EventType, objectID string) *autodebit.Event {
	s.tb.Helper()
	ctx := context.Background()
	if err := s.store.WithTx(ctx, func(tx autodebit.Tx) error {
		return s.eng.Publish(ctx, tx, typ, objectID, map[string]string{"id": objectID, "status": "SUCCESS"})
	}); err != nil {
		s.tb.Fatal(err)
	}
	evs, _, err := s.store.FindEvents(ctx, autodebit.EventFilter{ObjectID: objectID, Limit: 1})
	if err != nil || len(evs) != 1 {
		s.tb.Fatalf("event of %s: %v, %v", objectID, evs, err)
	}
	return evs[0]
}

// onlyDelivery returns the one delivery of event eventID.
func (s *stack) onlyDelivery(eventID string) *autodebit.Delivery {
	s.tb.Helper()
	ds, _, err := s.store.FindDeliveries(context.Background(), autodebit.DeliveryFilter{EventID: eventID})
	if err != nil || len(ds) != 1 {
		s.tb.Fatalf("deliveries of %s: %v, %v; want one", eventID, ds, err)
	}
	return ds[0]
}

func (s *stack) attempts(deliveryID string) []*autodebit.DeliveryAttempt {
	s.tb.Helper()
	as, err := s.store.FindDeliveryAttempts(context.Background(), deliveryID)
	if err != nil {
		s.tb.Fatal(err)
	}
	return as
}

// waitAttempts waits until delivery id has n recorded attempts and returns it.
func (s *stack) waitAttempts(id string, n int) *autodebit.Delivery {
	s.tb.Helper()
	var d *autodebit.Delivery
	s.waitFor(fmt.Sprintf("attempt %d of %s to be recorded", n, id), func() bool {
		// The attempts first: the delivery read after them is at least as
		// new (tx 2 writes both).
		as := s.attempts(id)
		var err error
		if d, err = s.store.FindDeliveryByID(context.Background(), id); err != nil {
			s.tb.Fatal(err)
		}
		return len(as) == n && !as[n-1].Open() && d.Attempts == n
	})
	return d
}

// deliverJobs returns the deliver_webhook jobs in River.
func (s *stack) deliverJobs() []*rivertype.JobRow {
	s.tb.Helper()
	res, err := s.runner.Client().JobList(context.Background(),
		river.NewJobListParams().Kinds(engine.DeliverWebhookArgs{}.Kind()).First(100))
	if err != nil {
		s.tb.Fatal(err)
	}
	return res.Jobs
}

// settle makes River run now the deliver_webhook jobs that the stack's
// clock has made due: River looks for due snoozed jobs only every few
// seconds of real time. Call it after wantScheduled and advance: a job
// still running when the clock moves snoozes from the new time.
func (s *stack) settle() {
	s.tb.Helper()
	for _, j := range s.deliverJobs() {
		if waiting(j) && !j.ScheduledAt.After(s.sim.Now()) {
			if _, err := s.runner.Client().JobRetry(context.Background(), j.ID); err != nil {
				s.tb.Fatal(err)
			}
		}
	}
}

func waiting(j *rivertype.JobRow) bool {
	return j.State == rivertype.JobStateScheduled || j.State == rivertype.JobStateAvailable
}

// wantScheduled waits until delivery d's job sleeps on River's clock until
// d's next attempt (and fails if it does not).
func (s *stack) wantScheduled(d *autodebit.Delivery) {
	s.tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	s.waitFor("the delivery job of "+d.ID+" to snooze", func() bool {
		if time.Now().After(deadline) {
			for _, j := range s.deliverJobs() {
				s.tb.Errorf("job %d %s scheduled %s attempt %d errors %v (clock %s)", j.ID, j.State, j.ScheduledAt, j.Attempt, j.Errors, s.sim.Now())
			}
		}
		for _, j := range s.deliverJobs() {
			var args engine.DeliverWebhookArgs
			// A snoozed job is scheduled, or available when River's
			// database clock is past the stack's (it compares with now()).
			if json.Unmarshal(j.EncodedArgs, &args) == nil && args.DeliveryID == d.ID && waiting(j) {
				if diff := j.ScheduledAt.Sub(d.NextAttemptAt); diff.Abs() < 10*time.Millisecond {
					return true
				}
			}
		}
		return false
	})
}

// wantSigned checks a delivery request: the event as JSON, webhook-id the
// event ID, a wall-clock webhook-timestamp, and signatures that our Verifier
// and the upstream Standard Webhooks library accept with each secret.
func wantSigned(t *testing.T, r received, ev *autodebit.Event, secrets ...string) {
	t.Helper()
	if got := r.header.Get(webhook.HeaderID); got != ev.ID {
		t.Fatalf("webhook-id %q, want the event ID %s", got, ev.ID)
	}
	for _, secret := range secrets {
		v := &webhook.Verifier{Secrets: []string{secret}, Tolerance: time.Minute} // the wall clock
		got, err := v.VerifyBody(r.header, r.body)
		if err != nil {
			t.Fatalf("our Verifier refused the delivery: %v", err)
		}
		if got.ID != ev.ID || got.Type != string(ev.Type) || got.ObjectID != ev.ObjectID || got.Sequence != ev.Sequence {
			t.Fatalf("delivered %+v, want event %+v", got, ev)
		}
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(r.body, r.header); err != nil {
			t.Fatalf("upstream Standard Webhooks refused the delivery: %v", err)
		}
	}
}

// TestWebhook_FanOutWithTheEvent checks that an event brings a pending
// delivery and its job for each enabled endpoint subscribed to its type, in
// its transaction: nothing of it survives a rollback.
func TestWebhook_FanOutWithTheEvent(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newWebhookStack(t, open, nil)
		ctx := context.Background()
		rc := newReceiver(t, status(http.StatusNoContent))
		all := s.endpoint(rc.srv.URL + "/all")
		s.endpoint(rc.srv.URL+"/failed-only", string(autodebit.EventChargeFailed))
		off := s.endpoint(rc.srv.URL + "/off")
		if _, err := s.eng.UpdateWebhookEndpoint(ctx, off.ID, engine.WebhookEndpointUpdate{Enabled: ptr(false)}); err != nil {
			t.Fatal(err)
		}

		errRollback := errors.New("roll back")
		err := s.store.WithTx(ctx, func(tx autodebit.Tx) error {
			if err := s.eng.Publish(ctx, tx, autodebit.EventChargeSucceeded, "chg_rolled", map[string]string{"id": "chg_rolled"}); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("WithTx = %v", err)
		}
		if evs, _, _ := s.store.FindEvents(ctx, autodebit.EventFilter{ObjectID: "chg_rolled"}); len(evs) != 0 {
			t.Fatalf("a rolled-back event was kept: %v", evs)
		}
		if ds, _, _ := s.store.FindDeliveries(ctx, autodebit.DeliveryFilter{}); len(ds) != 0 {
			t.Fatalf("rolled-back deliveries were kept: %v", ds)
		}
		if js := s.deliverJobs(); len(js) != 0 {
			t.Fatalf("rolled-back delivery jobs were kept: %d", len(js))
		}

		// The engine's clock runs an hour ahead of the wall clock: the
		// signature's timestamp must still be the wall clock's.
		s.advance(time.Hour)
		ev := s.publish(autodebit.EventChargeSucceeded, "chg_1")
		d := s.onlyDelivery(ev.ID)
		if d.EndpointID != all.ID {
			t.Fatalf("delivered to %s, want %s (the others are disabled or not subscribed)", d.EndpointID, all.ID)
		}
		if js := s.deliverJobs(); len(js) != 1 {
			t.Fatalf("%d delivery jobs, want 1", len(js))
		}
		d = s.waitAttempts(d.ID, 1)
		if d.Status != autodebit.DeliveryDelivered || d.LastStatusCode != 204 || d.LastError != "" || !d.NextAttemptAt.IsZero() || d.DeliveredAt.IsZero() {
			t.Fatalf("after a 204: %+v", *d)
		}
		reqs := rc.requests()
		if len(reqs) != 1 {
			t.Fatalf("receiver got %d requests, want 1", len(reqs))
		}
		wantSigned(t, reqs[0], ev, all.Secret)
		if a := s.attempts(d.ID)[0]; a.StatusCode != 204 || a.Error != "" || a.FinishedAt.Before(a.StartedAt) {
			t.Fatalf("attempt %+v", *a)
		}

		// An endpoint created later does not receive earlier events.
		later := s.endpoint(rc.srv.URL + "/later")
		if ds, _, _ := s.store.FindDeliveries(ctx, autodebit.DeliveryFilter{EndpointID: later.ID}); len(ds) != 0 {
			t.Fatalf("a later endpoint got old events: %v", ds)
		}
	})
}

// TestWebhook_RetriesThenDelivers: a receiver failing twice gets the event
// a third time after the schedule's first two delays, the job sleeping on
// River's clock in between.
func TestWebhook_RetriesThenDelivers(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newWebhookStack(t, open, nil)
		rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n <= 2 {
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, strings.Repeat("é", 1000)) // 2000 bytes: the kept snippet is cut at 1 KiB, on a rune
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		w := s.endpoint(rc.srv.URL)
		ev := s.publish(autodebit.EventRefundSucceeded, "rfd_1")
		d := s.onlyDelivery(ev.ID)

		for n, delay := range []time.Duration{5 * time.Second, 5 * time.Minute} {
			d = s.waitAttempts(d.ID, n+1)
			if d.Status != autodebit.DeliveryPending || d.LastStatusCode != 500 || !strings.Contains(d.LastError, "HTTP 500") {
				t.Fatalf("after attempt %d: %+v", n+1, *d)
			}
			// Counted from the attempt, which an advance runs at its own
			// due time, not at the end of the advance.
			start := s.attempts(d.ID)[n].FinishedAt
			if wait := d.NextAttemptAt.Sub(start); wait < delay || wait > delay+delay/5 {
				t.Fatalf("attempt %d retries in %s, want %s plus up to 20%%", n+1, wait, delay)
			}
			s.wantScheduled(d)
			if fs := s.webhookEndpoint(w.ID).FailingSince; fs.IsZero() || fs.After(d.UpdatedAt) {
				t.Fatalf("endpoint failing since %s after a failed attempt", fs)
			}
			s.advance(delay + delay/5)
			s.settle()
		}
		d = s.waitAttempts(d.ID, 3)
		if d.Status != autodebit.DeliveryDelivered || d.LastStatusCode != 200 {
			t.Fatalf("after the third attempt: %+v", *d)
		}
		if got := s.webhookEndpoint(w.ID); !got.FailingSince.IsZero() || !got.Enabled {
			t.Fatalf("a success left the endpoint %+v", got)
		}
		as := s.attempts(d.ID)
		if len(as[0].Response) != autodebit.MaxDeliveryResponseBytes || as[0].StatusCode != 500 || as[2].StatusCode != 200 || as[2].Error != "" {
			t.Fatalf("attempts %+v %+v %+v", *as[0], *as[1], *as[2])
		}
		reqs := rc.requests()
		if len(reqs) != 3 {
			t.Fatalf("receiver got %d requests, want 3", len(reqs))
		}
		for _, r := range reqs {
			wantSigned(t, r, ev, w.Secret) // the same webhook-id every time: the receiver dedupes on it
		}
	})
}

// TestWebhook_ExhaustedFails: a receiver that never succeeds gets each
// attempt of the schedule, then the delivery is failed and its job ends.
func TestWebhook_ExhaustedFails(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		m := &attemptMetrics{}
		s := newWebhookStack(t, open, func(c *engine.Config) {
			c.WebhookRetryDelays = []time.Duration{time.Second, time.Minute}
			c.Metrics = m
		})
		rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/hooks", http.StatusFound) // not followed
		})
		s.endpoint(rc.srv.URL)
		ev := s.publish(autodebit.EventChargeFailed, "chg_9")
		d := s.onlyDelivery(ev.ID)
		for n, delay := range []time.Duration{time.Second, time.Minute} {
			s.wantScheduled(s.waitAttempts(d.ID, n+1)) // before the clock moves, or the snooze counts from the new time
			s.advance(delay + delay/5)                 // runs the next attempt, and only it
			s.settle()
		}
		d = s.waitAttempts(d.ID, 3)
		if d.Status != autodebit.DeliveryFailed || d.LastStatusCode != http.StatusFound || !d.NextAttemptAt.IsZero() ||
			!strings.Contains(d.LastError, "redirects are not followed") {
			t.Fatalf("after the last attempt: %+v", *d)
		}
		if n := len(rc.requests()); n != 3 {
			t.Fatalf("receiver got %d requests, want 3", n)
		}
		if got := m.results(); strings.Join(got, " ") != "retrying retrying failed" {
			t.Fatalf("metrics saw attempts %v, want retrying retrying failed", got)
		}
		s.waitFor("the delivery job to complete", func() bool {
			js := s.deliverJobs()
			return len(js) == 1 && js[0].State == rivertype.JobStateCompleted
		})
	})
}

// TestWebhook_TimesOut: a receiver that never answers costs one attempt of
// WebhookTimeout, recorded as a timeout, and the delivery is retried.
func TestWebhook_TimesOut(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newWebhookStack(t, open, func(c *engine.Config) { c.WebhookTimeout = 300 * time.Millisecond })
		rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		s.endpoint(rc.srv.URL)
		ev := s.publish(autodebit.EventChargeSucceeded, "chg_slow")
		d := s.waitAttempts(s.onlyDelivery(ev.ID).ID, 1)
		if d.Status != autodebit.DeliveryPending || d.LastStatusCode != 0 || !strings.Contains(d.LastError, "Timed out after 300ms") {
			t.Fatalf("after a timeout: %+v", *d)
		}
		s.wantScheduled(d)
	})
}

// TestWebhook_RotatedSignsWithBoth: after a rotation a delivery carries two
// signatures, and a receiver holding either secret accepts it.
func TestWebhook_RotatedSignsWithBoth(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newWebhookStack(t, open, nil)
		rc := newReceiver(t, status(http.StatusOK))
		w := s.endpoint(rc.srv.URL)
		rotated, err := s.eng.RotateWebhookEndpointSecret(context.Background(), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		ev := s.publish(autodebit.EventTokenRevoked, "tok_1")
		s.waitAttempts(s.onlyDelivery(ev.ID).ID, 1)
		r := rc.requests()[0]
		if sigs := strings.Fields(r.header.Get(webhook.HeaderSignature)); len(sigs) != 2 {
			t.Fatalf("webhook-signature %q, want two signatures", sigs)
		}
		wantSigned(t, r, ev, rotated.Secret, w.Secret)
	})
}

// TestWebhook_InterruptedAttempt: an attempt claimed by a process that died
// before recording it is recorded as interrupted by the next run, once it
// cannot still be running, and the delivery goes on. On a clock that runs
// 60 times real speed (serve --time-scale 60) "cannot still be running" is
// the same real time: 60 times as long on the clock.
func TestWebhook_InterruptedAttempt(t *testing.T) {
	for _, scale := range []float64{1, 60} {
		t.Run(fmt.Sprintf("scale%v", scale), func(t *testing.T) { testInterruptedAttempt(t, scale) })
	}
}

func testInterruptedAttempt(t *testing.T, scale float64) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newWebhookStack(t, open, func(c *engine.Config) { c.ClockScale = scale })
		ctx := context.Background()
		rc := newReceiver(t, status(http.StatusOK))
		w := s.endpoint(rc.srv.URL)
		// What a killed process leaves: the delivery with attempt 1 claimed
		// and never recorded (and no job here: the test runs it).
		var d *autodebit.Delivery
		err := s.store.WithTx(ctx, func(tx autodebit.Tx) error {
			ev := &autodebit.Event{Type: autodebit.EventChargeSucceeded, ObjectID: "chg_k", Data: []byte(`{"id":"chg_k"}`)}
			if err := tx.CreateEvent(ctx, ev); err != nil {
				return err
			}
			d = &autodebit.Delivery{EventID: ev.ID, EndpointID: w.ID, Attempts: 1, NextAttemptAt: s.sim.Now()}
			if err := tx.CreateDelivery(ctx, d); err != nil {
				return err
			}
			return tx.CreateDeliveryAttempt(ctx, &autodebit.DeliveryAttempt{DeliveryID: d.ID, Attempt: 1, StartedAt: s.sim.Now()})
		})
		if err != nil {
			t.Fatal(err)
		}
		job := engine.DeliverWebhookArgs{DeliveryID: d.ID}
		var re *engine.RetryError
		if err := s.eng.Work(ctx, job); !errors.As(err, &re) || re.Delay <= 0 {
			t.Fatalf("Work while attempt 1 may still run = %v, want a RetryError", err)
		}
		// The attempt's 15s timeout and 5s of margin, in real time.
		if want := time.Duration(scale * float64(20*time.Second)); re.Delay < want-time.Second || re.Delay > want {
			t.Fatalf("an open attempt is waited for %s on the clock, want %s", re.Delay, want)
		}
		if len(rc.requests()) != 0 || !s.attempts(d.ID)[0].Open() {
			t.Fatal("a possibly running attempt was closed or sent again")
		}
		s.advance(re.Delay)
		if err := s.eng.Work(ctx, job); err != nil {
			t.Fatalf("Work after the attempt's timeout = %v", err)
		}
		as := s.attempts(d.ID)
		if len(as) != 2 || as[0].Open() || !strings.Contains(as[0].Error, "Interrupted") || as[1].StatusCode != 200 {
			t.Fatalf("attempts %+v", as)
		}
		if got, _ := s.store.FindDeliveryByID(ctx, d.ID); got.Status != autodebit.DeliveryDelivered {
			t.Fatalf("delivery %+v", *got)
		}
	})
}

// TestWebhook_DialedAddressChecked: under the public URL policy the address
// actually dialed is checked, so a host that resolved to a public address
// when the endpoint was made and to a private one now is not reached.
func TestWebhook_DialedAddressChecked(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		rc := newReceiver(t, status(http.StatusOK))
		var mu sync.Mutex
		addr := netip.MustParseAddr("203.0.113.10")
		lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
			mu.Lock()
			defer mu.Unlock()
			if host != "hooks.shop.example" {
				return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
			}
			return []netip.Addr{addr}, nil
		}
		s := newStack(t, open, stackOptions{engine: func(c *engine.Config) { c.WebhookLookupFunc = lookup }})
		_, port, _ := net.SplitHostPort(rc.srv.Listener.Addr().String())
		w := s.endpoint("http://hooks.shop.example:" + port + "/hooks")
		mu.Lock()
		addr = netip.MustParseAddr("127.0.0.1") // rebound to the receiver on this machine
		mu.Unlock()
		ev := s.publish(autodebit.EventChargeSucceeded, "chg_r")
		d := s.waitAttempts(s.onlyDelivery(ev.ID).ID, 1)
		if d.EndpointID != w.ID || d.Status != autodebit.DeliveryPending || !strings.Contains(d.LastError, "127.0.0.1 refused") {
			t.Fatalf("after a rebinding: %+v", *d)
		}
		if n := len(rc.requests()); n != 0 {
			t.Fatalf("the receiver on a private address got %d requests", n)
		}
	})
}

// TestWebhook_API lists an event's deliveries with their attempts and
// redelivers it through the REST API, with the client.
func TestWebhook_API(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newWebhookStack(t, open, nil)
		ctx := context.Background()
		api := client.New(s.srv.URL, apiKey)
		ok := newReceiver(t, status(http.StatusOK))
		failing := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "down for maintenance")
		})
		good := s.endpoint(ok.srv.URL)
		bad := s.endpoint(failing.srv.URL)
		ev := s.publish(autodebit.EventChargeSucceeded, "chg_api")

		var byEndpoint map[string]string // endpoint → delivery
		s.waitFor("both first attempts", func() bool {
			list, err := api.EventDeliveries(ctx, ev.ID)
			if err != nil {
				t.Fatal(err)
			}
			byEndpoint = map[string]string{}
			recorded := 0
			for _, d := range list.Data {
				byEndpoint[d.EndpointID] = d.ID
				if len(d.Attempts) == 1 && d.Attempts[0].FinishedAt != nil {
					recorded++
				}
			}
			return list.Total == 2 && recorded == 2
		})
		list, err := api.EventDeliveries(ctx, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range list.Data {
			a := d.Attempts[0]
			switch d.EndpointID {
			case good.ID:
				if d.Status != "delivered" || d.AttemptCount != 1 || a.StatusCode != 200 || d.DeliveredAt == nil || d.NextAttemptAt != nil {
					t.Fatalf("delivered: %+v", d)
				}
			case bad.ID:
				if d.Status != "pending" || a.StatusCode != 503 || a.Response != "down for maintenance" || !strings.Contains(a.Error, "503") || d.NextAttemptAt == nil {
					t.Fatalf("failing: %+v", d)
				}
			}
		}

		// A pending delivery is not redelivered: its schedule goes on.
		_, err = api.Redeliver(ctx, ev.ID, bad.ID)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != 409 || !strings.Contains(ce.Message, "still pending") {
			t.Fatalf("redeliver a pending delivery: %v, want 409", err)
		}
		// The delivered one is, with the same webhook-id.
		again, err := api.Redeliver(ctx, ev.ID, good.ID)
		if err != nil || again.Total != 1 || again.Data[0].ID != byEndpoint[good.ID] || again.Data[0].Status != "pending" {
			t.Fatalf("redeliver: %+v, %v", again, err)
		}
		d := s.waitAttempts(byEndpoint[good.ID], 2)
		if d.Status != autodebit.DeliveryDelivered {
			t.Fatalf("after the redelivery: %+v", *d)
		}
		reqs := ok.requests()
		if len(reqs) != 2 || reqs[1].header.Get(webhook.HeaderID) != ev.ID {
			t.Fatalf("receiver got %d requests; the second's webhook-id %q", len(reqs), reqs[len(reqs)-1].header.Get(webhook.HeaderID))
		}

		// Without endpointId every enabled subscribed endpoint is a
		// target, so the pending one makes it a conflict, and nothing is
		// reset.
		if _, err := api.Redeliver(ctx, ev.ID, ""); !errors.As(err, &ce) || ce.Status != 409 {
			t.Fatalf("redeliver to all with one pending: %v, want 409", err)
		}
		if got, _ := s.store.FindDeliveryByID(ctx, byEndpoint[good.ID]); got.Status != autodebit.DeliveryDelivered {
			t.Fatalf("a refused redelivery reset %+v", *got)
		}

		off := s.endpoint(ok.srv.URL + "/off")
		if _, err := s.eng.UpdateWebhookEndpoint(ctx, off.ID, engine.WebhookEndpointUpdate{Enabled: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		other := s.endpoint(ok.srv.URL+"/refunds", string(autodebit.EventRefundFailed))
		for _, c := range []struct {
			event, endpoint string
			status          int
			want            string
		}{
			{"evt_nope", "", 404, "not found"},
			{ev.ID, "we_nope", 404, "not found"},
			{ev.ID, off.ID, 400, "is disabled"},
			{ev.ID, other.ID, 400, "not subscribed to charge.succeeded"},
		} {
			_, err := api.Redeliver(ctx, c.event, c.endpoint)
			if !errors.As(err, &ce) || ce.Status != c.status || !strings.Contains(ce.Message, c.want) {
				t.Errorf("redeliver %s to %q: %v, want %d %q", c.event, c.endpoint, err, c.status, c.want)
			}
		}
		if _, err := api.EventDeliveries(ctx, "evt_nope"); !errors.As(err, &ce) || ce.Status != 404 {
			t.Errorf("deliveries of an unknown event: %v, want 404", err)
		}
		// The redelivery to a later endpoint creates its delivery.
		later := s.endpoint(ok.srv.URL + "/later")
		created, err := api.Redeliver(ctx, ev.ID, later.ID)
		if err != nil || created.Total != 1 || created.Data[0].EndpointID != later.ID {
			t.Fatalf("redeliver to a later endpoint: %+v, %v", created, err)
		}
		s.waitAttempts(created.Data[0].ID, 1)
	})
}

func (s *stack) webhookEndpoint(id string) *autodebit.WebhookEndpoint {
	s.tb.Helper()
	w, err := s.store.FindWebhookEndpointByID(context.Background(), id)
	if err != nil {
		s.tb.Fatal(err)
	}
	return w
}

// TestWebhook_DisabledAfterFailingTooLong: an endpoint whose deliveries all
// fail for WebhookDisableAfter is disabled, its delivery failed, and new
// events are no longer sent to it until it is enabled again.
func TestWebhook_DisabledAfterFailingTooLong(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newWebhookStack(t, open, func(c *engine.Config) {
			c.WebhookDisableAfter = time.Hour
			c.WebhookRetryDelays = []time.Duration{time.Minute, 2 * time.Hour, 2 * time.Hour}
		})
		ctx := context.Background()
		rc := newReceiver(t, status(http.StatusInternalServerError))
		w := s.endpoint(rc.srv.URL)
		ev := s.publish(autodebit.EventChargeSucceeded, "chg_down")
		d := s.onlyDelivery(ev.ID)
		s.wantScheduled(s.waitAttempts(d.ID, 1))
		since := s.webhookEndpoint(w.ID).FailingSince
		s.advance(2 * time.Minute)
		s.settle()
		if d = s.waitAttempts(d.ID, 2); d.Status != autodebit.DeliveryPending || !s.webhookEndpoint(w.ID).Enabled {
			t.Fatalf("failing for 2 minutes of 1h: %+v", *d)
		}
		if got := s.webhookEndpoint(w.ID).FailingSince; !got.Equal(since) {
			t.Fatalf("FailingSince moved from %s to %s on a later failure", since, got)
		}
		s.wantScheduled(d)
		s.advance(3 * time.Hour)
		s.settle()
		d = s.waitAttempts(d.ID, 3)
		got := s.webhookEndpoint(w.ID)
		if got.Enabled || !strings.Contains(got.DisabledReason, "failed for 1h0m0s") || !got.FailingSince.Equal(since) {
			t.Fatalf("endpoint after failing 3h: %+v", got)
		}
		if d.Status != autodebit.DeliveryFailed || !strings.Contains(d.LastError, "disabled after failing too long") {
			t.Fatalf("delivery when its endpoint was disabled: %+v", *d)
		}
		entries, err := s.store.FindTimeline(ctx, w.ID)
		if err != nil || !strings.HasPrefix(entries[len(entries)-1].Response, "DISABLED") {
			t.Fatalf("timeline %v, %v: want the DISABLED entry last", entries, err)
		}
		// Disabled endpoints get no new deliveries.
		ev2 := s.publish(autodebit.EventChargeSucceeded, "chg_later")
		if ds, _, _ := s.store.FindDeliveries(ctx, autodebit.DeliveryFilter{EventID: ev2.ID}); len(ds) != 0 {
			t.Fatalf("a disabled endpoint got a delivery: %v", ds)
		}
		// Enabling it again clears the failure.
		if _, err := s.eng.UpdateWebhookEndpoint(ctx, w.ID, engine.WebhookEndpointUpdate{Enabled: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if got := s.webhookEndpoint(w.ID); !got.Enabled || !got.FailingSince.IsZero() || got.DisabledReason != "" {
			t.Fatalf("re-enabled endpoint %+v", got)
		}
	})
}

// attemptMetrics records the results of webhook attempts; it counts
// nothing else.
type attemptMetrics struct {
	mu  sync.Mutex
	got []string
}

func (m *attemptMetrics) AntomCall(string, string, time.Duration)      {}
func (m *attemptMetrics) ChargeSettled(autodebit.ChargeStatus, string) {}
func (m *attemptMetrics) TokenIssued(time.Duration)                    {}
func (m *attemptMetrics) NotificationReceived(string, bool)            {}
func (m *attemptMetrics) NotificationLag(string, time.Duration)        {}
func (m *attemptMetrics) WebhookAttempt(result string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, result)
}

func (m *attemptMetrics) results() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.got...)
}

// A pending delivery whose job was lost (discarded after too many errors)
// is found by the sweep and sent; Redeliver refuses pending ones, so
// nothing else would.
func TestWebhook_LostJobRecoveredBySweep(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newWebhookStack(t, open, nil)
		rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
			if n == 1 {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		s.endpoint(rc.srv.URL)
		ev := s.publish(autodebit.EventChargeSucceeded, "chg_1")
		d := s.waitAttempts(s.onlyDelivery(ev.ID).ID, 1)
		if d.Status != autodebit.DeliveryPending {
			t.Fatalf("after a 500: %+v", *d)
		}
		s.deleteJobs(engine.DeliverWebhookArgs{}.Kind())
		s.advance(time.Minute)
		if err := s.eng.Work(context.Background(), engine.SweepArgs{}); err != nil {
			t.Fatal(err)
		}
		s.settle()
		if d = s.waitAttempts(d.ID, 2); d.Status != autodebit.DeliveryDelivered {
			t.Fatalf("after the sweep: %+v", *d)
		}
	})
}

// A kill during a later attempt does not shorten the schedule: attempt 3
// interrupted is followed by attempt 4 when a failed attempt 3 would be,
// 30 minutes (plus jitter) after it started.
func TestWebhook_InterruptedAttemptKeepsTheSchedule(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newWebhookStack(t, open, nil)
		ctx := context.Background()
		rc := newReceiver(t, status(http.StatusOK))
		w := s.endpoint(rc.srv.URL)
		start := s.sim.Now()
		var d *autodebit.Delivery
		err := s.store.WithTx(ctx, func(tx autodebit.Tx) error {
			ev := &autodebit.Event{Type: autodebit.EventChargeSucceeded, ObjectID: "chg_k3", Data: []byte(`{"id":"chg_k3"}`)}
			if err := tx.CreateEvent(ctx, ev); err != nil {
				return err
			}
			d = &autodebit.Delivery{EventID: ev.ID, EndpointID: w.ID, Attempts: 3, NextAttemptAt: start}
			if err := tx.CreateDelivery(ctx, d); err != nil {
				return err
			}
			for n := 1; n <= 3; n++ {
				a := &autodebit.DeliveryAttempt{DeliveryID: d.ID, Attempt: n, StartedAt: start}
				if err := tx.CreateDeliveryAttempt(ctx, a); err != nil {
					return err
				}
				if n < 3 {
					a.FinishedAt, a.StatusCode = start, 500
					if err := tx.FinishDeliveryAttempt(ctx, a); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		job := engine.DeliverWebhookArgs{DeliveryID: d.ID}
		s.advance(time.Minute) // past the attempt's timeout: it was interrupted
		var re *engine.RetryError
		if err := s.eng.Work(ctx, job); !errors.As(err, &re) {
			t.Fatalf("Work after the interruption = %v, want a RetryError until attempt 4 is due", err)
		}
		if due := s.sim.Now().Add(re.Delay).Sub(start); due < 30*time.Minute || due > 36*time.Minute {
			t.Fatalf("attempt 4 due %s after attempt 3 started, want 30m plus up to 20%%", due)
		}
		if as := s.attempts(d.ID); len(as) != 3 || as[2].Open() || len(rc.requests()) != 0 {
			t.Fatalf("after the interruption: %d attempts (last open %v), %d requests", len(as), as[2].Open(), len(rc.requests()))
		}
		s.advance(re.Delay)
		if err := s.eng.Work(ctx, job); err != nil {
			t.Fatalf("Work when attempt 4 is due = %v", err)
		}
		if got, _ := s.store.FindDeliveryByID(ctx, d.ID); got.Status != autodebit.DeliveryDelivered || got.Attempts != 4 {
			t.Fatalf("delivery %+v", *got)
		}
	})
}

// TestWebhook_AttemptsRaceEndpointDelete: attempts recorded while their
// endpoint is deleted, each of them changing the endpoint's health, and,
// every other round, while retention deletes their (old) events, never
// deadlock (on PostgreSQL, where rows are locked one by one): every Work and
// every delete succeeds, nothing of the deleted endpoint is left, and the
// other endpoint's deliveries have a consistent attempt history or went
// with their event.
func TestWebhook_AttemptsRaceEndpointDelete(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newWebhookStack(t, open, nil)
		ctx := context.Background()
		const rounds, events = 6, 12
		for round := range rounds {
			retention := round%2 == 1
			release := make(chan struct{})
			var inFlight atomic.Int32
			// Alternate 200 and 500, so that each recorded attempt flips
			// the endpoint's health and locks its row.
			doomed := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
				inFlight.Add(1)
				<-release
				if n%2 == 0 {
					w.WriteHeader(http.StatusInternalServerError)
				}
			})
			kept := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
				<-release
				if n%2 == 0 {
					w.WriteHeader(http.StatusInternalServerError)
				}
			})
			wd, wk := s.endpoint(doomed.srv.URL), s.endpoint(kept.srv.URL)
			var doomedIDs, keptIDs []string
			err := s.store.WithTx(ctx, func(tx autodebit.Tx) error {
				for i := range events {
					ev := &autodebit.Event{Type: autodebit.EventChargeSucceeded, ObjectID: fmt.Sprintf("chg_race%d_%d", round, i), Data: []byte(`{}`)}
					if retention {
						ev.CreatedAt = s.sim.Now().Add(-engine.DefaultEventRetention - time.Hour)
					}
					if err := tx.CreateEvent(ctx, ev); err != nil {
						return err
					}
					for _, w := range []*autodebit.WebhookEndpoint{wd, wk} {
						d := &autodebit.Delivery{EventID: ev.ID, EndpointID: w.ID, NextAttemptAt: s.sim.Now()}
						if err := tx.CreateDelivery(ctx, d); err != nil {
							return err
						}
						if w == wd {
							doomedIDs = append(doomedIDs, d.ID)
						} else {
							keptIDs = append(keptIDs, d.ID)
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 2*events+4)
			for _, id := range append(append([]string(nil), doomedIDs...), keptIDs...) {
				wg.Go(func() {
					var re *engine.RetryError
					if err := s.eng.Work(ctx, engine.DeliverWebhookArgs{DeliveryID: id}); err != nil && !errors.As(err, &re) {
						errs <- fmt.Errorf("work %s: %w", id, err)
					}
				})
			}
			s.waitFor("every attempt to the doomed endpoint in flight", func() bool { return inFlight.Load() == events })
			// Release the receivers and delete the endpoint at once, the
			// delete a little later each round.
			wg.Go(func() {
				time.Sleep(time.Duration(round) * time.Millisecond)
				if _, err := s.eng.DeleteWebhookEndpoint(ctx, wd.ID); err != nil {
					errs <- fmt.Errorf("delete %s: %w", wd.ID, err)
				}
			})
			if retention {
				// Over the time the attempts are recorded, from two workers
				// (two replicas' cleanup jobs can overlap).
				for range 2 {
					wg.Go(func() {
						for range 10 {
							if _, err := s.eng.CleanupEvents(ctx); err != nil {
								errs <- fmt.Errorf("cleanup: %w", err)
								return
							}
							time.Sleep(time.Millisecond)
						}
					})
				}
			}
			close(release)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("round %d: %v", round, err)
			}
			if _, err := s.store.FindWebhookEndpointByID(ctx, wd.ID); autodebit.ErrorCode(err) != autodebit.ENOTFOUND {
				t.Fatalf("round %d: the deleted endpoint reads %v", round, err)
			}
			if ds, _, err := s.store.FindDeliveries(ctx, autodebit.DeliveryFilter{EndpointID: wd.ID}); err != nil || len(ds) != 0 {
				t.Fatalf("round %d: the deleted endpoint has deliveries %v (%v)", round, ds, err)
			}
			for _, id := range doomedIDs {
				if as := s.attempts(id); len(as) != 0 {
					t.Fatalf("round %d: delivery %s of the deleted endpoint has %d attempts left", round, id, len(as))
				}
			}
			for _, id := range keptIDs {
				d, err := s.store.FindDeliveryByID(ctx, id)
				if retention && autodebit.ErrorCode(err) == autodebit.ENOTFOUND {
					continue // deleted with its event, once delivered
				} else if err != nil {
					t.Fatal(err)
				}
				as := s.attempts(id)
				if len(as) != 1 || d.Attempts != 1 || as[0].Open() || as[0].Attempt != 1 ||
					(as[0].StatusCode == 200) != (d.Status == autodebit.DeliveryDelivered) ||
					(d.Status != autodebit.DeliveryDelivered && d.Status != autodebit.DeliveryPending) {
					t.Fatalf("round %d: kept delivery %+v with attempts %+v", round, *d, as)
				}
			}
		}
	})
}
