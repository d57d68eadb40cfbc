package autodebit

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Link session lifetimes: how long a session's URL works unless the
// merchant asks for another lifetime within the bounds.
const (
	DefaultLinkSessionLifetime = time.Hour
	MinLinkSessionLifetime     = time.Minute
	MaxLinkSessionLifetime     = 24 * time.Hour
)

// MaxLinkSessionURLLength bounds a returnUrl or cancelUrl.
const MaxLinkSessionURLLength = 2048

// LinkSessionStatus is the state of a link session.
type LinkSessionStatus string

// Link session statuses. Complete, cancelled and expired are final.
const (
	LinkSessionOpen      LinkSessionStatus = "open"      // the buyer may use the page
	LinkSessionComplete  LinkSessionStatus = "complete"  // a wallet is linked: TokenID is set
	LinkSessionCancelled LinkSessionStatus = "cancelled" // the buyer (or the merchant) cancelled it
	LinkSessionExpired   LinkSessionStatus = "expired"   // ExpiresAt passed with nothing linked
)

var linkSessionTransitions = map[LinkSessionStatus][]LinkSessionStatus{
	LinkSessionOpen: {LinkSessionComplete, LinkSessionCancelled, LinkSessionExpired},
}

// LinkSessionStatuses returns every link session status, in lifecycle order.
func LinkSessionStatuses() []LinkSessionStatus {
	return []LinkSessionStatus{LinkSessionOpen, LinkSessionComplete, LinkSessionCancelled, LinkSessionExpired}
}

// Valid reports whether s is a known status.
func (s LinkSessionStatus) Valid() bool { return contains(LinkSessionStatuses(), s) }

// Final reports whether s can never change.
func (s LinkSessionStatus) Final() bool { return s.Valid() && len(linkSessionTransitions[s]) == 0 }

// CanTransition reports whether a link session may move from s to to.
// Staying in the same status is not a transition.
func (s LinkSessionStatus) CanTransition(to LinkSessionStatus) bool {
	return contains(linkSessionTransitions[s], to)
}

// LinkSessionLocales are the languages of the buyer's page, by the code a
// session's Locale takes: English and the main languages of the Scan to Link
// wallets' markets.
func LinkSessionLocales() []string { return []string{"en", "zh", "id", "ko", "th", "ms", "tl"} }

// LinkSession is the page a merchant sends a buyer to, to link a wallet: a
// capability URL (no login) that shows the wallet choice, the QR code and a
// live status, makes a new attempt (a new Authorization, a new authState)
// when the buyer tries again, and sends the browser to ReturnURL once a
// token is ACTIVE.
//
// Secret is the unguessable part of the page's URL. Stores never keep it:
// they derive it from the session's ID with a key of their own and keep a
// keyed hash of it to find the session by (see Reader.FindLinkSessionBySecret),
// so the database alone does not hold a working URL. String, LogValue and
// JSON leave it out.
type LinkSession struct {
	ID         string `json:"id"`
	CustomerID string `json:"customerId"`
	// Wallet is the wallet to link: the merchant's choice, or the buyer's
	// once made when BuyerChoosesWallet ("" until then).
	Wallet string `json:"wallet"`
	// BuyerChoosesWallet is set when the merchant named no wallet: the page
	// offers the choice, and a new one after a failed attempt.
	BuyerChoosesWallet bool              `json:"buyerChoosesWallet"`
	Status             LinkSessionStatus `json:"status"`

	// ReturnURL is where the browser goes once a wallet is linked, with
	// link_session and token added to its query; CancelURL (optional) where
	// it goes when the buyer cancels, with link_session and
	// status=cancelled added.
	ReturnURL string `json:"returnUrl"`
	CancelURL string `json:"cancelUrl,omitempty"`
	// Locale is the page's language (a LinkSessionLocales code); empty
	// means the browser's Accept-Language decides.
	Locale string `json:"locale,omitempty"`

	Secret string `json:"-"`

	// AuthorizationID is the current attempt; empty until the first
	// consult. Earlier attempts are authorizations with this session's
	// LinkSessionID, each final.
	AuthorizationID string `json:"authorizationId,omitempty"`
	TokenID         string `json:"tokenId,omitempty"` // set when complete

	ExpiresAt   time.Time `json:"expiresAt"`
	CompletedAt time.Time `json:"completedAt,omitzero"`
	CancelledAt time.Time `json:"cancelledAt,omitzero"`

	// IdempotencyKey is the merchant's Idempotency-Key of the create
	// request, unique across link sessions when set; RequestHash is a
	// digest of that request, so that a reused key with another body is
	// refused.
	IdempotencyKey string `json:"-"`
	RequestHash    string `json:"-"`

	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Version is incremented by every write; updates are compare-and-set on it.
	Version int64 `json:"-"`
}

