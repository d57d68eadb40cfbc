package antomsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/autodebit/autodebit/antom"
)

// MaxRequestBytes bounds the body of an API request; a larger one gets
// PARAM_ILLEGAL.
const MaxRequestBytes = 1 << 20

// apiByPath maps a path below /ams/api to its API name.
var apiByPath = func() map[string]string {
	m := map[string]string{}
	for _, api := range antom.APIs() {
		p, _ := antom.APIPath(api)
		m[p] = api
	}
	return m
}()

func newRequest(api string) antom.Request {
	switch api {
	case antom.APIConsult:
		return new(antom.ConsultRequest)
	case antom.APIApplyToken:
		return new(antom.ApplyTokenRequest)
	case antom.APIRevoke:
		return new(antom.RevokeRequest)
	case antom.APIPay:
		return new(antom.PayRequest)
	case antom.APIInquiryPayment:
		return new(antom.InquiryPaymentRequest)
	case antom.APICancel:
		return new(antom.CancelRequest)
	case antom.APIRefund:
		return new(antom.RefundRequest)
	case antom.APIInquiryRefund:
		return new(antom.InquiryRefundRequest)
	}
	return nil
}

// serveAPI handles /ams/api/v1/... and /ams/sandbox/api/v1/...: checks the
// request as Antom does, applies faults, runs the API and signs the answer.
// Every answer is HTTP 200 with an Antom result, except injected HTTP 5xx
// and timeouts.
func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request) {
	received := time.Now()
	clientID := r.Header.Get("Client-Id")
	respClientID := clientID
	if respClientID == "" {
		respClientID = s.cfg.ClientID
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("antomsim: panic serving API", "path", r.URL.Path, "panic", v)
			s.writeAPI(w, r, respClientID, s.fail(antom.CodeUnknownException, "internal simulator error"), true)
		}
	}()
	rest, ok := strings.CutPrefix(r.URL.Path, "/ams/api")
	if !ok {
		rest, ok = strings.CutPrefix(r.URL.Path, "/ams/sandbox/api")
	}
	api := apiByPath[rest]
	if !ok || api == "" {
		s.writeAPI(w, r, respClientID, s.fail(antom.CodeNoInterfaceDef, "no API at %s", r.URL.Path), true)
		return
	}
	if r.Method != http.MethodPost {
		s.writeAPI(w, r, respClientID, s.fail(antom.CodeMethodNotSupported, "method %s is not supported; use POST", r.Method), true)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.writeAPI(w, r, respClientID, s.fail(antom.CodeMediaTypeNotAcceptable, "Content-Type must be application/json; charset=UTF-8"), true)
		return
	}
	if clientID != s.cfg.ClientID {
		s.writeAPI(w, r, respClientID, s.fail(antom.CodeClientInvalid, "Client-Id %q is not known", clientID), true)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
	if err != nil {
		s.writeAPI(w, r, respClientID, s.fail(antom.CodeParamIllegal, "could not read the body"), true)
		return
	}
	if s.merchantKey != nil {
		reqTime := r.Header.Get("Request-Time")
		err := errors.New("Request-Time header is missing")
		if reqTime != "" {
			err = antom.Verify(s.merchantKey, r.Method, requestURI(r), clientID, reqTime, body, r.Header.Get("Signature"))
		}
		if err != nil {
			// Antom does not sign the answer to a bad signature.
			s.writeAPI(w, r, respClientID, s.fail(antom.CodeInvalidSignature, "signature verification failed: %v", err), false)
			return
		}
	}
	if len(body) > MaxRequestBytes {
		s.writeAPI(w, r, respClientID, s.fail(antom.CodeParamIllegal, "body is over %d bytes", MaxRequestBytes), true)
		return
	}
	req := newRequest(api)
	if err := decodeBody(body, req); err != nil {
		s.writeAPI(w, r, respClientID, s.fail(antom.CodeParamIllegal, "%v", err), true)
		return
	}
	if err := req.Validate(); err != nil {
		s.writeAPI(w, r, respClientID, s.validationFailure(req, err), true)
		return
	}

	latency, fault := s.apiFault(api)
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
		}
	}
	if fault != nil {
		switch fault.Kind {
		case FaultHTTP5xx:
			status := fault.Status
			if status == 0 {
				status = http.StatusServiceUnavailable
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(status)
			fmt.Fprintf(w, "%d %s (injected fault)\n", status, http.StatusText(status))
			return
		case FaultUnknown:
			s.writeAPI(w, r, respClientID, s.unknown(fault), true)
			return
		}
	}
	// The times a request carries are judged against its Request-Time plus
	// the real time it spent here before being processed (an injected
	// latency above all): a pay that arrives after its paymentExpiryTime is
	// refused, as Antom does, or the engine, which takes an order closed
	// without an answer as never debited, would record FAIL for a debit.
	sent := requestTime(r)
	if !sent.IsZero() {
		sent = sent.Add(time.Since(received))
	}
	resp := s.process(req, s.now(), sent, s.baseURL(r))
	if fault != nil {
		switch fault.Kind {
		case FaultUnknownAfterCommit:
			resp = s.unknown(fault)
		case FaultTimeout:
			if d := time.Duration(fault.Latency); d > 0 {
				select {
				case <-time.After(d):
				case <-r.Context().Done():
				}
			}
			panic(http.ErrAbortHandler) // drops the connection without an answer
		}
	}
	s.writeAPI(w, r, respClientID, resp, true)
}

