package antomsim_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
)

// TestBadInput: malformed requests get an Antom-shaped F result (HTTP 200,
// signed except INVALID_SIGNATURE), never a 500, and change nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.link(t, "GCASH", "")
	if r, _ := e.client.Pay(context.Background(), payReq("p0", tok.AccessToken, "GCASH", php(100))); !r.Result.Succeeded() {
		t.Fatal(r.Result)
	}
	e.settle(t)
	payPath := "/ams/sandbox/api/v1/payments/pay"
	good := string(mustJSON(t, payReq("p1", tok.AccessToken, "GCASH", php(100))))
	long := strings.Repeat("x", 65)
	const ct = "application/json; charset=UTF-8"
	for _, tc := range []struct {
		name, method, path, clientID, contentType, body string
		unsigned                                        bool
		code                                            string
	}{
		{"BadSignature", "POST", payPath, "SANDBOX_TEST", ct, good, true, antom.CodeInvalidSignature},
		{"UnknownClient", "POST", payPath, "SANDBOX_OTHER", ct, good, false, antom.CodeClientInvalid},
		{"MalformedJSON", "POST", payPath, "SANDBOX_TEST", ct, `{"productCode":`, false, antom.CodeParamIllegal},
		{"NotAnObject", "POST", payPath, "SANDBOX_TEST", ct, `["x"]`, false, antom.CodeParamIllegal},
		{"TrailingData", "POST", payPath, "SANDBOX_TEST", ct, good + `{}`, false, antom.CodeParamIllegal},
		{"EmptyBody", "POST", payPath, "SANDBOX_TEST", ct, ``, false, antom.CodeParamIllegal},
		{"MissingField", "POST", payPath, "SANDBOX_TEST", ct, strings.Replace(good, `"paymentRequestId":"p1",`, "", 1), false, antom.CodeParamIllegal},
		{"OverLongField", "POST", payPath, "SANDBOX_TEST", ct, strings.Replace(good, `"paymentRequestId":"p1"`, `"paymentRequestId":"`+long+`"`, 1), false, antom.CodeParamIllegal},
		{"NumberValue", "POST", payPath, "SANDBOX_TEST", ct, strings.Replace(good, `"value":"100"`, `"value":100`, 1), false, antom.CodeParamIllegal},
		{"BoolForString", "POST", payPath, "SANDBOX_TEST", ct, strings.Replace(good, `"paymentRequestId":"p1"`, `"paymentRequestId":true`, 1), false, antom.CodeParamIllegal},
		{"NegativeAmount", "POST", payPath, "SANDBOX_TEST", ct, strings.Replace(good, `"value":"100"`, `"value":"-100"`, 1), false, antom.CodeParamIllegal},
		{"DecimalAmount", "POST", payPath, "SANDBOX_TEST", ct, strings.Replace(good, `"value":"100"`, `"value":"1.00"`, 1), false, antom.CodeParamIllegal},
		{"ZeroAmount", "POST", payPath, "SANDBOX_TEST", ct, strings.Replace(good, `"value":"100"`, `"value":"0"`, 2), false, antom.CodeParamIllegal},
		{"WrongProduct", "POST", payPath, "SANDBOX_TEST", ct, strings.Replace(good, `AGREEMENT_PAYMENT`, `CASHIER_PAYMENT`, 1), false, antom.CodeParamIllegal},
		{"WrongMethod", "GET", payPath, "SANDBOX_TEST", ct, ``, false, antom.CodeMethodNotSupported},
		{"WrongPath", "POST", "/ams/api/v1/payments/payy", "SANDBOX_TEST", ct, good, false, antom.CodeNoInterfaceDef},
		{"WrongVersion", "POST", "/ams/api/v2/payments/pay", "SANDBOX_TEST", ct, good, false, antom.CodeNoInterfaceDef},
		{"WrongContentType", "POST", payPath, "SANDBOX_TEST", "text/plain", good, false, antom.CodeMediaTypeNotAcceptable},
		{"NoContentType", "POST", payPath, "SANDBOX_TEST", "", good, false, antom.CodeMediaTypeNotAcceptable},
		{"ConsultBadWallet", "POST", "/ams/api/v1/authorizations/consult", "SANDBOX_TEST", ct, `{"customerBelongsTo":"PAYPAL","authRedirectUrl":"https://m/","scopes":["AGREEMENT_PAY"],"authState":"s","terminalType":"WEB"}`, false, antom.CodeParamIllegal},
		{"ConsultScopesNotArray", "POST", "/ams/api/v1/authorizations/consult", "SANDBOX_TEST", ct, `{"customerBelongsTo":"GCASH","authRedirectUrl":"https://m/","scopes":"AGREEMENT_PAY","authState":"s","terminalType":"WEB"}`, false, antom.CodeParamIllegal},
		{"ApplyTokenNoCode", "POST", "/ams/api/v1/authorizations/applyToken", "SANDBOX_TEST", ct, `{"grantType":"AUTHORIZATION_CODE","customerBelongsTo":"GCASH"}`, false, antom.CodeParamIllegal},
		{"RefundNoAmount", "POST", "/ams/api/v1/payments/refund", "SANDBOX_TEST", ct, `{"refundRequestId":"r","paymentId":"x"}`, false, antom.CodeParamIllegal},
		{"InquiryNoID", "POST", "/ams/api/v1/payments/inquiryPayment", "SANDBOX_TEST", ct, `{}`, false, antom.CodeParamIllegal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.sim.Truth()
			notes := len(e.sim.Notifications(antomsim.NotificationFilter{}))
			body := []byte(tc.body)
			var resp *http.Response
			var b []byte
			if tc.unsigned {
				// Signed with the wrong content: a signature that does not verify.
				resp, b = e.rawPostBadSig(t, tc.path, body)
			} else {
				resp, b = e.rawPost(t, tc.method, tc.path, tc.clientID, tc.contentType, body, true)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("HTTP %d %s", resp.StatusCode, b)
			}
			r := resultOf(t, b)
			if r.ResultCode != tc.code || !r.Failed() || r.ResultMessage == "" {
				t.Fatalf("result = %+v, want F %s", r, tc.code)
			}
			signed := resp.Header.Get("Signature") != ""
			if signed == (tc.code == antom.CodeInvalidSignature) {
				t.Fatalf("signed = %v for %s", signed, tc.code)
			}
			if signed {
				if err := antom.Verify(e.sim.AntomPublicKey(), tc.method, tc.path, resp.Header.Get("Client-Id"), resp.Header.Get("Response-Time"), b, resp.Header.Get("Signature")); err != nil {
					t.Fatalf("response signature: %v", err)
				}
			}
			e.settle(t)
			if after := e.sim.Truth(); !reflect.DeepEqual(before, after) || len(e.sim.Notifications(antomsim.NotificationFilter{})) != notes {
				t.Fatal("state changed")
			}
			t.Logf("%s: %s", r.ResultCode, r.ResultMessage)
		})
	}
}

// rawPostBadSig posts body with a signature over different content.
func (e *env) rawPostBadSig(t *testing.T, path string, body []byte) (*http.Response, []byte) {
	t.Helper()
	mk, _ := keys(t)
	sig, _ := antom.Sign(mk, "POST", path, "SANDBOX_TEST", "1", []byte("other"))
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("Client-Id", "SANDBOX_TEST")
	req.Header.Set("Request-Time", "1")
	req.Header.Set("Signature", antom.SignatureHeader("1", sig))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := make([]byte, 0, 512)
	buf := make([]byte, 512)
	for {
		n, err := resp.Body.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	return resp, b
}

// TestUnverified: without MerchantPublicKey, unsigned requests are served.
func TestUnverified(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *antomsim.Config) { c.MerchantPublicKey = nil })
	body := mustJSON(t, consultReq("GCASH", "s"))
	resp, b := e.rawPost(t, "POST", "/ams/api/v1/authorizations/consult", "SANDBOX_TEST", "application/json", body, false)
	if r := resultOf(t, b); resp.StatusCode != 200 || !r.Succeeded() {
		t.Fatalf("unsigned consult = %d %+v", resp.StatusCode, r)
	}
}
