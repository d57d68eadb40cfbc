package autodebit_test

import (
	"strings"
	"testing"

	"github.com/autodebit/autodebit"
)

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := autodebit.NewID(autodebit.ChargeIDPrefix)
		if !strings.HasPrefix(id, "chg_") || len(id) != len("chg_")+26 {
			t.Fatalf("NewID=%q, want chg_ and 26 characters", id)
		} else if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}

func TestRequestIDs(t *testing.T) {
	for _, id := range []string{autodebit.NewAuthState(), autodebit.NewPaymentRequestID(), autodebit.NewRefundRequestID()} {
		if !autodebit.IsRequestID(id) {
			t.Errorf("%q is not a valid Antom request ID", id)
		}
	}
	for _, tt := range []struct {
		s  string
		ok bool
	}{
		{"a", true}, {"A-z_09", true}, {strings.Repeat("x", 64), true},
		{"", false}, {strings.Repeat("x", 65), false}, {"a b", false}, {"a.b", false}, {"é", false},
	} {
		if got := autodebit.IsRequestID(tt.s); got != tt.ok {
			t.Errorf("IsRequestID(%q)=%v, want %v", tt.s, got, tt.ok)
		}
	}
}

func TestNotificationDedupKey(t *testing.T) {
	a := autodebit.NotificationDedupKey("PAYMENT_RESULT", "pr_1", "S")
	if a != autodebit.NotificationDedupKey("PAYMENT_RESULT", "pr_1", "S") {
		t.Fatal("same content gave different keys")
	}
	for _, other := range []string{
		autodebit.NotificationDedupKey("PAYMENT_RESULT", "pr_1", "F"),
		autodebit.NotificationDedupKey("PAYMENT_RESULT", "pr_1S"),
		autodebit.NotificationDedupKey("PAYMENT_RESULT", "pr_", "1S"),
		autodebit.NotificationDedupKey("PAYMENT_RESULTpr_1", "S"),
	} {
		if other == a {
			t.Fatalf("different content shares key %s", a)
		}
	}
}
