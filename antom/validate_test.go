package antom_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
)

// TestValidation: a bad request is an error naming the field, and nothing
// goes on the wire.
func TestValidation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	pay := func(mod func(r *antom.PayRequest)) func() antom.Request {
		return func() antom.Request { r := payReq(); mod(r); return r }
	}
	amt := func(cur string, v int64, wallet string) func() antom.Request {
		return pay(func(r *antom.PayRequest) {
			r.PaymentAmount = antom.Amount{Currency: cur, Value: v}
			r.Order.OrderAmount = r.PaymentAmount
			r.PaymentMethod.PaymentMethodType = wallet
		})
	}
	for _, tc := range []struct {
		name  string
		req   func() antom.Request
		field string
	}{
		{"ConsultWallet", func() antom.Request { r := consultReq(); r.CustomerBelongsTo = "PAYPAL"; return r }, "customerBelongsTo"},
		{"ConsultNoWallet", func() antom.Request { r := consultReq(); r.CustomerBelongsTo = ""; return r }, "customerBelongsTo"},
		{"ConsultRedirect", func() antom.Request { r := consultReq(); r.AuthRedirectURL = ""; return r }, "authRedirectUrl"},
		{"ConsultRedirectLong", func() antom.Request { r := consultReq(); r.AuthRedirectURL = long(1025); return r }, "authRedirectUrl"},
		{"ConsultNoScopes", func() antom.Request { r := consultReq(); r.Scopes = nil; return r }, "scopes"},
		{"ConsultTooManyScopes", func() antom.Request {
			r := consultReq()
			r.Scopes = []string{"USER_INFO", "USER_INFO", "USER_INFO", "USER_INFO", "USER_INFO"}
			return r
		}, "scopes"},
		{"ConsultBadScope", func() antom.Request { r := consultReq(); r.Scopes = []string{"ROOT"}; return r }, "scopes[0]"},
		{"ConsultAuthStateLong", func() antom.Request { r := consultReq(); r.AuthState = long(257); return r }, "authState"},
		{"ConsultNoTerminal", func() antom.Request { r := consultReq(); r.TerminalType = ""; r.Env = nil; return r }, "env.terminalType"},
		{"ConsultBadTerminal", func() antom.Request { r := consultReq(); r.TerminalType = "TV"; return r }, "terminalType"},
		{"ConsultEnvNoTerminal", func() antom.Request { r := consultReq(); r.Env = &antom.Env{ClientIP: "1.2.3.4"}; return r }, "env.terminalType"},
		{"ConsultBadUTF8", func() antom.Request { r := consultReq(); r.AuthState = "\xff"; return r }, "authState"},
		{"ApplyTokenGrant", func() antom.Request { r := applyTokenReq(); r.GrantType = "PASSWORD"; return r }, "grantType"},
		{"ApplyTokenNoCode", func() antom.Request { r := applyTokenReq(); r.AuthCode = ""; return r }, "authCode"},
		{"ApplyTokenBoth", func() antom.Request { r := applyTokenReq(); r.RefreshToken = "x"; return r }, "refreshToken"},
		{"RefreshNoToken", func() antom.Request { r := refreshReq(); r.RefreshToken = ""; return r }, "refreshToken"},
		{"RefreshWithCode", func() antom.Request { r := refreshReq(); r.AuthCode = "x"; return r }, "authCode"},
		{"RevokeNoToken", func() antom.Request { return &antom.RevokeRequest{} }, "accessToken"},
		{"PayProduct", pay(func(r *antom.PayRequest) { r.ProductCode = "CASHIER_PAYMENT" }), "productCode"},
		{"PayRequestID", pay(func(r *antom.PayRequest) { r.PaymentRequestID = "" }), "paymentRequestId"},
		{"PayRequestIDLong", pay(func(r *antom.PayRequest) { r.PaymentRequestID = long(65) }), "paymentRequestId"},
		{"PayToken", pay(func(r *antom.PayRequest) { r.PaymentMethod.PaymentMethodID = "" }), "paymentMethod.paymentMethodId"},
		{"PayOrderID", pay(func(r *antom.PayRequest) { r.Order.ReferenceOrderID = "" }), "order.referenceOrderId"},
		{"PayOrderDescriptionLong", pay(func(r *antom.PayRequest) { r.Order.OrderDescription = long(257) }), "order.orderDescription"},
		{"PayOrderAmount", pay(func(r *antom.PayRequest) { r.Order.OrderAmount = antom.Amount{} }), "order.orderAmount"},
		{"PayGoods", pay(func(r *antom.PayRequest) { r.Order.Goods = []antom.Goods{{GoodsName: "g"}} }), "order.goods[0].referenceGoodsId"},
		{"PayTooManyGoods", pay(func(r *antom.PayRequest) { r.Order.Goods = make([]antom.Goods, 101) }), "order.goods"},
		{"PayNotifyURLLong", pay(func(r *antom.PayRequest) { r.PaymentNotifyURL = long(2049) }), "paymentNotifyUrl"},
		{"PayEnv", pay(func(r *antom.PayRequest) { r.Env = &antom.Env{} }), "env.terminalType"},
		{"AmountZero", amt("CNY", 0, "ALIPAY_CN"), "paymentAmount"},
		{"AmountNegative", amt("CNY", -100, "ALIPAY_CN"), "paymentAmount"},
		{"AmountNoCurrency", amt("", 100, "ALIPAY_CN"), "paymentAmount"},
		{"AmountUnknownCurrency", amt("XXX", 100, "ALIPAY_CN"), "paymentAmount"},
		{"IDRNot00", amt("IDR", 30050, "DANA"), "paymentAmount"},
		{"WalletCurrency", amt("USD", 100, "ALIPAY_CN"), "paymentAmount"},
		{"WalletUnknown", amt("CNY", 100, "PAYPAL"), "paymentMethod.paymentMethodType"},
		{"KRWBelowMin", amt("KRW", 49, "KAKAOPAY"), "paymentAmount"},
		{"KRWAboveMax", amt("KRW", 2_000_001, "KAKAOPAY"), "paymentAmount"},
		{"ExpiryTooLate", pay(func(r *antom.PayRequest) { r.PaymentExpiryTime = antom.NewTime(testNow.Add(61 * time.Second)) }), "paymentExpiryTime"},
		{"ExpiryPast", pay(func(r *antom.PayRequest) { r.PaymentExpiryTime = antom.NewTime(testNow.Add(-time.Second)) }), "paymentExpiryTime"},
		{"InquiryPaymentNoID", func() antom.Request { return &antom.InquiryPaymentRequest{} }, "paymentId"},
		{"InquiryPaymentIDLong", func() antom.Request { return &antom.InquiryPaymentRequest{PaymentID: long(65)} }, "paymentId"},
		{"CancelNoID", func() antom.Request { return &antom.CancelRequest{} }, "paymentId"},
		{"CancelAccountLong", func() antom.Request { return &antom.CancelRequest{PaymentID: "p", MerchantAccountID: long(33)} }, "merchantAccountId"},
		{"RefundNoRequestID", func() antom.Request { r := refundReq(); r.RefundRequestID = ""; return r }, "refundRequestId"},
		{"RefundNoPaymentID", func() antom.Request { r := refundReq(); r.PaymentID = ""; return r }, "paymentId"},
		{"RefundAmount", func() antom.Request { r := refundReq(); r.RefundAmount.Value = 0; return r }, "refundAmount"},
		{"RefundReasonLong", func() antom.Request { r := refundReq(); r.RefundReason = long(257); return r }, "refundReason"},
		{"InquiryRefundNoID", func() antom.Request { return &antom.InquiryRefundRequest{} }, "refundId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAntom(t, sandboxClientID)
			c := f.client(t)
			var err error
			switch r := tc.req().(type) {
			case *antom.ConsultRequest:
				_, err = c.Consult(ctxT(t), r)
			case *antom.ApplyTokenRequest:
				_, err = c.ApplyToken(ctxT(t), r)
			case *antom.RevokeRequest:
				_, err = c.Revoke(ctxT(t), r)
			case *antom.PayRequest:
				_, err = c.Pay(ctxT(t), r)
			case *antom.InquiryPaymentRequest:
				_, err = c.InquiryPayment(ctxT(t), r)
			case *antom.CancelRequest:
				_, err = c.Cancel(ctxT(t), r)
			case *antom.RefundRequest:
				_, err = c.Refund(ctxT(t), r)
			case *antom.InquiryRefundRequest:
				_, err = c.InquiryRefund(ctxT(t), r)
			}
			var ve *antom.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("err=%v, want a *ValidationError for field %s", err, tc.field)
			}
			if !strings.Contains(err.Error(), tc.field) || !errors.Is(err, antom.ErrNotSent) {
				t.Fatalf("err=%q must name %s and match ErrNotSent", err, tc.field)
			}
			if n := f.hits.Load(); n != 0 {
				t.Fatalf("server saw %d requests, want 0", n)
			}
		})
	}
}

