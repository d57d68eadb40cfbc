package antom

import (
	"fmt"
	"unicode/utf8"
)

// API names, used in errors, Exchange records and the simulator.
const (
	APIConsult        = "consult"
	APIApplyToken     = "applyToken"
	APIRevoke         = "revoke"
	APIPay            = "pay"
	APIInquiryPayment = "inquiryPayment"
	APICancel         = "cancel"
	APIRefund         = "refund"
	APIInquiryRefund  = "inquiryRefund"
)

// Paths of the APIs below the /ams/api (or /ams/sandbox/api) prefix.
var apiPaths = map[string]string{
	APIConsult:        "/v1/authorizations/consult",
	APIApplyToken:     "/v1/authorizations/applyToken",
	APIRevoke:         "/v1/authorizations/revoke",
	APIPay:            "/v1/payments/pay",
	APIInquiryPayment: "/v1/payments/inquiryPayment",
	APICancel:         "/v1/payments/cancel",
	APIRefund:         "/v1/payments/refund",
	APIInquiryRefund:  "/v1/payments/inquiryRefund",
}

// APIPath returns the path of an API below the /ams/api prefix, e.g.
// "/v1/payments/pay", and whether the API is known.
func APIPath(api string) (string, bool) {
	p, ok := apiPaths[api]
	return p, ok
}

// APIs returns the names of all APIs this package implements.
func APIs() []string {
	return []string{APIConsult, APIApplyToken, APIRevoke, APIPay, APIInquiryPayment, APICancel, APIRefund, APIInquiryRefund}
}

// Fixed values used by Scan to Link.
const (
	ScopeAgreementPay          = "AGREEMENT_PAY"
	TerminalTypeWeb            = "WEB"
	GrantTypeAuthorizationCode = "AUTHORIZATION_CODE"
	GrantTypeRefreshToken      = "REFRESH_TOKEN"
	ProductCodeAgreementPay    = "AGREEMENT_PAYMENT"
)

// Payment and refund statuses reported by inquiries and notifications.
const (
	PaymentStatusSuccess    = "SUCCESS"
	PaymentStatusFail       = "FAIL"
	PaymentStatusProcessing = "PROCESSING"
	PaymentStatusCancelled  = "CANCELLED"
	PaymentStatusPending    = "PENDING"

	RefundStatusSuccess    = "SUCCESS"
	RefundStatusFail       = "FAIL"
	RefundStatusProcessing = "PROCESSING"
)

// Result codes this package and the simulator refer to by name.
const (
	CodeSuccess                = "SUCCESS"
	CodePaymentInProcess       = "PAYMENT_IN_PROCESS"
	CodeRefundInProcess        = "REFUND_IN_PROCESS"
	CodeUnknownException       = "UNKNOWN_EXCEPTION"
	CodeParamIllegal           = "PARAM_ILLEGAL"
	CodeInvalidSignature       = "INVALID_SIGNATURE"
	CodeClientInvalid          = "CLIENT_INVALID"
	CodeKeyNotFound            = "KEY_NOT_FOUND"
	CodeNoInterfaceDef         = "NO_INTERFACE_DEF"
	CodeMethodNotSupported     = "METHOD_NOT_SUPPORTED"
	CodeMediaTypeNotAcceptable = "MEDIA_TYPE_NOT_ACCEPTABLE"
	CodeProcessFail            = "PROCESS_FAIL"
	CodeSystemError            = "SYSTEM_ERROR"
	CodeInvalidCode            = "INVALID_CODE"
	CodeExpiredCode            = "EXPIRED_CODE"
	CodeUsedCode               = "USED_CODE"
	CodeInvalidRefreshToken    = "INVALID_REFRESH_TOKEN"
	CodeExpiredRefreshToken    = "EXPIRED_REFRESH_TOKEN"
	CodeInvalidAccessToken     = "INVALID_ACCESS_TOKEN"
	CodeUserBalanceNotEnough   = "USER_BALANCE_NOT_ENOUGH"
	CodeUserAmountExceedLimit  = "USER_AMOUNT_EXCEED_LIMIT"
	CodeCurrencyNotSupport     = "CURRENCY_NOT_SUPPORT"
	CodeRepeatReqInconsistent  = "REPEAT_REQ_INCONSISTENT"
	CodeOrderIsClosed          = "ORDER_IS_CLOSED"
	CodeOrderNotExist          = "ORDER_NOT_EXIST"
	CodeOrderStatusInvalid     = "ORDER_STATUS_INVALID"
	CodeCancelWindowExceed     = "CANCEL_WINDOW_EXCEED"
	CodeRefundAmountExceed     = "REFUND_AMOUNT_EXCEED"
	CodeRefundWindowExceed     = "REFUND_WINDOW_EXCEED"
	CodeRefundNotExist         = "REFUND_NOT_EXIST"
)

