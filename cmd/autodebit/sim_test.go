package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSimCommand runs `autodebit sim` on a free port with keys from files,
// checks the printed settings and calls the control API.
func TestSimCommand(t *testing.T) {
	kp, err := antom.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pubFile := filepath.Join(dir, "merchant.pub")
	if err := os.WriteFile(pubFile, []byte(kp.PublicKeyPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := newRootCommand()
	out := &syncBuffer{}
	root.SetOut(out)
	root.SetArgs([]string{"sim", "--addr", "127.0.0.1:0", "--client-id", "SANDBOX_CMD", "--seed", "42",
		"--time-scale", "60", "--merchant-public-key", "@" + pubFile, "--private-key", kp.PrivateKeyBase64,
		"--notify-url", "http://127.0.0.1:1/notify"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	re := regexp.MustCompile(`listening on (http://\S+)`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("sim exited: %v\n%s", err, out.String())
		default:
		}
	}
	if base == "" {
		t.Fatalf("no listening line in %q", out.String())
	}
	// Settle so the whole banner has been printed.
	time.Sleep(20 * time.Millisecond)
	text := out.String()
	for _, want := range []string{"SANDBOX_CMD", kp.PublicKeyBase64, "Seed 42", "time scale 60", "http://127.0.0.1:1/notify"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "NOT verified") {
		t.Errorf("output says signatures are not verified:\n%s", text)
	}
	resp, err := http.Get(base + "/sim/v1/clock")
	if err != nil {
		t.Fatal(err)
	}
	var clock struct {
		Scale float64 `json:"scale"`
		Seed  int64   `json:"seed"`
	}
	json.NewDecoder(resp.Body).Decode(&clock)
	resp.Body.Close()
	if clock.Scale != 60 || clock.Seed != 42 {
		t.Fatalf("clock = %+v", clock)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop")
	}
}

func TestSimConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    simFlags
		want string
	}{
		{"TimeScale", simFlags{timeScale: 0}, "--time-scale"},
		{"BadPrivateKey", simFlags{timeScale: 1, privateKey: "bm90IGEga2V5"}, "--private-key"},
		{"MissingKeyFile", simFlags{timeScale: 1, merchantPublicKey: "@/nonexistent/key"}, "merchant-public-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := simConfig(tc.f, "http://127.0.0.1:1")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %s", err, tc.want)
			}
		})
	}
}