func TestWallets(t *testing.T) {
	want := map[string]struct {
		currency string
		min, max int64
	}{
		"ALIPAY_CN": {"CNY", 10, 0},
		"ALIPAY_HK": {"HKD", 1, 5_000_000},
		"DANA":      {"IDR", 30_000, 1_000_000_000},
		"GCASH":     {"PHP", 100, 10_000_000},
		"KAKAOPAY":  {"KRW", 50, 2_000_000},
		"TNG":       {"MYR", 5, 2_000_000},
		"TRUEMONEY": {"THB", 100, 3_000_000},
	}
	ws := antom.Wallets()
	if len(ws) != 7 {
		t.Fatalf("%d wallets, want 7", len(ws))
	}
	ws[0].Code = "MUTATED"
	if _, ok := antom.LookupWallet("ALIPAY_CN"); !ok {
		t.Fatal("Wallets() must return a copy")
	}
	if _, ok := antom.LookupWallet("PAYPAL"); ok {
		t.Fatal("PAYPAL is no Scan to Link wallet")
	}
	for code, w := range want {
		t.Run(code, func(t *testing.T) {
			got, ok := antom.LookupWallet(code)
			if !ok || got.Currency != w.currency || got.MinValue != w.min || got.MaxValue != w.max {
				t.Fatalf("wallet=%+v, want %+v", got, w)
			}
			valid := func(v int64) error {
				r := payReq()
				r.PaymentAmount = antom.Amount{Currency: w.currency, Value: v}
				r.Order.OrderAmount = r.PaymentAmount
				r.PaymentMethod.PaymentMethodType = code
				return r.Validate()
			}
			if err := valid(w.min); err != nil {
				t.Fatalf("minimum rejected: %v", err)
			}
			if err := valid(w.min - 1); err == nil {
				t.Fatal("below minimum accepted")
			}
			if w.max > 0 {
				if err := valid(w.max); err != nil {
					t.Fatalf("maximum rejected: %v", err)
				}
				if err := valid(w.max + 100); err == nil {
					t.Fatal("above maximum accepted")
				}
			} else if err := valid(1_000_000_000_00); err != nil {
				t.Fatalf("no maximum, but: %v", err)
			}
		})
	}
}

