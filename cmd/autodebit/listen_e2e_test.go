package main

import (
	"context"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/webhook"
)

// TestListen_AgainstServe: `autodebit listen --forward-to` against a real
// engine prints the events of a link and a charge as they happen and
// forwards each once, signed so that webhook.Verifier accepts it.
func TestListen_AgainstServe(t *testing.T) {
	m, _ := startMain(t)
	secret := mustSecret(t)
	rc := &receiver{verifier: &webhook.Verifier{Secrets: []string{secret}}}
	recv := httptest.NewServer(rc)
	defer recv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	root := newRootCommand()
	root.SetArgs([]string{"listen", "--server", m.URL, "--api-key", m.APIKey, "--forward-to", recv.URL,
		"--secret", secret, "--interval", "20ms", "--since", "1m"})
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	tok := link(t, m, "cus_listen")
	out := mustRun(t, m, "charge", "--token", tok, "--amount", "15.00")
	chg := regexp.MustCompile(`chg_\w+`).FindString(out)

	deadline := time.Now().Add(15 * time.Second)
	for !(strings.Contains(stdout.String(), "authorization.active") && strings.Contains(stdout.String(), "charge.succeeded")) {
		if time.Now().After(deadline) {
			t.Fatalf("listen did not print both events:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for time.Now().Before(deadline) {
		rc.mu.Lock()
		n := len(rc.got)
		rc.mu.Unlock()
		if n >= 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("listen: %v\n%s", err, stderr.String())
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.refused) != 0 {
		t.Fatalf("the receiver refused forwarded events: %v", rc.refused)
	}
	seen := map[string]int{}
	var charged bool
	for _, e := range rc.got {
		seen[e.ID]++
		charged = charged || (e.Type == "charge.succeeded" && e.ObjectID == chg)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s forwarded %d times", id, n)
		}
	}
	if !charged {
		t.Errorf("charge.succeeded for %s was not forwarded; got %d events", chg, len(rc.got))
	}
}

func mustSecret(t *testing.T) string {
	t.Helper()
	s, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
