package antomsim

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"time"

	"github.com/autodebit/autodebit/antom"
)

// API fault kinds.
const (
	// FaultUnknown answers U (UNKNOWN_EXCEPTION unless ResultCode is set)
	// without doing anything: nothing is committed.
	FaultUnknown = "unknown"
	// FaultUnknownAfterCommit does the work, then answers U: the change is
	// committed, and a repeat of the request shows the real result.
	FaultUnknownAfterCommit = "unknownAfterCommit"
	// FaultTimeout does the work, holds the connection for Latency, then
	// drops it without an answer: committed, but the caller never knows.
	FaultTimeout = "timeout"
	// FaultHTTP5xx answers an HTTP 5xx (Status, default 503) with a
	// non-Antom body, without doing anything: nothing is committed.
	FaultHTTP5xx = "http5xx"
	// FaultLatency waits Latency (real time) before handling the request
	// normally. Latency faults add up with each other and with other kinds.
	FaultLatency = "latency"
)

// Notification fault kinds.
const (
	// FaultDrop loses the attempt: nothing is sent and it counts as failed,
	// so the resend schedule goes on.
	FaultDrop = "drop"
	// FaultDuplicate sends the attempt twice in a row.
	FaultDuplicate = "duplicate"
	// FaultDelay postpones the attempt by Delay (simulated time; default 1m).
	FaultDelay = "delay"
	// FaultReorder holds the attempt until the next notification attempt has
	// been sent, so it arrives after a later one; if none comes within Delay
	// (simulated time; default 1m) it is sent then.
	FaultReorder = "reorder"
)

// APIFault is a fault injected into the answers of an API.
type APIFault struct {
	// Kind is one of FaultUnknown, FaultUnknownAfterCommit, FaultTimeout,
	// FaultHTTP5xx, FaultLatency.
	Kind string `json:"kind"`
	// Probability that a call gets the fault, in (0, 1].
	Probability float64 `json:"probability"`
	// Times, when positive, limits how many calls get the fault.
	Times int `json:"times,omitempty"`
	// Latency is the added delay (FaultLatency) or how long the connection is
	// held before it is dropped (FaultTimeout). Real time, not the
	// simulator's clock.
	Latency Duration `json:"latency,omitzero"`
	// Status is the HTTP status of FaultHTTP5xx. Zero means 503.
	Status int `json:"status,omitempty"`
	// ResultCode is the U code of FaultUnknown and FaultUnknownAfterCommit.
	// Empty means UNKNOWN_EXCEPTION.
	ResultCode string `json:"resultCode,omitempty"`
}

// NotifyFault is a fault injected into notification delivery attempts.
type NotifyFault struct {
	// Kind is one of FaultDrop, FaultDuplicate, FaultDelay, FaultReorder.
	Kind string `json:"kind"`
	// Probability that an attempt gets the fault, in (0, 1].
	Probability float64 `json:"probability"`
	// Times, when positive, limits how many attempts get the fault.
	Times int `json:"times,omitempty"`
	// Delay is the postponement of FaultDelay and the longest hold of
	// FaultReorder, in simulated time. Zero means 1 minute.
	Delay Duration `json:"delay,omitzero"`
}

// Faults is the whole fault configuration. The zero value injects nothing.
type Faults struct {
	// API maps an API name (antom.APIPay, …) or "*" (every API) to faults.
	// For each call the faults of the API, then those of "*", are rolled in
	// order; the first non-latency fault that hits applies.
	API map[string][]APIFault `json:"api,omitempty"`
	// Notify maps a notification kind (antom.KindAuthorization,
	// antom.KindPayment, antom.KindRefund) or "*" to faults, rolled per
	// attempt; the first that hits applies.
	Notify map[string][]NotifyFault `json:"notify,omitempty"`
	// Seed seeds the fault decisions. Zero means the simulator's seed. The
	// same seed and the same sequence of calls give the same faults.
	Seed int64 `json:"seed,omitempty"`
}

func checkProbability(p float64) error {
	if !(p > 0 && p <= 1) {
		return fmt.Errorf("probability %v must be in (0, 1]", p)
	}
	return nil
}

