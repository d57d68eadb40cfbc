package antomsim_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
)

func TestPay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("Idempotent", func(t *testing.T) {
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		req := payReq("p1", tok.AccessToken, "GCASH", php(100_00))
		a, _ := e.client.Pay(ctx, req)
		b, _ := e.client.Pay(ctx, req)
		if !a.Result.Succeeded() || !reflect.DeepEqual(a, b) {
			t.Fatalf("first %+v, repeat %+v", a, b)
		}
		other := payReq("p1", tok.AccessToken, "GCASH", php(200_00))
		if c, _ := e.client.Pay(ctx, other); c.Result.ResultCode != antom.CodeRepeatReqInconsistent || !c.Result.Failed() {
			t.Fatalf("different params = %+v", c.Result)
		}
		p, _ := e.sim.Payment("p1")
		acct, _ := e.sim.Account("GCASH", "09171234567")
		if p.Debits != 1 || acct.Balance != 1_000_000_00-100_00 || len(e.sim.Payments()) != 1 {
			t.Fatalf("debits %d, balance %d", p.Debits, acct.Balance)
		}
		e.settle(t)
		if n := e.notify.ofType(antom.NotifyTypePaymentResult); len(n) != 1 {
			t.Fatalf("%d payment notifications, want 1", len(n))
		}
	})
	t.Run("BalanceNotEnough", func(t *testing.T) {
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		bal := int64(50_00)
		e.sim.UpdateAccount("GCASH", "09171234567", antomsim.AccountUpdate{Balance: &bal})
		r, _ := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100_00)))
		if r.Result.ResultCode != antom.CodeUserBalanceNotEnough || !r.Result.Failed() {
			t.Fatalf("pay = %+v", r.Result)
		}
		e.settle(t)
		if n := len(e.notify.all()); n != 1 { // only AUTHCODE_CREATED so far
			t.Fatalf("%d notifications before close", n)
		}
		e.advance(t, time.Minute)
		n := e.notify.ofType(antom.NotifyTypePaymentResult)
		if len(n) != 1 || n[0].Payment.Result.ResultCode != antom.CodeUserBalanceNotEnough || !n[0].Payment.PaymentTime.IsZero() {
			t.Fatalf("fail notification = %+v", n)
		}
		if acct, _ := e.sim.Account("GCASH", "09171234567"); acct.Balance != bal {
			t.Fatalf("balance changed to %d", acct.Balance)
		}
	})
	t.Run("WalletCurrencyAndLimits", func(t *testing.T) {
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		for _, tc := range []struct {
			amt  antom.Amount
			code string
		}{
			{antom.Amount{Currency: "USD", Value: 100}, antom.CodeCurrencyNotSupport},
			{php(100_000_01), antomsim.CodePaymentAmountExceedLimit},
			{php(99), antom.CodeParamIllegal},
		} {
			body := mustJSON(t, payReq("p-"+tc.code, tok.AccessToken, "GCASH", tc.amt))
			_, b := e.rawPost(t, "POST", "/ams/sandbox/api/v1/payments/pay", "SANDBOX_TEST", "application/json; charset=UTF-8", body, true)
			if r := resultOf(t, b); r.ResultCode != tc.code || !r.Failed() {
				t.Errorf("%v: %+v, want %s", tc.amt, r, tc.code)
			}
		}
		if n := len(e.sim.Payments()); n != 0 {
			t.Fatalf("%d payments recorded", n)
		}
	})
	t.Run("UnknownToken", func(t *testing.T) {
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		if r, _ := e.client.Pay(ctx, payReq("p1", "281010030000", "GCASH", php(100))); r.Result.ResultCode != antom.CodeInvalidAccessToken {
			t.Fatalf("unknown token = %+v", r.Result)
		}
		dana := payReq("p2", tok.AccessToken, "DANA", antom.Amount{Currency: "IDR", Value: 1_000_00})
		if r, _ := e.client.Pay(ctx, dana); r.Result.ResultCode != antom.CodeInvalidAccessToken {
			t.Fatalf("token of another wallet = %+v", r.Result)
		}
	})
	t.Run("PaymentExpiryTime", func(t *testing.T) {
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		req := payReq("p1", tok.AccessToken, "GCASH", php(100))
		req.PaymentExpiryTime = antom.NewTime(t0.Add(2 * time.Minute))
		_, b := e.rawPost(t, "POST", "/ams/sandbox/api/v1/payments/pay", "SANDBOX_TEST", "application/json", mustJSON(t, req), true)
		if r := resultOf(t, b); r.ResultCode != antom.CodeParamIllegal {
			t.Fatalf("expiry 2m = %+v", r)
		}
		req.PaymentExpiryTime = antom.NewTime(t0.Add(30 * time.Second))
		r, err := e.client.Pay(ctx, req)
		if err != nil || !r.Result.Succeeded() {
			t.Fatalf("expiry 30s = %v %+v", err, r)
		}
	})
	t.Run("ProcessingThenSuccess", func(t *testing.T) {
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		mode, delay := antomsim.PayModeProcessing, antomsim.Duration(10*time.Second)
		e.sim.UpdateAccount("GCASH", "09171234567", antomsim.AccountUpdate{PayMode: &mode, ProcessingDelay: &delay})
		r, _ := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100)))
		if r.Result.ResultCode != antom.CodePaymentInProcess || !r.Result.Unknown() || r.PaymentID == "" {
			t.Fatalf("pay = %+v", r)
		}
		if q, _ := e.client.InquiryPayment(ctx, &antom.InquiryPaymentRequest{PaymentID: r.PaymentID}); q.PaymentStatus != antom.PaymentStatusProcessing {
			t.Fatalf("inquiry = %+v", q)
		}
		if again, _ := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100))); again.Result.ResultCode != antom.CodePaymentInProcess {
			t.Fatalf("repeat while processing = %+v", again.Result)
		}
		e.advance(t, 10*time.Second)
		q, _ := e.client.InquiryPayment(ctx, &antom.InquiryPaymentRequest{PaymentRequestID: "p1"})
		if q.PaymentStatus != antom.PaymentStatusSuccess || !q.PaymentTime.Equal(t0.Add(10*time.Second)) {
			t.Fatalf("inquiry after delay = %+v", q)
		}
		if again, _ := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100))); !again.Result.Succeeded() {
			t.Fatalf("repeat after success = %+v", again.Result)
		}
		if n := e.notify.ofType(antom.NotifyTypePaymentResult); len(n) != 1 || !n[0].Payment.Result.Succeeded() {
			t.Fatalf("notifications = %+v", n)
		}
	})
	t.Run("StuckClosesWithFail", func(t *testing.T) {
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		if err := e.sim.SetSettings(antomsim.Settings{PayMode: antomsim.PayModeStuck}); err != nil {
			t.Fatal(err)
		}
		r, _ := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100)))
		if r.Result.ResultCode != antom.CodePaymentInProcess {
			t.Fatalf("pay = %+v", r.Result)
		}
		e.advance(t, 59*time.Second)
		if p, _ := e.sim.Payment("p1"); p.Status != antom.PaymentStatusProcessing {
			t.Fatalf("status at 59s = %s", p.Status)
		}
		e.advance(t, time.Second)
		p, _ := e.sim.Payment("p1")
		if p.Status != antom.PaymentStatusFail || p.ResultCode != antom.CodeOrderIsClosed || p.Debits != 0 {
			t.Fatalf("after close = %+v", p)
		}
		n := e.notify.ofType(antom.NotifyTypePaymentResult)
		if len(n) != 1 || n[0].Payment.Result.ResultCode != antom.CodeOrderIsClosed || !n[0].Payment.Result.Failed() {
			t.Fatalf("notifications = %+v", n)
		}
		if q, _ := e.client.InquiryPayment(ctx, &antom.InquiryPaymentRequest{PaymentRequestID: "p1"}); q.PaymentStatus != antom.PaymentStatusFail || q.PaymentResultCode != antom.CodeOrderIsClosed {
			t.Fatalf("inquiry = %+v", q)
		}
	})
	t.Run("FailCode", func(t *testing.T) {
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		code := "RISK_REJECT"
		e.sim.UpdateAccount("GCASH", "09171234567", antomsim.AccountUpdate{FailCode: &code})
		if r, _ := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100))); r.Result.ResultCode != code || !r.Result.Failed() {
			t.Fatalf("pay = %+v", r.Result)
		}
	})
	t.Run("InquiryUnknown", func(t *testing.T) {
		e := newEnv(t, nil)
		if q, _ := e.client.InquiryPayment(ctx, &antom.InquiryPaymentRequest{PaymentRequestID: "nope"}); q.Result.ResultCode != antom.CodeOrderNotExist {
			t.Fatalf("inquiry = %+v", q.Result)
		}
	})
}

func TestCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("Processing", func(t *testing.T) {
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		e.sim.SetSettings(antomsim.Settings{PayMode: antomsim.PayModeProcessing})
		e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100)))
		c, err := e.client.Cancel(ctx, &antom.CancelRequest{PaymentRequestID: "p1"})
		if err != nil || !c.Result.Succeeded() || !c.CancelTime.Equal(t0) {
			t.Fatalf("cancel = %v %+v", err, c)
		}
		e.advance(t, time.Hour) // the processing delay and the close pass
		p, _ := e.sim.Payment("p1")
		if p.Status != antom.PaymentStatusCancelled || p.Debits != 0 {
			t.Fatalf("after cancel = %+v", p)
		}
		if n := e.notify.ofType(antom.NotifyTypePaymentResult); len(n) != 0 {
			t.Fatalf("cancelled payment notified: %+v", n)
		}
		if c2, _ := e.client.Cancel(ctx, &antom.CancelRequest{PaymentRequestID: "p1"}); !c2.Result.Succeeded() || !c2.CancelTime.Equal(t0) {
			t.Fatalf("repeat cancel = %+v", c2)
		}
	})
	t.Run("PaidRefundsMoney", func(t *testing.T) {
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		r, _ := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100_00)))
		if c, _ := e.client.Cancel(ctx, &antom.CancelRequest{PaymentID: r.PaymentID}); !c.Result.Succeeded() {
			t.Fatalf("cancel = %+v", c.Result)
		}
		p, _ := e.sim.Payment("p1")
		acct, _ := e.sim.Account("GCASH", "09171234567")
		if p.Status != antom.PaymentStatusCancelled || p.Debits != 1 || p.Refunded.Value != 100_00 || acct.Balance != 1_000_000_00 {
			t.Fatalf("after cancel = %+v, balance %d", p, acct.Balance)
		}
		if q, _ := e.client.InquiryPayment(ctx, &antom.InquiryPaymentRequest{PaymentID: r.PaymentID}); q.PaymentStatus != antom.PaymentStatusCancelled {
			t.Fatalf("inquiry = %+v", q)
		}
		if f, _ := e.client.Refund(ctx, &antom.RefundRequest{RefundRequestID: "r1", PaymentID: r.PaymentID, RefundAmount: php(1)}); f.Result.ResultCode != antom.CodeOrderStatusInvalid {
			t.Fatalf("refund after cancel = %+v", f.Result)
		}
	})
	t.Run("Window", func(t *testing.T) {
		e := newEnv(t, nil) // t0 is 10:00 UTC+8: the window ends at 00:15 the next day
		tok := e.link(t, "GCASH", "")
		e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100)))
		e.advance(t, 14*time.Hour+15*time.Minute+time.Second)
		if c, _ := e.client.Cancel(ctx, &antom.CancelRequest{PaymentRequestID: "p1"}); c.Result.ResultCode != antom.CodeCancelWindowExceed {
			t.Fatalf("late cancel = %+v", c.Result)
		}
		if c, _ := e.client.Cancel(ctx, &antom.CancelRequest{PaymentRequestID: "nope"}); c.Result.ResultCode != antom.CodeOrderNotExist {
			t.Fatalf("unknown cancel = %+v", c.Result)
		}
	})
}

