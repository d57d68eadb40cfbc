package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
)

func newLinkSession(customerID string) *autodebit.LinkSession {
	return &autodebit.LinkSession{
		CustomerID:  customerID,
		Wallet:      "GCASH",
		ReturnURL:   "https://shop.example/linked?order=42",
		CancelURL:   "https://shop.example/cart",
		Locale:      "tl",
		RequestHash: "hash",
		ExpiresAt:   t0.Add(autodebit.DefaultLinkSessionLifetime),
	}
}

func mustCreateLinkSession(tb testing.TB, s autodebit.Store, ls *autodebit.LinkSession) *autodebit.LinkSession {
	tb.Helper()
	mustTx(tb, s, func(tx autodebit.Tx) error { return tx.CreateLinkSession(context.Background(), ls) })
	return ls
}

func testLinkSession(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("CreateFind", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ls := newLinkSession("cus_1")
		ls.IdempotencyKey = "ls-key-1"
		mustCreateLinkSession(t, s, ls)
		if !strings.HasPrefix(ls.ID, autodebit.LinkSessionIDPrefix) || ls.Version != 1 || ls.Status != autodebit.LinkSessionOpen {
			t.Fatalf("created %+v", *ls)
		} else if ls.CreatedAt.IsZero() || !ls.UpdatedAt.Equal(ls.CreatedAt) {
			t.Fatalf("CreatedAt=%v UpdatedAt=%v", ls.CreatedAt, ls.UpdatedAt)
		} else if len(ls.Secret) < 40 || strings.ContainsAny(ls.Secret, "/?#%+= ") {
			t.Fatalf("secret %q: want at least 40 URL-safe characters", ls.Secret)
		}
		for name, find := range map[string]func() (*autodebit.LinkSession, error){
			"ByID":             func() (*autodebit.LinkSession, error) { return s.FindLinkSessionByID(ctx, ls.ID) },
			"BySecret":         func() (*autodebit.LinkSession, error) { return s.FindLinkSessionBySecret(ctx, ls.Secret) },
			"ByIdempotencyKey": func() (*autodebit.LinkSession, error) { return s.FindLinkSessionByIdempotencyKey(ctx, "ls-key-1") },
			"ForUpdate": func() (got *autodebit.LinkSession, err error) {
				err = s.WithTx(ctx, func(tx autodebit.Tx) error {
					got, err = tx.FindLinkSessionForUpdate(ctx, ls.ID)
					return err
				})
				return got, err
			},
		} {
			got, err := find()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			wantEqual(t, got, ls)
		}
		// Another session has another secret.
		other := mustCreateLinkSession(t, s, newLinkSession("cus_1"))
		if other.Secret == ls.Secret || other.Secret == "" {
			t.Fatalf("two sessions' secrets: %q and %q", ls.Secret, other.Secret)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ls := mustCreateLinkSession(t, s, newLinkSession("cus_1"))
		for name, secret := range map[string]string{
			"Empty": "", "Unknown": "x" + ls.Secret[1:], "Truncated": ls.Secret[:len(ls.Secret)-1],
			"ID": ls.ID, "Upper": strings.ToUpper(ls.Secret), "Padded": ls.Secret + "=",
		} {
			if secret == ls.Secret {
				continue
			}
			_, err := s.FindLinkSessionBySecret(ctx, secret)
			if autodebit.ErrorCode(err) != autodebit.ENOTFOUND {
				t.Errorf("%s secret %q: err=%v, want ENOTFOUND", name, secret, err)
			}
		}
		_, err := s.FindLinkSessionByID(ctx, "ls_nope")
		wantCode(t, err, autodebit.ENOTFOUND)
		_, err = s.FindLinkSessionByIdempotencyKey(ctx, "")
		wantCode(t, err, autodebit.ENOTFOUND)
		err = s.WithTx(ctx, func(tx autodebit.Tx) error {
			_, err := tx.FindLinkSessionForUpdate(ctx, "ls_nope")
			return err
		})
		wantCode(t, err, autodebit.ENOTFOUND)
		gone := newLinkSession("cus_1")
		gone.ID, gone.Version, gone.Status = "ls_nope", 1, autodebit.LinkSessionOpen
		err = s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateLinkSession(ctx, gone) })
		wantCode(t, err, autodebit.ENOTFOUND)
	})

	t.Run("SecretNotAtRest", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ls := mustCreateLinkSession(t, s, newLinkSession("cus_1"))
		// Every column of the row, as text: none holds the secret or a
		// piece of it that would help guess it.
		var row string
		if err := s.DB().QueryRow(`SELECT id || customer_id || wallet || status || secret_hash || return_url || cancel_url || locale ||
			request_hash || CAST(expires_at AS TEXT) || CAST(created_at AS TEXT) FROM link_sessions WHERE id = $1`, ls.ID).Scan(&row); err != nil {
			t.Fatal(err)
		}
		for _, part := range []string{ls.Secret, ls.Secret[:12], ls.Secret[len(ls.Secret)-12:]} {
			if strings.Contains(row, part) {
				t.Fatalf("the link_sessions row holds the secret (%q) in %q", part, row)
			}
		}
		if hash := rawString(t, s, "link_sessions", "secret_hash", ls.ID); len(hash) != 64 {
			t.Fatalf("secret_hash = %q, want a 64-digit hex HMAC", hash)
		}
		// Nor does any other table: the timeline and events are the
		// engine's business, but the store's own tables must not.
		var n int
		if err := s.DB().QueryRow("SELECT COUNT(*) FROM authorizations WHERE qr_text LIKE $1", "%"+ls.Secret+"%").Scan(&n); err != nil || n != 0 {
			t.Fatalf("authorizations holding the secret: %d, %v", n, err)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		for name, mod := range map[string]func(ls *autodebit.LinkSession){
			"NoCustomer":        func(ls *autodebit.LinkSession) { ls.CustomerID = "" },
			"InvisibleCustomer": func(ls *autodebit.LinkSession) { ls.CustomerID = "cus\u200b1" },
			"BadWallet":         func(ls *autodebit.LinkSession) { ls.Wallet = "gcash" },
			"NoWalletNoChoice":  func(ls *autodebit.LinkSession) { ls.Wallet = "" },
			"NoReturnURL":       func(ls *autodebit.LinkSession) { ls.ReturnURL = "" },
			"RelativeReturnURL": func(ls *autodebit.LinkSession) { ls.ReturnURL = "/linked" },
			"JavascriptCancel":  func(ls *autodebit.LinkSession) { ls.CancelURL = "javascript:alert(1)" },
			"UserInfoReturnURL": func(ls *autodebit.LinkSession) { ls.ReturnURL = "https://shop.example@evil.example/" },
			"BadLocale":         func(ls *autodebit.LinkSession) { ls.Locale = "fr" },
			"NoExpiry":          func(ls *autodebit.LinkSession) { ls.ExpiresAt = time.Time{} },
			"NotOpen":           func(ls *autodebit.LinkSession) { ls.Status = autodebit.LinkSessionComplete },
			"UnknownStatus":     func(ls *autodebit.LinkSession) { ls.Status = "new" },
			"BadID":             func(ls *autodebit.LinkSession) { ls.ID = "auth_x" },
		} {
			ls := newLinkSession("cus_1")
			mod(ls)
			err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateLinkSession(ctx, ls) })
			if autodebit.ErrorCode(err) != autodebit.EINVALID {
				t.Errorf("%s: err=%v, want EINVALID", name, err)
			}
		}
		if _, n, err := s.FindLinkSessions(ctx, autodebit.LinkSessionFilter{}); err != nil || n != 0 {
			t.Fatalf("stored %d invalid link sessions, err=%v", n, err)
		}
		// The buyer may choose the wallet when none is named.
		choose := newLinkSession("cus_1")
		choose.Wallet, choose.BuyerChoosesWallet, choose.CancelURL, choose.Locale = "", true, "", ""
		mustCreateLinkSession(t, s, choose)
		if got, err := s.FindLinkSessionByID(ctx, choose.ID); err != nil || !got.BuyerChoosesWallet || got.Wallet != "" {
			t.Fatalf("session for the buyer's choice: %+v, %v", got, err)
		}
	})

	t.Run("DuplicateIdempotencyKey", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a := newLinkSession("cus_1")
		a.IdempotencyKey = "same"
		mustCreateLinkSession(t, s, a)
		b := newLinkSession("cus_2")
		b.IdempotencyKey = "same"
		err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateLinkSession(ctx, b) })
		wantCode(t, err, autodebit.ECONFLICT)
	})

	t.Run("UpdateAndCompareAndSet", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		ls := mustCreateLinkSession(t, s, newLinkSession("cus_1"))
		stale := *ls

		// An attempt: the authorization names its session.
		a := newAuthorization("cus_1")
		a.LinkSessionID = ls.ID
		mustCreateAuthorization(t, s, a)
		ls.AuthorizationID = a.ID
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateLinkSession(ctx, ls) })
		if ls.Version != 2 {
			t.Fatalf("Version=%d after one update, want 2", ls.Version)
		}
		err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateLinkSession(ctx, &stale) })
		wantCode(t, err, autodebit.ECONFLICT)

		// Complete needs the token.
		ls.Status = autodebit.LinkSessionComplete
		err = s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateLinkSession(ctx, ls) })
		wantCode(t, err, autodebit.EINVALID)
		ls.TokenID, ls.CompletedAt = tok.ID, t0.Add(time.Minute)
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateLinkSession(ctx, ls) })
		got, err := s.FindLinkSessionByID(ctx, ls.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, ls)

		// A final status never changes.
		for _, to := range []autodebit.LinkSessionStatus{autodebit.LinkSessionOpen, autodebit.LinkSessionExpired, autodebit.LinkSessionCancelled} {
			moved := *got
			moved.Status = to
			err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateLinkSession(ctx, &moved) })
			wantCode(t, err, autodebit.ECONFLICT)
		}
		if again, _ := s.FindLinkSessionByID(ctx, ls.ID); again.Status != autodebit.LinkSessionComplete || again.Version != got.Version {
			t.Fatalf("after refused moves: %+v", again)
		}

		// The authorization keeps its session, and the session's attempts
		// are found by it.
		if got, err := s.FindAuthorizationByID(ctx, a.ID); err != nil || got.LinkSessionID != ls.ID {
			t.Fatalf("authorization %+v, %v", got, err)
		}
		mustCreateAuthorization(t, s, newAuthorization("cus_1")) // not the session's
		attempts, n, err := s.FindAuthorizations(ctx, autodebit.AuthorizationFilter{LinkSessionID: ls.ID})
		if err != nil || n != 1 || len(attempts) != 1 || attempts[0].ID != a.ID {
			t.Fatalf("the session's attempts: %d %v, %v", n, attempts, err)
		}
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		var made []*autodebit.LinkSession
		for i, c := range []string{"cus_1", "cus_2", "cus_1"} {
			ls := newLinkSession(c)
			ls.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
			made = append(made, mustCreateLinkSession(t, s, ls))
		}
		made[1].Status, made[1].CancelledAt = autodebit.LinkSessionCancelled, t0.Add(time.Hour)
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateLinkSession(ctx, made[1]) })

		ids := func(f autodebit.LinkSessionFilter) (string, int) {
			t.Helper()
			list, n, err := s.FindLinkSessions(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, ls := range list {
				if ls.Secret == "" {
					t.Fatalf("listed session %s without its secret", ls.ID)
				}
				out = append(out, ls.ID)
			}
			return strings.Join(out, ","), n
		}
		if got, n := ids(autodebit.LinkSessionFilter{}); got != made[2].ID+","+made[1].ID+","+made[0].ID || n != 3 {
			t.Fatalf("all, newest first: %s (%d)", got, n)
		}
		if got, n := ids(autodebit.LinkSessionFilter{CustomerID: "cus_1"}); got != made[2].ID+","+made[0].ID || n != 2 {
			t.Fatalf("cus_1: %s (%d)", got, n)
		}
		if got, n := ids(autodebit.LinkSessionFilter{Status: autodebit.LinkSessionCancelled}); got != made[1].ID || n != 1 {
			t.Fatalf("cancelled: %s (%d)", got, n)
		}
		if got, n := ids(autodebit.LinkSessionFilter{Limit: 1, Offset: 1}); got != made[1].ID || n != 3 {
			t.Fatalf("page 2 of 1: %s (%d)", got, n)
		}
		if got, n := ids(autodebit.LinkSessionFilter{CreatedAfter: t0.Add(time.Minute), CreatedBefore: t0.Add(2 * time.Minute)}); got != made[1].ID || n != 1 {
			t.Fatalf("created range: %s (%d)", got, n)
		}
		if got, n := ids(autodebit.LinkSessionFilter{Wallet: "DANA"}); got != "" || n != 0 {
			t.Fatalf("DANA: %s (%d)", got, n)
		}
	})
}
