package autodebit_test

import (
	"fmt"
	"testing"

	"github.com/autodebit/autodebit"
)

// lifecycle checks CanTransition and Final for every pair of statuses
// against the allowed transitions written out in PRODUCT.md.
func lifecycle[S ~string](t *testing.T, all []S, can func(from, to S) bool, final func(S) bool, allowed map[S][]S) {
	t.Helper()
	for _, from := range all {
		for _, to := range all {
			want := false
			for _, a := range allowed[from] {
				want = want || a == to
			}
			if got := can(from, to); got != want {
				t.Errorf("CanTransition(%s, %s)=%v, want %v", from, to, got, want)
			}
		}
		if got, want := final(from), len(allowed[from]) == 0; got != want {
			t.Errorf("%s.Final()=%v, want %v", from, got, want)
		}
	}
}

func TestAuthorizationStatus(t *testing.T) {
	lifecycle(t, autodebit.AuthorizationStatuses(), autodebit.AuthorizationStatus.CanTransition, autodebit.AuthorizationStatus.Final,
		map[autodebit.AuthorizationStatus][]autodebit.AuthorizationStatus{
			"PENDING":    {"AUTHORIZED", "FAILED", "EXPIRED"},
			"AUTHORIZED": {"ACTIVE", "FAILED", "EXPIRED"},
		})
}

func TestTokenStatus(t *testing.T) {
	lifecycle(t, autodebit.TokenStatuses(), autodebit.TokenStatus.CanTransition, autodebit.TokenStatus.Final,
		map[autodebit.TokenStatus][]autodebit.TokenStatus{"ACTIVE": {"REVOKED", "EXPIRED"}})
}

func TestChargeStatus(t *testing.T) {
	lifecycle(t, autodebit.ChargeStatuses(), autodebit.ChargeStatus.CanTransition, autodebit.ChargeStatus.Final,
		map[autodebit.ChargeStatus][]autodebit.ChargeStatus{"INIT": {"SUCCESS", "FAIL", "CANCELLED"}})
}

func TestRefundStatus(t *testing.T) {
	lifecycle(t, autodebit.RefundStatuses(), autodebit.RefundStatus.CanTransition, autodebit.RefundStatus.Final,
		map[autodebit.RefundStatus][]autodebit.RefundStatus{"PROCESSING": {"SUCCESS", "FAIL"}})
}

func TestUnknownStatus(t *testing.T) {
	if autodebit.ChargeStatus("PAID").Valid() || autodebit.ChargeStatus("PAID").Final() {
		t.Fatal("unknown status reported valid or final")
	}
	if autodebit.ChargeStatus("PAID").CanTransition(autodebit.ChargeSuccess) || autodebit.ChargeInit.CanTransition("PAID") {
		t.Fatal("transition from or to an unknown status allowed")
	}
}

func TestToken_secrets(t *testing.T) {
	tok := &autodebit.Token{ID: "tok_1", AccessToken: "2811xxxxxxxxxxxxsecretAT1234", RefreshToken: "refreshsecret-zzzz"}
	for _, s := range []string{tok.String(), fmt.Sprint(tok), tok.LogValue().String()} {
		for _, secret := range []string{tok.AccessToken, tok.RefreshToken, "secretAT"} {
			if contains(s, secret) {
				t.Fatalf("%q reveals %q", s, secret)
			}
		}
	}
}

func TestToken_Chargeable(t *testing.T) {
	now := mustTime("2026-01-02T03:04:05Z")
	ok := &autodebit.Token{ID: "tok_1", Status: autodebit.TokenActive, AccessTokenExpiresAt: now.Add(1)}
	if err := ok.Chargeable(now); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]*autodebit.Token{
		"Revoked":       {Status: autodebit.TokenRevoked},
		"Expired":       {Status: autodebit.TokenExpired},
		"RevokePending": {Status: autodebit.TokenActive, RevokePending: true},
		"PastExpiry":    {Status: autodebit.TokenActive, AccessTokenExpiresAt: now},
	} {
		if code := autodebit.ErrorCode(tok.Chargeable(now)); code != autodebit.ECONFLICT {
			t.Errorf("%s: code=%q, want %q", name, code, autodebit.ECONFLICT)
		}
	}
}