// Validate returns EINVALID, naming the field, if a field is missing or
// malformed. A new session (Version 0) must also have a customer ID without
// invisible characters (CheckVisible).
func (s *LinkSession) Validate() error {
	if err := validateCustomerID(s.CustomerID); err != nil {
		return err
	} else if err := CheckVisible("Customer ID", s.CustomerID); s.Version == 0 && err != nil {
		return err
	}
	switch {
	case s.Wallet == "" && !s.BuyerChoosesWallet:
		return Errorf(EINVALID, "A link session needs a wallet unless the buyer chooses it.")
	case s.Wallet != "" && !isWalletCode(s.Wallet):
		return Errorf(EINVALID, "Wallet must be an Antom customerBelongsTo value such as GCASH.")
	case !s.Status.Valid():
		return Errorf(EINVALID, "Link session status %q is not valid.", s.Status)
	}
	if err := ValidateLinkSessionURL("returnUrl", s.ReturnURL); err != nil {
		return err
	}
	if s.CancelURL != "" {
		if err := ValidateLinkSessionURL("cancelUrl", s.CancelURL); err != nil {
			return err
		}
	}
	switch {
	case s.Locale != "" && !contains(LinkSessionLocales(), s.Locale):
		return Errorf(EINVALID, "Locale %q is not one of %s.", clipText(s.Locale, 16), strings.Join(LinkSessionLocales(), ", "))
	case s.ExpiresAt.IsZero():
		return Errorf(EINVALID, "Link session expiry is required.")
	case s.Status == LinkSessionComplete && (s.TokenID == "" || s.AuthorizationID == ""):
		return Errorf(EINVALID, "A complete link session must have its authorization and token.")
	}
	return nil
}

// ValidateLinkSessionURL returns EINVALID, naming field, unless u is an
// absolute http or https URL with a host, without user info (which makes
// "https://shop.example@evil.example/" read as the shop), of at most
// MaxLinkSessionURLLength bytes. A fragment is kept after the query the
// engine adds.
//
// Which hosts are allowed is the engine's policy, not checked here.
func ValidateLinkSessionURL(field, u string) error {
	if u == "" {
		return Errorf(EINVALID, "Field %q is required.", field)
	} else if len(u) > MaxLinkSessionURLLength {
		return Errorf(EINVALID, "Field %q must be at most %d characters.", field, MaxLinkSessionURLLength)
	}
	p, err := url.Parse(u)
	if err != nil || !IsPrintable(u) || strings.ContainsAny(u, " \t") {
		return Errorf(EINVALID, "Field %q is not a valid URL: %q.", field, clipText(u, 100))
	}
	switch {
	case p.Scheme != "http" && p.Scheme != "https":
		return Errorf(EINVALID, "Field %q must be an absolute http:// or https:// URL, such as https://shop.example/linked.", field)
	case p.Host == "" || p.Hostname() == "":
		return Errorf(EINVALID, "Field %q must name a host, such as https://shop.example/linked.", field)
	case p.User != nil:
		return Errorf(EINVALID, "Field %q must not hold a user name or password.", field)
	}
	return nil
}

// Expired reports whether the session's lifetime is over at now, whatever
// its status says (the expiry job may not have run yet).
func (s *LinkSession) Expired(now time.Time) bool { return !now.Before(s.ExpiresAt) }

// CompleteURL is where the browser goes when the session is complete:
// ReturnURL with link_session and token added to its query.
func (s *LinkSession) CompleteURL() string {
	return addQuery(s.ReturnURL, "link_session", s.ID, "token", s.TokenID)
}

// CancelledURL is where the browser goes when the buyer cancels: CancelURL
// with link_session and status=cancelled added; "" without a CancelURL.
func (s *LinkSession) CancelledURL() string {
	if s.CancelURL == "" {
		return ""
	}
	return addQuery(s.CancelURL, "link_session", s.ID, "status", string(LinkSessionCancelled))
}

// addQuery returns u with the key-value pairs kv set in its query, keeping
// its other parameters and its fragment. u must parse (Validate checked it).
func addQuery(u string, kv ...string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := p.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	p.RawQuery = q.Encode()
	return p.String()
}

// String describes the session without its secret.
func (s *LinkSession) String() string {
	return fmt.Sprintf("LinkSession{ID:%s CustomerID:%s Wallet:%s Status:%s}", s.ID, s.CustomerID, s.Wallet, s.Status)
}

// LogValue implements slog.LogValuer without the session's secret.
func (s *LinkSession) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", s.ID),
		slog.String("customerId", s.CustomerID),
		slog.String("wallet", s.Wallet),
		slog.String("status", string(s.Status)),
	)
}

// LinkSessionFilter selects link sessions. Zero fields match everything.
type LinkSessionFilter struct {
	Status        LinkSessionStatus
	CustomerID    string
	Wallet        string
	CreatedAfter  time.Time // inclusive
	CreatedBefore time.Time // exclusive
	Limit         int       // zero means no limit
	Offset        int
}
