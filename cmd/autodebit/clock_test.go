package main

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	adhttp "github.com/autodebit/autodebit/http"
)

// In simulator mode GET /v1/clock shows the one clock and POST
// /v1/clock/advance moves it, answering only once what fell due has run: an
// authorization's 15 minutes are over and it is EXPIRED the moment the
// answer arrives. Bad input is a 400 naming the field, and moves nothing.
func TestServe_Clock(t *testing.T) {
	m, _ := startMain(t)
	status, body := call(t, m, "GET", "/v1/clock", nil)
	var c adhttp.Clock
	if err := json.Unmarshal(body, &c); status != 200 || err != nil || !c.Simulated || c.Scale != 1 {
		t.Fatalf("GET /v1/clock: %d %s", status, body)
	}
	if d := c.Now.Sub(time.Now()); d.Abs() > time.Minute {
		t.Fatalf("a fresh engine's clock is %s off the real time", d)
	}

	status, body = call(t, m, "POST", "/v1/authorizations", map[string]string{"customerId": "cus_clock", "wallet": "GCASH"})
	if status != 201 {
		t.Fatalf("create authorization: %d %s", status, body)
	}
	var a adhttp.Authorization
	json.Unmarshal(body, &a)

	for name, tc := range map[string]struct {
		body any
		want string
	}{
		"no by":       {map[string]string{}, `Field \"by\" is required`},
		"bad by":      {map[string]string{"by": "a while"}, `Field \"by\"`},
		"negative":    {map[string]string{"by": "-1h"}, "must be positive"},
		"too far":     {map[string]string{"by": "4000d"}, "more than ten years"},
		"bad timeout": {map[string]string{"by": "1h", "timeout": "5m"}, `Field \"timeout\"`},
		"unknown":     {map[string]string{"by": "1h", "to": "2030-01-01"}, `Unknown field \"to\"`},
	} {
		status, body := call(t, m, "POST", "/v1/clock/advance", tc.body)
		if status != 400 || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d %s, want 400 saying %s", name, status, body, tc.want)
		}
	}
	if now := m.Clock.Clock.Now(); now.Sub(c.Now) > time.Minute {
		t.Fatalf("refused advances moved the clock to %s", now)
	}

	status, body = call(t, m, "POST", "/v1/clock/advance", map[string]string{"by": "15m"})
	var adv adhttp.ClockAdvance
	if err := json.Unmarshal(body, &adv); status != 200 || err != nil {
		t.Fatalf("advance 15m: %d %s", status, body)
	}
	if moved := adv.Now.Sub(adv.From); moved < 15*time.Minute || moved > 16*time.Minute {
		t.Fatalf("advance 15m moved the clock %s (%s → %s)", moved, adv.From, adv.Now)
	}
	status, body = call(t, m, "GET", "/v1/authorizations/"+a.ID, nil)
	if status != 200 || !strings.Contains(string(body), `"status":"EXPIRED"`) {
		t.Fatalf("right after the advance the authorization is %s, want EXPIRED", body)
	}

	// The CLI, with days.
	out := mustRun(t, m, "clock")
	if !strings.Contains(out, "now ") || !strings.Contains(out, "at real speed") {
		t.Fatalf("autodebit clock printed:\n%s", out)
	}
	before := m.Clock.Clock.Now()
	out = mustRun(t, m, "clock", "advance", "30d")
	if moved := m.Clock.Clock.Now().Sub(before); moved < 30*24*time.Hour || !strings.Contains(out, "everything due on the way has run") {
		t.Fatalf("clock advance 30d moved %s and printed:\n%s", moved, out)
	}
	mustFail(t, m, "", "DURATION", "clock", "advance", "soon")
}

// With a real Antom (here a standalone simulator) there is no simulated
// clock: both routes are 404s saying so, and the CLI explains.
func TestServe_ClockNotWithRealAntom(t *testing.T) {
	merchant, err := antom.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := startMainOnAntom(t, merchant, antomsim.Config{}, nil)
	if m.Clock != nil {
		t.Fatal("serve with --antom-url has a simulated clock")
	}
	for _, r := range []struct {
		method, path string
		body         any
	}{{"GET", "/v1/clock", nil}, {"POST", "/v1/clock/advance", map[string]string{"by": "1h"}}} {
		status, body := call(t, m, r.method, r.path, r.body)
		if status != 404 || !strings.Contains(string(body), "real Antom") {
			t.Errorf("%s %s: %d %s, want 404 saying there is no simulated clock", r.method, r.path, status, body)
		}
	}
	mustFail(t, m, "", "no simulated clock", "clock")
	mustFail(t, m, "", "no simulated clock", "clock", "advance", "1d")
	// --time-scale needs the in-process simulator.
	cfg := m.Config
	cfg.TimeScale = 60
	m2 := &Main{Config: cfg, Stderr: io.Discard}
	if err := m2.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "--time-scale") {
		t.Fatalf("serve --antom-url --time-scale 60: %v, want an error naming --time-scale", err)
	}
}

// serve --time-scale 60 runs the one clock a minute per second; a scale
// that is not positive is refused.
func TestServe_TimeScale(t *testing.T) {
	for _, bad := range []float64{-1, -0.5} {
		cfg := DefaultServeConfig()
		cfg.Addr, cfg.DB, cfg.TimeScale = "127.0.0.1:0", "sqlite:"+filepath.Join(t.TempDir(), "autodebit.db"), bad
		m := &Main{Config: cfg, Stderr: io.Discard}
		if err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "--time-scale") {
			t.Fatalf("--time-scale %v: %v, want an error naming the flag", bad, err)
		}
	}
	cfg := DefaultServeConfig()
	cfg.Addr, cfg.DB, cfg.LogLevel, cfg.TimeScale = "127.0.0.1:0", "sqlite:"+filepath.Join(t.TempDir(), "autodebit.db"), "error", 60
	m := &Main{Config: cfg, Stderr: io.Discard}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	status, body := call(t, m, "GET", "/v1/clock", nil)
	var c adhttp.Clock
	if json.Unmarshal(body, &c); status != 200 || c.Scale != 60 {
		t.Fatalf("GET /v1/clock: %d %s, want scale 60", status, body)
	}
	if m.Sim.Clock() != m.Clock.Clock {
		t.Fatal("the simulator runs on a clock of its own")
	}
}

// The one clock carries on across a restart: every time stored against it
// (jobs, charges, events) stays where it was on that clock.
func TestServe_ClockSurvivesRestart(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "autodebit.db")
	start := func() *Main {
		t.Helper()
		cfg := DefaultServeConfig()
		cfg.Addr, cfg.DB, cfg.LogLevel = "127.0.0.1:0", db, "error"
		m := &Main{Config: cfg, Stderr: io.Discard}
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := start()
	if _, err := m.Clock.Advance(context.Background(), 30*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	m = start()
	t.Cleanup(func() { m.Close(context.Background()) })
	if ahead := m.Clock.Clock.Now().Sub(time.Now()); ahead < 30*24*time.Hour-time.Second || ahead > 30*24*time.Hour+time.Minute {
		t.Fatalf("after a restart the clock is %s ahead of the real time, want the 30 days it was advanced", ahead)
	}
}
