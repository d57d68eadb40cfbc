package antom

import (
	"errors"
	"fmt"
)

// Outcome classes. Every Client call ends in exactly one of:
//
//   - a nil error and a verified response whose Result.ResultStatus is S, F
//     or U (a business failure F is not a Go error);
//   - an error matching ErrNotSent: the request certainly never reached
//     Antom (bad request caught by validation, dial refused, request not
//     fully written, context done before sending). Nothing can have happened.
//   - an error matching ErrMaybeSent: the request may have reached Antom and
//     may have changed something (timeout after sending, connection reset
//     while reading the answer, HTTP 5xx, an answer that could not be
//     verified). Resend the same request or inquire.
//
// Use errors.Is(err, antom.ErrMaybeSent) to branch; errors.As with
// *TransportError, *ResponseError or *ValidationError for details.
var (
	ErrNotSent   = errors.New("antom: request not sent")
	ErrMaybeSent = errors.New("antom: request may have reached Antom")
)

// Signature and notification errors. They are matched with errors.Is.
var (
	ErrBadSignature     = errors.New("antom: bad signature")
	ErrMissingSignature = errors.New("antom: missing signature")
	ErrStaleTimestamp   = errors.New("antom: stale timestamp")
	ErrWrongClientID    = errors.New("antom: wrong client ID")
	ErrMissingHeader    = errors.New("antom: missing header")
	ErrMalformedBody    = errors.New("antom: malformed body")
	ErrUnknownNotify    = errors.New("antom: unknown notification type")
	ErrBodyTooLarge     = errors.New("antom: body too large")
)

// ValidationError reports a request that was refused before anything was
// sent. Field is the JSON path of the offending field, e.g.
// "paymentAmount.value". It matches ErrNotSent.
type ValidationError struct {
	API    string
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	if e.API == "" {
		return fmt.Sprintf("antom: %s %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("antom %s: %s %s", e.API, e.Field, e.Reason)
}

// Is reports whether target is ErrNotSent.
func (e *ValidationError) Is(target error) bool { return target == ErrNotSent }

// TransportError is a failure to exchange an HTTP request and response.
// MaybeSent tells which outcome class it belongs to; Is matches ErrNotSent or
// ErrMaybeSent accordingly.
type TransportError struct {
	API       string
	Op        string // "connect", "write", "read"
	MaybeSent bool
	Err       error
}

func (e *TransportError) Error() string {
	cls := "not sent"
	if e.MaybeSent {
		cls = "may have reached Antom"
	}
	return fmt.Sprintf("antom %s: %s (%s): %v", e.API, e.Op, cls, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// Is matches the outcome class of the error.
func (e *TransportError) Is(target error) bool {
	switch target {
	case ErrMaybeSent:
		return e.MaybeSent
	case ErrNotSent:
		return !e.MaybeSent
	}
	return false
}

// ResponseError is an answer from the server that is not a verified Antom
// result: an HTTP status other than 200, a body that is not an Antom result,
// a missing or wrong signature. The request reached the server, so it
// matches ErrMaybeSent; a bad signature also matches ErrBadSignature and a
// missing one ErrMissingSignature.
//
// Result is set when the body parsed as an Antom result (for example the
// unsigned INVALID_SIGNATURE answer Antom gives when it rejects a request's
// signature); it is informational only, since nothing vouches for it.
type ResponseError struct {
	API        string
	StatusCode int
	Result     *Result
	Body       []byte
	Err        error
}

func (e *ResponseError) Error() string {
	msg := fmt.Sprintf("antom %s: HTTP %d", e.API, e.StatusCode)
	if e.Result != nil {
		msg += fmt.Sprintf(" %s/%s %q", e.Result.ResultStatus, e.Result.ResultCode, e.Result.ResultMessage)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ResponseError) Unwrap() error { return e.Err }

// Is matches ErrMaybeSent.
func (e *ResponseError) Is(target error) bool { return target == ErrMaybeSent }

// NotificationError reports why a notification was rejected. It wraps one of
// ErrMissingHeader, ErrMissingSignature, ErrBadSignature, ErrWrongClientID,
// ErrStaleTimestamp, ErrMalformedBody, ErrUnknownNotify or ErrBodyTooLarge.
type NotificationError struct {
	Reason string
	Err    error
}

func (e *NotificationError) Error() string {
	return fmt.Sprintf("antom notification rejected: %s", e.Reason)
}

func (e *NotificationError) Unwrap() error { return e.Err }
