package antom

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Well-known Antom domains. Pick the one of your contract's region.
const (
	URLNorthAmerica = "https://open-na-global.alipay.com"
	URLAsia         = "https://open-sea-global.alipay.com"
	URLEurope       = "https://open-de-global.alipay.com"
)

// MaxPaymentExpiry is the longest paymentExpiryTime Scan to Link accepts,
// counted from when pay is sent; it is also the default.
const MaxPaymentExpiry = time.Minute

// MaxResponseBytes bounds the body the Client reads from Antom.
const MaxResponseBytes = 4 << 20

// Config configures a Client.
type Config struct {
	// BaseURL is the scheme and host of Antom's gateway, e.g. URLAsia, or a
	// simulator's URL. Required.
	BaseURL string
	// ClientID is the merchant's Client-Id. A ClientID starting with
	// "SANDBOX_" sends requests to /ams/sandbox/api instead of /ams/api.
	ClientID string
	// PrivateKey is the merchant's private key, used to sign requests.
	PrivateKey *rsa.PrivateKey
	// AntomPublicKey verifies Antom's responses.
	AntomPublicKey *rsa.PublicKey
	// KeyVersion is sent in the Signature header. Empty means "1".
	KeyVersion string
	// HTTPClient sends the requests. Nil means a client of this package with
	// connection reuse (64 idle connections per host) and no overall timeout.
	HTTPClient *http.Client
	// Timeout bounds each call when the context has no earlier deadline.
	// Zero means 30s.
	Timeout time.Duration
	// NowFunc returns the current time, for Request-Time and expiry checks.
	// Nil means time.Now.
	NowFunc func() time.Time
	// ObserveFunc, if set, is called once after every call with what was
	// sent and what came back, for audit trails and metrics. The Exchange
	// must not be retained after ObserveFunc returns; its bodies contain
	// secrets such as access tokens.
	ObserveFunc func(ctx context.Context, x *Exchange)
}

// Exchange records one call to Antom.
type Exchange struct {
	API          string
	Path         string
	RequestTime  string
	RequestBody  []byte
	StatusCode   int // 0 when no response was received
	ResponseBody []byte
	Result       *Result // set for a verified response
	Err          error   // nil for a verified response
	Start        time.Time
	Duration     time.Duration
}

// Client calls Antom's Open API. It is safe for concurrent use.
type Client struct {
	cfg        Config
	httpClient *http.Client
	prefix     string
	now        func() time.Time
}

var defaultHTTPClient = &http.Client{
	Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	},
}