// Request is implemented by every API request.
type Request interface {
	// API returns the API name, e.g. "pay".
	API() string
	// Validate reports the first field that Antom would reject, as a
	// *ValidationError naming it. The Client calls it before sending.
	Validate() error
}

// ConsultRequest asks for an authorization entry: for Scan to Link, a QR code.
type ConsultRequest struct {
	CustomerBelongsTo string   `json:"customerBelongsTo"`
	AuthClientID      string   `json:"authClientId,omitempty"`
	AuthRedirectURL   string   `json:"authRedirectUrl"`
	Scopes            []string `json:"scopes"`
	AuthState         string   `json:"authState"`
	// TerminalType is the legacy top-level terminal type; Scan to Link sends WEB.
	TerminalType      string `json:"terminalType,omitempty"`
	OSType            string `json:"osType,omitempty"`
	OSVersion         string `json:"osVersion,omitempty"`
	Env               *Env   `json:"env,omitempty"`
	AuthNotifyURL     string `json:"authNotifyUrl,omitempty"`
	MerchantRegion    string `json:"merchantRegion,omitempty"`
	MerchantAccountID string `json:"merchantAccountId,omitempty"`
	ExtendInfo        string `json:"extendInfo,omitempty"`
}

// ConsultResponse carries the QR code in AuthCodeForm.
type ConsultResponse struct {
	Result        Result        `json:"result"`
	AuthURL       string        `json:"authUrl,omitempty"`
	NormalURL     string        `json:"normalUrl,omitempty"`
	SchemeURL     string        `json:"schemeUrl,omitempty"`
	ApplinkURL    string        `json:"applinkUrl,omitempty"`
	AppIdentifier string        `json:"appIdentifier,omitempty"`
	AuthCodeForm  *AuthCodeForm `json:"authCodeForm,omitempty"`
	ExtendInfo    string        `json:"extendInfo,omitempty"`
}

// ApplyTokenRequest exchanges an authCode (or a refresh token) for an access token.
type ApplyTokenRequest struct {
	GrantType         string `json:"grantType"`
	CustomerBelongsTo string `json:"customerBelongsTo"`
	AuthCode          string `json:"authCode,omitempty"`
	RefreshToken      string `json:"refreshToken,omitempty"`
	MerchantRegion    string `json:"merchantRegion,omitempty"`
	MerchantAccountID string `json:"merchantAccountId,omitempty"`
	ExtendInfo        string `json:"extendInfo,omitempty"`
}

// ApplyTokenResponse carries the access token. AccessToken and RefreshToken
// are secrets.
type ApplyTokenResponse struct {
	Result                 Result           `json:"result"`
	AccessToken            string           `json:"accessToken,omitempty"`
	AccessTokenExpiryTime  Time             `json:"accessTokenExpiryTime,omitzero"`
	RefreshToken           string           `json:"refreshToken,omitempty"`
	RefreshTokenExpiryTime Time             `json:"refreshTokenExpiryTime,omitzero"`
	UserLoginID            string           `json:"userLoginId,omitempty"`
	PSPCustomerInfo        *PSPCustomerInfo `json:"pspCustomerInfo,omitempty"`
	ExtendInfo             string           `json:"extendInfo,omitempty"`
}

// RevokeRequest invalidates an access token and its refresh token.
type RevokeRequest struct {
	AccessToken       string `json:"accessToken"`
	MerchantAccountID string `json:"merchantAccountId,omitempty"`
	ExtendInfo        string `json:"extendInfo,omitempty"`
}

