package antomsim

import (
	"container/heap"
	"context"
	"fmt"
	"time"
)

// event is something that happens at a simulated time: a state change run
// under s.mu (fn), or a notification delivery attempt (delivery).
type event struct {
	due      time.Time
	seq      uint64
	fn       func(at time.Time)
	delivery *attempt
	index    int
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *eventHeap) Push(x any) {
	e := x.(*event)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

// at schedules fn to run under s.mu at simulated time t. Callers hold s.mu.
func (s *Sim) at(t time.Time, fn func(at time.Time)) {
	s.st.evSeq++
	heap.Push(&s.st.events, &event{due: t, seq: s.st.evSeq, fn: fn})
	s.poke()
}

// scheduleAttempt schedules a delivery attempt. Callers hold s.mu.
func (s *Sim) scheduleAttempt(t time.Time, a *attempt) {
	s.st.evSeq++
	heap.Push(&s.st.events, &event{due: t, seq: s.st.evSeq, delivery: a})
	s.poke()
}

// poke wakes the background runner.
func (s *Sim) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// NextDue returns when the earliest scheduled event (an expiry, an order
// close, a delivery attempt) falls due: the simulator's side of
// clock.Waiter.
func (s *Sim) NextDue(context.Context) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.st.events) == 0 {
		return time.Time{}, false, nil
	}
	return s.st.events[0].due, true, nil
}

func (s *Sim) hasDue() bool {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.st.events) > 0 && !s.st.events[0].due.After(now)
}

// runDue processes, in time order, every event due by now. State events run
// under s.mu; delivery attempts are started in the background.
func (s *Sim) runDue() {
	now := s.now()
	for {
		s.mu.Lock()
		if len(s.st.events) == 0 || s.st.events[0].due.After(now) {
			s.mu.Unlock()
			return
		}
		e := heap.Pop(&s.st.events).(*event)
		s.changed()
		var start []*attempt
		if e.fn != nil {
			e.fn(e.due)
		} else {
			start = s.prepareAttempt(e.delivery, e.due)
		}
		s.mu.Unlock()
		if len(start) > 0 {
			s.startAttempt(start)
		}
	}
}

// run is the background runner: it processes events as the clock reaches
// them.
func (s *Sim) run() {
	defer s.bg.Done()
	for {
		s.runDue()
		var timer *time.Timer
		var fire <-chan time.Time
		s.mu.Lock()
		var next time.Time
		if len(s.st.events) > 0 {
			next = s.st.events[0].due
		}
		s.mu.Unlock()
		if !next.IsZero() {
			if wait, ok := s.clock.RealWait(next.Sub(s.now())); ok {
				timer = time.NewTimer(wait + time.Millisecond)
				fire = timer.C
			}
		}
		select {
		case <-s.done:
			if timer != nil {
				timer.Stop()
			}
			return
		case <-s.kick:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

func (s *Sim) addInflight(n int) {
	s.flightMu.Lock()
	s.inflight += n
	if s.inflight == 0 {
		s.flightCond.Broadcast()
	}
	s.flightMu.Unlock()
}

// waitInflight waits until no delivery is in flight, or ctx ends.
func (s *Sim) waitInflight(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		s.flightMu.Lock()
		s.flightCond.Broadcast()
		s.flightMu.Unlock()
	})
	defer stop()
	s.flightMu.Lock()
	defer s.flightMu.Unlock()
	for s.inflight > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("antomsim: %d notification deliveries still in flight: %w", s.inflight, err)
		}
		s.flightCond.Wait()
	}
	return nil
}
