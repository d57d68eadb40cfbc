package antomsim_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
)

// TestScanToLink drives the whole Scan to Link flow with antom.Client over
// real HTTP: consult → wallet approve (JSON POST to the QR URL) →
// AUTHCODE_CREATED → applyToken → pay → notifyPayment → inquiryPayment →
// refund → notifyRefund → revoke → TOKEN_CANCELED.
func TestScanToLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()

	c, err := e.client.Consult(ctx, consultReq("GCASH", "state-1"))
	if err != nil {
		t.Fatal(err)
	}
	qr := c.AuthCodeForm.Text()
	if !c.Result.Succeeded() || !strings.HasPrefix(qr, e.srv.URL+"/qr/") {
		t.Fatalf("consult = %+v, QR %q", c.Result, qr)
	}
	if img := c.AuthCodeForm.ImageURL(); img != qr+".png" {
		t.Fatalf("image URL = %q", img)
	}

	// The buyer opens the wallet page and approves (as a script would).
	page, err := http.Get(qr)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !strings.Contains(string(html), "GCash") {
		t.Fatalf("wallet page: %d", page.StatusCode)
	}
	resp, err := http.Post(qr, "application/json", strings.NewReader(`{"action":"approve","userLoginId":"09170000001"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("approve: %d", resp.StatusCode)
	}
	e.settle(t)
	created := e.notify.ofType(antom.AuthCodeCreated)
	if len(created) != 1 || created[0].Authorization.AuthState != "state-1" {
		t.Fatalf("AUTHCODE_CREATED = %+v", created)
	}

	tok, err := e.client.ApplyToken(ctx, &antom.ApplyTokenRequest{GrantType: antom.GrantTypeAuthorizationCode,
		CustomerBelongsTo: "GCASH", AuthCode: created[0].Authorization.AuthCode})
	if err != nil || !tok.Result.Succeeded() {
		t.Fatalf("applyToken: %v %+v", err, tok)
	}
	if tok.UserLoginID != "091****0001" || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("applyToken = %+v", tok)
	}

	pay, err := e.client.Pay(ctx, payReq("pay-1", tok.AccessToken, "GCASH", php(150_00)))
	if err != nil || !pay.Result.Succeeded() {
		t.Fatalf("pay: %v %+v", err, pay)
	}
	e.settle(t)
	if n := e.notify.ofType(antom.NotifyTypePaymentResult); len(n) != 1 || n[0].Payment.PaymentID != pay.PaymentID || !n[0].Payment.Result.Succeeded() {
		t.Fatalf("notifyPayment = %+v", n)
	}
	inq, err := e.client.InquiryPayment(ctx, &antom.InquiryPaymentRequest{PaymentRequestID: "pay-1"})
	if err != nil || inq.PaymentStatus != antom.PaymentStatusSuccess || inq.PaymentID != pay.PaymentID {
		t.Fatalf("inquiryPayment: %v %+v", err, inq)
	}

	ref, err := e.client.Refund(ctx, &antom.RefundRequest{RefundRequestID: "ref-1", PaymentID: pay.PaymentID, RefundAmount: php(50_00)})
	if err != nil || !ref.Result.Succeeded() {
		t.Fatalf("refund: %v %+v", err, ref)
	}
	e.settle(t)
	if n := e.notify.ofType(antom.NotifyTypeRefundResult); len(n) != 1 || n[0].Refund.RefundID != ref.RefundID {
		t.Fatalf("notifyRefund = %+v", n)
	}

	rv, err := e.client.Revoke(ctx, &antom.RevokeRequest{AccessToken: tok.AccessToken})
	if err != nil || !rv.Result.Succeeded() {
		t.Fatalf("revoke: %v %+v", err, rv)
	}
	e.settle(t)
	if n := e.notify.ofType(antom.TokenCanceled); len(n) != 1 || n[0].Authorization.AccessToken != tok.AccessToken {
		t.Fatalf("TOKEN_CANCELED = %+v", n)
	}

	acct, err := e.sim.Account("GCASH", "09170000001")
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(1_000_000_00 - 100_00); acct.Balance != want {
		t.Fatalf("balance = %d, want %d", acct.Balance, want)
	}
	p, _ := e.sim.Payment("pay-1")
	if p.Debits != 1 || p.Refunded.Value != 50_00 || p.Status != antom.PaymentStatusSuccess {
		t.Fatalf("truth = %+v", p)
	}
	if tr := e.sim.Truth(); len(tr.Violations) != 0 {
		t.Fatal(tr.Violations)
	}
	for _, n := range e.sim.Notifications(antomsim.NotificationFilter{}) {
		if n.Status != antomsim.NotifyDelivered || len(n.Attempts) != 1 {
			t.Fatalf("notification %s %s: %s after %d attempts", n.ID, n.Type, n.Status, len(n.Attempts))
		}
	}
}
