package antom

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxNotificationBytes is the largest notification body accepted.
const MaxNotificationBytes = 1 << 20

// AckBody is the exact reply Antom expects to every notification. Anything
// else, or no reply, makes Antom resend the notification.
var AckBody = []byte(`{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}`)

// WriteAck writes the acknowledgement Antom expects: HTTP 200 with AckBody.
// Write it only after the notification's effect is durably stored.
func WriteAck(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	w.Write(AckBody)
}

// IsAck reports whether body is the acknowledgement Antom expects: the JSON
// object of AckBody (whitespace and key order may differ).
func IsAck(body []byte) bool {
	var r struct {
		Result *Result `json:"result"`
	}
	if json.Unmarshal(body, &r) != nil || r.Result == nil {
		return false
	}
	return *r.Result == Result{ResultCode: "SUCCESS", ResultStatus: "S", ResultMessage: "success"}
}

// Notification kinds.
const (
	KindAuthorization = "authorization" // notifyAuthorization
	KindPayment       = "payment"       // notifyPayment
	KindRefund        = "refund"        // notifyRefund
)

// authorizationNotifyType values.
const (
	AuthCodeCreated = "AUTHCODE_CREATED"
	TokenCreated    = "TOKEN_CREATED"
	TokenCanceled   = "TOKEN_CANCELED"
)

// notifyType values of payment and refund notifications.
const (
	NotifyTypePaymentResult  = "PAYMENT_RESULT"
	NotifyTypePaymentPending = "PAYMENT_PENDING"
	NotifyTypeRefundResult   = "REFUND_RESULT"
)

// AuthorizationNotification is notifyAuthorization's body.
type AuthorizationNotification struct {
	AuthorizationNotifyType string `json:"authorizationNotifyType"`
	Result                  Result `json:"result"`
	AuthState               string `json:"authState,omitempty"`
	AuthCode                string `json:"authCode,omitempty"`
	// AccessToken is set for TOKEN_CREATED and TOKEN_CANCELED. Secret.
	AccessToken  string `json:"accessToken,omitempty"`
	Reason       string `json:"reason,omitempty"`
	AuthClientID string `json:"authClientId,omitempty"`
	UserLoginID  string `json:"userLoginId,omitempty"`
}

// PaymentNotification is notifyPayment's body.
type PaymentNotification struct {
	NotifyType        string           `json:"notifyType"`
	Result            Result           `json:"result"`
	PaymentRequestID  string           `json:"paymentRequestId"`
	PaymentID         string           `json:"paymentId"`
	PaymentAmount     Amount           `json:"paymentAmount"`
	PaymentCreateTime Time             `json:"paymentCreateTime,omitzero"`
	PaymentTime       Time             `json:"paymentTime,omitzero"`
	PSPCustomerInfo   *PSPCustomerInfo `json:"pspCustomerInfo,omitempty"`
	PaymentMethodType string           `json:"paymentMethodType,omitempty"`
}

// RefundNotification is notifyRefund's body.
type RefundNotification struct {
	NotifyType      string `json:"notifyType"`
	Result          Result `json:"result"`
	RefundStatus    string `json:"refundStatus"`
	RefundRequestID string `json:"refundRequestId"`
	RefundID        string `json:"refundId"`
	RefundAmount    Amount `json:"refundAmount"`
	RefundTime      Time   `json:"refundTime,omitzero"`
}

// Notification is a verified notification. Exactly one of Authorization,
// Payment and Refund is set, as Kind says.
type Notification struct {
	Kind          string
	ClientID      string
	RequestTime   string
	Path          string
	Body          []byte
	Authorization *AuthorizationNotification
	Payment       *PaymentNotification
	Refund        *RefundNotification
}

