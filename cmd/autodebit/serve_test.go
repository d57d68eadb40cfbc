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

// TestServe_PrintsAPIKeyOnlyWhenGenerated checks the banner: the run that
// generates the API key prints it once; a run that reads it back from its
// file, or is given it, says where it is and does not print it.
func TestServe_PrintsAPIKeyOnlyWhenGenerated(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "autodebit.db")
	given := "given-api-key-0123456789"
	keyFile := filepath.Join(dir, "operator.key")
	if err := os.WriteFile(keyFile, []byte(given+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(apiKey string) (*Main, string) {
		t.Helper()
		var out strings.Builder
		m := &Main{Config: ServeConfig{Addr: "127.0.0.1:0", DB: "sqlite:" + db, APIKey: apiKey, LogLevel: "error", LogFormat: "text"}, Stdout: &out}
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		return m, out.String()
	}

	m, out := run("")
	if !strings.Contains(out, m.APIKey) || !strings.Contains(out, "new; kept in "+db+".api-key") {
		t.Errorf("first run does not show the generated key and its file:\n%s", out)
	}
	for _, tc := range []struct{ name, apiKey, want string }{
		{"read back from its file", "", "kept in " + db + ".api-key (not shown)"},
		{"given", given, "as given by --api-key or AUTODEBIT_API_KEY (not shown)"},
		{"given as @FILE", "@" + keyFile, "read from " + keyFile + " (not shown)"},
	} {
		m, out := run(tc.apiKey)
		if strings.Contains(out, m.APIKey) {
			t.Errorf("%s: the banner shows the API key:\n%s", tc.name, out)
		}
		if !strings.Contains(out, tc.want) {
			t.Errorf("%s: the banner does not say %q:\n%s", tc.name, tc.want, out)
		}
	}
}

// TestServe_HidesDatabasePassword checks that a bad --db value is quoted in
// the error without its password.
func TestServe_HidesDatabasePassword(t *testing.T) {
	m := &Main{Config: ServeConfig{Addr: "127.0.0.1:0", DB: "mysql://app:s3cretpw@db/pay?password=s3cretpw", LogLevel: "error", LogFormat: "text"}}
	err := m.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "--db") || strings.Contains(err.Error(), "s3cretpw") {
		t.Errorf("err = %v, want a --db error without the password", err)
	}
	if got := redactDB("postgres://app:s3cretpw@db/pay"); strings.Contains(got, "s3cretpw") {
		t.Errorf("banner database %q shows the password", got)
	}
}