// RevokeResponse is the answer to revoke.
type RevokeResponse struct {
	Result     Result `json:"result"`
	ExtendInfo string `json:"extendInfo,omitempty"`
}

// PayRequest is an auto-debit payment (productCode AGREEMENT_PAYMENT).
// PaymentRequestID is the idempotency key: resend the same request with the
// same ID when no answer or a U result came back.
type PayRequest struct {
	ProductCode        string              `json:"productCode"`
	PaymentRequestID   string              `json:"paymentRequestId"`
	PaymentAmount      Amount              `json:"paymentAmount"`
	PaymentMethod      PaymentMethod       `json:"paymentMethod"`
	Order              Order               `json:"order"`
	Env                *Env                `json:"env,omitempty"`
	PaymentExpiryTime  Time                `json:"paymentExpiryTime,omitzero"`
	PaymentNotifyURL   string              `json:"paymentNotifyUrl,omitempty"`
	PaymentRedirectURL string              `json:"paymentRedirectUrl,omitempty"`
	SettlementStrategy *SettlementStrategy `json:"settlementStrategy,omitempty"`
	UserRegion         string              `json:"userRegion,omitempty"`
	MerchantRegion     string              `json:"merchantRegion,omitempty"`
	MerchantAccountID  string              `json:"merchantAccountId,omitempty"`
	ExtendInfo         string              `json:"extendInfo,omitempty"`
}

// PayResponse is the answer to pay.
type PayResponse struct {
	Result              Result           `json:"result"`
	PaymentRequestID    string           `json:"paymentRequestId,omitempty"`
	PaymentID           string           `json:"paymentId,omitempty"`
	PaymentAmount       *Amount          `json:"paymentAmount,omitempty"`
	PaymentCreateTime   Time             `json:"paymentCreateTime,omitzero"`
	PaymentTime         Time             `json:"paymentTime,omitzero"`
	ActualPaymentAmount *Amount          `json:"actualPaymentAmount,omitempty"`
	PSPCustomerInfo     *PSPCustomerInfo `json:"pspCustomerInfo,omitempty"`
	ExtendInfo          string           `json:"extendInfo,omitempty"`
}

// InquiryPaymentRequest asks for a payment's status by PaymentID or
// PaymentRequestID (PaymentID wins when both are set).
type InquiryPaymentRequest struct {
	PaymentRequestID  string `json:"paymentRequestId,omitempty"`
	PaymentID         string `json:"paymentId,omitempty"`
	MerchantAccountID string `json:"merchantAccountId,omitempty"`
}

// Transaction is one transaction on a payment, as inquiryPayment lists them.
type Transaction struct {
	TransactionResult    *Result `json:"transactionResult,omitempty"`
	TransactionID        string  `json:"transactionId,omitempty"`
	TransactionType      string  `json:"transactionType,omitempty"`
	TransactionStatus    string  `json:"transactionStatus,omitempty"`
	TransactionAmount    *Amount `json:"transactionAmount,omitempty"`
	TransactionRequestID string  `json:"transactionRequestId,omitempty"`
	TransactionTime      Time    `json:"transactionTime,omitzero"`
}

// InquiryPaymentResponse reports a payment's status. Result only says
// whether the inquiry worked; PaymentStatus is the payment's state.
type InquiryPaymentResponse struct {
	Result               Result        `json:"result"`
	PaymentStatus        string        `json:"paymentStatus,omitempty"`
	PaymentResultCode    string        `json:"paymentResultCode,omitempty"`
	PaymentResultMessage string        `json:"paymentResultMessage,omitempty"`
	PaymentRequestID     string        `json:"paymentRequestId,omitempty"`
	PaymentID            string        `json:"paymentId,omitempty"`
	PaymentAmount        *Amount       `json:"paymentAmount,omitempty"`
	PaymentCreateTime    Time          `json:"paymentCreateTime,omitzero"`
	PaymentTime          Time          `json:"paymentTime,omitzero"`
	Transactions         []Transaction `json:"transactions,omitempty"`
	ExtendInfo           string        `json:"extendInfo,omitempty"`
}

