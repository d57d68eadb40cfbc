package autodebit

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// AuthorizationTTL is how long an authorization waits for the buyer: with no
// authCode after this long it is EXPIRED and the buyer must start again.
const AuthorizationTTL = 15 * time.Minute

// AuthorizationStatus is the state of one linking attempt.
type AuthorizationStatus string

// Authorization statuses. ACTIVE, FAILED and EXPIRED are final.
const (
	AuthorizationPending    AuthorizationStatus = "PENDING"    // QR shown, waiting for the buyer
	AuthorizationAuthorized AuthorizationStatus = "AUTHORIZED" // authCode received, applyToken running
	AuthorizationActive     AuthorizationStatus = "ACTIVE"     // token stored
	AuthorizationFailed     AuthorizationStatus = "FAILED"     // applyToken F, or the buyer denied
	AuthorizationExpired    AuthorizationStatus = "EXPIRED"    // no authCode within AuthorizationTTL
)

var authorizationTransitions = map[AuthorizationStatus][]AuthorizationStatus{
	AuthorizationPending:    {AuthorizationAuthorized, AuthorizationFailed, AuthorizationExpired},
	AuthorizationAuthorized: {AuthorizationActive, AuthorizationFailed, AuthorizationExpired},
}

// AuthorizationStatuses returns every authorization status, in lifecycle order.
func AuthorizationStatuses() []AuthorizationStatus {
	return []AuthorizationStatus{AuthorizationPending, AuthorizationAuthorized, AuthorizationActive, AuthorizationFailed, AuthorizationExpired}
}

// Valid reports whether s is a known status.
func (s AuthorizationStatus) Valid() bool { return contains(AuthorizationStatuses(), s) }

// Final reports whether s can never change.
func (s AuthorizationStatus) Final() bool { return s.Valid() && len(authorizationTransitions[s]) == 0 }

// CanTransition reports whether an authorization may move from s to to.
// Staying in the same status is not a transition.
func (s AuthorizationStatus) CanTransition(to AuthorizationStatus) bool {
	return contains(authorizationTransitions[s], to)
}

// Authorization is one attempt to link a buyer's wallet: a consult call, the
// QR code the buyer scans, the authCode Antom notifies, and the token that
// applyToken turns it into. A new attempt gets a new Authorization and a new
// AuthState.
type Authorization struct {
	ID         string              `json:"id"`
	CustomerID string              `json:"customerId"` // the merchant's buyer reference
	Wallet     string              `json:"wallet"`     // Antom customerBelongsTo, e.g. GCASH
	Status     AuthorizationStatus `json:"status"`

	// AuthState is the authState sent to consult; unique per attempt, it is
	// how the authorization notification finds this row.
	AuthState  string `json:"-"`
	QRText     string `json:"qrText"`
	QRImageURL string `json:"qrImageUrl"`

	// AuthCode is single-use and dies one minute after it is issued. It is
	// kept, encrypted at rest, only until applyToken has used it; clear it
	// when leaving AUTHORIZED.
	AuthCode string `json:"-"`

	// LinkSessionID is the link session this attempt belongs to, if any.
	LinkSessionID string `json:"linkSessionId,omitempty"`

	TokenID        string    `json:"tokenId,omitempty"` // set when ACTIVE
	FailureCode    string    `json:"failureCode,omitempty"`
	FailureMessage string    `json:"failureMessage,omitempty"`
	ExpiresAt      time.Time `json:"expiresAt"` // CreatedAt + AuthorizationTTL
	AuthorizedAt   time.Time `json:"authorizedAt,omitzero"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`

	// Version is incremented by every write; updates are compare-and-set on it.
	Version int64 `json:"-"`
}

// Validate returns EINVALID if a required field is missing or malformed.
//
// A new authorization (Version 0) must also have a customer ID without
// invisible or direction-changing characters (see CheckVisible): the ID
// names the buyer on every page and list an operator reads. Rows stored
// before that rule still validate, so that their links, tokens and charges
// can finish their lifecycle.
func (a *Authorization) Validate() error {
	if err := validateCustomer(a.CustomerID, a.Wallet); err != nil {
		return err
	} else if err := CheckVisible("Customer ID", a.CustomerID); a.Version == 0 && err != nil {
		return err
	} else if !a.Status.Valid() {
		return Errorf(EINVALID, "Authorization status %q is not valid.", a.Status)
	} else if !IsRequestID(a.AuthState) {
		return Errorf(EINVALID, "Authorization authState must be 1 to 64 characters of letters, digits, _ and -.")
	} else if a.ExpiresAt.IsZero() {
		return Errorf(EINVALID, "Authorization expiry is required.")
	} else if a.Status == AuthorizationActive && a.TokenID == "" {
		return Errorf(EINVALID, "An ACTIVE authorization must have a token.")
	}
	return nil
}

// AuthorizationFilter selects authorizations. Zero fields match everything.
type AuthorizationFilter struct {
	Status        AuthorizationStatus
	CustomerID    string
	Wallet        string
	LinkSessionID string    // only the attempts of this link session
	CreatedAfter  time.Time // inclusive
	CreatedBefore time.Time // exclusive
	Limit         int       // zero means no limit
	Offset        int
}

func validateCustomer(customerID, wallet string) error {
	if err := validateCustomerID(customerID); err != nil {
		return err
	} else if !isWalletCode(wallet) {
		return Errorf(EINVALID, "Wallet must be an Antom customerBelongsTo value such as GCASH.")
	}
	return nil
}

func validateCustomerID(customerID string) error {
	if customerID == "" || len(customerID) > 64 {
		return Errorf(EINVALID, "Customer ID must be 1 to 64 characters.")
	} else if !isPrintable(customerID) {
		return Errorf(EINVALID, "Customer ID must be printable UTF-8 text, without control characters.")
	}
	return nil
}

// isWalletCode reports whether wallet has the shape of an Antom
// customerBelongsTo value: 1 to 32 of A-Z, 0-9 and _.
func isWalletCode(wallet string) bool {
	return wallet != "" && len(wallet) <= 32 && strings.IndexFunc(wallet, func(c rune) bool {
		return !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_')
	}) < 0
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// IsPrintable reports whether s is valid UTF-8 without control characters,
// as every text the engine takes in, stores and sends to Antom must be.
// Control characters include the bidirectional controls (U+061C, U+200E,
// U+200F, U+202A–U+202E, U+2066–U+2069): in a description or a reason they
// would reorder what an operator reads next to it. Other invisible format
// characters, such as the zero-width joiner inside an emoji, are allowed
// in free text; names refuse them too (see CheckVisible).
func IsPrintable(s string) bool {
	return isPrintable(s) && !strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Bidi_Control, r) })
}

// isPrintable is IsPrintable without the bidirectional controls: the rule
// stored customer IDs have always met.
func isPrintable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// CheckVisible returns EINVALID, naming field and the first offending code
// point, if s holds a character of Unicode category Cf (format): zero-width
// spaces and joiners, bidirectional marks, embeddings, overrides and
// isolates, the byte order mark, the soft hyphen and the like. Such
// characters make two different IDs look the same, or make one render as
// another, so text that names something must not contain them.
func CheckVisible(field, s string) error {
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Cf, r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return Errorf(EINVALID, "%s must not contain invisible or direction-changing characters (U+%04X).", field, r)
	}
	return nil
}