func TestAmounts(t *testing.T) {
	for cur, exp := range map[string]int{"KRW": 0, "JPY": 0, "CNY": 2, "IDR": 2, "KWD": 3} {
		if got, ok := antom.CurrencyExponent(cur); !ok || got != exp {
			t.Errorf("CurrencyExponent(%s)=%d,%v, want %d", cur, got, ok, exp)
		}
	}
	if _, ok := antom.CurrencyExponent("XXX"); ok {
		t.Error("XXX is not a currency")
	}
	for a, want := range map[antom.Amount]string{
		{Currency: "CNY", Value: 10}:    "CNY 0.10",
		{Currency: "KRW", Value: 50}:    "KRW 50",
		{Currency: "IDR", Value: 30000}: "IDR 300.00",
		{Currency: "KWD", Value: 1}:     "KWD 0.001",
		{Currency: "USD", Value: -150}:  "USD -1.50",
		{Currency: "ZZZ", Value: 5}:     "ZZZ 0.05",
	} {
		if got := antom.FormatAmount(a); got != want {
			t.Errorf("FormatAmount(%v)=%q, want %q", a, got, want)
		}
	}
	for _, tc := range []struct {
		a  antom.Amount
		ok bool
	}{
		{antom.Amount{Currency: "KRW", Value: 1}, true},
		{antom.Amount{Currency: "IDR", Value: 100}, true},
		{antom.Amount{Currency: "IDR", Value: 150}, false},
		{antom.Amount{Currency: "USD", Value: 0}, false},
		{antom.Amount{Currency: "", Value: 1}, false},
	} {
		if err := antom.CheckAmount(tc.a); (err == nil) != tc.ok {
			t.Errorf("CheckAmount(%v)=%v, want ok=%v", tc.a, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"100", 100, true}, {"999999999999999999", 999999999999999999, true},
		{"", 0, false}, {"01", 0, false}, {"-1", 0, false}, {"1.5", 0, false}, {" 1", 0, false}, {"1000000000000000000", 0, false},
	} {
		got, err := antom.ParseMinorUnits(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseMinorUnits(%q)=%d,%v", tc.in, got, err)
		}
	}
	var a antom.Amount
	for _, bad := range []string{`{"currency":"CNY","value":100}`, `{"currency":5,"value":"1"}`, `{"currency":"CNY","value":"1.00"}`, `[]`} {
		if err := a.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("Amount accepted %s", bad)
		}
	}
	if err := a.UnmarshalJSON([]byte(`{"currency":"CNY"}`)); err != nil || a != (antom.Amount{Currency: "CNY"}) {
		t.Errorf("amount without value: %v %v", a, err)
	}
	var tm antom.Time
	if err := tm.UnmarshalJSON([]byte(`"2019-11-27T12:01:01+08:00"`)); err != nil || tm.Unix() != 1574827261 {
		t.Errorf("time: %v %v", tm, err)
	}
	for _, bad := range []string{`"2019-11-27 12:01"`, `5`} {
		if err := tm.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("Time accepted %s", bad)
		}
	}
	if err := tm.UnmarshalJSON([]byte(`""`)); err != nil || !tm.IsZero() {
		t.Errorf("empty time: %v %v", tm, err)
	}
	r := antom.Result{ResultStatus: "F", ResultCode: "X"}
	if r.String() != "F/X" || !r.Failed() || r.Succeeded() || r.Unknown() {
		t.Errorf("Result helpers: %v", r)
	}
}