// CancelRequest cancels a payment by PaymentID or PaymentRequestID. A paid
// payment is refunded in full.
type CancelRequest struct {
	PaymentID         string `json:"paymentId,omitempty"`
	PaymentRequestID  string `json:"paymentRequestId,omitempty"`
	MerchantAccountID string `json:"merchantAccountId,omitempty"`
}

// CancelResponse is the answer to cancel.
type CancelResponse struct {
	Result           Result `json:"result"`
	PaymentID        string `json:"paymentId,omitempty"`
	PaymentRequestID string `json:"paymentRequestId,omitempty"`
	CancelTime       Time   `json:"cancelTime,omitzero"`
}

// RefundRequest refunds all or part of a successful payment.
// RefundRequestID is the idempotency key.
type RefundRequest struct {
	RefundRequestID   string `json:"refundRequestId"`
	PaymentID         string `json:"paymentId"`
	ReferenceRefundID string `json:"referenceRefundId,omitempty"`
	RefundAmount      Amount `json:"refundAmount"`
	RefundReason      string `json:"refundReason,omitempty"`
	RefundNotifyURL   string `json:"refundNotifyUrl,omitempty"`
	ExtendInfo        string `json:"extendInfo,omitempty"`
}

// RefundResponse is the answer to refund. Wallet refunds are synchronous.
type RefundResponse struct {
	Result             Result  `json:"result"`
	RefundRequestID    string  `json:"refundRequestId,omitempty"`
	RefundID           string  `json:"refundId,omitempty"`
	PaymentID          string  `json:"paymentId,omitempty"`
	RefundAmount       *Amount `json:"refundAmount,omitempty"`
	RefundTime         Time    `json:"refundTime,omitzero"`
	ActualRefundAmount *Amount `json:"actualRefundAmount,omitempty"`
}

// InquiryRefundRequest asks for a refund's status by RefundID or
// RefundRequestID (RefundID wins when both are set).
type InquiryRefundRequest struct {
	RefundRequestID   string `json:"refundRequestId,omitempty"`
	RefundID          string `json:"refundId,omitempty"`
	MerchantAccountID string `json:"merchantAccountId,omitempty"`
}

// InquiryRefundResponse reports a refund's status.
type InquiryRefundResponse struct {
	Result          Result  `json:"result"`
	RefundID        string  `json:"refundId,omitempty"`
	RefundRequestID string  `json:"refundRequestId,omitempty"`
	RefundAmount    *Amount `json:"refundAmount,omitempty"`
	RefundStatus    string  `json:"refundStatus,omitempty"`
	RefundTime      Time    `json:"refundTime,omitzero"`
}

func (r *ConsultResponse) GetResult() Result        { return r.Result }
func (r *ApplyTokenResponse) GetResult() Result     { return r.Result }
func (r *RevokeResponse) GetResult() Result         { return r.Result }
func (r *PayResponse) GetResult() Result            { return r.Result }
func (r *InquiryPaymentResponse) GetResult() Result { return r.Result }
func (r *CancelResponse) GetResult() Result         { return r.Result }
func (r *RefundResponse) GetResult() Result         { return r.Result }
func (r *InquiryRefundResponse) GetResult() Result  { return r.Result }

func (*ConsultRequest) API() string        { return APIConsult }
func (*ApplyTokenRequest) API() string     { return APIApplyToken }
func (*RevokeRequest) API() string         { return APIRevoke }
func (*PayRequest) API() string            { return APIPay }
func (*InquiryPaymentRequest) API() string { return APIInquiryPayment }
func (*CancelRequest) API() string         { return APICancel }
func (*RefundRequest) API() string         { return APIRefund }
func (*InquiryRefundRequest) API() string  { return APIInquiryRefund }

// checker collects the first validation failure of a request.
type checker struct {
	api string
	err *ValidationError
}

