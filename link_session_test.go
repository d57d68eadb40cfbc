package autodebit_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/autodebit/autodebit"
)

func TestLinkSessionStatus(t *testing.T) {
	lifecycle(t, autodebit.LinkSessionStatuses(), autodebit.LinkSessionStatus.CanTransition, autodebit.LinkSessionStatus.Final,
		map[autodebit.LinkSessionStatus][]autodebit.LinkSessionStatus{"open": {"complete", "cancelled", "expired"}})
}

func TestValidateLinkSessionURL(t *testing.T) {
	for _, c := range []struct {
		url  string
		want string // a part of the error message; "" for valid
	}{
		{"https://shop.example/linked", ""},
		{"http://127.0.0.1:8080/demo/return?x=1", ""},
		{"https://shop.example/#/linked", ""}, // a single-page app's route
		{"", `"returnUrl" is required`},
		{"/linked", "absolute http:// or https://"},
		{"javascript:alert(1)", "absolute http:// or https://"},
		{"https:///x", "must name a host"},
		{"https://a@shop.example/", "user name or password"},
		{"https://shop.example/\u202e", "not a valid URL"},
		{"https://shop.example/" + strings.Repeat("a", autodebit.MaxLinkSessionURLLength), "at most 2048"},
	} {
		err := autodebit.ValidateLinkSessionURL("returnUrl", c.url)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v, want valid", c.url, err)
		case c.want != "" && (autodebit.ErrorCode(err) != autodebit.EINVALID || !strings.Contains(autodebit.ErrorMessage(err), c.want)):
			t.Errorf("%q: %v, want invalid with %q", c.url, err, c.want)
		}
	}
}

func TestLinkSession_RedirectURLs(t *testing.T) {
	s := &autodebit.LinkSession{ID: "ls_1", TokenID: "tok_2", ReturnURL: "https://shop.example/done?order=7&token=forged#/thanks",
		CancelURL: "https://shop.example/cart?status=open"}
	if got, want := s.CompleteURL(), "https://shop.example/done?link_session=ls_1&order=7&token=tok_2#/thanks"; got != want {
		t.Errorf("CompleteURL %q, want %q", got, want)
	}
	if got, want := s.CancelledURL(), "https://shop.example/cart?link_session=ls_1&status=cancelled"; got != want {
		t.Errorf("CancelledURL %q, want %q", got, want)
	}
	s.CancelURL = ""
	if got := s.CancelledURL(); got != "" {
		t.Errorf("CancelledURL without a cancelUrl: %q", got)
	}
}

func TestLinkSession_NoSecretInStringOrLog(t *testing.T) {
	s := &autodebit.LinkSession{ID: "ls_1", CustomerID: "cus_1", Wallet: "GCASH", Status: autodebit.LinkSessionOpen,
		Secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ"}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "session", s)
	for _, out := range []string{s.String(), fmt.Sprint(s), logs.String()} {
		if strings.Contains(out, "c2VjcmV0") || !strings.Contains(out, "ls_1") {
			t.Errorf("output shows the secret or lacks the ID: %s", out)
		}
	}
}
