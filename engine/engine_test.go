package engine_test

import (
	"context"
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

func ptr[T any](v T) *T { return &v }

func TestLinkAndCharge(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		if tok.Status != autodebit.TokenActive || tok.UserLoginID == "" || tok.CustomerID != "cus_1" {
			t.Fatalf("token = %v", tok)
		}
		c := s.mustCharge(tok.ID, 1500, "PHP")
		if c.Status != autodebit.ChargeSuccess || c.PaymentID == "" || !autodebit.IsRequestID(c.PaymentRequestID) {
			t.Fatalf("charge = %+v", c)
		}
		// The audit trail has the pay exchange with the token masked.
		evs, err := s.store.FindTimeline(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var sawPay bool
		for _, e := range evs {
			if strings.Contains(e.Request+e.Response, tok.AccessToken) {
				t.Fatalf("event %s holds the access token in the clear", e.Kind)
			}
			sawPay = sawPay || e.Kind == "antom.pay"
		}
		if !sawPay {
			t.Fatalf("no antom.pay event in %d events", len(evs))
		}
		s.checkTruth()
	})
}

func TestCharge_Declined(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		tok := s.link("cus_1", "GCASH")
		if _, err := s.sim.UpdateAccount("GCASH", "09171234567", antomsim.AccountUpdate{Balance: ptr(int64(100))}); err != nil {
			t.Fatal(err)
		}
		c := s.mustCharge(tok.ID, 1500, "PHP")
		if c.Status != autodebit.ChargeFail || c.ResultCode != antom.CodeUserBalanceNotEnough || c.SettledBy != autodebit.SettledByPay {
			t.Fatalf("charge = %s %s by %s", c.Status, c.ResultCode, c.SettledBy)
		}
		// The failure notification after the close changes nothing.
		s.advance(2 * time.Minute)
		if got := s.charge(c.ID); got.Status != autodebit.ChargeFail {
			t.Fatalf("after close: %s", got.Status)
		}
		s.checkTruth()
	})
}

func TestCharge_ProcessingSettledByNotification(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		tok := s.link("cus_1", "GCASH")
		s.setPayMode(antomsim.PayModeProcessing)
		c := s.mustCharge(tok.ID, 1500, "PHP")
		if c.Status != autodebit.ChargeInit || c.ResultCode != antom.CodePaymentInProcess {
			t.Fatalf("charge = %s %s, want INIT PAYMENT_IN_PROCESS", c.Status, c.ResultCode)
		}
		// Block the inquiry so the notification is what settles it.
		s.setFaults(antomsim.Faults{API: map[string][]antomsim.APIFault{antom.APIInquiryPayment: {{Kind: antomsim.FaultHTTP5xx, Probability: 1}}}})
		s.advance(5 * time.Second)
		got := s.waitCharge(c.ID, 0)
		if got.Status != autodebit.ChargeSuccess || got.SettledBy != autodebit.SettledByNotification {
			t.Fatalf("charge = %s by %s, want SUCCESS by notification", got.Status, got.SettledBy)
		}
		s.setFaults(antomsim.Faults{})
		s.checkTruth()
	})
}

func TestCharge_NotificationsLostInquirySettles(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		tok := s.link("cus_1", "GCASH")
		s.setFaults(antomsim.Faults{Notify: map[string][]antomsim.NotifyFault{antom.KindPayment: {{Kind: antomsim.FaultDrop, Probability: 1}}}})
		s.setPayMode(antomsim.PayModeProcessing)
		c := s.mustCharge(tok.ID, 1500, "PHP")
		got := s.waitCharge(c.ID, 2*time.Second)
		if got.Status != autodebit.ChargeSuccess || got.SettledBy != autodebit.SettledByInquiry {
			t.Fatalf("charge = %s by %s, want SUCCESS by inquiry", got.Status, got.SettledBy)
		}
		s.checkTruth()
	})
}