func (c *checker) fail(field, format string, args ...any) {
	if c.err == nil {
		c.err = &ValidationError{API: c.api, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
}

func (c *checker) result() error {
	if c.err == nil {
		return nil
	}
	return c.err
}

// str checks a string field: required or not, and at most max characters.
func (c *checker) str(field, v string, required bool, max int) {
	switch {
	case v == "" && required:
		c.fail(field, "is required")
	case !utf8.ValidString(v):
		c.fail(field, "is not valid UTF-8")
	case max > 0 && utf8.RuneCountInString(v) > max:
		c.fail(field, "is %d characters long, at most %d allowed", utf8.RuneCountInString(v), max)
	}
}

// oneOf checks that v is one of the allowed values.
func (c *checker) oneOf(field, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	if v == "" {
		c.fail(field, "is required")
		return
	}
	c.fail(field, "is %q, want one of %v", v, allowed)
}

func (c *checker) wallet(field, code string) (Wallet, bool) {
	if code == "" {
		c.fail(field, "is required")
		return Wallet{}, false
	}
	w, ok := LookupWallet(code)
	if !ok {
		c.fail(field, "is %q, not a Scan to Link wallet (%s)", code, walletCodes())
	}
	return w, ok
}

func (c *checker) amount(field string, a Amount) {
	if err := CheckAmount(a); err != nil {
		c.fail(field, "%v", err)
	}
}

func (c *checker) env(field string, e *Env) {
	if e == nil {
		return
	}
	c.str(field+".terminalType", e.TerminalType, true, 32)
	c.str(field+".osType", e.OSType, false, 32)
	c.str(field+".osVersion", e.OSVersion, false, 16)
	c.str(field+".clientIp", e.ClientIP, false, 64)
	c.str(field+".userAgent", e.UserAgent, false, 1024)
	c.str(field+".deviceId", e.DeviceID, false, 64)
}

// Validate implements Request.
func (r *ConsultRequest) Validate() error {
	c := &checker{api: APIConsult}
	c.wallet("customerBelongsTo", r.CustomerBelongsTo)
	c.str("authClientId", r.AuthClientID, false, 64)
	c.str("authRedirectUrl", r.AuthRedirectURL, true, 1024)
	if len(r.Scopes) == 0 {
		c.fail("scopes", "is required")
	} else if len(r.Scopes) > 4 {
		c.fail("scopes", "has %d items, at most 4 allowed", len(r.Scopes))
	}
	for i, s := range r.Scopes {
		c.oneOf(fmt.Sprintf("scopes[%d]", i), s, ScopeAgreementPay, "BASE_USER_INFO", "USER_INFO", "USER_LOGIN_ID", "HASH_LOGIN_ID", "SEND_OTP")
	}
	c.str("authState", r.AuthState, true, 256)
	if r.TerminalType == "" && (r.Env == nil || r.Env.TerminalType == "") {
		c.fail("env.terminalType", "is required (or the legacy terminalType)")
	}
	if r.TerminalType != "" {
		c.oneOf("terminalType", r.TerminalType, "WEB", "WAP", "APP", "MINI_APP")
	}
	c.env("env", r.Env)
	c.str("osVersion", r.OSVersion, false, 16)
	c.str("authNotifyUrl", r.AuthNotifyURL, false, 1024)
	c.str("merchantRegion", r.MerchantRegion, false, 2)
	c.str("merchantAccountId", r.MerchantAccountID, false, 64)
	return c.result()
}

// Validate implements Request.
func (r *ApplyTokenRequest) Validate() error {
	c := &checker{api: APIApplyToken}
	c.oneOf("grantType", r.GrantType, GrantTypeAuthorizationCode, GrantTypeRefreshToken)
	c.wallet("customerBelongsTo", r.CustomerBelongsTo)
	switch r.GrantType {
	case GrantTypeAuthorizationCode:
		c.str("authCode", r.AuthCode, true, 128)
		if r.RefreshToken != "" {
			c.fail("refreshToken", "must be empty when grantType is AUTHORIZATION_CODE")
		}
	case GrantTypeRefreshToken:
		c.str("refreshToken", r.RefreshToken, true, 128)
		if r.AuthCode != "" {
			c.fail("authCode", "must be empty when grantType is REFRESH_TOKEN")
		}
	}
	c.str("merchantRegion", r.MerchantRegion, false, 2)
	c.str("merchantAccountId", r.MerchantAccountID, false, 64)
	return c.result()
}

// Validate implements Request.
func (r *RevokeRequest) Validate() error {
	c := &checker{api: APIRevoke}
	c.str("accessToken", r.AccessToken, true, 128)
	c.str("merchantAccountId", r.MerchantAccountID, false, 64)
	return c.result()
}

// Validate implements Request. It does not check PaymentExpiryTime against
// the clock; the Client does that (see MaxPaymentExpiry).
func (r *PayRequest) Validate() error {
	c := &checker{api: APIPay}
	c.oneOf("productCode", r.ProductCode, ProductCodeAgreementPay)
	c.str("paymentRequestId", r.PaymentRequestID, true, 64)
	c.amount("paymentAmount", r.PaymentAmount)
	if w, ok := c.wallet("paymentMethod.paymentMethodType", r.PaymentMethod.PaymentMethodType); ok && c.err == nil {
		if err := w.CheckAmount(r.PaymentAmount); err != nil {
			c.fail("paymentAmount", "%v", err)
		}
	}
	c.str("paymentMethod.paymentMethodId", r.PaymentMethod.PaymentMethodID, true, 128)
	c.str("paymentMethod.customerId", r.PaymentMethod.CustomerID, false, 64)
	c.str("paymentMethod.extendInfo", r.PaymentMethod.ExtendInfo, false, 2048)
	c.str("order.referenceOrderId", r.Order.ReferenceOrderID, true, 64)
	c.str("order.orderDescription", r.Order.OrderDescription, true, 256)
	c.amount("order.orderAmount", r.Order.OrderAmount)
	if len(r.Order.Goods) > 100 {
		c.fail("order.goods", "has %d items, at most 100 allowed", len(r.Order.Goods))
	}
	for i, g := range r.Order.Goods {
		c.str(fmt.Sprintf("order.goods[%d].referenceGoodsId", i), g.ReferenceGoodsID, true, 64)
		c.str(fmt.Sprintf("order.goods[%d].goodsName", i), g.GoodsName, true, 256)
	}
	c.env("order.env", r.Order.Env)
	c.env("env", r.Env)
	c.str("paymentNotifyUrl", r.PaymentNotifyURL, false, 2048)
	c.str("paymentRedirectUrl", r.PaymentRedirectURL, false, 2048)
	c.str("userRegion", r.UserRegion, false, 2)
	c.str("merchantRegion", r.MerchantRegion, false, 2)
	c.str("merchantAccountId", r.MerchantAccountID, false, 32)
	return c.result()
}

// Validate implements Request.
func (r *InquiryPaymentRequest) Validate() error {
	return checkPaymentRef(APIInquiryPayment, r.PaymentRequestID, r.PaymentID, r.MerchantAccountID)
}

// Validate implements Request.
func (r *CancelRequest) Validate() error {
	return checkPaymentRef(APICancel, r.PaymentRequestID, r.PaymentID, r.MerchantAccountID)
}

// checkPaymentRef checks a request that names a payment by its
// paymentRequestId or paymentId (inquiryPayment, cancel).
func checkPaymentRef(api, paymentRequestID, paymentID, merchantAccountID string) error {
	c := &checker{api: api}
	if paymentRequestID == "" && paymentID == "" {
		c.fail("paymentId", "or paymentRequestId is required")
	}
	c.str("paymentRequestId", paymentRequestID, false, 64)
	c.str("paymentId", paymentID, false, 64)
	c.str("merchantAccountId", merchantAccountID, false, 32)
	return c.result()
}

// Validate implements Request.
func (r *RefundRequest) Validate() error {
	c := &checker{api: APIRefund}
	c.str("refundRequestId", r.RefundRequestID, true, 64)
	c.str("paymentId", r.PaymentID, true, 64)
	c.str("referenceRefundId", r.ReferenceRefundID, false, 64)
	c.amount("refundAmount", r.RefundAmount)
	c.str("refundReason", r.RefundReason, false, 256)
	c.str("refundNotifyUrl", r.RefundNotifyURL, false, 1024)
	return c.result()
}

// Validate implements Request.
func (r *InquiryRefundRequest) Validate() error {
	c := &checker{api: APIInquiryRefund}
	if r.RefundRequestID == "" && r.RefundID == "" {
		c.fail("refundId", "or refundRequestId is required")
	}
	c.str("refundRequestId", r.RefundRequestID, false, 64)
	c.str("refundId", r.RefundID, false, 64)
	c.str("merchantAccountId", r.MerchantAccountID, false, 32)
	return c.result()
}
