package api

import (
	"time"

	"github.com/autodebit/autodebit"
)

// LinkSession is a link session as the API shows it. URL is the page to
// send the buyer to; it holds the session's secret, so it is shown to the
// merchant (on create, GET, lists and in link_session.* events) and to no
// one else.
type LinkSession struct {
	ID         string `json:"id"`
	URL        string `json:"url"`
	Status     string `json:"status"`
	CustomerID string `json:"customerId"`
	// Wallet is the wallet to link: the one asked for, or the buyer's
	// choice once made ("" until then).
	Wallet string `json:"wallet"`
	// BuyerChoosesWallet is true when no wallet was asked for: the page
	// lets the buyer choose (and choose again after a failure).
	BuyerChoosesWallet bool   `json:"buyerChoosesWallet"`
	ReturnURL          string `json:"returnUrl"`
	CancelURL          string `json:"cancelUrl,omitempty"`
	Locale             string `json:"locale,omitempty"`
	// AuthorizationID is the current attempt (a new one with every "Try
	// again"); TokenID the token once complete.
	AuthorizationID string     `json:"authorizationId,omitempty"`
	TokenID         string     `json:"tokenId,omitempty"`
	ExpiresAt       time.Time  `json:"expiresAt"`
	CompletedAt     *time.Time `json:"completedAt,omitempty"`
	CancelledAt     *time.Time `json:"cancelledAt,omitempty"`
	CreatedAt       time.Time  `json:"createdAt"`
	UpdatedAt       time.Time  `json:"updatedAt"`
}

// ToLinkSession is the API view of a link session, whose page is at url:
// what its GET returns.
func ToLinkSession(s *autodebit.LinkSession, url string) LinkSession {
	return LinkSession{
		ID: s.ID, URL: url, Status: string(s.Status), CustomerID: s.CustomerID, Wallet: s.Wallet,
		BuyerChoosesWallet: s.BuyerChoosesWallet, ReturnURL: s.ReturnURL, CancelURL: s.CancelURL, Locale: s.Locale,
		AuthorizationID: s.AuthorizationID, TokenID: s.TokenID, ExpiresAt: Time(s.ExpiresAt),
		CompletedAt: TimePtr(s.CompletedAt), CancelledAt: TimePtr(s.CancelledAt),
		CreatedAt: Time(s.CreatedAt), UpdatedAt: Time(s.UpdatedAt),
	}
}