// NotificationVerifier checks notifications from Antom. Its zero value is
// not usable; set ClientID and AntomPublicKey. It is safe for concurrent use.
type NotificationVerifier struct {
	// ClientID is the merchant's client ID; notifications for another are
	// rejected.
	ClientID string
	// AntomPublicKey verifies the signature.
	AntomPublicKey *rsa.PublicKey
	// MaxAge is how long after its request-time a notification is still
	// accepted. Zero means DefaultNotificationMaxAge; negative accepts any
	// age (not advised: a captured notification could then be replayed
	// forever).
	MaxAge time.Duration
	// MaxSkew is how far ahead of NowFunc a request-time may be: the clock
	// difference between Antom and us. Zero means DefaultNotificationMaxSkew;
	// negative accepts any time ahead.
	MaxSkew time.Duration
	// NowFunc returns the current time. Nil means time.Now. Give it the same
	// clock Antom's request-times come from (a simulator's, in tests).
	NowFunc func() time.Time
}

// DefaultNotificationMaxAge is the age past which a notification is refused
// unless NotificationVerifier.MaxAge says otherwise. Antom resends an
// unacknowledged notification after 2m, 10m, 10m, 1h, 2h, 6h and 15h: the
// last attempt comes 24h22m after the first. Antom does not document whether
// a resend carries a new request-time or the first one, so the window covers
// the whole schedule plus time for Antom's own delays and clock skew: a
// genuine resend is never refused, and a captured notification cannot be
// replayed after a day.
const DefaultNotificationMaxAge = 26 * time.Hour

// DefaultNotificationMaxSkew is how far in the future a request-time may be
// unless NotificationVerifier.MaxSkew says otherwise: room for clocks that
// disagree by minutes, never for a time that no genuine sender could have
// written.
const DefaultNotificationMaxSkew = 5 * time.Minute