func TestCharge_UnknownAfterCloseIsCancelled(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		tok := s.link("cus_1", "GCASH")
		s.setPayMode(antomsim.PayModeStuck)
		// No notification and no inquiry answer: only the cancel after the
		// close can end it.
		s.setFaults(antomsim.Faults{
			API:    map[string][]antomsim.APIFault{antom.APIInquiryPayment: {{Kind: antomsim.FaultHTTP5xx, Probability: 1}}},
			Notify: map[string][]antomsim.NotifyFault{"*": {{Kind: antomsim.FaultDrop, Probability: 1}}},
		})
		c := s.mustCharge(tok.ID, 1500, "PHP")
		got := s.waitCharge(c.ID, 10*time.Second)
		if got.Status == autodebit.ChargeSuccess || got.SettledBy != autodebit.SettledByCancel {
			t.Fatalf("charge = %s by %s, want FAIL or CANCELLED by cancel", got.Status, got.SettledBy)
		}
		if got.SettledAt.Before(got.ExpiresAt) {
			t.Fatalf("settled at %s, before the order's expiry %s", got.SettledAt, got.ExpiresAt)
		}
		s.setFaults(antomsim.Faults{})
		s.checkTruth()
	})
}

func TestCharge_ResendSameRequest(t *testing.T) {
	for _, f := range []antomsim.APIFault{
		{Kind: antomsim.FaultTimeout, Probability: 1, Times: 1, Latency: antomsim.Duration(10 * time.Millisecond)},
		{Kind: antomsim.FaultUnknownAfterCommit, Probability: 1, Times: 1},
		{Kind: antomsim.FaultUnknown, Probability: 1, Times: 1},
		{Kind: antomsim.FaultHTTP5xx, Probability: 1, Times: 2},
	} {
		t.Run(f.Kind, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, open storetest.Opener) {
				s := newStack(t, open, stackOptions{})
				tok := s.link("cus_1", "GCASH")
				s.setFaults(antomsim.Faults{API: map[string][]antomsim.APIFault{antom.APIPay: {f}}})
				c := s.mustCharge(tok.ID, 1500, "PHP")
				got := s.waitCharge(c.ID, 2*time.Second)
				if got.Status != autodebit.ChargeSuccess {
					t.Fatalf("charge = %s %s", got.Status, got.ResultCode)
				}
				evs, _ := s.store.FindTimeline(context.Background(), c.ID)
				var pays int
				for _, e := range evs {
					if e.Kind == "antom.pay" {
						pays++
						if !strings.Contains(e.Request, c.PaymentRequestID) {
							t.Fatalf("a pay attempt carried another paymentRequestId: %s", e.Request)
						}
					}
				}
				if pays < 2 {
					t.Fatalf("%d pay attempts, want a resend", pays)
				}
				if ps := s.sim.Payments(); len(ps) != 1 || ps[0].Debits != 1 {
					t.Fatalf("Antom has %d payments: %+v", len(ps), ps)
				}
				s.checkTruth()
			})
		})
	}
}

func TestCharge_DuplicateNotifications(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		s.setFaults(antomsim.Faults{Notify: map[string][]antomsim.NotifyFault{"*": {{Kind: antomsim.FaultDuplicate, Probability: 1}}}})
		tok := s.link("cus_1", "GCASH")
		c := s.mustCharge(tok.ID, 1500, "PHP")
		s.advance(time.Second)
		got := s.waitCharge(c.ID, 0)
		evs, _ := s.store.FindTimeline(context.Background(), c.ID)
		var states int
		for _, e := range evs {
			if e.Kind == "state" {
				states++
			}
		}
		if got.Status != autodebit.ChargeSuccess || states != 1 {
			t.Fatalf("charge %s with %d state changes, want SUCCESS once", got.Status, states)
		}
		s.checkTruth()
	})
}

func TestCharge_Idempotency(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		in := engine.ChargeInput{TokenID: tok.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 1500}, IdempotencyKey: "order-42"}
		c1, err := s.eng.CreateCharge(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := s.eng.CreateCharge(ctx, in)
		if err != nil || c2.ID != c1.ID {
			t.Fatalf("repeat = %v, %v; want charge %s", c2, err, c1.ID)
		}
		in.Amount.Value = 1600
		if _, err := s.eng.CreateCharge(ctx, in); autodebit.ErrorCode(err) != autodebit.ECONFLICT {
			t.Fatalf("same key, other amount: err = %v, want ECONFLICT", err)
		}
		if n := len(s.sim.Payments()); n != 1 {
			t.Fatalf("Antom has %d payments, want 1", n)
		}
	})
}

