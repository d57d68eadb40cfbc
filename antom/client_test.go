package antom_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
)

// sampleResponse names the testdata response the fake sends for each API.
var sampleResponse = map[string]string{
	antom.APIConsult:        "consult.response.json",
	antom.APIApplyToken:     "applyToken.response.json",
	antom.APIRevoke:         "revoke.response.json",
	antom.APIPay:            "pay.response.success.json",
	antom.APIInquiryPayment: "inquiryPayment.response.json",
	antom.APICancel:         "cancel.response.json",
	antom.APIRefund:         "refund.response.json",
	antom.APIInquiryRefund:  "inquiryRefund.response.json",
}

func consultReq() *antom.ConsultRequest {
	return &antom.ConsultRequest{
		CustomerBelongsTo: "ALIPAY_CN",
		AuthRedirectURL:   "https://www.merchant.com/authorizationResult",
		Scopes:            []string{antom.ScopeAgreementPay},
		AuthState:         "663A8FA9-D836-48EE-8AA1-1FF682989DC7",
		TerminalType:      antom.TerminalTypeWeb,
		Env:               &antom.Env{TerminalType: antom.TerminalTypeWeb, ClientIP: "112.94.22.222"},
	}
}

func applyTokenReq() *antom.ApplyTokenRequest {
	return &antom.ApplyTokenRequest{GrantType: antom.GrantTypeAuthorizationCode, CustomerBelongsTo: "ALIPAY_CN", AuthCode: "3AB2F588D14B43238637264FCA5AAF35"}
}

func refreshReq() *antom.ApplyTokenRequest {
	return &antom.ApplyTokenRequest{GrantType: antom.GrantTypeRefreshToken, CustomerBelongsTo: "ALIPAY_CN", RefreshToken: "281010033AB2F588D14B43238637264FCA5Ayyyy"}
}

func revokeReq() *antom.RevokeRequest {
	return &antom.RevokeRequest{AccessToken: "281010033AB2F588D14B43238637264FCA5Axxxx"}
}

func payReq() *antom.PayRequest {
	cny := antom.Amount{Currency: "CNY", Value: 100}
	return &antom.PayRequest{
		ProductCode:      antom.ProductCodeAgreementPay,
		PaymentRequestID: "pay_1089760038715669",
		PaymentAmount:    cny,
		PaymentMethod:    antom.PaymentMethod{PaymentMethodType: "ALIPAY_CN", PaymentMethodID: "281010033AB2F588D14B43238637264FCA5Axxxx"},
		Order: antom.Order{
			ReferenceOrderID: "ORDER_ID_1685599933871",
			OrderDescription: "Testing order",
			OrderAmount:      cny,
			Env:              &antom.Env{TerminalType: antom.TerminalTypeWeb},
		},
		Env:                &antom.Env{TerminalType: antom.TerminalTypeWeb},
		PaymentExpiryTime:  antom.NewTime(testNow.Add(30 * time.Second)),
		PaymentNotifyURL:   "https://www.merchant.com/antom/notify/payment",
		SettlementStrategy: &antom.SettlementStrategy{SettlementCurrency: "USD"},
	}
}

func inquiryPaymentReq() *antom.InquiryPaymentRequest {
	return &antom.InquiryPaymentRequest{PaymentRequestID: "pay_1089760038715669"}
}

func cancelReq() *antom.CancelRequest {
	return &antom.CancelRequest{PaymentRequestID: "pay_1089760038715669"}
}

func refundReq() *antom.RefundRequest {
	return &antom.RefundRequest{
		PaymentID:       "20181129190741010007000000XXXX",
		RefundRequestID: "20181129190741020007000000XXXX",
		RefundAmount:    antom.Amount{Currency: "USD", Value: 100},
		RefundNotifyURL: "https://www.baidu.com",
	}
}

func inquiryRefundReq() *antom.InquiryRefundRequest {
	return &antom.InquiryRefundRequest{RefundID: "2021080419401080130018866020092XXXX"}
}

// apiCall calls one API with a valid request (or, with zero, an empty one).
type apiCall func(ctx context.Context, c *antom.Client, zero bool) (antom.Response, error)

func wrap[Q any, R antom.Response](do func(*antom.Client, context.Context, *Q) (R, error), valid func() *Q) apiCall {
	return func(ctx context.Context, c *antom.Client, zero bool) (antom.Response, error) {
		req := valid()
		if zero {
			req = new(Q)
		}
		resp, err := do(c, ctx, req)
		if err != nil {
			if !reflect.ValueOf(resp).IsNil() {
				return nil, errors.New("non-nil response with an error")
			}
			return nil, err
		}
		return resp, nil
	}
}

