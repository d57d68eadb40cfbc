package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/engine"
)

// --event-retention defaults to the engine's 30 days and reaches it: a
// negative value is refused when serve starts, naming the setting.
func TestServe_EventRetentionFlag(t *testing.T) {
	f := newServeCommand().Flags()
	if got := f.Lookup("event-retention").DefValue; got != engine.DefaultEventRetention.String() || engine.DefaultEventRetention != 30*24*time.Hour {
		t.Fatalf("--event-retention defaults to %s, want 30 days (%s)", got, 30*24*time.Hour)
	}
	cfg := DefaultServeConfig()
	cfg.Addr, cfg.DB, cfg.EventRetention = "127.0.0.1:0", "sqlite:"+t.TempDir()+"/a.db", -time.Hour
	m := &Main{Config: cfg, Stderr: io.Discard}
	err := m.Run(context.Background())
	if err == nil {
		m.Close(context.Background())
		t.Fatal("serve started with a negative event retention")
	}
	if !strings.Contains(err.Error(), "EventRetention") {
		t.Fatalf("err = %v, want it to name the event retention", err)
	}
}