func TestCharge_RefusedBeforeSending(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		for name, in := range map[string]engine.ChargeInput{
			"unknown token":   {TokenID: "tok_nope", Amount: autodebit.Amount{Currency: "PHP", Value: 1500}},
			"wrong currency":  {TokenID: tok.ID, Amount: autodebit.Amount{Currency: "USD", Value: 1500}},
			"below minimum":   {TokenID: tok.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 99}},
			"above maximum":   {TokenID: tok.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 100_000_01}},
			"zero":            {TokenID: tok.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 0}},
			"bad currency":    {TokenID: tok.ID, Amount: autodebit.Amount{Currency: "php", Value: 1500}},
			"long descripton": {TokenID: tok.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 1500}, Description: strings.Repeat("x", 257)},
		} {
			if _, err := s.eng.CreateCharge(ctx, in); err == nil || autodebit.ErrorCode(err) == autodebit.EINTERNAL {
				t.Errorf("%s: err = %v, want a coded error", name, err)
			}
		}
		if _, err := s.eng.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.eng.CreateCharge(ctx, engine.ChargeInput{TokenID: tok.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 1500}}); autodebit.ErrorCode(err) != autodebit.ECONFLICT {
			t.Fatalf("charge on a revoked token: err = %v, want ECONFLICT", err)
		}
		if n := len(s.sim.Payments()); n != 0 {
			t.Fatalf("Antom has %d payments, want none", n)
		}
		charges, _, _ := s.store.FindCharges(ctx, autodebit.ChargeFilter{})
		if len(charges) != 0 {
			t.Fatalf("%d charges stored, want none", len(charges))
		}
	})
}

func TestAuthorization_Expires(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		a, err := s.eng.CreateAuthorization(ctx, "cus_1", "GCASH")
		if err != nil {
			t.Fatal(err)
		}
		s.advance(14 * time.Minute)
		time.Sleep(100 * time.Millisecond)
		if got, _ := s.store.FindAuthorizationByID(ctx, a.ID); got.Status != autodebit.AuthorizationPending {
			t.Fatalf("after 14m: %s", got.Status)
		}
		s.advance(time.Minute)
		s.waitFor("authorization EXPIRED", func() bool {
			got, _ := s.store.FindAuthorizationByID(ctx, a.ID)
			return got.Status == autodebit.AuthorizationExpired
		})
	})
}

func TestAuthorization_BadRequest(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		for _, c := range [][2]string{{"cus_1", "PAYPAL"}, {"", "GCASH"}, {strings.Repeat("c", 65), "GCASH"}} {
			if _, err := s.eng.CreateAuthorization(ctx, c[0], c[1]); autodebit.ErrorCode(err) != autodebit.EINVALID {
				t.Errorf("CreateAuthorization(%q, %q): err = %v, want EINVALID", c[0], c[1], err)
			}
		}
		if as, _, _ := s.store.FindAuthorizations(ctx, autodebit.AuthorizationFilter{}); len(as) != 0 {
			t.Fatalf("%d authorizations stored", len(as))
		}
		if n := len(s.sim.Authorizations()); n != 0 {
			t.Fatalf("%d consults reached Antom", n)
		}
	})
}

func TestAuthorization_ApplyTokenResent(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		s.setFaults(antomsim.Faults{API: map[string][]antomsim.APIFault{antom.APIApplyToken: {
			{Kind: antomsim.FaultTimeout, Probability: 1, Times: 1, Latency: antomsim.Duration(10 * time.Millisecond)},
			{Kind: antomsim.FaultUnknown, Probability: 1, Times: 1},
		}}})
		s.link("cus_1", "GCASH")
		if n := len(s.sim.Tokens()); n != 1 {
			t.Fatalf("Antom issued %d tokens, want 1", n)
		}
		s.checkTruth()
	})
}