var apiCalls = []struct {
	name, api, sample string
	call              apiCall
}{
	{"Consult", antom.APIConsult, "consult.request.json", wrap((*antom.Client).Consult, consultReq)},
	{"ApplyToken", antom.APIApplyToken, "applyToken.request.json", wrap((*antom.Client).ApplyToken, applyTokenReq)},
	{"ApplyTokenRefresh", antom.APIApplyToken, "applyToken.refresh.request.json", wrap((*antom.Client).ApplyToken, refreshReq)},
	{"Revoke", antom.APIRevoke, "revoke.request.json", wrap((*antom.Client).Revoke, revokeReq)},
	{"Pay", antom.APIPay, "pay.request.json", wrap((*antom.Client).Pay, payReq)},
	{"InquiryPayment", antom.APIInquiryPayment, "inquiryPayment.request.json", wrap((*antom.Client).InquiryPayment, inquiryPaymentReq)},
	{"Cancel", antom.APICancel, "cancel.request.json", wrap((*antom.Client).Cancel, cancelReq)},
	{"Refund", antom.APIRefund, "refund.request.json", wrap((*antom.Client).Refund, refundReq)},
	{"InquiryRefund", antom.APIInquiryRefund, "inquiryRefund.request.json", wrap((*antom.Client).InquiryRefund, inquiryRefundReq)},
}

func jsonEqual(tb testing.TB, a, b []byte) bool {
	tb.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		tb.Fatal(err)
	}
	return reflect.DeepEqual(dropEmptyArrays(x), dropEmptyArrays(y))
}

// dropEmptyArrays removes object members that are empty arrays, which the
// typed structs omit.
func dropEmptyArrays(v any) any {
	if m, ok := v.(map[string]any); ok {
		for k, e := range m {
			if a, ok := e.([]any); ok && len(a) == 0 {
				delete(m, k)
			} else {
				m[k] = dropEmptyArrays(e)
			}
		}
	}
	return v
}

// TestClient_APIs sends each API's sample request to the fake, which checks
// method, path, headers and the request signature; the body must match the
// golden file byte for byte and the Antom sample field for field.
func TestClient_APIs(t *testing.T) {
	for _, clientID := range []string{sandboxClientID, liveClientID} {
		for _, tc := range apiCalls {
			t.Run(clientID+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				f := newFakeAntom(t, clientID)
				resp, err := tc.call(ctxT(t), f.client(t), false)
				if err != nil {
					t.Fatal(err)
				}
				if r := resp.GetResult(); !r.Succeeded() || r.ResultCode != antom.CodeSuccess {
					t.Fatalf("result=%v, want S/SUCCESS", r)
				}
				reqs := f.requests()
				if len(reqs) != 1 {
					t.Fatalf("server saw %d requests, want 1", len(reqs))
				}
				rq := reqs[0]
				wantPath := "/ams/api"
				if strings.HasPrefix(clientID, "SANDBOX_") {
					wantPath = "/ams/sandbox/api"
				}
				p, _ := antom.APIPath(tc.api)
				if rq.Path != wantPath+p {
					t.Fatalf("path=%s, want %s", rq.Path, wantPath+p)
				}
				if got, want := rq.Header.Get("Request-Time"), "1574827201000"; got != want {
					t.Fatalf("Request-Time=%s, want %s (pinned clock)", got, want)
				}
				assertGolden(t, tc.name+".request.json", rq.Body)
				assertAllStrings(t, rq.Body)
				if sample := readFile(t, "testdata/"+tc.sample); !jsonEqual(t, rq.Body, sample) {
					t.Fatalf("body %s\ndiffers from testdata/%s", rq.Body, tc.sample)
				}
				// The decoded response equals the sample.
				out, err := antom.MarshalBody(resp)
				if err != nil {
					t.Fatal(err)
				}
				if sample := readFile(t, "testdata/"+sampleResponse[tc.api]); !jsonEqual(t, out, sample) {
					t.Fatalf("decoded response re-encodes as %s\nwant testdata/%s", out, sampleResponse[tc.api])
				}
			})
		}
	}
}

