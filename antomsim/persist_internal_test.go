package antomsim

import (
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// Save encodes a snapshot after releasing the lock while API calls keep
// counting faults: the snapshot must hold copies, or encoding iterates a
// map that is being written (a fatal runtime error, not a panic).
func TestSave_WhileFaultsAreCounted(t *testing.T) {
	s, err := New(Config{ManualClock: true, StateFile: filepath.Join(t.TempDir(), "s.json")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetFaults(Faults{API: map[string][]APIFault{"*": {{Kind: FaultLatency, Probability: 1}}}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var done atomic.Bool
	wg.Go(func() {
		defer done.Store(true)
		for i := range 200_000 {
			s.apiFault("api" + string(rune('a'+i%26)))
		}
	})
	saves := 0
	for !done.Load() {
		if err := s.Save(); err != nil {
			t.Fatal(err)
		}
		saves++
	}
	wg.Wait()
	if saves == 0 {
		t.Fatal("no save ran while faults were counted")
	}
}