func TestAuthorization_ApplyTokenFails(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		// A short window, so the second case ends soon; but one that holds
		// a signed round trip on a busy machine, or the first case would
		// end APPLY_TOKEN_TIMEOUT before Antom's INVALID_CODE arrives.
		s := newStack(t, open, stackOptions{engine: func(c *engine.Config) { c.AuthCodeWindow = 3 * time.Second }})
		ctx := context.Background()
		// F: Antom refuses the code.
		a, err := s.eng.CreateAuthorization(ctx, "cus_1", "GCASH")
		if err != nil {
			t.Fatal(err)
		}
		s.notify("/antom/notify/authorization", `{"authorizationNotifyType":"AUTHCODE_CREATED","authCode":"FORGED0000","authState":"`+authState(t, s, a.ID)+`","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."}}`)
		s.waitFor("authorization FAILED", func() bool {
			got, _ := s.store.FindAuthorizationByID(ctx, a.ID)
			return got.Status == autodebit.AuthorizationFailed && got.FailureCode == antom.CodeInvalidCode
		})
		// No final answer within the window: the authCode is dead.
		s.setFaults(antomsim.Faults{API: map[string][]antomsim.APIFault{antom.APIApplyToken: {{Kind: antomsim.FaultUnknown, Probability: 1}}}})
		b, err := s.eng.CreateAuthorization(ctx, "cus_1", "GCASH")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.sim.Approve(b.QRText, ""); err != nil {
			t.Fatal(err)
		}
		s.waitFor("authorization FAILED by timeout", func() bool {
			got, _ := s.store.FindAuthorizationByID(ctx, b.ID)
			return got.Status == autodebit.AuthorizationFailed && got.FailureCode == "APPLY_TOKEN_TIMEOUT"
		})
	})
}

func TestToken_CanceledByWallet(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		if _, err := s.sim.CancelToken(tok.AccessToken, "user unlinked"); err != nil {
			t.Fatal(err)
		}
		s.waitFor("token REVOKED", func() bool {
			got, _ := s.store.FindTokenByID(ctx, tok.ID)
			return got.Status == autodebit.TokenRevoked && got.RevokeReason == "user unlinked"
		})
		if _, err := s.eng.CreateCharge(ctx, engine.ChargeInput{TokenID: tok.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 1500}}); autodebit.ErrorCode(err) != autodebit.ECONFLICT {
			t.Fatalf("charge after TOKEN_CANCELED: err = %v, want ECONFLICT", err)
		}
		s.checkTruth()
	})
}

func TestToken_Revoke(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		// Revoke gets no answer for a while; the job resends it.
		s.setFaults(antomsim.Faults{API: map[string][]antomsim.APIFault{antom.APIRevoke: {{Kind: antomsim.FaultHTTP5xx, Probability: 1}}}})
		got, err := s.eng.RevokeToken(ctx, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != autodebit.TokenActive || !got.RevokePending {
			t.Fatalf("token after an unanswered revoke = %s pending=%v", got.Status, got.RevokePending)
		}
		if _, err := s.eng.CreateCharge(ctx, engine.ChargeInput{TokenID: tok.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 1500}}); autodebit.ErrorCode(err) != autodebit.ECONFLICT {
			t.Fatalf("charge on a token being revoked: err = %v, want ECONFLICT", err)
		}
		s.setFaults(antomsim.Faults{})
		s.advance(time.Minute)
		s.waitFor("token REVOKED", func() bool {
			got, _ := s.store.FindTokenByID(ctx, tok.ID)
			return got.Status == autodebit.TokenRevoked
		})
		if again, err := s.eng.RevokeToken(ctx, tok.ID); err != nil || again.Status != autodebit.TokenRevoked {
			t.Fatalf("second revoke = %v, %v", again, err)
		}
		s.checkTruth()
	})
}

