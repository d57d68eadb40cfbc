package antomsim

import (
	"container/heap"
	"sync"
	"time"
)

// Clock is the simulator's clock: real time times a scale, plus whatever
// Advance added. A manual clock moves only through Advance. It is safe for
// concurrent use; its zero value is not usable.
type Clock struct {
	mu        sync.Mutex
	start     time.Time // simulated time at realStart
	realStart time.Time
	scale     float64
	manual    bool
	offset    time.Duration
}

func newClock(start time.Time, scale float64, manual bool) *Clock {
	return &Clock{start: start, realStart: time.Now(), scale: scale, manual: manual}
}

// Now returns the simulated time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	if c.manual {
		return c.start.Add(c.offset)
	}
	el := time.Duration(float64(time.Since(c.realStart)) * c.scale)
	return c.start.Add(el + c.offset)
}

// Scale returns how many simulated seconds pass per real second (0 for a
// manual clock).
func (c *Clock) Scale() float64 {
	if c.manual {
		return 0
	}
	return c.scale
}

func (c *Clock) add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
	return c.nowLocked()
}

// realWait converts a simulated wait into real time; ok is false for a
// manual clock, on which nothing happens by itself.
func (c *Clock) realWait(d time.Duration) (time.Duration, bool) {
	if c.manual {
		return 0, false
	}
	if d <= 0 {
		return 0, true
	}
	return time.Duration(float64(d) / c.scale), true
}

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

func (s *Sim) hasDue() bool {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.st.events) > 0 && !s.st.events[0].due.After(now)
}

// runDue processes, in time order, every event due by now. State events run
// under s.mu; delivery attempts are started in the background.
func (s *Sim) runDue() {
	now := s.clock.Now()
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
			if wait, ok := s.clock.realWait(next.Sub(s.clock.Now())); ok {
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

func (s *Sim) waitInflight() {
	s.flightMu.Lock()
	for s.inflight > 0 {
		s.flightCond.Wait()
	}
	s.flightMu.Unlock()
}
