package autodebit

import (
	"fmt"
	"log/slog"
	"time"
)

// TokenStatus is the state of a payment token.
type TokenStatus string

// Token statuses. REVOKED and EXPIRED are final.
const (
	TokenActive  TokenStatus = "ACTIVE"
	TokenRevoked TokenStatus = "REVOKED" // merchant revoke, or TOKEN_CANCELED from the wallet
	TokenExpired TokenStatus = "EXPIRED"
)

var tokenTransitions = map[TokenStatus][]TokenStatus{
	TokenActive: {TokenRevoked, TokenExpired},
}

// TokenStatuses returns every token status, in lifecycle order.
func TokenStatuses() []TokenStatus { return []TokenStatus{TokenActive, TokenRevoked, TokenExpired} }

// Valid reports whether s is a known status.
func (s TokenStatus) Valid() bool { return contains(TokenStatuses(), s) }

// Final reports whether s can never change.
func (s TokenStatus) Final() bool { return s.Valid() && len(tokenTransitions[s]) == 0 }

// CanTransition reports whether a token may move from s to to. Staying in the
// same status is not a transition.
func (s TokenStatus) CanTransition(to TokenStatus) bool { return contains(tokenTransitions[s], to) }

// Token is a payment token (Antom accessToken) that charges a buyer's wallet
// without the buyer. AccessToken and RefreshToken are secrets: stores encrypt
// them at rest, the API never returns them, and String, LogValue and JSON
// leave them out.
type Token struct {
	ID              string      `json:"id"`
	CustomerID      string      `json:"customerId"`
	Wallet          string      `json:"wallet"`
	AuthorizationID string      `json:"authorizationId"`
	Status          TokenStatus `json:"status"`

	AccessToken           string    `json:"-"`
	RefreshToken          string    `json:"-"` // may be empty
	AccessTokenExpiresAt  time.Time `json:"accessTokenExpiresAt"`
	RefreshTokenExpiresAt time.Time `json:"refreshTokenExpiresAt,omitzero"`
	UserLoginID           string    `json:"userLoginId"` // already masked by Antom; safe to show

	RevokeReason string `json:"revokeReason,omitempty"`
	// RevokedBy says who ended a REVOKED token: a RevokedBy* value.
	RevokedBy string `json:"revokedBy,omitempty"`
	// RevokePending is set while a merchant revoke has been asked for but
	// Antom has not confirmed it; the token stays ACTIVE but must not be
	// charged.
	RevokePending bool `json:"revokePending"`
	// RevokeNextAt is when the pending revoke is next sent to Antom; zero
	// when no attempt is scheduled (none pending, or Antom refused it and a
	// person must look). The sweep re-queues a revoke overdue past it.
	RevokeNextAt time.Time `json:"-"`

	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	RevokedAt time.Time `json:"revokedAt,omitzero"`
	Version   int64     `json:"-"`
}

// Who revoked a token.
const (
	RevokedByMerchant = "merchant" // the merchant's revoke (API, console, CLI)
	RevokedByWallet   = "wallet"   // the buyer unlinked in the wallet: TOKEN_CANCELED
	RevokedByAntom    = "antom"    // Antom no longer accepts it (INVALID_ACCESS_TOKEN)
)

// Chargeable returns nil if the token can be charged at now, and ECONFLICT
// saying why not otherwise.
func (t *Token) Chargeable(now time.Time) error {
	switch {
	case t.Status != TokenActive:
		return Errorf(ECONFLICT, "Token %s is %s and cannot be charged.", t.ID, t.Status)
	case t.RevokePending:
		return Errorf(ECONFLICT, "Token %s is being revoked and cannot be charged.", t.ID)
	case !t.AccessTokenExpiresAt.IsZero() && !now.Before(t.AccessTokenExpiresAt):
		return Errorf(ECONFLICT, "Token %s has expired and cannot be charged.", t.ID)
	}
	return nil
}

// Validate returns EINVALID if a required field is missing or malformed.
func (t *Token) Validate() error {
	if err := validateCustomer(t.CustomerID, t.Wallet); err != nil {
		return err
	} else if !t.Status.Valid() {
		return Errorf(EINVALID, "Token status %q is not valid.", t.Status)
	} else if t.AuthorizationID == "" {
		return Errorf(EINVALID, "Token authorization ID is required.")
	} else if t.AccessToken == "" {
		return Errorf(EINVALID, "Token access token is required.")
	} else if t.RevokedBy != "" && t.RevokedBy != RevokedByMerchant && t.RevokedBy != RevokedByWallet && t.RevokedBy != RevokedByAntom {
		return Errorf(EINVALID, "Token revokedBy %q is not one of merchant, wallet or antom.", t.RevokedBy)
	}
	return nil
}

// String describes the token without its secrets.
func (t *Token) String() string {
	return fmt.Sprintf("Token{ID:%s CustomerID:%s Wallet:%s Status:%s AccessToken:%s}",
		t.ID, t.CustomerID, t.Wallet, t.Status, MaskSecret(t.AccessToken))
}

// LogValue implements slog.LogValuer without the token's secrets.
func (t *Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", t.ID),
		slog.String("customerId", t.CustomerID),
		slog.String("wallet", t.Wallet),
		slog.String("status", string(t.Status)),
		slog.String("accessToken", MaskSecret(t.AccessToken)),
	)
}

// MaskSecret returns a form of secret that is safe to log or keep in the audit
// trail: its last four characters when it is long enough for those to reveal
// nothing useful, otherwise only asterisks.
func MaskSecret(secret string) string {
	if len(secret) < 16 {
		return "****"
	}
	return "****" + secret[len(secret)-4:]
}

// TokenFilter selects tokens. Zero fields match everything.
type TokenFilter struct {
	Status        TokenStatus
	CustomerID    string
	Wallet        string
	CreatedAfter  time.Time // inclusive
	CreatedBefore time.Time // exclusive
	Limit         int       // zero means no limit
	Offset        int
}