func TestCancel(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		s.setPayMode(antomsim.PayModeProcessing)
		c := s.mustCharge(tok.ID, 1500, "PHP")
		got, err := s.eng.CancelCharge(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != autodebit.ChargeCancelled || got.SettledBy != autodebit.SettledByCancel {
			t.Fatalf("charge = %s by %s", got.Status, got.SettledBy)
		}
		if _, err := s.eng.CancelCharge(ctx, c.ID); autodebit.ErrorCode(err) != autodebit.ECONFLICT {
			t.Fatalf("cancel of a final charge: err = %v, want ECONFLICT", err)
		}
		s.advance(time.Minute)
		if got := s.charge(c.ID); got.Status != autodebit.ChargeCancelled {
			t.Fatalf("after close: %s", got.Status)
		}
		s.checkTruth()
	})
}

func TestRefund(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		c := s.mustCharge(tok.ID, 1500, "PHP")
		r1, err := s.eng.CreateRefund(ctx, engine.RefundInput{ChargeID: c.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 1000}, IdempotencyKey: "r1"})
		if err != nil || r1.Status != autodebit.RefundSuccess {
			t.Fatalf("refund = %+v, %v", r1, err)
		}
		if again, err := s.eng.CreateRefund(ctx, engine.RefundInput{ChargeID: c.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 1000}, IdempotencyKey: "r1"}); err != nil || again.ID != r1.ID {
			t.Fatalf("repeat = %v, %v", again, err)
		}
		for name, in := range map[string]engine.RefundInput{
			"too much":       {ChargeID: c.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 501}},
			"other currency": {ChargeID: c.ID, Amount: autodebit.Amount{Currency: "USD", Value: 100}},
			"key reused":     {ChargeID: c.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 100}, IdempotencyKey: "r1"},
			"unknown charge": {ChargeID: "chg_nope", Amount: autodebit.Amount{Currency: "PHP", Value: 100}},
		} {
			if _, err := s.eng.CreateRefund(ctx, in); err == nil || autodebit.ErrorCode(err) == autodebit.EINTERNAL {
				t.Errorf("%s: err = %v, want a coded error", name, err)
			}
		}
		// The refund's answer is lost; notifyRefund or the inquiry settles it.
		s.setFaults(antomsim.Faults{API: map[string][]antomsim.APIFault{antom.APIRefund: {{Kind: antomsim.FaultTimeout, Probability: 1, Times: 4, Latency: antomsim.Duration(10 * time.Millisecond)}}}})
		r2, err := s.eng.CreateRefund(ctx, engine.RefundInput{ChargeID: c.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 500}})
		if err != nil {
			t.Fatal(err)
		}
		s.advance(15 * time.Second)
		s.waitFor("refund SUCCESS", func() bool {
			got, _ := s.store.FindRefundByID(ctx, r2.ID)
			return got.Status == autodebit.RefundSuccess
		})
		if got := s.charge(c.ID); got.RefundedValue != 1500 {
			t.Fatalf("refunded = %d, want 1500", got.RefundedValue)
		}
		s.checkTruth()
	})
}

func TestCrashRestart(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		tok := s.link("cus_1", "GCASH")
		// Every pay attempt times out after Antom committed it, and every
		// notification is lost: the charge is INIT when the process dies.
		s.setFaults(antomsim.Faults{
			API:    map[string][]antomsim.APIFault{antom.APIPay: {{Kind: antomsim.FaultTimeout, Probability: 1, Latency: antomsim.Duration(5 * time.Millisecond)}}},
			Notify: map[string][]antomsim.NotifyFault{"*": {{Kind: antomsim.FaultDrop, Probability: 1}}},
		})
		c := s.mustCharge(tok.ID, 1500, "PHP")
		if c.Status != autodebit.ChargeInit {
			t.Fatalf("charge = %s", c.Status)
		}
		s.crash()
		s.setFaults(antomsim.Faults{Notify: map[string][]antomsim.NotifyFault{"*": {{Kind: antomsim.FaultDrop, Probability: 1}}}})
		s.start()
		got := s.waitCharge(c.ID, 2*time.Second)
		if got.Status != autodebit.ChargeSuccess || got.SettledBy != autodebit.SettledByInquiry {
			t.Fatalf("after restart: %s by %s", got.Status, got.SettledBy)
		}
		s.checkTruth()
	})
}