func rejectf(sentinel error, format string, args ...any) error {
	return &NotificationError{Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

// Verify reads, authenticates and parses a notification. The signed path is
// the request URI as received (path and query, no host). It reads at most
// MaxNotificationBytes of the body.
//
// Errors are *NotificationError wrapping ErrBodyTooLarge, ErrMissingHeader,
// ErrWrongClientID, ErrStaleTimestamp, ErrMissingSignature, ErrBadSignature,
// ErrMalformedBody or ErrUnknownNotify. Nothing should change when an error
// is returned; answer with a 4xx status.
func (v *NotificationVerifier) Verify(r *http.Request) (*Notification, error) {
	if r.Method != http.MethodPost {
		return nil, rejectf(ErrMalformedBody, "method is %s, want POST", r.Method)
	}
	if r.Body == nil {
		r.Body = http.NoBody
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxNotificationBytes+1))
	if err != nil {
		return nil, rejectf(ErrMalformedBody, "read body: %v", err)
	}
	if len(body) > MaxNotificationBytes {
		return nil, rejectf(ErrBodyTooLarge, "body is over %d bytes", MaxNotificationBytes)
	}
	uri := r.RequestURI
	if uri == "" || strings.Contains(uri, "://") {
		uri = r.URL.RequestURI()
	}
	return v.VerifyBody(uri, r.Header, body)
}

// VerifyBody is Verify for a body already read: uri is the request path plus
// query as received, header the request headers.
//
// The checks run in this order: body size; the client-id, request-time and
// Signature headers are present; client-id is ours; the signature verifies;
// request-time parses and is neither older than MaxAge nor further ahead than
// MaxSkew; the body parses. Freshness is checked only after the signature, so
// a stale verdict is never given for a forged request-time, and a replayed
// genuine notification is reported as stale.
func (v *NotificationVerifier) VerifyBody(uri string, header http.Header, body []byte) (*Notification, error) {
	if v.AntomPublicKey == nil || v.ClientID == "" {
		return nil, errors.New("antom: NotificationVerifier needs ClientID and AntomPublicKey")
	}
	if len(body) > MaxNotificationBytes {
		return nil, rejectf(ErrBodyTooLarge, "body is over %d bytes", MaxNotificationBytes)
	}
	clientID := header.Get("Client-Id")
	if clientID == "" {
		return nil, rejectf(ErrMissingHeader, "client-id header is missing")
	}
	reqTime := header.Get("Request-Time")
	if reqTime == "" {
		return nil, rejectf(ErrMissingHeader, "request-time header is missing")
	}
	sig := header.Get("Signature")
	if sig == "" {
		return nil, rejectf(ErrMissingSignature, "signature header is missing")
	}
	if clientID != v.ClientID {
		return nil, rejectf(ErrWrongClientID, "client-id %q is not ours", clip(clientID, 64))
	}
	if err := Verify(v.AntomPublicKey, http.MethodPost, uri, clientID, reqTime, body, sig); err != nil {
		return nil, &NotificationError{Reason: err.Error(), Err: ErrBadSignature}
	}
	if err := v.checkFresh(reqTime); err != nil {
		return nil, err
	}
	n, err := ParseNotification(body)
	if err != nil {
		return nil, err
	}
	n.ClientID, n.RequestTime, n.Path = clientID, reqTime, uri
	return n, nil
}

// checkFresh refuses a request-time that cannot be read, is older than
// MaxAge or is further ahead than MaxSkew. A request-time is always read,
// even with both windows off: a genuine notification always has one.
func (v *NotificationVerifier) checkFresh(reqTime string) error {
	t, err := ParseRequestTime(reqTime)
	if err != nil {
		return rejectf(ErrStaleTimestamp, "request-time %q %v", clip(reqTime, 64), err)
	}
	now := time.Now
	if v.NowFunc != nil {
		now = v.NowFunc
	}
	maxAge, maxSkew := v.MaxAge, v.MaxSkew
	if maxAge == 0 {
		maxAge = DefaultNotificationMaxAge
	}
	if maxSkew == 0 {
		maxSkew = DefaultNotificationMaxSkew
	}
	age := now().Sub(t)
	if maxAge > 0 && age > maxAge {
		return rejectf(ErrStaleTimestamp, "request-time %s is %s old, more than the %s allowed", reqTime, age.Round(time.Second), maxAge)
	}
	if maxSkew > 0 && -age > maxSkew {
		return rejectf(ErrStaleTimestamp, "request-time %s is %s ahead of our clock, more than the %s allowed", reqTime, (-age).Round(time.Second), maxSkew)
	}
	return nil
}

// ParseNotification decodes a notification body (already authenticated) and
// checks the fields every notification of its kind must have. Errors are
// *NotificationError wrapping ErrMalformedBody or ErrUnknownNotify.
func ParseNotification(body []byte) (*Notification, error) {
	var probe struct {
		AuthorizationNotifyType *string `json:"authorizationNotifyType"`
		NotifyType              *string `json:"notifyType"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, rejectf(ErrMalformedBody, "body is not a JSON object: %v", err)
	}
	n := &Notification{Body: body}
	var target any
	switch {
	case probe.AuthorizationNotifyType != nil:
		switch *probe.AuthorizationNotifyType {
		case AuthCodeCreated, TokenCreated, TokenCanceled:
		default:
			return nil, rejectf(ErrUnknownNotify, "authorizationNotifyType %q is not AUTHCODE_CREATED, TOKEN_CREATED or TOKEN_CANCELED", *probe.AuthorizationNotifyType)
		}
		n.Kind, n.Authorization = KindAuthorization, new(AuthorizationNotification)
		target = n.Authorization
	case probe.NotifyType != nil:
		switch *probe.NotifyType {
		case NotifyTypePaymentResult, NotifyTypePaymentPending:
			n.Kind, n.Payment = KindPayment, new(PaymentNotification)
			target = n.Payment
		case NotifyTypeRefundResult:
			n.Kind, n.Refund = KindRefund, new(RefundNotification)
			target = n.Refund
		default:
			return nil, rejectf(ErrUnknownNotify, "notifyType %q is not PAYMENT_RESULT, PAYMENT_PENDING or REFUND_RESULT", *probe.NotifyType)
		}
	default:
		return nil, rejectf(ErrUnknownNotify, "body has neither authorizationNotifyType nor notifyType")
	}
	if err := decodeStrict(body, target); err != nil {
		return nil, rejectf(ErrMalformedBody, "%v", err)
	}
	if err := n.check(); err != nil {
		return nil, rejectf(ErrMalformedBody, "%v", err)
	}
	return n, nil
}

// decodeStrict decodes one JSON value and refuses trailing data.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func checkResult(r Result) error {
	switch r.ResultStatus {
	case StatusSuccess, StatusFail, StatusUnknown:
	default:
		return fmt.Errorf("result.resultStatus is %q, want S, F or U", r.ResultStatus)
	}
	if r.ResultCode == "" {
		return errors.New("result.resultCode is missing")
	}
	return nil
}

func (n *Notification) check() error {
	switch n.Kind {
	case KindAuthorization:
		a := n.Authorization
		if err := checkResult(a.Result); err != nil {
			return err
		}
		switch a.AuthorizationNotifyType {
		case AuthCodeCreated:
			if a.AuthCode == "" || a.AuthState == "" {
				return errors.New("AUTHCODE_CREATED needs authCode and authState")
			}
		case TokenCreated:
			if a.AccessToken == "" {
				return errors.New("TOKEN_CREATED needs accessToken")
			}
		case TokenCanceled:
			if a.AccessToken == "" {
				return errors.New("TOKEN_CANCELED needs accessToken")
			}
		}
	case KindPayment:
		p := n.Payment
		if err := checkResult(p.Result); err != nil {
			return err
		}
		if p.PaymentRequestID == "" {
			return errors.New("paymentRequestId is missing")
		}
		if p.PaymentID == "" {
			return errors.New("paymentId is missing")
		}
		if p.PaymentAmount.Currency == "" {
			return errors.New("paymentAmount is missing")
		}
	case KindRefund:
		f := n.Refund
		if err := checkResult(f.Result); err != nil {
			return err
		}
		if f.RefundRequestID == "" && f.RefundID == "" {
			return errors.New("refundRequestId and refundId are missing")
		}
		if f.RefundAmount.Currency == "" {
			return errors.New("refundAmount is missing")
		}
		switch f.RefundStatus {
		case RefundStatusSuccess, RefundStatusFail:
		default:
			return fmt.Errorf("refundStatus is %q, want SUCCESS or FAIL", f.RefundStatus)
		}
	}
	return nil
}

// ParseRequestTime reads a Request-Time or Response-Time header: Unix epoch
// milliseconds (what current SDKs send) or ISO 8601 with a UTC offset in any
// form ParseTime reads (what older ones send).
func ParseRequestTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("is empty")
	}
	if s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, "-:T") {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, errors.New("is not epoch milliseconds")
		}
		return time.UnixMilli(ms), nil
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("is neither epoch milliseconds nor ISO 8601 with a UTC offset: it %v", err)
	}
	return t, nil
}

// NewNotificationRequest builds a notification as Antom sends it: a POST of
// body to notifyURL with client-id, request-time and a signature over the
// URL's path and query, made with Antom's private key. Simulators and tests
// use it.
func NewNotificationRequest(ctx context.Context, notifyURL, clientID, requestTime string, key *rsa.PrivateKey, keyVersion string, body []byte) (*http.Request, error) {
	u, err := url.Parse(notifyURL)
	if err != nil {
		return nil, fmt.Errorf("notification URL %q: %w", notifyURL, err)
	}
	sig, err := Sign(key, http.MethodPost, u.RequestURI(), clientID, requestTime, body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, notifyURL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("notification request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("Client-Id", clientID)
	req.Header.Set("Request-Time", requestTime)
	req.Header.Set("Signature", SignatureHeader(keyVersion, sig))
	return req, nil
}

// clip shortens an attacker-controlled value before it goes into an error.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
