package engine_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/engine"
	"github.com/autodebit/autodebit/storetest"
)

// The process is killed while applyToken is in flight: Antom issued the
// token, the answer was never recorded, and River keeps the job "running"
// until its rescue, minutes later and past the authCode's minute. The
// restarted process resumes applyToken at once; Antom answers the resend
// with the same token, and the link is not lost.
func TestAuthorization_KilledDuringApplyTokenResumesAtStart(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		var hold atomicFunc
		s := newStack(t, open, stackOptions{antom: holdAntom(antom.APIApplyToken, &hold.p)})
		ctx := context.Background()
		killed := make(chan struct{})
		kill := func() { <-killed } // answer only once the process is gone
		hold.p.Store(&kill)
		a, err := s.eng.CreateAuthorization(ctx, "cus_1", "GCASH")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.sim.Approve(a.QRText, ""); err != nil {
			t.Fatal(err)
		}
		s.waitFor("applyToken sent", func() bool { return hold.p.Load() == nil })
		s.crash()
		close(killed)
		// kill -9 leaves the job running in River's table.
		if _, err := s.store.DB().ExecContext(ctx, "UPDATE river_job SET state = 'running' WHERE kind = $1", engine.ApplyTokenArgs{}.Kind()); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.store.FindAuthorizationByID(ctx, a.ID); got.Status != autodebit.AuthorizationAuthorized {
			t.Fatalf("before the restart: %s, want AUTHORIZED", got.Status)
		}
		s.start()
		// The clock stands still: nothing is rescued, only resumed.
		s.waitFor("authorization final", func() bool {
			got, err := s.store.FindAuthorizationByID(ctx, a.ID)
			return err == nil && got.Status.Final()
		})
		got, _ := s.store.FindAuthorizationByID(ctx, a.ID)
		if got.Status != autodebit.AuthorizationActive {
			t.Fatalf("after the restart: %s (%s: %s), want ACTIVE", got.Status, got.FailureCode, got.FailureMessage)
		}
		if !s.timelineHas(a.ID, "resumed after a restart") {
			t.Error("no resume entry in the authorization's timeline")
		}
		s.checkTruth()
	})
}

// A consult that fails keeps the FAILED attempt with its exchange, and says
// whether to try again (503) or that Antom refused (402).
func TestAuthorization_ConsultFails(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		for i, f := range []antomsim.APIFault{
			{Kind: antomsim.FaultHTTP5xx, Probability: 1},
			{Kind: antomsim.FaultUnknown, Probability: 1},
		} {
			s.setFaults(antomsim.Faults{API: map[string][]antomsim.APIFault{antom.APIConsult: {f}}})
			customer := "cus_" + f.Kind
			_, err := s.eng.CreateAuthorization(ctx, customer, "GCASH")
			if autodebit.ErrorCode(err) != autodebit.EUNAVAILABLE {
				t.Fatalf("%d %s: err = %v, want EUNAVAILABLE", i, f.Kind, err)
			}
			list, _, err := s.store.FindAuthorizations(ctx, autodebit.AuthorizationFilter{CustomerID: customer})
			if err != nil || len(list) != 1 || list[0].Status != autodebit.AuthorizationFailed || list[0].FailureCode == "" {
				t.Fatalf("%s: stored %v, %v; want one FAILED attempt with a code", f.Kind, list, err)
			}
			if !s.timelineHas(list[0].ID, "antom."+antom.APIConsult) || !s.timelineHas(list[0].ID, "FAILED") {
				t.Errorf("%s: the consult exchange or the FAILED state is missing from the timeline", f.Kind)
			}
			// Over HTTP: 503 and a sentence saying to try again.
			req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/v1/authorizations", strings.NewReader(`{"customerId":"`+customer+`","wallet":"GCASH"}`))
			req.Header.Set("Authorization", "Bearer "+apiKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "try again") {
				t.Errorf("%s over HTTP: %d %s, want 503 saying to try again", f.Kind, resp.StatusCode, b)
			}
		}
	})
}

// A token Antom issues for an authorization that ended meanwhile (another
// run of applyToken failed it) is not dropped: it is stored unchargeable and
// revoked, so no token is left at Antom that nobody can revoke.
func TestAuthorization_TokenForAnEndedAuthorizationIsRevoked(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		var hold atomicFunc
		s := newStack(t, open, stackOptions{antom: holdAntom(antom.APIApplyToken, &hold.p)})
		ctx := context.Background()
		a, err := s.eng.CreateAuthorization(ctx, "cus_1", "GCASH")
		if err != nil {
			t.Fatal(err)
		}
		fail := func() {
			err := s.store.WithTx(ctx, func(tx autodebit.Tx) error {
				cur, err := tx.FindAuthorizationForUpdate(ctx, a.ID)
				if err != nil {
					return err
				}
				cur.Status, cur.FailureCode, cur.AuthCode = autodebit.AuthorizationFailed, "USED_CODE", ""
				return tx.UpdateAuthorization(ctx, cur)
			})
			if err != nil {
				t.Error(err)
			}
		}
		hold.p.Store(&fail)
		if _, err := s.sim.Approve(a.QRText, ""); err != nil {
			t.Fatal(err)
		}
		var tok *autodebit.Token
		s.waitFor("the orphan token revoked", func() bool {
			list, _, err := s.store.FindTokens(ctx, autodebit.TokenFilter{CustomerID: "cus_1"})
			if err != nil || len(list) != 1 {
				return false
			}
			tok = list[0]
			return tok.Status == autodebit.TokenRevoked
		})
		if tok.AuthorizationID != a.ID || tok.RevokedBy != autodebit.RevokedByMerchant {
			t.Fatalf("token = %+v, want revoked by us for %s", tok, a.ID)
		}
		if got, _ := s.store.FindAuthorizationByID(ctx, a.ID); got.Status != autodebit.AuthorizationFailed {
			t.Fatalf("authorization = %s, want it to stay FAILED", got.Status)
		}
		s.checkTruth()
	})
}