// Spot checks of decoded response fields.
func TestClient_ResponseFields(t *testing.T) {
	f := newFakeAntom(t, sandboxClientID)
	c := f.client(t)
	ctx := ctxT(t)
	consult, err := c.Consult(ctx, consultReq())
	if err != nil {
		t.Fatal(err)
	}
	if got := consult.AuthCodeForm.Text(); got != "https://qr.example.invalid/auth/EXAMPLE-QR-PAYLOAD-663A8FA9" {
		t.Fatalf("Text()=%q", got)
	}
	if got := consult.AuthCodeForm.ImageURL(); !strings.HasSuffix(got, ".png") {
		t.Fatalf("ImageURL()=%q", got)
	}
	var nilForm *antom.AuthCodeForm
	if nilForm.Text() != "" || nilForm.ImageURL() != "" {
		t.Fatal("nil AuthCodeForm should give empty values")
	}
	tok, err := c.ApplyToken(ctx, applyTokenReq())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "281010033AB2F588D14B43238637264FCA5Axxxx" || !tok.AccessTokenExpiryTime.Equal(time.Date(2020, 11, 27, 4, 1, 1, 0, time.UTC)) {
		t.Fatalf("token=%+v", tok)
	}
	pay, err := c.Pay(ctx, payReq())
	if err != nil {
		t.Fatal(err)
	}
	if pay.PaymentID != "20181129190741010007000000XXXX" || *pay.PaymentAmount != (antom.Amount{Currency: "CNY", Value: 100}) {
		t.Fatalf("pay=%+v", pay)
	}
	inq, err := c.InquiryPayment(ctx, inquiryPaymentReq())
	if err != nil {
		t.Fatal(err)
	}
	if inq.PaymentStatus != antom.PaymentStatusSuccess || inq.PaymentTime.IsZero() {
		t.Fatalf("inquiry=%+v", inq)
	}
	ref, err := c.InquiryRefund(ctx, inquiryRefundReq())
	if err != nil {
		t.Fatal(err)
	}
	if ref.RefundStatus != antom.RefundStatusSuccess || ref.RefundAmount.Value != 10000 {
		t.Fatalf("refund inquiry=%+v", ref)
	}
}

func TestNewClient(t *testing.T) {
	mustKeys(t)
	good := antom.Config{BaseURL: "https://open-sea-global.alipay.com/", ClientID: "C", PrivateKey: merchantKey, AntomPublicKey: &antomKey.PublicKey}
	c, err := antom.NewClient(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID() != "C" {
		t.Fatalf("ClientID()=%q", c.ClientID())
	}
	for name, mod := range map[string]func(*antom.Config){
		"BaseURL":        func(c *antom.Config) { c.BaseURL = "" },
		"https://":       func(c *antom.Config) { c.BaseURL = "open-sea-global.alipay.com" },
		"ClientID":       func(c *antom.Config) { c.ClientID = "" },
		"PrivateKey":     func(c *antom.Config) { c.PrivateKey = nil },
		"AntomPublicKey": func(c *antom.Config) { c.AntomPublicKey = nil },
	} {
		cfg := good
		mod(&cfg)
		if _, err := antom.NewClient(cfg); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err=%v, want one naming it", name, err)
		}
	}
}

// TestClient_Observe checks the audit hook sees what was sent and received.
func TestClient_Observe(t *testing.T) {
	f := newFakeAntom(t, sandboxClientID)
	var got []antom.Exchange
	c := f.client(t, func(cfg *antom.Config) {
		cfg.ObserveFunc = func(_ context.Context, x *antom.Exchange) { got = append(got, *x) }
	})
	if _, err := c.Revoke(ctxT(t), revokeReq()); err != nil {
		t.Fatal(err)
	}
	f.respond = func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
		w.WriteHeader(http.StatusBadGateway)
	}
	if _, err := c.Revoke(ctxT(t), revokeReq()); err == nil {
		t.Fatal("want an error on 502")
	}
	if len(got) != 2 {
		t.Fatalf("observed %d exchanges, want 2", len(got))
	}
	if x := got[0]; x.API != antom.APIRevoke || x.Path != "/ams/sandbox/api/v1/authorizations/revoke" || x.StatusCode != 200 || x.Result == nil || !x.Result.Succeeded() || x.Err != nil || len(x.RequestBody) == 0 || len(x.ResponseBody) == 0 {
		t.Fatalf("exchange=%+v", x)
	}
	if x := got[1]; x.StatusCode != http.StatusBadGateway || x.Err == nil || x.Result != nil {
		t.Fatalf("exchange=%+v", x)
	}
}
