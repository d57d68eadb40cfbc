package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServe_SignalShutdown: on SIGTERM, serve says it is shutting down and
// that it stopped, and exits 0; River's routine lines stay out of an INFO
// log.
func TestServe_SignalShutdown(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "serve", "--addr", "127.0.0.1:0", "--db", "sqlite:"+filepath.Join(dir, "autodebit.db"), "--log-format", "json")
	cmd.Env = append(os.Environ(), "AUTODEBIT_TEST_EXEC=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "console and API:") {
				close(started)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start; log:\n%s", logs.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) || err != nil {
			t.Fatalf("serve exited with %v after SIGTERM; log:\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop after SIGTERM; log:\n%s", logs.String())
	}
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if strings.HasPrefix(rec.Msg, "River client") {
			t.Errorf("River's routine line at %s in an INFO log: %s", rec.Level, line)
		}
		msgs = append(msgs, rec.Msg)
	}
	got := strings.Join(msgs, "\n")
	i, j := strings.Index(got, "shutting down…"), strings.Index(got, "\nstopped")
	if i < 0 || j < i {
		t.Fatalf("want \"shutting down…\" then \"stopped\" in the log; messages:\n%s", got)
	}
}

// TestServe_WarnsPlainHTTPOnPublicAddress: listening beyond loopback sends
// the API key over the network in clear, and serve says so; on loopback it
// does not.
func TestServe_WarnsPlainHTTPOnPublicAddress(t *testing.T) {
	const warning = "serving plain HTTP on a non-loopback address"
	for addr, want := range map[string]bool{"0.0.0.0:0": true, "127.0.0.1:0": false} {
		var logs syncBuffer
		m := &Main{Config: ServeConfig{Addr: addr, DB: "sqlite:" + filepath.Join(t.TempDir(), "autodebit.db"), LogLevel: "warn", LogFormat: "text"}, Stderr: &logs}
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		m.Close(context.Background())
		if got := strings.Contains(logs.String(), warning); got != want {
			t.Errorf("--addr %s: warning logged = %v, want %v; log:\n%s", addr, got, want, logs.String())
		}
	}
}

// TestServe_PostgresKeysSayHowToMakeThem: with PostgreSQL serve keeps no key
// files, so the refusal says how to make each key; nothing is opened.
func TestServe_PostgresKeysSayHowToMakeThem(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  ServeConfig
		want string
	}{
		"token key": {ServeConfig{}, "--token-key is required with PostgreSQL: 32 random bytes in base64, made with `head -c32 /dev/urandom | base64`"},
		"api key":   {ServeConfig{TokenKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}, "--api-key is required with PostgreSQL: any secret of 16 characters or more"},
	} {
		m := &Main{Config: tc.cfg}
		m.Config.Addr, m.Config.DB, m.Config.LogLevel = "127.0.0.1:0", "postgres://127.0.0.1:1/x", "error"
		err := m.Run(context.Background())
		if err == nil {
			m.Close(context.Background())
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}
