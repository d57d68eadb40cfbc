package engine_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/autodebit/autodebit/engine"
	"github.com/autodebit/autodebit/storetest"
)

// notifyStatus sends a notification signed with Antom's key and returns the
// HTTP status and body of the engine's answer.
func (s *stack) notifyStatus(path, body string) (int, string) {
	s.tb.Helper()
	req, err := antom.NewNotificationRequest(context.Background(), s.srv.URL+path, s.sim.ClientID(), s.sim.Now().Format(time.RFC3339), antomKey, "1", []byte(body))
	if err != nil {
		s.tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// timelineHas reports whether an object's timeline has an entry whose
// kind, response or error contains want.
func (s *stack) timelineHas(id, want string) bool {
	s.tb.Helper()
	evs, err := s.store.FindTimeline(context.Background(), id)
	if err != nil {
		s.tb.Fatal(err)
	}
	for _, e := range evs {
		if strings.Contains(e.Kind+" "+e.Response+" "+e.Error, want) {
			return true
		}
	}
	return false
}

func paymentResult(prid, paymentID, value string) string {
	return `{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."},` +
		`"paymentRequestId":"` + prid + `","paymentId":"` + paymentID + `","paymentAmount":{"currency":"PHP","value":"` + value + `"}}`
}

// A signed PAYMENT_RESULT that disagrees with the charge (amount, currency,
// paymentId) is refused without being recorded: the genuine one that
// follows is applied, not dropped as a repeat.
func TestNotification_MismatchDoesNotSwallowTheGenuineOne(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		tok := s.link("cus_1", "GCASH")
		s.setPayMode(antomsim.PayModeStuck)
		c := s.mustCharge(tok.ID, 1500, "PHP")
		if c.Status != autodebit.ChargeInit || c.PaymentID == "" {
			t.Fatalf("charge = %s paymentId %q, want INIT with Antom's paymentId", c.Status, c.PaymentID)
		}
		for name, body := range map[string]string{
			"amount PHP 15.01":   paymentResult(c.PaymentRequestID, c.PaymentID, "1501"),
			"amount USD 15.00":   strings.Replace(paymentResult(c.PaymentRequestID, c.PaymentID, "1500"), `"PHP"`, `"USD"`, 1),
			"paymentId 20269999": paymentResult(c.PaymentRequestID, "2026999999", "1500"),
		} {
			status, answer := s.notifyStatus(engine.NotifyPaymentPath, body)
			if status != http.StatusBadRequest || antom.IsAck([]byte(answer)) || !strings.Contains(answer, name) {
				t.Errorf("mismatch: HTTP %d %s, want 400 naming the %s", status, answer, name)
			}
			if got := s.charge(c.ID); got.Status != autodebit.ChargeInit || got.PaymentID != c.PaymentID {
				t.Fatalf("%s mismatch changed the charge: %s paymentId %s", name, got.Status, got.PaymentID)
			}
		}
		if !s.timelineHas(c.ID, "rejected: its amount") {
			t.Error("the refused notification is not in the charge's timeline")
		}
		s.notify(engine.NotifyPaymentPath, paymentResult(c.PaymentRequestID, c.PaymentID, "1500"))
		if got := s.charge(c.ID); got.Status != autodebit.ChargeSuccess || got.SettledBy != autodebit.SettledByNotification {
			t.Fatalf("genuine notification after mismatches: charge %s by %s, want SUCCESS by notification", got.Status, got.SettledBy)
		}
	})
}

// The same for refunds: a notifyRefund with another amount is refused and
// does not stop the genuine one.
func TestNotification_RefundMismatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		c := s.mustCharge(tok.ID, 1500, "PHP")
		// Antom never sees the refund: it stays PROCESSING.
		s.setFaults(antomsim.Faults{API: map[string][]antomsim.APIFault{antom.APIRefund: {{Kind: antomsim.FaultHTTP5xx, Probability: 1}}}})
		r, err := s.eng.CreateRefund(ctx, engine.RefundInput{ChargeID: c.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 500}})
		if err != nil || r.Status != autodebit.RefundProcessing {
			t.Fatalf("refund = %+v, %v", r, err)
		}
		body := func(value string) string {
			return `{"notifyType":"REFUND_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."},` +
				`"refundStatus":"SUCCESS","refundRequestId":"` + r.RefundRequestID + `","refundId":"2026000001","refundAmount":{"currency":"PHP","value":"` + value + `"}}`
		}
		if status, answer := s.notifyStatus(engine.NotifyRefundPath, body("1500")); status != http.StatusBadRequest {
			t.Fatalf("mismatched refund notification: HTTP %d %s, want 400", status, answer)
		}
		if got, _ := s.store.FindRefundByID(ctx, r.ID); got.Status != autodebit.RefundProcessing {
			t.Fatalf("refund = %s after a mismatched notification", got.Status)
		}
		s.notify(engine.NotifyRefundPath, body("500"))
		if got, _ := s.store.FindRefundByID(ctx, r.ID); got.Status != autodebit.RefundSuccess {
			t.Fatalf("refund = %s after the genuine notification, want SUCCESS", got.Status)
		}
		if got := s.charge(c.ID); got.RefundedValue != 500 {
			t.Fatalf("refunded = %d, want 500", got.RefundedValue)
		}
	})
}

