// Package autodebit is the domain of the Antom Scan to Link auto debit engine:
// authorizations, tokens, charges and refunds, their lifecycles, the store
// they live in, and the coded errors the API maps to HTTP statuses.
//
// It imports only the standard library. Adapters (sqlite, postgres, http,
// jobs) talk to each other through these types.
package autodebit

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP layer maps each to a status.
const (
	EINVALID      = "invalid"      // the request is malformed or breaks a rule; 400
	ENOTFOUND     = "not_found"    // the object does not exist; 404
	ECONFLICT     = "conflict"     // the object changed or is in the wrong state; 409
	EUNAUTHORIZED = "unauthorized" // missing or wrong credentials; 401
	EDECLINED     = "declined"     // the wallet or Antom refused; 402
	EUNAVAILABLE  = "unavailable"  // a dependency is down; retry later; 503
	ERATELIMITED  = "rate_limited" // too many failed attempts from one address; retry later; 429
	EINTERNAL     = "internal"     // a bug or an unexpected failure; 500
)

// Error is a domain error: a code the API maps to a status and a sentence
// that is safe to show to the caller.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("autodebit error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for a nil
// error and EINTERNAL for an error without a code.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, "" for
// a nil error, and "Internal error." for an internal error, whose details
// belong in the log and never in a response.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "Internal error."
}
