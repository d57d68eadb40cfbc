package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
)

func testAuthorization(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("CreateFind", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a := mustCreateAuthorization(t, s, newAuthorization("cus_1"))
		if !strings.HasPrefix(a.ID, autodebit.AuthorizationIDPrefix) || a.Version != 1 || a.Status != autodebit.AuthorizationPending {
			t.Fatalf("created %+v", *a)
		} else if a.CreatedAt.IsZero() || !a.UpdatedAt.Equal(a.CreatedAt) {
			t.Fatalf("CreatedAt=%v UpdatedAt=%v", a.CreatedAt, a.UpdatedAt)
		}
		got, err := s.FindAuthorizationByID(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, a)
		if got, err = s.FindAuthorizationByAuthState(ctx, a.AuthState); err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, a)
		mustTx(t, s, func(tx autodebit.Tx) error {
			got, err := tx.FindAuthorizationByAuthStateForUpdate(ctx, a.AuthState)
			if err == nil {
				wantEqual(t, got, a)
			}
			return err
		})
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		_, err := s.FindAuthorizationByID(ctx, "auth_nope")
		wantCode(t, err, autodebit.ENOTFOUND)
		_, err = s.FindAuthorizationByAuthState(ctx, "nope")
		wantCode(t, err, autodebit.ENOTFOUND)
		err = s.WithTx(ctx, func(tx autodebit.Tx) error {
			_, err := tx.FindAuthorizationForUpdate(ctx, "auth_nope")
			return err
		})
		wantCode(t, err, autodebit.ENOTFOUND)
		a := newAuthorization("cus_1")
		a.ID, a.Version, a.Status = "auth_nope", 1, autodebit.AuthorizationPending
		err = s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateAuthorization(ctx, a) })
		wantCode(t, err, autodebit.ENOTFOUND)
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for name, mod := range map[string]func(a *autodebit.Authorization){
			"NoCustomer":    func(a *autodebit.Authorization) { a.CustomerID = "" },
			"BadWallet":     func(a *autodebit.Authorization) { a.Wallet = "gcash wallet" },
			"BadAuthState":  func(a *autodebit.Authorization) { a.AuthState = "has space" },
			"NoExpiry":      func(a *autodebit.Authorization) { a.ExpiresAt = time.Time{} },
			"NotPending":    func(a *autodebit.Authorization) { a.Status = autodebit.AuthorizationAuthorized },
			"UnknownStatus": func(a *autodebit.Authorization) { a.Status = "NEW" },
		} {
			a := newAuthorization("cus_1")
			mod(a)
			err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateAuthorization(ctx, a) })
			if autodebit.ErrorCode(err) != autodebit.EINVALID {
				t.Errorf("%s: err=%v, want EINVALID", name, err)
			}
		}
		if _, n, err := s.FindAuthorizations(ctx, autodebit.AuthorizationFilter{}); err != nil || n != 0 {
			t.Fatalf("stored %d invalid authorizations, err=%v", n, err)
		}
	})

	t.Run("DuplicateAuthState", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a := mustCreateAuthorization(t, s, newAuthorization("cus_1"))
		b := newAuthorization("cus_2")
		b.AuthState = a.AuthState
		err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateAuthorization(ctx, b) })
		wantCode(t, err, autodebit.ECONFLICT)
	})

	t.Run("AuthCodeEncrypted", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a := mustCreateAuthorization(t, s, newAuthorization("cus_1"))
		a.Status, a.AuthCode, a.AuthorizedAt = autodebit.AuthorizationAuthorized, "d2f60253-ecdc-e9bc-27d1-566970191040", t0
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateAuthorization(ctx, a) })
		if raw := rawString(t, s, "authorizations", "auth_code", a.ID); raw == "" || strings.Contains(raw, "d2f60253") {
			t.Fatalf("auth_code stored as %q", raw)
		}
		got, err := s.FindAuthorizationByID(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, a)
		a.Status, a.AuthCode, a.TokenID = autodebit.AuthorizationActive, "", "tok_1"
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateAuthorization(ctx, a) })
		if raw := rawString(t, s, "authorizations", "auth_code", a.ID); raw != "" {
			t.Fatalf("used auth_code still stored: %q", raw)
		}
	})

	t.Run("CompareAndSet", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a := mustCreateAuthorization(t, s, newAuthorization("cus_1"))
		stale := *a
		a.QRText = "changed"
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateAuthorization(ctx, a) })
		if a.Version != 2 {
			t.Fatalf("Version=%d, want 2", a.Version)
		}
		stale.Status = autodebit.AuthorizationExpired
		err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateAuthorization(ctx, &stale) })
		wantCode(t, err, autodebit.ECONFLICT)
		got, err := s.FindAuthorizationByID(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, a)
	})

	t.Run("Transitions", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		// path to reach each status from PENDING
		paths := map[autodebit.AuthorizationStatus][]autodebit.AuthorizationStatus{
			autodebit.AuthorizationPending:    nil,
			autodebit.AuthorizationAuthorized: {autodebit.AuthorizationAuthorized},
			autodebit.AuthorizationActive:     {autodebit.AuthorizationAuthorized, autodebit.AuthorizationActive},
			autodebit.AuthorizationFailed:     {autodebit.AuthorizationFailed},
			autodebit.AuthorizationExpired:    {autodebit.AuthorizationExpired},
		}
		set := func(a *autodebit.Authorization, st autodebit.AuthorizationStatus) error {
			a.Status = st
			if st == autodebit.AuthorizationActive {
				a.TokenID = "tok_1"
			}
			return s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateAuthorization(ctx, a) })
		}
		for _, from := range autodebit.AuthorizationStatuses() {
			for _, to := range autodebit.AuthorizationStatuses() {
				a := mustCreateAuthorization(t, s, newAuthorization("cus_1"))
				for _, st := range paths[from] {
					if err := set(a, st); err != nil {
						t.Fatalf("reach %s: %v", from, err)
					}
				}
				before := *a
				err := set(a, to)
				if from == to || from.CanTransition(to) {
					if err != nil {
						t.Errorf("%s -> %s: %v", from, to, err)
					}
					continue
				}
				if autodebit.ErrorCode(err) != autodebit.ECONFLICT {
					t.Errorf("%s -> %s: err=%v, want ECONFLICT", from, to, err)
				}
				got, err := s.FindAuthorizationByID(ctx, a.ID)
				if err != nil {
					t.Fatal(err)
				} else if got.Status != from || got.Version != before.Version {
					t.Errorf("%s -> %s refused but stored %s version %d", from, to, got.Status, got.Version)
				}
			}
		}
	})

	t.Run("Filter", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		var all []*autodebit.Authorization
		for i := range 5 {
			a := newAuthorization([]string{"cus_a", "cus_b"}[i%2])
			a.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
			all = append(all, mustCreateAuthorization(t, s, a))
		}
		all[4].Status = autodebit.AuthorizationExpired
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateAuthorization(ctx, all[4]) })

		check := func(f autodebit.AuthorizationFilter, total int, want ...int) {
			t.Helper()
			got, n, err := s.FindAuthorizations(ctx, f)
			if err != nil {
				t.Fatal(err)
			} else if n != total || len(got) != len(want) {
				t.Fatalf("%+v: total=%d len=%d, want %d and %d", f, n, len(got), total, len(want))
			}
			for i, w := range want {
				if got[i].ID != all[w].ID {
					t.Fatalf("%+v: [%d]=%s, want #%d", f, i, got[i].ID, w)
				}
			}
		}
		check(autodebit.AuthorizationFilter{}, 5, 4, 3, 2, 1, 0)
		check(autodebit.AuthorizationFilter{CustomerID: "cus_a"}, 3, 4, 2, 0)
		check(autodebit.AuthorizationFilter{Status: autodebit.AuthorizationPending}, 4, 3, 2, 1, 0)
		check(autodebit.AuthorizationFilter{Wallet: "DANA"}, 0)
		check(autodebit.AuthorizationFilter{CreatedAfter: t0.Add(time.Minute), CreatedBefore: t0.Add(3 * time.Minute)}, 2, 2, 1)
		check(autodebit.AuthorizationFilter{Limit: 2, Offset: 1}, 5, 3, 2)
		check(autodebit.AuthorizationFilter{Offset: 3}, 5, 1, 0)
	})
}
