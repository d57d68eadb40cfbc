package chaos

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/autodebit/autodebit/webhook"
)

// ReceiverFaults is the fault mix of a Receiver: each delivery that passes
// verification is, at random, failed with a 503, held past the sender's
// timeout, answered slowly, or accepted at once. The probabilities are
// drawn in that order and should add up to at most 1.
type ReceiverFaults struct {
	Fail5xx float64 // answered 503 at once
	Timeout float64 // held for Hold, longer than the sender waits, then answered 503
	Slow    float64 // accepted after a pause of up to SlowMax
	// Hold is how long a timed-out delivery is held: set it above the
	// engine's delivery timeout. The hold ends early when the sender
	// hangs up. Zero means 2s.
	Hold time.Duration
	// SlowMax bounds the pause of a slow answer: set it below the
	// engine's delivery timeout. Zero means 300ms.
	SlowMax time.Duration
}

// DefaultReceiverFaults is the mix `autodebit chaos` runs with: 10% of
// deliveries answered 503, 3% held past the engine's timeout, 10% slow.
func DefaultReceiverFaults() ReceiverFaults {
	return ReceiverFaults{Fail5xx: 0.10, Timeout: 0.03, Slow: 0.10}
}

// Receiver fault kinds, as Receiver.Stats counts them.
const (
	receiverOK      = "ok"
	receiverFail5xx = "5xx"
	receiverTimeout = "timeout"
	receiverSlow    = "slow"
)

// Receiver is a merchant's webhook endpoint for a chaos run: it verifies
// every delivery's Standard Webhooks signature (webhook.Verifier), injects
// its faults, and records each event it accepted by webhook-id. It only
// listens on 127.0.0.1. Make one with NewReceiver; it is safe for
// concurrent use.
type Receiver struct {
	faults ReceiverFaults
	ln     net.Listener
	srv    *http.Server

	mu       sync.Mutex
	rng      *mrand.Rand
	verifier *webhook.Verifier
	stats    ReceiverStats
}

// ReceiverStats is what a Receiver saw.
type ReceiverStats struct {
	// Received counts, per event ID (webhook-id), the deliveries the
	// receiver accepted with a 2xx; a count above 1 is a duplicate
	// delivery, which at-least-once allows.
	Received map[string]int `json:"-"`
	// Events holds the first accepted copy of each event, by ID, and
	// FirstAt when it was accepted. (An event's createdAt is in whole
	// seconds, as every time the API shows: too coarse for a latency.)
	Events  map[string]*webhook.Event `json:"-"`
	FirstAt map[string]time.Time      `json:"-"`
	// Faults counts the deliveries by what the receiver did: ok, 5xx,
	// timeout, slow.
	Faults map[string]int `json:"faults"`
	// Refused counts deliveries that failed verification (a bad or
	// missing signature, a stale timestamp, a malformed body); Reasons
	// keeps the first few reasons.
	Refused int      `json:"refused"`
	Reasons []string `json:"reasons,omitempty"`
}

// Duplicates returns the number of deliveries accepted beyond the first of
// each event.
func (s ReceiverStats) Duplicates() int {
	n := 0
	for _, c := range s.Received {
		n += c - 1
	}
	return n
}

// NewReceiver starts a receiver on a free port of 127.0.0.1 with faults,
// drawn from a generator seeded with seed. It refuses every delivery until
// SetSecret gives it the endpoint's signing secret.
func NewReceiver(faults ReceiverFaults, seed int64) (*Receiver, error) {
	if faults.Hold <= 0 {
		faults.Hold = 2 * time.Second
	}
	if faults.SlowMax <= 0 {
		faults.SlowMax = 300 * time.Millisecond
	}
	if p := faults.Fail5xx + faults.Timeout + faults.Slow; p < 0 || p > 1 || faults.Fail5xx < 0 || faults.Timeout < 0 || faults.Slow < 0 {
		return nil, fmt.Errorf("chaos: receiver fault probabilities %+v must be between 0 and 1 and add up to at most 1", faults)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("chaos: receiver: %w", err)
	}
	rc := &Receiver{
		faults: faults, ln: ln, rng: mrand.New(mrand.NewPCG(uint64(seed), 11)),
		stats: ReceiverStats{Received: map[string]int{}, Events: map[string]*webhook.Event{}, FirstAt: map[string]time.Time{}, Faults: map[string]int{}},
	}
	rc.srv = &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	go rc.srv.Serve(ln)
	return rc, nil
}