func (s *Sim) unknown(f *APIFault) *errorResponse {
	code := f.ResultCode
	if code == "" {
		code = antom.CodeUnknownException
	}
	return &errorResponse{Result: antom.Result{ResultCode: s.code(code), ResultStatus: antom.StatusUnknown,
		ResultMessage: resultMessages[antom.CodeUnknownException]}}
}

// validationFailure turns a Validate error into Antom's answer:
// PARAM_ILLEGAL naming the field, except wallet currency and limits on pay,
// which get CURRENCY_NOT_SUPPORT and PAYMENT_AMOUNT_EXCEED_LIMIT.
func (s *Sim) validationFailure(req antom.Request, err error) *errorResponse {
	var ve *antom.ValidationError
	if !errors.As(err, &ve) {
		return s.fail(antom.CodeParamIllegal, "%v", err)
	}
	if p, ok := req.(*antom.PayRequest); ok && ve.Field == "paymentAmount" && antom.CheckAmount(p.PaymentAmount) == nil {
		if w, ok := antom.LookupWallet(p.PaymentMethod.PaymentMethodType); ok {
			switch {
			case p.PaymentAmount.Currency != w.Currency:
				return s.fail(antom.CodeCurrencyNotSupport, "%s", ve.Reason)
			case w.MaxValue > 0 && p.PaymentAmount.Value > w.MaxValue:
				return s.fail(CodePaymentAmountExceedLimit, "%s", ve.Reason)
			}
		}
	}
	return s.fail(antom.CodeParamIllegal, "%s %s", ve.Field, ve.Reason)
}

// decodeBody decodes one JSON object into v, describing errors as Antom's
// PARAM_ILLEGAL messages do.
func decodeBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("body is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te) && te.Field == "":
			return errors.New("body must be a JSON object")
		case errors.As(err, &te):
			return fmt.Errorf("%s must be a JSON %s, got a JSON %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		case errors.As(err, &se):
			return fmt.Errorf("body is not valid JSON at byte %d: %v", se.Offset, se)
		default:
			return fmt.Errorf("body: %v", err)
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("body has data after the JSON object")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "slice", "array":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	}
	return goKind
}

// requestTime is when the merchant sent r by its own clock: its
// Request-Time header (signed, when the simulator checks signatures), or
// zero when the header is missing or unreadable.
func requestTime(r *http.Request) time.Time {
	t, err := antom.ParseRequestTime(r.Header.Get("Request-Time"))
	if err != nil {
		return time.Time{}
	}
	return t
}

func requestURI(r *http.Request) string {
	if r.RequestURI != "" && !strings.Contains(r.RequestURI, "://") {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// baseURL is Config.BaseURL or the URL the request came to.
func (s *Sim) baseURL(r *http.Request) string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// writeAPI writes an Antom answer, signed with Antom's key unless signed is
// false (only for INVALID_SIGNATURE).
func (s *Sim) writeAPI(w http.ResponseWriter, r *http.Request, clientID string, v any, signed bool) {
	body, err := antom.MarshalBody(v)
	if err != nil {
		s.log.Error("antomsim: marshal response", "err", err)
		body, _ = antom.MarshalBody(s.fail(antom.CodeUnknownException, ""))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("Client-Id", clientID)
	if signed {
		rt := s.timeHeader(s.headerNow())
		sig, err := antom.Sign(s.key, r.Method, requestURI(r), clientID, rt, body)
		if err != nil {
			s.log.Error("antomsim: sign response", "err", err)
		} else {
			h.Set("Response-Time", rt)
			h.Set("Signature", antom.SignatureHeader(antom.DefaultKeyVersion, sig))
		}
	}
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
