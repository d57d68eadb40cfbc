package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/client"
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
		"key file readable by others":  {ServeConfig{Addr: "127.0.0.1:0", DB: "sqlite:" + db}, "readable by others"},
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

// TestServe_SimulatorNeedsKey: the in-process simulator's control API and
// its home page's list of QR codes need the per-run key serve prints; the
// wallet page at the QR URL works without it, and the console's origin
// cannot post to it.
func TestServe_SimulatorNeedsKey(t *testing.T) {
	out, logs := &syncBuffer{}, &syncBuffer{}
	m := &Main{Config: ServeConfig{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "a.db"), LogFormat: "json", LogLevel: "debug"},
		Stdout: out, Stderr: logs}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	if len(m.SimKey) < 16 || !strings.Contains(out.String(), m.SimKey) {
		t.Fatalf("SimKey %q is not in the banner:\n%s", m.SimKey, out.String())
	}
	auth, err := client.New(m.URL, m.APIKey).CreateAuthorization(context.Background(), "cus_sim", "GCASH")
	if err != nil {
		t.Fatal(err)
	}
	code := auth.QR.Text[strings.LastIndex(auth.QR.Text, "/")+1:]
	get := func(url, key string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{"/sim/v1/tokens", "/sim/v1/authorizations", "/sim/v1/faults"} {
		if st, body := get(m.SimURL+path, ""); st != http.StatusUnauthorized || strings.Contains(body, code) {
			t.Errorf("GET %s without the key = %d %s, want 401", path, st, body)
		}
	}
	if st, body := get(m.SimURL+"/sim/v1/authorizations", m.SimKey); st != 200 || !strings.Contains(body, code) {
		t.Errorf("GET /sim/v1/authorizations with the key = %d %s", st, body)
	}
	if st, body := get(m.SimURL+"/", ""); st != 200 || strings.Contains(body, code) {
		t.Errorf("home page without the key = %d, lists the QR code:\n%s", st, body)
	}
	if st, body := get(auth.QR.Text, ""); st != 200 || !strings.Contains(body, "Agree") {
		t.Errorf("wallet page = %d:\n%s", st, body)
	}
	req, _ := http.NewRequest("POST", auth.QR.Text, strings.NewReader("action=approve"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", m.URL)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || m.Sim.Authorizations()[0].Status != antomsim.AuthPending {
		t.Errorf("approve posted from the console's origin = %d, authorization %s; want 403 and PENDING", resp.StatusCode, m.Sim.Authorizations()[0].Status)
	}
	if strings.Contains(logs.String(), m.SimKey) {
		t.Errorf("the logs hold the simulator key")
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