// URL is where the receiver listens.
func (rc *Receiver) URL() string { return "http://" + rc.ln.Addr().String() + "/webhooks" }

// SetSecret sets the endpoint's signing secret, the one its creation
// returned.
func (rc *Receiver) SetSecret(secret string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.verifier = &webhook.Verifier{Secrets: []string{secret}}
}

// Close stops the receiver.
func (rc *Receiver) Close() error { return rc.srv.Close() }

// Stats returns a copy of what the receiver saw so far.
func (rc *Receiver) Stats() ReceiverStats {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	s := rc.stats
	s.Received, s.Events, s.FirstAt, s.Faults = maps.Clone(s.Received), maps.Clone(s.Events), maps.Clone(s.FirstAt), maps.Clone(s.Faults)
	s.Reasons = slices.Clone(s.Reasons)
	return s
}

// Unique returns how many distinct events the receiver accepted.
func (rc *Receiver) Unique() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.stats.Received)
}

// ServeHTTP verifies a delivery, then answers it as the fault drawn says.
// A delivery that fails verification is answered 400 whatever the draw.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, webhook.MaxBodyBytes+1))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	v := rc.verifier
	rc.mu.Unlock()
	if v == nil {
		rc.refuse(w, errors.New("a delivery arrived before the endpoint's secret was set"))
		return
	}
	ev, err := v.VerifyBody(r.Header, body)
	if err != nil {
		rc.refuse(w, err)
		return
	}
	rc.mu.Lock()
	kind := drawFault(rc.rng, rc.faults)
	pause := time.Duration(rc.rng.Int64N(int64(rc.faults.SlowMax) + 1))
	rc.stats.Faults[kind]++
	rc.mu.Unlock()
	switch kind {
	case receiverFail5xx:
		http.Error(w, "chaos: injected failure", http.StatusServiceUnavailable)
		return
	case receiverTimeout:
		hold(r.Context(), rc.faults.Hold)
		http.Error(w, "chaos: injected timeout", http.StatusServiceUnavailable)
		return
	case receiverSlow:
		hold(r.Context(), pause)
		if r.Context().Err() != nil {
			return // the sender gave up: not accepted
		}
	}
	rc.accept(ev)
	w.WriteHeader(http.StatusNoContent)
}

// drawFault picks what to do with one delivery.
func drawFault(rng *mrand.Rand, f ReceiverFaults) string {
	p := rng.Float64()
	switch {
	case p < f.Fail5xx:
		return receiverFail5xx
	case p < f.Fail5xx+f.Timeout:
		return receiverTimeout
	case p < f.Fail5xx+f.Timeout+f.Slow:
		return receiverSlow
	}
	return receiverOK
}

func hold(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (rc *Receiver) accept(ev *webhook.Event) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.stats.Received[ev.ID]++
	if rc.stats.Received[ev.ID] == 1 {
		rc.stats.Events[ev.ID], rc.stats.FirstAt[ev.ID] = ev, time.Now()
	}
}

func (rc *Receiver) refuse(w http.ResponseWriter, err error) {
	rc.mu.Lock()
	rc.stats.Refused++
	if len(rc.stats.Reasons) < 10 {
		rc.stats.Reasons = append(rc.stats.Reasons, err.Error())
	}
	rc.mu.Unlock()
	http.Error(w, err.Error(), http.StatusBadRequest)
}

// Percentile returns the p-th percentile (nearest rank) of xs, zero if
// there are none. xs is not changed.
func Percentile[T cmp.Ordered](xs []T, p float64) T {
	if len(xs) == 0 {
		var zero T
		return zero
	}
	l := slices.Clone(xs)
	slices.Sort(l)
	i := int(float64(len(l))*p/100+0.5) - 1
	return l[min(max(i, 0), len(l)-1)]
}
