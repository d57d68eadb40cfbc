package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/client"
	adhttp "github.com/autodebit/autodebit/http"
)

// freeLoopbackAddr returns a loopback address with a port that was free a
// moment ago.
func freeLoopbackAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServe_SimulatorSurvivesRestart (issue 10): restarting serve in
// simulator mode keeps every linked wallet. The simulator comes back at the
// same address with the same control key and its state: the token still
// charges SUCCESS (not INVALID_ACCESS_TOKEN, which would make the engine
// revoke it) and a QR link shown before the restart still opens and
// approves.
func TestServe_SimulatorSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "autodebit.db")
	simAddr := freeLoopbackAddr(t)
	start := func() (*Main, string) {
		t.Helper()
		out := &syncBuffer{}
		m := &Main{Config: ServeConfig{Addr: "127.0.0.1:0", DB: "sqlite:" + db, SimAddr: simAddr, LogFormat: "json", LogLevel: "error"},
			Stdout: out, Stderr: io.Discard}
		if err := m.Run(ctx); err != nil {
			t.Fatal(err)
		}
		return m, out.String()
	}
	stop := func(m *Main) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}

	m, banner := start()
	tokenID := link(t, m, "cus_restart")
	waiting, err := client.New(m.URL, m.APIKey).CreateAuthorization(ctx, "cus_later", "GCASH")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(banner, "simulator state: "+db+".sim.json") || !strings.Contains(banner, m.SimKey+" (new; kept in "+db+".sim-key)") {
		t.Errorf("first banner does not say where the simulator keeps its state and key:\n%s", banner)
	}
	simURL, simKey := m.SimURL, m.SimKey
	accessToken := m.Sim.Tokens()[0].AccessToken
	stop(m)
	for _, f := range []string{".sim.json", ".sim-key"} {
		if fi, err := os.Stat(db + f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s%s: %v, want a 0600 file", db, f, err)
		}
	}
	if b, err := os.ReadFile(db + ".sim.json"); err != nil || strings.Contains(string(b), accessToken) {
		t.Errorf("simulator state (%v) holds the access token in clear", err)
	}

	m, banner = start()
	defer stop(m)
	if m.SimURL != simURL || m.SimKey != simKey {
		t.Errorf("simulator after the restart at %s with key %q, want %s and the same key", m.SimURL, m.SimKey, simURL)
	}
	if strings.Contains(banner, m.SimKey) || !strings.Contains(banner, "kept in "+db+".sim-key (not shown)") {
		t.Errorf("second banner shows the simulator key or not where it is:\n%s", banner)
	}
	c := client.New(m.URL, m.APIKey)
	ch, err := c.CreateCharge(ctx, client.ChargeParams{TokenID: tokenID, Amount: adhttp.Amount{Currency: "PHP", Value: "1500"}})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Status != "SUCCESS" || ch.ResultCode == antom.CodeInvalidAccessToken {
		t.Errorf("charge after the restart = %s %s, want SUCCESS", ch.Status, ch.ResultCode)
	}
	if tok, err := c.Token(ctx, tokenID); err != nil || tok.Status != "ACTIVE" {
		t.Errorf("token after the restart = %+v, %v; want ACTIVE", tok, err)
	}
	resp, err := http.Get(waiting.QR.Text)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("QR link shown before the restart answers %d, want 200", resp.StatusCode)
	}
	if _, err := m.Sim.Approve(waiting.QR.Text, ""); err != nil {
		t.Errorf("approve the QR code shown before the restart: %v", err)
	}
}

// TestServe_SimulatorFlags: the simulator's address defaults to the --addr
// host with port 8081, stays on loopback, and PostgreSQL needs --sim-state.
func TestServe_SimulatorFlags(t *testing.T) {
	for _, tc := range []struct{ flag, addr, want string }{
		{"", "127.0.0.1:8080", "127.0.0.1:8081"},
		{"", "localhost:9000", "localhost:8081"},
		{"", "0.0.0.0:8080", "127.0.0.1:8081"},
		{"", ":8080", "127.0.0.1:8081"},
		{"", "127.0.0.1:0", "127.0.0.1:0"},
		{"127.0.0.1:9999", "127.0.0.1:8080", "127.0.0.1:9999"},
	} {
		if got, err := simAddr(tc.flag, tc.addr); err != nil || got != tc.want {
			t.Errorf("simAddr(%q, %q) = %q, %v; want %q", tc.flag, tc.addr, got, err, tc.want)
		}
	}
	if _, err := simAddr("0.0.0.0:8081", "127.0.0.1:8080"); err == nil || !strings.Contains(err.Error(), "--sim-addr") {
		t.Errorf("public --sim-addr: err = %v, want a refusal naming --sim-addr", err)
	}

	taken := freeLoopbackAddr(t)
	ln, err := net.Listen("tcp", taken)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	m := &Main{Config: ServeConfig{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "a.db"), SimAddr: taken, LogLevel: "error", LogFormat: "text"}}
	if err := m.Run(context.Background()); err == nil {
		m.Close(context.Background())
		t.Errorf("serve started with --sim-addr taken")
	} else if !strings.Contains(err.Error(), "--sim-addr "+taken) {
		t.Errorf("taken --sim-addr: err = %v, want it to name the flag and address", err)
	}

	m = &Main{Config: ServeConfig{Addr: "127.0.0.1:0", DB: "postgres://127.0.0.1:1/x", APIKey: "an-api-key-0123456789", TokenKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", LogLevel: "error", LogFormat: "text"}}
	if err := m.Run(context.Background()); err == nil {
		m.Close(context.Background())
		t.Errorf("serve started with PostgreSQL and no --sim-state")
	} else if !strings.Contains(err.Error(), "--sim-state") {
		t.Errorf("PostgreSQL without --sim-state: err = %v, want it to name --sim-state", err)
	}
}

// TestServe_RefusesCorruptSimState: a simulator state file that cannot be
// read stops serve with an error naming it; serve does not start with an
// empty simulator, and the file is left for the operator to restore.
func TestServe_RefusesCorruptSimState(t *testing.T) {
	db := filepath.Join(t.TempDir(), "autodebit.db")
	if err := os.WriteFile(db+".sim.json", []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: ServeConfig{Addr: "127.0.0.1:0", DB: "sqlite:" + db, LogLevel: "error", LogFormat: "text"}}
	if err := m.Run(context.Background()); err == nil {
		m.Close(context.Background())
		t.Fatal("serve started on a corrupt simulator state")
	} else if !strings.Contains(err.Error(), db+".sim.json") {
		t.Errorf("err = %v, want it to name the state file", err)
	}
	if b, _ := os.ReadFile(db + ".sim.json"); string(b) != "{garbage" {
		t.Errorf("state file changed to %q", b)
	}
}