// TOKEN_CANCELED and AUTHCODE_CREATED that do not report success are
// acknowledged, noted in the timeline, and change nothing; the genuine ones
// after them still work.
func TestNotification_FailedResultsAreNotActedOn(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		cancelBody := func(status string) string {
			return `{"authorizationNotifyType":"TOKEN_CANCELED","result":{"resultCode":"X","resultStatus":"` + status + `","resultMessage":"m"},"accessToken":"` + tok.AccessToken + `"}`
		}
		s.notify(engine.NotifyAuthorizationPath, cancelBody("F"))
		if got, _ := s.store.FindTokenByID(ctx, tok.ID); got.Status != autodebit.TokenActive {
			t.Fatalf("token = %s after TOKEN_CANCELED with F", got.Status)
		}
		if !s.timelineHas(tok.ID, "ignored: its result") {
			t.Error("the ignored TOKEN_CANCELED is not in the token's timeline")
		}
		s.notify(engine.NotifyAuthorizationPath, cancelBody("S"))
		got, _ := s.store.FindTokenByID(ctx, tok.ID)
		if got.Status != autodebit.TokenRevoked || got.RevokedBy != autodebit.RevokedByWallet {
			t.Fatalf("token = %s by %q after TOKEN_CANCELED with S, want REVOKED by wallet", got.Status, got.RevokedBy)
		}

		a, err := s.eng.CreateAuthorization(ctx, "cus_2", "GCASH")
		if err != nil {
			t.Fatal(err)
		}
		s.notify(engine.NotifyAuthorizationPath, `{"authorizationNotifyType":"AUTHCODE_CREATED","result":{"resultCode":"X","resultStatus":"F","resultMessage":"m"},"authState":"`+
			authState(t, s, a.ID)+`","authCode":"forged-code"}`)
		if got, _ := s.store.FindAuthorizationByID(ctx, a.ID); got.Status != autodebit.AuthorizationPending {
			t.Fatalf("authorization = %s after AUTHCODE_CREATED with F, want PENDING", got.Status)
		}
		if _, err := s.sim.Approve(a.QRText, ""); err != nil {
			t.Fatal(err)
		}
		s.waitFor("authorization final", func() bool {
			got, err := s.store.FindAuthorizationByID(ctx, a.ID)
			return err == nil && got.Status.Final()
		})
		if got, _ := s.store.FindAuthorizationByID(ctx, a.ID); got.Status != autodebit.AuthorizationActive {
			t.Fatalf("authorization = %s (%s) after the genuine approval, want ACTIVE", got.Status, got.FailureCode)
		}
	})
}

// A merchant revoke is recorded as the merchant's even when Antom's
// TOKEN_CANCELED lands before revoke's own answer.
func TestToken_RevokedByMerchantWhenNotificationLandsFirst(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		var hold atomicFunc
		s := newStack(t, open, stackOptions{antom: holdAntom(antom.APIRevoke, &hold.p)})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		var landedAgain func()
		landed := func() {
			// Revoke is done at Antom; deliver its TOKEN_CANCELED before
			// the answer gets back.
			if err := s.sim.Settle(ctx); err != nil {
				t.Error(err)
			}
			if got, _ := s.store.FindTokenByID(ctx, tok.ID); got.Status != autodebit.TokenRevoked {
				t.Errorf("TOKEN_CANCELED did not land first: token %s", got.Status)
			}
		}
		// Hold every revoke answer (RevokeToken's own call and its job's),
		// so whichever answer is recorded comes after the notification.
		rearm := func() { landed(); hold.p.Store(&landedAgain) }
		landedAgain = rearm
		hold.p.Store(&landedAgain)
		if _, err := s.eng.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := s.store.FindTokenByID(ctx, tok.ID)
		if got.Status != autodebit.TokenRevoked || got.RevokedBy != autodebit.RevokedByMerchant || !strings.Contains(got.RevokeReason, "merchant") {
			t.Fatalf("token = %s by %q (%s), want REVOKED by merchant", got.Status, got.RevokedBy, got.RevokeReason)
		}
		s.checkTruth()
	})
}

// A payment result that arrives while a cancel is in flight is not
// acknowledged (503) and not recorded: the cancel's answer decides, and a
// resend is judged afresh.
func TestNotification_DeferredWhileCancelInFlight(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		s.setPayMode(antomsim.PayModeStuck)
		c := s.mustCharge(tok.ID, 1500, "PHP")
		s.setFaults(antomsim.Faults{API: map[string][]antomsim.APIFault{antom.APICancel: {{Kind: antomsim.FaultHTTP5xx, Probability: 1}}}})
		if got, err := s.eng.CancelCharge(ctx, c.ID); err != nil || got.Status != autodebit.ChargeInit || got.CancelRequestedAt.IsZero() {
			t.Fatalf("cancel = %+v, %v; want INIT with the cancel asked", got, err)
		}
		status, answer := s.notifyStatus(engine.NotifyPaymentPath, paymentResult(c.PaymentRequestID, c.PaymentID, "1500"))
		if status != http.StatusServiceUnavailable || antom.IsAck([]byte(answer)) {
			t.Fatalf("result during a cancel: HTTP %d %s, want 503", status, answer)
		}
		if !s.timelineHas(c.ID, "deferred: a cancel is in flight") {
			t.Error("the deferred notification is not in the charge's timeline")
		}
		if got := s.charge(c.ID); got.Status != autodebit.ChargeInit {
			t.Fatalf("charge = %s after a deferred notification", got.Status)
		}
		s.setFaults(antomsim.Faults{})
	})
}
