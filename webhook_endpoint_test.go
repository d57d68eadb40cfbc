package autodebit_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
)

func TestValidateWebhookURL(t *testing.T) {
	long := "https://shop.example/" + strings.Repeat("a", autodebit.MaxWebhookURLLength-len("https://shop.example/"))
	for _, c := range []struct {
		url  string
		want string // a part of the error message; "" for valid
	}{
		{"https://shop.example/webhooks", ""},
		{"http://shop.example:8080/a/b?x=1&y=2", ""},
		{"https://[2001:db8::1]:8443/hook", ""},
		{long, ""},
		{long + "a", "at most 2048"},
		{"", "required"},
		{"/webhooks", "absolute http:// or https://"},
		{"shop.example/webhooks", "absolute http:// or https://"},
		{"ftp://shop.example/", "absolute http:// or https://"},
		{"javascript:alert(1)", "absolute http:// or https://"},
		{"http:shop.example", "must name a host"},
		{"https:///path", "must name a host"},
		{"https://:443/path", "must name a host"},
		{"https://user@shop.example/", "user name or password"},
		{"https://user:pw@shop.example/", "user name or password"},
		{"https://shop.example/#top", "#fragment"},
		{"https://shop.example/a b", "not a valid URL"},
		{"https://shop.example/\x7f", "not a valid URL"},
		{"https://shop.exa\u202emple/", "not a valid URL"},
	} {
		err := autodebit.ValidateWebhookURL(c.url)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v, want valid", c.url, err)
		case c.want != "" && (autodebit.ErrorCode(err) != autodebit.EINVALID || !strings.Contains(autodebit.ErrorMessage(err), c.want)):
			t.Errorf("%q: %v, want invalid with %q", c.url, err, c.want)
		}
	}
}

func TestWebhookEndpoint_NoSecretsInStringOrLog(t *testing.T) {
	w := &autodebit.WebhookEndpoint{ID: "we_1", URL: "https://shop.example/", Enabled: true,
		Secret: "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==", PreviousSecret: "whsec_b2xkLW9sZC1vbGQtb2xkLW9sZC1vbGQtb2xkIQ==",
		PreviousSecretExpiresAt: time.Now().Add(time.Hour)}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "endpoint", w)
	for _, out := range []string{w.String(), fmt.Sprint(w), logs.String()} {
		if strings.Contains(out, "c2VjcmV0") || strings.Contains(out, "b2xkLW9s") || !strings.Contains(out, "we_1") {
			t.Errorf("output shows a secret or lacks the ID: %s", out)
		}
	}
}

func TestWebhookEndpoint_SubscribesAndSigningSecrets(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	w := &autodebit.WebhookEndpoint{Secret: "new", PreviousSecret: "old", PreviousSecretExpiresAt: now.Add(time.Hour)}
	if !w.Subscribes("charge.succeeded") {
		t.Error("no event types should mean every type")
	}
	w.EventTypes = []string{"refund.failed"}
	if w.Subscribes("charge.succeeded") || !w.Subscribes("refund.failed") {
		t.Error("Subscribes ignores EventTypes")
	}
	if got := strings.Join(w.SigningSecrets(now), " "); got != "new old" {
		t.Errorf("during the overlap: %q", got)
	}
	if got := strings.Join(w.SigningSecrets(now.Add(time.Hour)), " "); got != "new" {
		t.Errorf("at the expiry: %q", got)
	}
}
