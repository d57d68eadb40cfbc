package autodebit

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// ID prefixes of the objects the engine owns.
const (
	AuthorizationIDPrefix = "auth_"
	TokenIDPrefix         = "tok_"
	ChargeIDPrefix        = "chg_"
	RefundIDPrefix        = "rfd_"
	LinkSessionIDPrefix   = "ls_"
	SubscriptionIDPrefix  = "sub_"
	EventIDPrefix         = "evt_" // merchant-facing events
	TimelineEntryIDPrefix = "tle_"

	WebhookEndpointIDPrefix = "we_"
	DeliveryIDPrefix        = "dlv_"
)

// Prefixes of the request identifiers the engine sends to Antom.
const (
	authStatePrefix        = "as_"
	paymentRequestIDPrefix = "pr_"
	refundRequestIDPrefix  = "rr_"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns prefix followed by 26 characters encoding 128 random bits
// from crypto/rand, e.g. "chg_mfrggzdfmztwq2lknnwg23tpoa".
func NewID(prefix string) string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error; panics if the system has no randomness
	return prefix + idEncoding.EncodeToString(b[:])
}

// NewAuthState returns a fresh authState for a consult call: one per
// authorization attempt. Like every request ID here it is at most 64
// characters of [A-Za-z0-9_-].
func NewAuthState() string { return NewID(authStatePrefix) }

// NewPaymentRequestID returns a fresh paymentRequestId for a pay call. A
// charge keeps its paymentRequestId for every resend, inquiry and cancel.
func NewPaymentRequestID() string { return NewID(paymentRequestIDPrefix) }

// NewRefundRequestID returns a fresh refundRequestId for a refund call.
func NewRefundRequestID() string { return NewID(refundRequestIDPrefix) }

// IsRequestID reports whether s is usable as an Antom request ID: 1 to 64
// characters of [A-Za-z0-9_-].
func IsRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	return strings.IndexFunc(s, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-')
	}) < 0
}
