package console_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/console"
)

// In simulator mode the Health page shows the one clock with buttons that
// advance it; an advance comes back to Health once what fell due has run.
// Without a clock (a real Antom) there is neither control nor route.
func TestConsole_Clock(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t, s.URL)
	csrf := b.mustLogin()
	status, page, _ := b.do("GET", "/health", nil)
	if status != http.StatusOK || !strings.Contains(page, "Advance by") || !strings.Contains(page, `value="30d"`) || !strings.Contains(page, "at real speed") {
		t.Fatalf("health: %d, no clock control:\n%s", status, page)
	}
	before := s.Clock.Clock.Now()
	status, _, h := b.do("POST", "/clock/advance", url.Values{"csrf": {csrf}, "by": {"1d"}})
	if status != http.StatusSeeOther || h.Get("Location") != "/health?notice=clock-advanced" {
		t.Fatalf("advance: %d to %q, want 303 to Health", status, h.Get("Location"))
	}
	if moved := s.Clock.Clock.Now().Sub(before); moved < 24*time.Hour || moved > 25*time.Hour {
		t.Fatalf("advancing a day moved the clock %s", moved)
	}
	if _, page, _ = b.do("GET", "/health?notice=clock-advanced", nil); !strings.Contains(page, "everything that fell due on the way has run") {
		t.Fatalf("no notice after the advance:\n%s", page)
	}
	// Only the offered steps; a forged one changes nothing.
	before = s.Clock.Clock.Now()
	if status, page, _ := b.do("POST", "/clock/advance", url.Values{"csrf": {csrf}, "by": {"3650d"}}); status != http.StatusBadRequest || !strings.Contains(page, "1h, 1d or 30d") {
		t.Fatalf("advance by 3650d: %d\n%s", status, page)
	}
	if moved := s.Clock.Clock.Now().Sub(before); moved > time.Minute {
		t.Fatalf("a refused advance moved the clock %s", moved)
	}
	// The CSRF token is required, as on every form.
	if status, _, _ := b.do("POST", "/clock/advance", url.Values{"by": {"1h"}}); status != http.StatusForbidden {
		t.Fatalf("advance without the form token: %d, want 403", status)
	}

	// A console without a clock, as with a real Antom.
	plain, err := console.New(console.Config{Engine: s.Engine, APIKey: apiKey, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(plain)
	t.Cleanup(srv.Close)
	pb := newBrowser(t, srv.URL)
	csrf = pb.mustLogin()
	if _, page, _ := pb.do("GET", "/health", nil); strings.Contains(page, "Advance by") {
		t.Fatal("a console without a clock shows the clock control")
	}
	if status, _, _ := pb.do("POST", "/clock/advance", url.Values{"csrf": {csrf}, "by": {"1h"}}); status != http.StatusNotFound {
		t.Fatalf("advance without a clock: %d, want 404", status)
	}
}