// NewClient checks cfg and returns a Client.
func NewClient(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("antom client: BaseURL is required")
	}
	if !strings.HasPrefix(cfg.BaseURL, "http://") && !strings.HasPrefix(cfg.BaseURL, "https://") {
		return nil, fmt.Errorf("antom client: BaseURL %q must start with https:// or http://", cfg.BaseURL)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("antom client: ClientID is required")
	}
	if cfg.PrivateKey == nil {
		return nil, errors.New("antom client: PrivateKey (the merchant private key) is required")
	}
	if cfg.AntomPublicKey == nil {
		return nil, errors.New("antom client: AntomPublicKey is required to verify responses")
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.KeyVersion == "" {
		cfg.KeyVersion = DefaultKeyVersion
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	c := &Client{cfg: cfg, httpClient: cfg.HTTPClient, prefix: PathPrefix(cfg.ClientID), now: cfg.NowFunc}
	if c.httpClient == nil {
		c.httpClient = defaultHTTPClient
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// PathPrefix returns "/ams/sandbox/api" for a sandbox client ID (one that
// starts with "SANDBOX_") and "/ams/api" otherwise.
func PathPrefix(clientID string) string {
	if strings.HasPrefix(clientID, "SANDBOX_") {
		return "/ams/sandbox/api"
	}
	return "/ams/api"
}

// ClientID returns the configured client ID.
func (c *Client) ClientID() string { return c.cfg.ClientID }

// Consult asks for the Scan to Link QR code. See ConsultRequest.
func (c *Client) Consult(ctx context.Context, req *ConsultRequest) (*ConsultResponse, error) {
	return call(ctx, c, req, new(ConsultResponse))
}

// ApplyToken exchanges an authCode or a refresh token for an access token.
// Call it within one minute of receiving the authCode; an authCode works once.
func (c *Client) ApplyToken(ctx context.Context, req *ApplyTokenRequest) (*ApplyTokenResponse, error) {
	return call(ctx, c, req, new(ApplyTokenResponse))
}

// Revoke invalidates an access token and its refresh token.
func (c *Client) Revoke(ctx context.Context, req *RevokeRequest) (*RevokeResponse, error) {
	return call(ctx, c, req, new(RevokeResponse))
}

// Pay debits the buyer with an access token. Before sending it checks that
// PaymentExpiryTime, if set, lies within MaxPaymentExpiry of now.
//
// Result S means debited, F failed (final), U unknown: with
// PAYMENT_IN_PROCESS inquire or wait for notifyPayment, otherwise resend the
// same request (see Retry).
func (c *Client) Pay(ctx context.Context, req *PayRequest) (*PayResponse, error) {
	if !req.PaymentExpiryTime.IsZero() {
		now := c.now()
		if !req.PaymentExpiryTime.After(now) {
			return nil, &ValidationError{API: APIPay, Field: "paymentExpiryTime", Reason: "is not in the future"}
		}
		if req.PaymentExpiryTime.Sub(now) > MaxPaymentExpiry {
			return nil, &ValidationError{API: APIPay, Field: "paymentExpiryTime", Reason: "is more than one minute after now; Scan to Link allows at most one minute"}
		}
	}
	return call(ctx, c, req, new(PayResponse))
}

// InquiryPayment asks for a payment's status.
func (c *Client) InquiryPayment(ctx context.Context, req *InquiryPaymentRequest) (*InquiryPaymentResponse, error) {
	return call(ctx, c, req, new(InquiryPaymentResponse))
}

// Cancel cancels a payment; a paid one is refunded in full.
func (c *Client) Cancel(ctx context.Context, req *CancelRequest) (*CancelResponse, error) {
	return call(ctx, c, req, new(CancelResponse))
}

// Refund refunds all or part of a payment.
func (c *Client) Refund(ctx context.Context, req *RefundRequest) (*RefundResponse, error) {
	return call(ctx, c, req, new(RefundResponse))
}

// InquiryRefund asks for a refund's status.
func (c *Client) InquiryRefund(ctx context.Context, req *InquiryRefundRequest) (*InquiryRefundResponse, error) {
	return call(ctx, c, req, new(InquiryRefundResponse))
}

// call validates, sends and verifies one request and decodes its response.
func call[R Response](ctx context.Context, c *Client, req Request, resp R) (R, error) {
	var zero R
	if err := req.Validate(); err != nil {
		return zero, err
	}
	body, err := MarshalBody(req)
	if err != nil {
		return zero, &ValidationError{API: req.API(), Field: "(body)", Reason: err.Error()}
	}
	if err := c.do(ctx, req.API(), body, resp); err != nil {
		return zero, err
	}
	return resp, nil
}

// MarshalBody encodes v as Antom expects: compact JSON without HTML escaping.
func MarshalBody(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// do sends a signed body to api and decodes the verified answer into resp.
func (c *Client) do(ctx context.Context, api string, body []byte, resp Response) (err error) {
	path := c.prefix + apiPaths[api]
	x := &Exchange{API: api, Path: path, RequestBody: body, Start: c.now()}
	if c.cfg.ObserveFunc != nil {
		defer func() {
			x.Err = err
			x.Duration = c.now().Sub(x.Start)
			c.cfg.ObserveFunc(ctx, x)
		}()
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return &TransportError{API: api, Op: "connect", Err: err}
	}

	x.RequestTime = strconv.FormatInt(c.now().UnixMilli(), 10)
	sig, err := Sign(c.cfg.PrivateKey, http.MethodPost, path, c.cfg.ClientID, x.RequestTime, body)
	if err != nil {
		return &TransportError{API: api, Op: "sign", Err: err}
	}

	// sendState tracks the current attempt of the transport (it may retry
	// on a fresh connection when a reused one failed before anything was
	// written, so GetConn starts over). Only an attempt that never got a
	// connection, or whose write failed, certainly did not reach Antom: the
	// transport reports WroteRequest before flushing its buffer, and once a
	// connection is held the write may be under way when Do gives up.
	var sendState atomic.Int32
	trace := &httptrace.ClientTrace{
		GetConn: func(string) { sendState.Store(stateNoConn) },
		GotConn: func(httptrace.GotConnInfo) { sendState.Store(stateGotConn) },
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err != nil {
				sendState.Store(stateWriteFailed)
			} else {
				sendState.Store(stateWrote)
			}
		},
	}
	hreq, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, c.cfg.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return &TransportError{API: api, Op: "connect", Err: err}
	}
	hreq.Header.Set("Content-Type", "application/json; charset=UTF-8")
	hreq.Header.Set("Client-Id", c.cfg.ClientID)
	hreq.Header.Set("Request-Time", x.RequestTime)
	hreq.Header.Set("Signature", SignatureHeader(c.cfg.KeyVersion, sig))

	hresp, err := c.httpClient.Do(hreq)
	if err != nil {
		switch sendState.Load() {
		case stateNoConn:
			return &TransportError{API: api, Op: "connect", Err: err}
		case stateWriteFailed:
			return &TransportError{API: api, Op: "write", Err: err}
		case stateGotConn:
			return &TransportError{API: api, Op: "write", MaybeSent: true, Err: err}
		default:
			return &TransportError{API: api, Op: "read", MaybeSent: true, Err: err}
		}
	}
	defer hresp.Body.Close()
	x.StatusCode = hresp.StatusCode
	raw, err := io.ReadAll(io.LimitReader(hresp.Body, MaxResponseBytes+1))
	if err != nil {
		return &TransportError{API: api, Op: "read", MaybeSent: true, Err: err}
	}
	x.ResponseBody = raw
	if len(raw) > MaxResponseBytes {
		return &ResponseError{API: api, StatusCode: hresp.StatusCode, Err: fmt.Errorf("%w: response is over %d bytes", ErrBodyTooLarge, MaxResponseBytes)}
	}
	if hresp.StatusCode != http.StatusOK {
		return &ResponseError{API: api, StatusCode: hresp.StatusCode, Result: peekResult(raw), Body: raw,
			Err: fmt.Errorf("unexpected HTTP status %s", hresp.Status)}
	}

	sigHeader := hresp.Header.Get("Signature")
	respTime := hresp.Header.Get("Response-Time")
	if sigHeader == "" || respTime == "" {
		return &ResponseError{API: api, StatusCode: hresp.StatusCode, Result: peekResult(raw), Body: raw,
			Err: fmt.Errorf("%w: response has no Signature or Response-Time header", ErrMissingSignature)}
	}
	// antom-api.md §1.4: the response is signed over the request's method
	// and path, the response's own Client-Id header (Antom echoes ours) and
	// its Response-Time. A response without Client-Id is checked against
	// ours, which is what it would have to echo.
	respClientID := hresp.Header.Get("Client-Id")
	if respClientID == "" {
		respClientID = c.cfg.ClientID
	}
	if err := Verify(c.cfg.AntomPublicKey, http.MethodPost, path, respClientID, respTime, raw, sigHeader); err != nil {
		return &ResponseError{API: api, StatusCode: hresp.StatusCode, Result: peekResult(raw), Body: raw, Err: err}
	}
	if respClientID != c.cfg.ClientID {
		return &ResponseError{API: api, StatusCode: hresp.StatusCode, Body: raw,
			Err: fmt.Errorf("%w: response is for client %q", ErrWrongClientID, respClientID)}
	}
	if err := json.Unmarshal(raw, resp); err != nil {
		return &ResponseError{API: api, StatusCode: hresp.StatusCode, Body: raw, Err: fmt.Errorf("%w: %v", ErrMalformedBody, err)}
	}
	res := resp.GetResult()
	switch res.ResultStatus {
	case StatusSuccess, StatusFail, StatusUnknown:
	default:
		return &ResponseError{API: api, StatusCode: hresp.StatusCode, Body: raw,
			Err: fmt.Errorf("%w: result.resultStatus is %q, want S, F or U", ErrMalformedBody, res.ResultStatus)}
	}
	if res.ResultCode == "" {
		return &ResponseError{API: api, StatusCode: hresp.StatusCode, Body: raw,
			Err: fmt.Errorf("%w: result.resultCode is empty", ErrMalformedBody)}
	}
	x.Result = &res
	return nil
}

// States of one transport attempt, see Client.do.
const (
	stateNoConn int32 = iota
	stateGotConn
	stateWrote
	stateWriteFailed
)

// peekResult returns the result object of body, if it has one.
func peekResult(body []byte) *Result {
	var v struct {
		Result *Result `json:"result"`
	}
	if json.Unmarshal(body, &v) != nil || v.Result == nil || v.Result.ResultStatus == "" {
		return nil
	}
	return v.Result
}