// Validate reports the first bad fault.
func (f *Faults) Validate() error {
	apis := append(antom.APIs(), "*")
	for _, api := range slices.Sorted(maps.Keys(f.API)) {
		if !slices.Contains(apis, api) {
			return errorf(ErrInvalid, "api %q is not one of %v", api, apis)
		}
		for i, x := range f.API[api] {
			where := fmt.Sprintf("api.%s[%d]", api, i)
			switch x.Kind {
			case FaultUnknown, FaultUnknownAfterCommit, FaultTimeout, FaultHTTP5xx, FaultLatency:
			default:
				return errorf(ErrInvalid, "%s.kind %q is not one of unknown, unknownAfterCommit, timeout, http5xx, latency", where, x.Kind)
			}
			if err := checkProbability(x.Probability); err != nil {
				return errorf(ErrInvalid, "%s.%v", where, err)
			}
			if x.Times < 0 {
				return errorf(ErrInvalid, "%s.times must not be negative", where)
			}
			if x.Status != 0 && (x.Status < 500 || x.Status > 599) {
				return errorf(ErrInvalid, "%s.status %d must be 5xx", where, x.Status)
			}
			if x.ResultCode != "" && !isCode(x.ResultCode) {
				return errorf(ErrInvalid, "%s.resultCode %q must be an upper-case result code", where, x.ResultCode)
			}
			if time.Duration(x.Latency) > 5*time.Minute {
				return errorf(ErrInvalid, "%s.latency must be at most 5m", where)
			}
		}
	}
	kinds := []string{antom.KindAuthorization, antom.KindPayment, antom.KindRefund, "*"}
	for _, kind := range slices.Sorted(maps.Keys(f.Notify)) {
		if !slices.Contains(kinds, kind) {
			return errorf(ErrInvalid, "notify %q is not one of %v", kind, kinds)
		}
		for i, x := range f.Notify[kind] {
			where := fmt.Sprintf("notify.%s[%d]", kind, i)
			switch x.Kind {
			case FaultDrop, FaultDuplicate, FaultDelay, FaultReorder:
			default:
				return errorf(ErrInvalid, "%s.kind %q is not one of drop, duplicate, delay, reorder", where, x.Kind)
			}
			if err := checkProbability(x.Probability); err != nil {
				return errorf(ErrInvalid, "%s.%v", where, err)
			}
			if x.Times < 0 {
				return errorf(ErrInvalid, "%s.times must not be negative", where)
			}
		}
	}
	return nil
}

// SetFaults replaces the fault configuration and restarts the fault
// decisions from the seed. On error nothing changes.
func (s *Sim) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.API = maps.Clone(f.API)
	f.Notify = maps.Clone(f.Notify)
	for k, v := range f.Notify {
		v = slices.Clone(v)
		for i := range v {
			if v[i].Delay == 0 {
				v[i].Delay = Duration(time.Minute)
			}
		}
		f.Notify[k] = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.changed()
	s.st.faults = f
	s.st.faultRolls = map[string]uint64{}
	s.st.faultUsed = map[string]int{}
	return nil
}

// Faults returns the fault configuration.
func (s *Sim) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.faults
}

// roll returns a number in [0, 1) that depends only on the seed, the scope
// and how many times the scope was rolled. Callers hold s.mu.
func (s *Sim) roll(scope string) float64 {
	n := s.st.faultRolls[scope]
	s.st.faultRolls[scope] = n + 1
	seed := s.st.faults.Seed
	if seed == 0 {
		seed = s.seed
	}
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(seed))
	binary.LittleEndian.PutUint64(b[8:], n)
	h.Write(b[:])
	h.Write([]byte(scope))
	x := h.Sum64()
	// splitmix64 finaliser, for well-spread bits
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// hit rolls one fault and counts it if it hits. Callers hold s.mu.
func (s *Sim) hit(scope string, p float64, times int) bool {
	if times > 0 && s.st.faultUsed[scope] >= times {
		return false
	}
	if s.roll(scope) >= p {
		return false
	}
	s.st.faultUsed[scope]++
	return true
}

// apiFault decides the faults of one API call: the total added latency and
// the fault to apply, if any.
func (s *Sim) apiFault(api string) (latency time.Duration, f *APIFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.st.faults.API) == 0 {
		return 0, nil
	}
	defer s.changed() // the rolls count
	for _, key := range []string{api, "*"} {
		for i, x := range s.st.faults.API[key] {
			if !s.hit(fmt.Sprintf("api/%s/%d", key, i), x.Probability, x.Times) {
				continue
			}
			if x.Kind == FaultLatency {
				latency += time.Duration(x.Latency)
				s.st.faultHits["api."+x.Kind]++
			} else if f == nil {
				c := x
				f = &c
				s.st.faultHits["api."+x.Kind]++
			}
		}
	}
	return latency, f
}

// notifyFault decides the fault of one delivery attempt. Delay faults are
// not rolled again for an attempt already delayed. Callers hold s.mu.
func (s *Sim) notifyFault(kind string, delayed bool) *NotifyFault {
	if len(s.st.faults.Notify) == 0 {
		return nil
	}
	for _, key := range []string{kind, "*"} {
		for i, x := range s.st.faults.Notify[key] {
			if delayed && (x.Kind == FaultDelay || x.Kind == FaultReorder) {
				continue
			}
			if s.hit(fmt.Sprintf("notify/%s/%d", key, i), x.Probability, x.Times) {
				s.st.faultHits["notify."+x.Kind]++
				c := x
				return &c
			}
		}
	}
	return nil
}

// FaultStats returns how many faults were injected since the simulator
// started, by "api.KIND" (e.g. "api.unknown", "api.timeout") and
// "notify.KIND" (e.g. "notify.drop"). Only faults that applied count: an API
// call gets at most one non-latency fault. Replacing the faults does not
// reset the counts.
func (s *Sim) FaultStats() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.st.faultHits)
}