func TestRefund(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	tok := e.link(t, "GCASH", "")
	pay, _ := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100_00)))
	refund := func(id string, v int64) *antom.RefundResponse {
		r, err := e.client.Refund(ctx, &antom.RefundRequest{RefundRequestID: id, PaymentID: pay.PaymentID, RefundAmount: php(v)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r1 := refund("r1", 30_00)
	if !r1.Result.Succeeded() || r1.RefundID == "" {
		t.Fatalf("refund = %+v", r1)
	}
	if again := refund("r1", 30_00); !reflect.DeepEqual(again, r1) {
		t.Fatalf("repeat = %+v, want %+v", again, r1)
	}
	if bad := refund("r1", 31_00); bad.Result.ResultCode != antom.CodeRepeatReqInconsistent {
		t.Fatalf("inconsistent repeat = %+v", bad.Result)
	}
	if over := refund("r2", 70_01); over.Result.ResultCode != antom.CodeRefundAmountExceed {
		t.Fatalf("over refund = %+v", over.Result)
	}
	if r2 := refund("r2", 70_00); !r2.Result.Succeeded() {
		t.Fatalf("rest = %+v", r2.Result)
	}
	if over := refund("r3", 1); over.Result.ResultCode != antom.CodeRefundAmountExceed {
		t.Fatalf("refund beyond total = %+v", over.Result)
	}
	q, _ := e.client.InquiryRefund(ctx, &antom.InquiryRefundRequest{RefundID: r1.RefundID})
	if q.RefundStatus != antom.RefundStatusSuccess || q.RefundRequestID != "r1" || q.RefundAmount.Value != 30_00 {
		t.Fatalf("inquiryRefund = %+v", q)
	}
	if q, _ := e.client.InquiryRefund(ctx, &antom.InquiryRefundRequest{RefundRequestID: "nope"}); q.Result.ResultCode != antom.CodeRefundNotExist {
		t.Fatalf("inquiryRefund unknown = %+v", q.Result)
	}
	e.settle(t)
	if n := e.notify.ofType(antom.NotifyTypeRefundResult); len(n) != 2 {
		t.Fatalf("%d refund notifications, want 2", len(n))
	}
	p, _ := e.sim.Payment("p1")
	acct, _ := e.sim.Account("GCASH", "09171234567")
	if p.Refunded.Value != 100_00 || len(p.Refunds) != 2 || acct.Balance != 1_000_000_00 {
		t.Fatalf("truth = %+v, balance %d", p, acct.Balance)
	}
	inq, _ := e.client.InquiryPayment(ctx, &antom.InquiryPaymentRequest{PaymentID: pay.PaymentID})
	if len(inq.Transactions) != 3 || inq.Transactions[1].TransactionType != "REFUND" {
		t.Fatalf("transactions = %+v", inq.Transactions)
	}

	t.Run("Window", func(t *testing.T) {
		e := newEnv(t, nil)
		tok := e.link(t, "GCASH", "")
		pay, _ := e.client.Pay(ctx, payReq("p1", tok.AccessToken, "GCASH", php(100_00)))
		e.advance(t, 365*24*time.Hour)
		if r, _ := e.client.Refund(ctx, &antom.RefundRequest{RefundRequestID: "r1", PaymentID: pay.PaymentID, RefundAmount: php(1)}); !r.Result.Succeeded() {
			t.Fatalf("refund on day 365 = %+v", r.Result)
		}
		e.advance(t, time.Second)
		if r, _ := e.client.Refund(ctx, &antom.RefundRequest{RefundRequestID: "r2", PaymentID: pay.PaymentID, RefundAmount: php(1)}); r.Result.ResultCode != antom.CodeRefundWindowExceed {
			t.Fatalf("refund after 365 days = %+v", r.Result)
		}
		if r, _ := e.client.Refund(ctx, &antom.RefundRequest{RefundRequestID: "r3", PaymentID: "nope", RefundAmount: php(1)}); r.Result.ResultCode != antom.CodeOrderNotExist {
			t.Fatalf("refund of unknown payment = %+v", r.Result)
		}
	})
}

// A merchant on real time pays against a simulator whose clock is elsewhere
// (9 months behind at t0, or a year ahead after an advance): its
// paymentExpiryTime is judged against the request's own Request-Time, and
// the window it leaves is counted on the simulator's clock. Before, both
// were refused (more than a minute ahead, or not in the future).
func TestPay_ExpiryJudgedAgainstRequestTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	tok := e.link(t, "GCASH", "")
	mk, _ := keys(t)
	realTime, err := antom.NewClient(antom.Config{BaseURL: e.srv.URL, ClientID: "SANDBOX_TEST", PrivateKey: mk,
		AntomPublicKey: e.sim.AntomPublicKey()}) // NowFunc nil: the wall clock
	if err != nil {
		t.Fatal(err)
	}
	pay := func(id string) *antom.PayResponse {
		t.Helper()
		req := payReq(id, tok.AccessToken, "GCASH", php(100))
		req.PaymentExpiryTime = antom.NewTime(time.Now().Add(55 * time.Second))
		r, err := realTime.Pay(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, step := range []struct {
		name    string
		advance time.Duration
	}{{"ClockBehind", 0}, {"ClockAhead", 400 * 24 * time.Hour}} {
		e.advance(t, step.advance)
		id := "p-" + step.name
		if r := pay(id); !r.Result.Succeeded() {
			t.Fatalf("%s (simulator at %s): pay = %+v", step.name, e.sim.Now(), r.Result)
		}
		for _, p := range e.sim.Payments() {
			if p.PaymentRequestID == id {
				if w := p.CloseTime.Sub(p.CreateTime); w < 50*time.Second || w > 56*time.Second {
					t.Fatalf("%s: order closes %s after it was created, want the 55s the request left", step.name, w)
				}
			}
		}
	}

	// Against its own Request-Time, a bad expiry is still refused, naming it.
	for name, tc := range map[string]struct {
		expiry time.Duration
		want   string
	}{
		"Before":  {-time.Second, "is not after the request's Request-Time"},
		"TooLate": {2 * time.Minute, "more than 1m0s after the request's Request-Time"},
	} {
		req := payReq("p-"+name, tok.AccessToken, "GCASH", php(100))
		sent := time.Now()
		req.PaymentExpiryTime = antom.NewTime(sent.Add(tc.expiry))
		body := mustJSON(t, req)
		rt := strconv.FormatInt(sent.UnixMilli(), 10)
		sig, err := antom.Sign(mk, "POST", "/ams/api/v1/payments/pay", "SANDBOX_TEST", rt, body)
		if err != nil {
			t.Fatal(err)
		}
		hreq, _ := http.NewRequest("POST", e.srv.URL+"/ams/api/v1/payments/pay", bytes.NewReader(body))
		hreq.Header.Set("Content-Type", "application/json; charset=UTF-8")
		hreq.Header.Set("Client-Id", "SANDBOX_TEST")
		hreq.Header.Set("Request-Time", rt)
		hreq.Header.Set("Signature", antom.SignatureHeader("1", sig))
		resp, err := http.DefaultClient.Do(hreq)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if r := resultOf(t, b); r.ResultCode != antom.CodeParamIllegal || !strings.Contains(r.ResultMessage, tc.want) {
			t.Errorf("%s: %+v, want PARAM_ILLEGAL saying %q", name, r, tc.want)
		}
	}
}

// A pay held up longer than its paymentExpiryTime leaves (here by an
// injected latency) arrives after its expiry and is refused, as Antom
// refuses it: the engine, its pay timed out and the order closed, settles
// such a charge as never debited, so a debit here would be one it never
// learns of.
func TestPay_ArrivingAfterExpiryRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	tok := e.link(t, "GCASH", "")
	mk, _ := keys(t)
	realTime, err := antom.NewClient(antom.Config{BaseURL: e.srv.URL, ClientID: "SANDBOX_TEST", PrivateKey: mk,
		AntomPublicKey: e.sim.AntomPublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	e.sim.SetFaults(antomsim.Faults{API: map[string][]antomsim.APIFault{antom.APIPay: {{Kind: antomsim.FaultLatency, Probability: 1, Times: 1,
		Latency: antomsim.Duration(2500 * time.Millisecond)}}}})
	req := payReq("p-late", tok.AccessToken, "GCASH", php(100))
	req.PaymentExpiryTime = antom.NewTime(time.Now().Add(2 * time.Second)) // whole seconds on the wire: 1–2 s ahead
	r, err := realTime.Pay(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r.Result.ResultCode != antom.CodeParamIllegal || !strings.Contains(r.Result.ResultMessage, "paymentExpiryTime") {
		t.Fatalf("pay arriving after its expiry = %+v, want PARAM_ILLEGAL naming paymentExpiryTime", r.Result)
	}
	for _, p := range e.sim.Payments() {
		if p.PaymentRequestID == "p-late" {
			t.Fatalf("the late pay made a payment: %+v", p)
		}
	}
}