// TestNotifications_Rejected sends forged notifications to the HTTP
// receivers: every one is refused with a 4xx and changes nothing.
func TestNotifications_Rejected(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		s.setPayMode(antomsim.PayModeStuck)
		c := s.mustCharge(tok.ID, 1500, "PHP")
		body := `{"notifyType":"PAYMENT_RESULT","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."},"paymentRequestId":"` + c.PaymentRequestID + `","paymentId":"` + c.PaymentID + `","paymentAmount":{"currency":"PHP","value":"1500"}}`
		other, _ := antom.GenerateKeyPair()
		now := s.sim.Now().Format(time.RFC3339)
		for name, mutate := range map[string]func(r *http.Request){
			"wrong key": func(r *http.Request) {
				signed, _ := antom.NewNotificationRequest(ctx, s.srv.URL+"/antom/notify/payment", s.sim.ClientID(), now, other.PrivateKey, "1", []byte(body))
				r.Header.Set("Signature", signed.Header.Get("Signature"))
			},
			"no signature":      func(r *http.Request) { r.Header.Del("Signature") },
			"no client-id":      func(r *http.Request) { r.Header.Del("Client-Id") },
			"wrong client-id":   func(r *http.Request) { r.Header.Set("Client-Id", "SANDBOX_OTHER") },
			"other time":        func(r *http.Request) { r.Header.Set("Request-Time", "2020-01-01T00:00:00Z") },
			"garbage signature": func(r *http.Request) { r.Header.Set("Signature", "algorithm=RSA256,keyVersion=1,signature=abc") },
		} {
			req, err := antom.NewNotificationRequest(ctx, s.srv.URL+"/antom/notify/payment", s.sim.ClientID(), now, antomKey, "1", []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			mutate(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("%s: HTTP %d, want 4xx", name, resp.StatusCode)
			}
		}
		// A tampered body: signed, then changed.
		req, _ := antom.NewNotificationRequest(ctx, s.srv.URL+"/antom/notify/payment", s.sim.ClientID(), now, antomKey, "1", []byte(body))
		tampered := strings.Replace(body, `"1500"`, `"1501"`, 2)
		req2, _ := http.NewRequest(http.MethodPost, req.URL.String(), strings.NewReader(tampered))
		req2.Header = req.Header
		if resp, err := http.DefaultClient.Do(req2); err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("tampered body: %v %v", resp, err)
		}
		if got := s.charge(c.ID); got.Status != autodebit.ChargeInit {
			t.Fatalf("charge changed to %s by a forged notification", got.Status)
		}
		// The genuine one is applied, and its replay changes nothing.
		s.notify("/antom/notify/payment", body)
		s.notify("/antom/notify/payment", body)
		if got := s.charge(c.ID); got.Status != autodebit.ChargeSuccess {
			t.Fatalf("genuine notification: charge %s", got.Status)
		}
	})
}

// notify sends a notification signed with Antom's key and expects the ack.
func (s *stack) notify(path, body string) {
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
	var b strings.Builder
	buf := make([]byte, 512)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	if resp.StatusCode != http.StatusOK || !antom.IsAck([]byte(b.String())) {
		s.tb.Fatalf("notification %s: HTTP %d %s", path, resp.StatusCode, b.String())
	}
}

// authState reads an authorization's authState, which the API never shows.
func authState(t *testing.T, s *stack, id string) string {
	t.Helper()
	a, err := s.store.FindAuthorizationByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a.AuthState
}

