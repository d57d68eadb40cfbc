package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/sqldb"
)

func testToken(t *testing.T, open opener) {
	ctx := context.Background()

	t.Run("CreateFind", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		if !strings.HasPrefix(tok.ID, autodebit.TokenIDPrefix) || tok.Version != 1 || tok.Status != autodebit.TokenActive {
			t.Fatalf("created %+v", *tok)
		}
		got, err := s.FindTokenByID(ctx, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, tok)
		if got, err = s.FindTokenByAccessToken(ctx, tok.AccessToken); err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, tok)
		mustTx(t, s, func(tx autodebit.Tx) error {
			got, err := tx.FindTokenByAccessTokenForUpdate(ctx, tok.AccessToken)
			if err == nil {
				wantEqual(t, got, tok)
			}
			return err
		})
		_, err = s.FindTokenByAccessToken(ctx, tok.AccessToken+"x")
		wantCode(t, err, autodebit.ENOTFOUND)
		_, err = s.FindTokenByID(ctx, "tok_nope")
		wantCode(t, err, autodebit.ENOTFOUND)
	})

	t.Run("NoRefreshToken", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a := mustCreateAuthorization(t, s, newAuthorization("cus_1"))
		tok := newToken(a.ID, "cus_1")
		tok.RefreshToken, tok.RefreshTokenExpiresAt = "", time.Time{}
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.CreateToken(ctx, tok) })
		got, err := s.FindTokenByID(ctx, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, tok)
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a := mustCreateAuthorization(t, s, newAuthorization("cus_1"))
		for name, mod := range map[string]func(tok *autodebit.Token){
			"NoAccessToken":   func(tok *autodebit.Token) { tok.AccessToken = "" },
			"NoAuthorization": func(tok *autodebit.Token) { tok.AuthorizationID = "" },
			"NotActive":       func(tok *autodebit.Token) { tok.Status = autodebit.TokenRevoked },
		} {
			tok := newToken(a.ID, "cus_1")
			mod(tok)
			err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateToken(ctx, tok) })
			if autodebit.ErrorCode(err) != autodebit.EINVALID {
				t.Errorf("%s: err=%v, want EINVALID", name, err)
			}
		}
		tok := newToken("auth_nope", "cus_1")
		if err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateToken(ctx, tok) }); err == nil {
			t.Fatal("created a token of a missing authorization")
		}
	})

	t.Run("DuplicateAccessToken", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		dup := newToken(tok.AuthorizationID, "cus_1")
		dup.AccessToken = tok.AccessToken
		err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.CreateToken(ctx, dup) })
		wantCode(t, err, autodebit.ECONFLICT)
	})

	t.Run("EncryptedAtRest", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		other := mustCreateToken(t, s, "cus_2")
		for col, secret := range map[string]string{"access_token": tok.AccessToken, "refresh_token": tok.RefreshToken} {
			raw := rawString(t, s, "tokens", col, tok.ID)
			if raw == "" || strings.Contains(raw, secret) || strings.Contains(raw, secret[4:]) {
				t.Fatalf("%s stored as %q", col, raw)
			}
		}
		if h := rawString(t, s, "tokens", "access_token_hash", tok.ID); strings.Contains(h, tok.AccessToken) {
			t.Fatalf("access_token_hash reveals the token: %q", h)
		}

		// Another key opens nothing and finds nothing by access token.
		wrong, err := sqldb.New(s.DB(), s.Dialect(), s.RiverDriver(), sqldb.Config{TokenKey: []byte(strings.Repeat("k", sqldb.TokenKeySize))})
		if err != nil {
			t.Fatal(err)
		}
		_, err = wrong.FindTokenByID(ctx, tok.ID)
		wantCode(t, err, autodebit.EINTERNAL)
		_, err = wrong.FindTokenByAccessToken(ctx, tok.AccessToken)
		wantCode(t, err, autodebit.ENOTFOUND)

		// A sealed token copied to another row does not open there.
		if _, err := s.DB().Exec("UPDATE tokens SET access_token = $1 WHERE id = $2",
			rawString(t, s, "tokens", "access_token", tok.ID), other.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.FindTokenByID(ctx, other.ID)
		wantCode(t, err, autodebit.EINTERNAL)

		if _, err := sqldb.New(s.DB(), s.Dialect(), s.RiverDriver(), sqldb.Config{TokenKey: []byte("short")}); err == nil {
			t.Fatal("New accepted a short token key")
		}
	})

	t.Run("Refresh", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		old := tok.AccessToken
		tok.AccessToken, tok.RefreshToken = "2811-refreshed-access-token", "2812-refreshed-refresh-token"
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateToken(ctx, tok) })
		got, err := s.FindTokenByAccessToken(ctx, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, tok)
		_, err = s.FindTokenByAccessToken(ctx, old)
		wantCode(t, err, autodebit.ENOTFOUND)
	})

	t.Run("CompareAndSet", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		tok := mustCreateToken(t, s, "cus_1")
		stale := *tok
		tok.RevokePending = true
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateToken(ctx, tok) })
		stale.UserLoginID = "changed"
		err := s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateToken(ctx, &stale) })
		wantCode(t, err, autodebit.ECONFLICT)
		got, err := s.FindTokenByID(ctx, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, got, tok)
	})

	t.Run("Transitions", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		set := func(tok *autodebit.Token, st autodebit.TokenStatus) error {
			tok.Status = st
			if st == autodebit.TokenRevoked {
				tok.RevokedAt, tok.RevokeReason = t0, "merchant"
			}
			return s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateToken(ctx, tok) })
		}
		for _, from := range autodebit.TokenStatuses() {
			for _, to := range autodebit.TokenStatuses() {
				tok := mustCreateToken(t, s, "cus_1")
				if from != autodebit.TokenActive {
					if err := set(tok, from); err != nil {
						t.Fatalf("reach %s: %v", from, err)
					}
				}
				version := tok.Version
				err := set(tok, to)
				if from == to || from.CanTransition(to) {
					if err != nil {
						t.Errorf("%s -> %s: %v", from, to, err)
					}
					continue
				}
				if autodebit.ErrorCode(err) != autodebit.ECONFLICT {
					t.Errorf("%s -> %s: err=%v, want ECONFLICT", from, to, err)
				}
				got, err := s.FindTokenByID(ctx, tok.ID)
				if err != nil {
					t.Fatal(err)
				} else if got.Status != from || got.Version != version {
					t.Errorf("%s -> %s refused but stored %s version %d", from, to, got.Status, got.Version)
				}
			}
		}
	})

	t.Run("DueRevokes", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		var all []*autodebit.Token
		for i := range 4 {
			tok := mustCreateToken(t, s, "cus_1")
			tok.RevokePending = i != 3 // #3 has no revoke asked
			tok.RevokeNextAt = t0.Add(time.Duration(3-i) * time.Second)
			if i == 2 {
				tok.RevokeNextAt = time.Time{} // refused by Antom: no attempt scheduled
			}
			mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateToken(ctx, tok) })
			all = append(all, tok)
		}
		got, err := s.FindDueRevokes(ctx, t0.Add(5*time.Second), 10)
		if err != nil {
			t.Fatal(err)
		} else if len(got) != 2 || got[0].ID != all[1].ID || got[1].ID != all[0].ID {
			t.Fatalf("due = %v, want #1 then #0", got)
		}
		wantEqual(t, got[0], all[1])
		// A revoked token is never due.
		all[1].Status, all[1].RevokedBy, all[1].RevokePending, all[1].RevokedAt = autodebit.TokenRevoked, autodebit.RevokedByMerchant, false, t0
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateToken(ctx, all[1]) })
		if got, _ := s.FindDueRevokes(ctx, t0.Add(5*time.Second), 10); len(got) != 1 || got[0].ID != all[0].ID {
			t.Fatalf("after revoke: %v, want #0", got)
		}
		if got, _ := s.FindTokenByID(ctx, all[1].ID); got.RevokedBy != autodebit.RevokedByMerchant {
			t.Fatalf("revokedBy = %q", got.RevokedBy)
		}
		if _, err := s.FindDueRevokes(ctx, t0, 0); autodebit.ErrorCode(err) != autodebit.EINVALID {
			t.Fatalf("limit 0: err = %v", err)
		}
		all[0].RevokedBy = "someone"
		err = s.WithTx(ctx, func(tx autodebit.Tx) error { return tx.UpdateToken(ctx, all[0]) })
		wantCode(t, err, autodebit.EINVALID)
	})

	t.Run("Filter", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a := mustCreateToken(t, s, "cus_a")
		b := mustCreateToken(t, s, "cus_b")
		b.Status = autodebit.TokenRevoked
		mustTx(t, s, func(tx autodebit.Tx) error { return tx.UpdateToken(ctx, b) })
		for _, tt := range []struct {
			f    autodebit.TokenFilter
			want []string
		}{
			{autodebit.TokenFilter{CustomerID: "cus_a"}, []string{a.ID}},
			{autodebit.TokenFilter{Status: autodebit.TokenRevoked}, []string{b.ID}},
			{autodebit.TokenFilter{Wallet: "GCASH", Status: autodebit.TokenExpired}, nil},
		} {
			got, n, err := s.FindTokens(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			} else if n != len(tt.want) || len(got) != len(tt.want) {
				t.Fatalf("%+v: %d tokens (total %d), want %v", tt.f, len(got), n, tt.want)
			}
			for i := range got {
				if got[i].ID != tt.want[i] {
					t.Fatalf("%+v: got %s, want %s", tt.f, got[i].ID, tt.want[i])
				}
			}
		}
	})
}
