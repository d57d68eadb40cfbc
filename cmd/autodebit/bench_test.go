package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/bench"
)

func TestBench(t *testing.T) {
	if testing.Short() {
		t.Skip("bench starts child processes")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, bench.Config{
		Command: selfCommand, DB: "sqlite:" + filepath.Join(dir, "bench.db"), Dir: dir,
		Tokens: 2, Concurrency: 2, Duration: time.Second, NotifyDuration: 500 * time.Millisecond, SeedCharges: 2000,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.WriteTable(&out)
	t.Logf("\n%s", out.String())
	switch {
	case rep.Charges == 0 || rep.Errors != 0 || rep.ChargesPerSec <= 0:
		t.Fatalf("charges = %d, errors %d, %.1f/s", rep.Charges, rep.Errors, rep.ChargesPerSec)
	case !(rep.LatencyP50Ms > 0 && rep.LatencyP50Ms <= rep.LatencyP95Ms && rep.LatencyP95Ms <= rep.LatencyP99Ms):
		t.Fatalf("latency p50/p95/p99 = %v/%v/%v", rep.LatencyP50Ms, rep.LatencyP95Ms, rep.LatencyP99Ms)
	case rep.SignMs <= 0 || rep.SignMs > 100 || rep.VerifyMs <= 0:
		t.Fatalf("sign %v ms, verify %v ms", rep.SignMs, rep.VerifyMs)
	case rep.Engine.CPUPerCharge <= 0 || rep.Sim.CPUPerCharge <= 0 || rep.Engine.SignsPerCharge <= 0:
		t.Fatalf("CPU per charge: engine %+v, simulator %+v", rep.Engine, rep.Sim)
	case rep.Engine.PeakRSSMB < 5 || rep.Engine.PeakRSSMB > 2000 || rep.Sim.PeakRSSMB < 5:
		t.Fatalf("peak RSS engine %v MB, simulator %v MB", rep.Engine.PeakRSSMB, rep.Sim.PeakRSSMB)
	case rep.Notifications == 0 || rep.NotifyErrors != 0 || rep.NotifyPerSec <= 0:
		t.Fatalf("notifications %d acked, %d errors", rep.Notifications, rep.NotifyErrors)
	case rep.AuthToTokenP50 <= 0 || rep.AuthToTokenP99 < rep.AuthToTokenP50:
		t.Fatalf("authCode → token p50 %v p99 %v", rep.AuthToTokenP50, rep.AuthToTokenP99)
	case len(rep.Targets) != 5 || rep.CryptoBound <= 0:
		t.Fatalf("targets %+v, bound %v", rep.Targets, rep.CryptoBound)
	}
	for _, want := range []string{"charges/s", "PASS", "authCode → token"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("table lacks %q", want)
		}
	}
}