func TestToken_Expires(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{sim: func(c *antomsim.Config) {
			c.DefaultTokenValidity = antomsim.TokenValidity{AccessToken: time.Hour, RefreshToken: 2 * time.Hour}
		}})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		s.advance(time.Hour)
		if _, err := s.eng.CreateCharge(ctx, engine.ChargeInput{TokenID: tok.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 1500}}); autodebit.ErrorCode(err) != autodebit.ECONFLICT {
			t.Fatalf("charge on an expired token: err = %v, want ECONFLICT", err)
		}
		if got, _ := s.store.FindTokenByID(ctx, tok.ID); got.Status != autodebit.TokenExpired {
			t.Fatalf("token = %s, want EXPIRED", got.Status)
		}
		if n := len(s.sim.Payments()); n != 0 {
			t.Fatalf("Antom has %d payments, want none", n)
		}
	})
}

// BenchmarkCreateCharge charges a token through the whole stack (simulator
// included, in this process) with an immediate S answer and its
// notification. Profile it with -cpuprofile to see the engine's cost per
// charge beside the RSA signatures.
func BenchmarkCreateCharge(b *testing.B) {
	s := newStack(b, storetest.Openers()[0], stackOptions{})
	tok := s.link("cus_bench", "GCASH")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c, err := s.eng.CreateCharge(ctx, engine.ChargeInput{TokenID: tok.ID, Amount: autodebit.Amount{Currency: "PHP", Value: 1500}})
		if err != nil || c.Status != autodebit.ChargeSuccess {
			b.Fatalf("charge = %v, %v", c, err)
		}
	}
}

// TestCharge_RecoveredBySweep: the process stored the charge and died
// before pay was sent, so no inquiry job exists. The periodic sweep finds
// the overdue INIT charge, the inquiry learns that Antom never saw it, and
// the same pay request is sent while the order can still be created.
func TestCharge_RecoveredBySweep(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		c := s.storeUnsentCharge(tok)
		// Let time pass slowly enough for the sweep to run well before the
		// order's expiry.
		for i := 0; i < 40 && !s.charge(c.ID).Status.Final(); i++ {
			s.advance(time.Second)
			time.Sleep(100 * time.Millisecond)
		}
		got := s.waitCharge(c.ID, 0)
		// The resent pay's answer or its notification settles it, whichever
		// is recorded first.
		if got.Status != autodebit.ChargeSuccess || (got.SettledBy != autodebit.SettledByPay && got.SettledBy != autodebit.SettledByNotification) {
			t.Fatalf("charge = %s by %s, want SUCCESS after the resent pay", got.Status, got.SettledBy)
		}
		if p, err := s.sim.Payment(c.PaymentRequestID); err != nil || p.Debits != 1 {
			t.Fatalf("Antom's payment = %+v, %v", p, err)
		}
		evs, _ := s.store.FindTimeline(ctx, c.ID)
		var swept bool
		for _, e := range evs {
			swept = swept || strings.Contains(e.Response, "sweep")
		}
		if !swept {
			t.Fatalf("no sweep event in %d events", len(evs))
		}
		s.checkTruth()
	})
}

// TestCancel_BeforePayArrives: a cancel that finds no order before the
// order's close does not settle the charge (a pay may still create the
// order); after the close it settles FAIL, and nothing was debited.
func TestCancel_BeforePayArrives(t *testing.T) {
	forEachStore(t, func(t *testing.T, open storetest.Opener) {
		s := newStack(t, open, stackOptions{})
		ctx := context.Background()
		tok := s.link("cus_1", "GCASH")
		c := s.storeUnsentCharge(tok)
		got, err := s.eng.CancelCharge(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != autodebit.ChargeInit || got.CancelRequestedAt.IsZero() {
			t.Fatalf("after a cancel that found no order: %s (cancel requested %v), want INIT with the cancel pending", got.Status, got.CancelRequestedAt)
		}
		got = s.waitCharge(c.ID, 10*time.Second)
		if got.Status != autodebit.ChargeFail || got.SettledBy != autodebit.SettledByCancel || got.SettledAt.Before(got.ExpiresAt) {
			t.Fatalf("charge = %s by %s at %s (expiry %s), want FAIL by cancel after the close", got.Status, got.SettledBy, got.SettledAt, got.ExpiresAt)
		}
		if n := len(s.sim.Payments()); n != 0 {
			t.Fatalf("Antom has %d payments, want none", n)
		}
	})
}
