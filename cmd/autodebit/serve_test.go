package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServe_RefusesUnsafeSettings(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "autodebit.db")
	if err := os.WriteFile(db+".api-key", []byte("planted-api-key-0123456789\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		cfg  ServeConfig
		want string
	}{
		"key file readable by others": {ServeConfig{Addr: "127.0.0.1:0", DB: "sqlite:" + db}, "readable by others"},
		"profiler on a public address": {ServeConfig{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(dir, "b.db"), DebugAddr: "0.0.0.0:0"}, "loopback"},
		"bad database":                 {ServeConfig{Addr: "127.0.0.1:0", DB: "mysql://x"}, "--db"},
		"postgres without keys":        {ServeConfig{Addr: "127.0.0.1:0", DB: "postgres://127.0.0.1:1/x"}, "required with PostgreSQL"},
	} {
		m := &Main{Config: tc.cfg}
		m.Config.LogLevel, m.Config.LogFormat = "error", "text"
		err := m.Run(context.Background())
		if err == nil {
			m.Close(context.Background())
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
	// A database made by serve is readable by its owner only.
	m := &Main{Config: ServeConfig{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(dir, "c.db"), LogLevel: "error", LogFormat: "text"}}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	for _, f := range []string{"c.db", "c.db.api-key", "c.db.token-key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for others", f, fi.Mode().Perm())
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8081": true, "localhost:1": true, "[::1]:80": true,
		"0.0.0.0:8081": false, ":8081": false, "10.0.0.1:80": false, "example.com:80": false, "nonsense": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestSim_RefusesPublicAddress(t *testing.T) {
	cmd := newRootCommand()
	cmd.SetArgs([]string{"sim", "--addr", "0.0.0.0:0"})
	cmd.SetOut(new(strings.Builder))
	err := cmd.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Fatalf("err = %v, want a refusal naming --allow-remote", err)
	}
}
