package antomsim_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
)

// shape flattens a JSON document into "path: type" entries. Arrays are
// described by their first element.
func shape(tb testing.TB, b []byte) map[string]string {
	tb.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatalf("%s: %v", b, err)
	}
	out := map[string]string{}
	var walk func(p string, v any)
	walk = func(p string, v any) {
		switch x := v.(type) {
		case map[string]any:
			out[p] = "object"
			for k, c := range x {
				walk(p+"."+k, c)
			}
		case []any:
			out[p] = "array"
			if len(x) > 0 {
				walk(p+"[]", x[0])
			}
		case string:
			out[p] = "string"
		default:
			out[p] = "non-string"
		}
	}
	walk("", v)
	return out
}

// checkShape fails if got lacks a field of the official sample or gives it
// another JSON type.
func checkShape(t *testing.T, sample string, got []byte) {
	t.Helper()
	want, err := os.ReadFile(filepath.Join("testdata", sample))
	if err != nil {
		t.Fatal(err)
	}
	ws, gs := shape(t, want), shape(t, got)
	var keys []string
	for k := range ws {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if gs[k] == "" && ws[k] == "array" {
			continue // an empty array may be omitted
		}
		if gs[k] != ws[k] {
			t.Errorf("%s: %s is %q, sample has %q\n got %s", sample, k, gs[k], ws[k], got)
		}
	}
	for k, typ := range gs {
		if typ == "non-string" {
			t.Errorf("%s: %s is not a string (Antom sends every scalar as a string)", sample, k)
		}
	}
}

// TestShapes compares the simulator's responses and notifications with the
// official JSON samples, field by field.
func TestShapes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	post := func(path string, req any) []byte {
		_, b := e.rawPost(t, "POST", "/ams/api/v1"+path, "SANDBOX_TEST", "application/json; charset=UTF-8", mustJSON(t, req), true)
		return b
	}
	checkShape(t, "consult.response.json", post("/authorizations/consult", consultReq("GCASH", "s1")))
	qr := e.sim.Authorizations()[0].QRCode
	a, err := e.sim.Approve(qr, "")
	if err != nil {
		t.Fatal(err)
	}
	tb := post("/authorizations/applyToken", &antom.ApplyTokenRequest{GrantType: antom.GrantTypeAuthorizationCode, CustomerBelongsTo: "GCASH", AuthCode: a.AuthCode})
	checkShape(t, "applyToken.response.json", tb)
	var tok antom.ApplyTokenResponse
	json.Unmarshal(tb, &tok)

	pb := post("/payments/pay", payReq("p1", tok.AccessToken, "GCASH", php(100_00)))
	checkShape(t, "pay.response.success.json", pb)
	var pay antom.PayResponse
	json.Unmarshal(pb, &pay)
	checkShape(t, "inquiryPayment.response.json", post("/payments/inquiryPayment", &antom.InquiryPaymentRequest{PaymentID: pay.PaymentID}))
	rb := post("/payments/refund", &antom.RefundRequest{RefundRequestID: "r1", PaymentID: pay.PaymentID, RefundAmount: php(10_00)})
	checkShape(t, "refund.response.json", rb)
	checkShape(t, "inquiryRefund.response.json", post("/payments/inquiryRefund", &antom.InquiryRefundRequest{RefundRequestID: "r1"}))
	checkShape(t, "cancel.response.json", post("/payments/cancel", &antom.CancelRequest{PaymentID: pay.PaymentID}))

	mode := antomsim.PayModeProcessing
	e.sim.UpdateAccount("GCASH", "09171234567", antomsim.AccountUpdate{PayMode: &mode})
	checkShape(t, "pay.response.processing.json", post("/payments/pay", payReq("p2", tok.AccessToken, "GCASH", php(100))))
	bal := int64(0)
	mode = antomsim.PayModeInstant
	e.sim.UpdateAccount("GCASH", "09171234567", antomsim.AccountUpdate{PayMode: &mode, Balance: &bal})
	checkShape(t, "pay.response.fail.json", post("/payments/pay", payReq("p3", tok.AccessToken, "GCASH", php(100))))
	checkShape(t, "error.response.json", post("/payments/pay", map[string]string{"productCode": "AGREEMENT_PAYMENT"}))
	checkShape(t, "revoke.response.json", post("/authorizations/revoke", &antom.RevokeRequest{AccessToken: tok.AccessToken}))

	// Notifications.
	tok2 := e.link(t, "GCASH", "")
	if _, err := e.sim.CancelToken(tok2.AccessToken, "user unlinked"); err != nil {
		t.Fatal(err)
	}
	e.advance(t, time.Hour)
	body := func(typ, subject string) []byte {
		for _, n := range e.sim.Notifications(antomsim.NotificationFilter{Type: typ, Subject: subject}) {
			return n.Body
		}
		t.Fatalf("no %s notification for %s", typ, subject)
		return nil
	}
	checkShape(t, "notifyAuthorization.AUTHCODE_CREATED.json", body(antom.AuthCodeCreated, "s1"))
	checkShape(t, "notifyAuthorization.TOKEN_CANCELED.json", body(antom.TokenCanceled, tok2.AccessToken))
	checkShape(t, "notifyPayment.success.json", body(antom.NotifyTypePaymentResult, "p1"))
	checkShape(t, "notifyPayment.fail.json", body(antom.NotifyTypePaymentResult, "p3"))
	checkShape(t, "notifyRefund.json", body(antom.NotifyTypeRefundResult, "r1"))
}
