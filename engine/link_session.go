// Link sessions: the page a merchant sends its buyer to. The session is a
// capability URL; each attempt on it is an ordinary authorization (consult,
// QR, AUTHCODE_CREATED, applyToken) naming the session, and the session
// completes in the transaction that makes one of them ACTIVE.
//
// Locks are taken authorization first, then session, on every path (the
// activation holds its authorization when it completes the session), so
// that two paths never wait on each other.

package engine

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/api"
)

// LinkPagePrefix is the path below PublicURL under which the buyer's pages
// of link sessions are served; a session's page is LinkPagePrefix + its
// secret.
const LinkPagePrefix = "/link/"

// LinkDonePath is the page a link session made without a returnUrl of its
// own (the console's "Send a link") returns to: "your wallet is linked".
const LinkDonePath = LinkPagePrefix + "done"

// Failure codes of attempts that a link session ended.
const (
	CodeSuperseded           = "SUPERSEDED"             // the buyer asked for a new code
	CodeLinkSessionCancelled = "LINK_SESSION_CANCELLED" // the session was cancelled
	CodeLinkSessionExpired   = "LINK_SESSION_EXPIRED"   // the session's lifetime ended
)

// linkingRetryDelay is how long the expiry of a session whose attempt is
// AUTHORIZED (applyToken running, within the authCode's minute) waits
// before it looks again: applyToken's answer decides.
const linkingRetryDelay = 5 * time.Second

// Who cancelled a link session, for its timeline.
const (
	CancelledByBuyer    = "buyer"
	CancelledByMerchant = "merchant"
)

// Now is the engine's clock (Config.NowFunc), for the pages that judge a
// session's expiry as the engine does.
func (e *Engine) Now() time.Time { return e.now() }

// LinkSessionURL is the URL of a session's page: what the merchant sends
// the buyer to.
func (e *Engine) LinkSessionURL(s *autodebit.LinkSession) string {
	return e.cfg.PublicURL + LinkPagePrefix + s.Secret
}

// LinkSessionView is the API view of a session, with its URL: what its GET
// returns and its events carry.
func (e *Engine) LinkSessionView(s *autodebit.LinkSession) api.LinkSession {
	return api.ToLinkSession(s, e.LinkSessionURL(s))
}

// LinkSessionInput is what a merchant asks to create.
type LinkSessionInput struct {
	CustomerID string
	Wallet     string // empty: the buyer chooses on the page
	ReturnURL  string // empty only for the engine's own "linked" page (see LinkDonePath)
	CancelURL  string // optional
	Locale     string // optional: one of autodebit.LinkSessionLocales
	// Lifetime is how long the URL works. Zero means
	// autodebit.DefaultLinkSessionLifetime; it must lie within
	// MinLinkSessionLifetime and MaxLinkSessionLifetime.
	Lifetime time.Duration
	// IdempotencyKey makes the request safe to repeat: the same key with
	// the same parameters returns the same session; with different ones it
	// is a conflict.
	IdempotencyKey string
}

func (in LinkSessionInput) hash() string {
	return requestHash(in.CustomerID, in.Wallet, in.ReturnURL, in.CancelURL, in.Locale, in.Lifetime.String())
}

// CreateLinkSession stores an open session whose page lets the buyer link
// a wallet, with the job that expires it, and returns it (its Secret set:
// LinkSessionURL is the page). Nothing is sent to Antom until the buyer
// opens the page, so the QR code shown is always fresh.
//
// Returns EINVALID for a bad customer ID, an unknown wallet, a returnUrl or
// cancelUrl that is not absolute http(s) or whose host the engine does not
// allow (Config.LinkReturnHosts), an unknown locale or a lifetime out of
// bounds, with nothing stored; ECONFLICT for an Idempotency-Key reused with
// other parameters.
func (e *Engine) CreateLinkSession(ctx context.Context, in LinkSessionInput) (*autodebit.LinkSession, error) {
	if len(in.IdempotencyKey) > 255 || !autodebit.IsPrintable(in.IdempotencyKey) {
		return nil, autodebit.Errorf(autodebit.EINVALID, "Idempotency-Key must be printable text of at most 255 characters.")
	}
	lifetime := in.Lifetime
	if lifetime == 0 {
		lifetime = autodebit.DefaultLinkSessionLifetime
	}
	if lifetime < autodebit.MinLinkSessionLifetime || lifetime > autodebit.MaxLinkSessionLifetime {
		return nil, autodebit.Errorf(autodebit.EINVALID, "Lifetime %s is out of bounds: a link session lasts from %s to %s (default %s).",
			in.Lifetime, fmtHours(autodebit.MinLinkSessionLifetime), fmtHours(autodebit.MaxLinkSessionLifetime), fmtHours(autodebit.DefaultLinkSessionLifetime))
	}
	if in.Wallet != "" {
		if _, ok := antom.LookupWallet(in.Wallet); !ok {
			return nil, autodebit.Errorf(autodebit.EINVALID, "Wallet %q is not a Scan to Link wallet; use one of %s, or leave it out to let the buyer choose.", in.Wallet, walletList())
		}
	}
	returnURL := in.ReturnURL
	if returnURL == "" {
		returnURL = e.cfg.PublicURL + LinkDonePath
	}
	now := e.now()
	s := &autodebit.LinkSession{
		ID:                 autodebit.NewID(autodebit.LinkSessionIDPrefix),
		CustomerID:         in.CustomerID,
		Wallet:             in.Wallet,
		BuyerChoosesWallet: in.Wallet == "",
		Status:             autodebit.LinkSessionOpen,
		ReturnURL:          returnURL,
		CancelURL:          in.CancelURL,
		Locale:             in.Locale,
		ExpiresAt:          now.Add(lifetime),
		IdempotencyKey:     in.IdempotencyKey,
		RequestHash:        in.hash(),
		CreatedAt:          now,
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	for _, u := range []struct{ field, url string }{{"returnUrl", in.ReturnURL}, {"cancelUrl", in.CancelURL}} {
		if err := e.checkLinkHost(u.field, u.url); err != nil {
			return nil, err
		}
	}
	if in.IdempotencyKey != "" {
		if s, err := e.linkSessionForKey(ctx, in.IdempotencyKey, s.RequestHash); s != nil || err != nil {
			return replayed(ctx, s), err
		}
	}
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		if err := tx.CreateLinkSession(ctx, s); err != nil {
			return err
		}
		what := "any wallet (the buyer chooses)"
		if s.Wallet != "" {
			what = s.Wallet
		}
		if err := appendTimeline(ctx, tx, stateEntry(s.ID, fmt.Sprintf("OPEN for %s, %s; expires %s", s.CustomerID, what,
			s.ExpiresAt.UTC().Format(time.RFC3339)), now)); err != nil {
			return err
		}
		return tx.Enqueue(ctx, autodebit.Job{Args: ExpireLinkSessionArgs{LinkSessionID: s.ID}, ScheduledAt: s.ExpiresAt})
	})
	if autodebit.ErrorCode(err) == autodebit.ECONFLICT && in.IdempotencyKey != "" {
		// A concurrent request with the same key won the insert.
		if s, err := e.linkSessionForKey(ctx, in.IdempotencyKey, s.RequestHash); s != nil || err != nil {
			return replayed(ctx, s), err
		}
	}
	if err != nil {
		return nil, err
	}
	e.log.Info("link session created", "linkSession", s)
	return s, nil
}

// fmtHours writes a bound of a lifetime as people do: 1m, 1h, 24h.
func fmtHours(d time.Duration) string {
	return strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
}

// linkSessionForKey returns the session created with an Idempotency-Key,
// nil if there is none, or ECONFLICT if it was created with other
// parameters.
func (e *Engine) linkSessionForKey(ctx context.Context, key, hash string) (*autodebit.LinkSession, error) {
	s, err := e.store.FindLinkSessionByIdempotencyKey(ctx, key)
	if autodebit.ErrorCode(err) == autodebit.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if s.RequestHash != hash {
		return nil, autodebit.Errorf(autodebit.ECONFLICT, "Idempotency-Key %q was already used for link session %s with different parameters.", key, s.ID)
	}
	return s, nil
}

// checkLinkHost returns EINVALID unless u (a returnUrl or cancelUrl
// already validated, or empty) names a host the engine allows: this
// engine's own public host, or one Config.LinkReturnHosts lists.
func (e *Engine) checkLinkHost(field, u string) error {
	if u == "" {
		return nil
	}
	p, err := url.Parse(u)
	if err != nil {
		return autodebit.Errorf(autodebit.EINVALID, "Field %q is not a valid URL.", field)
	}
	host := strings.ToLower(p.Hostname())
	if own, err := url.Parse(e.cfg.PublicURL); err == nil && strings.EqualFold(own.Hostname(), host) {
		return nil
	}
	if hostAllowed(e.cfg.LinkReturnHosts, host) {
		return nil
	}
	if len(e.cfg.LinkReturnHosts) == 0 {
		return autodebit.Errorf(autodebit.EINVALID,
			"Field %q names host %q, and this engine allows no returnUrl or cancelUrl hosts yet: the operator lists the shop's hosts with serve --link-return-hosts.", field, host)
	}
	return autodebit.Errorf(autodebit.EINVALID, "Field %q names host %q, which is not one of the allowed hosts (%s).", field, host, strings.Join(e.cfg.LinkReturnHosts, ", "))
}

// hostAllowed reports whether host matches an entry of allowed: "*" (any
// host), "shop.example" (that host) or "*.shop.example" (its subdomains).
func hostAllowed(allowed []string, host string) bool {
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		switch {
		case a == "*" || a == host:
			return true
		case strings.HasPrefix(a, "*.") && strings.HasSuffix(host, a[1:]) && len(host) > len(a)-1:
			return true
		}
	}
	return false
}

// ValidateLinkReturnHosts returns an error naming the first entry that is
// not "*", a host name or "*." and a host name, for Config checks.
func ValidateLinkReturnHosts(hosts []string) error {
	for _, h := range hosts {
		name := strings.TrimPrefix(strings.TrimSpace(h), "*.")
		if h == "*" {
			continue
		}
		if name == "" || strings.ContainsAny(name, "/:@?#* ") {
			return fmt.Errorf("link return host %q is not a host name, \"*.\" and a host name, or \"*\"", h)
		}
	}
	return nil
}

// StartLinkAttempt makes a new attempt on an open session: a consult with
// a fresh authState for wallet (empty: the session's wallet), whose QR
// code the page shows. It is how the page starts, how the buyer chooses a
// wallet, and "Try again": an attempt still PENDING is failed (SUPERSEDED),
// so that one attempt is live at a time, and every earlier attempt stays
// in the session's timeline. The consult is sent outside any transaction;
// the new attempt is stored even when Antom refuses it (FAILED, with its
// code), and the error then says so (EDECLINED, EUNAVAILABLE).
//
// Returns ENOTFOUND for an unknown session; ECONFLICT when the session is
// not open, its lifetime is over, or its attempt is AUTHORIZED (applyToken
// is finishing); EINVALID for a wallet the session does not allow.
func (e *Engine) StartLinkAttempt(ctx context.Context, sessionID, wallet string) (*autodebit.LinkSession, *autodebit.Authorization, error) {
	s, err := e.store.FindLinkSessionByID(ctx, sessionID)
	if err != nil {
		return nil, nil, err
	}
	var prev *autodebit.Authorization
	if s.AuthorizationID != "" {
		if prev, err = e.store.FindAuthorizationByID(ctx, s.AuthorizationID); err != nil {
			return nil, nil, err
		}
	}
	if err := e.attemptAllowed(s, prev); err != nil {
		return nil, nil, err
	}
	switch {
	case wallet == "":
		wallet = s.Wallet
	case !s.BuyerChoosesWallet && wallet != s.Wallet:
		return nil, nil, autodebit.Errorf(autodebit.EINVALID, "This link session links %s, not %s.", s.Wallet, wallet)
	}
	if wallet == "" {
		return nil, nil, autodebit.Errorf(autodebit.EINVALID, "Choose a wallet: one of %s.", walletList())
	}
	prevID := s.AuthorizationID
	a, aud, result, err := e.consultAttempt(ctx, s.CustomerID, wallet, s.ID)
	if err != nil {
		return nil, nil, err
	}
	var lost error
	err = e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		now := e.now()
		prev = nil
		if prevID != "" {
			var err error
			if prev, err = tx.FindAuthorizationForUpdate(ctx, prevID); err != nil {
				return err
			}
		}
		cur, err := tx.FindLinkSessionForUpdate(ctx, s.ID)
		if err != nil {
			return err
		}
		s = cur
		if err := e.createAttemptTx(ctx, tx, a, aud); err != nil {
			return err
		}
		// What the consult was asked on may have changed meanwhile (another
		// attempt, an ending): then this attempt is not the session's.
		lost = e.attemptAllowed(s, prev)
		if lost == nil && s.AuthorizationID != prevID {
			lost = autodebit.Errorf(autodebit.ECONFLICT, "Another attempt started on this link session meanwhile; use its QR code.")
		}
		if lost != nil {
			if a.Status != autodebit.AuthorizationPending {
				return nil
			}
			a.Status, a.FailureCode, a.FailureMessage = autodebit.AuthorizationFailed, CodeSuperseded, "made while the link session changed: "+autodebit.ErrorMessage(lost)
			return e.moveAuthorizationTx(ctx, tx, a, "FAILED: "+CodeSuperseded, now)
		}
		if prev != nil && prev.Status == autodebit.AuthorizationPending {
			prev.Status, prev.FailureCode, prev.FailureMessage = autodebit.AuthorizationFailed, CodeSuperseded, "replaced by attempt "+a.ID
			if err := e.moveAuthorizationTx(ctx, tx, prev, "FAILED: "+CodeSuperseded+" by "+a.ID, now); err != nil {
				return err
			}
		}
		s.AuthorizationID = a.ID
		if s.BuyerChoosesWallet {
			s.Wallet = wallet
		}
		if err := tx.UpdateLinkSession(ctx, s); err != nil {
			return fmt.Errorf("point link session %s at attempt %s: %w", s.ID, a.ID, err)
		}
		note := "ATTEMPT " + a.ID + " (" + a.Wallet + ")"
		if a.Status == autodebit.AuthorizationPending {
			note += ": QR code shown"
		}
		return appendTimeline(ctx, tx, stateEntry(s.ID, note, now))
	})
	if err != nil {
		return nil, nil, err
	}
	if lost != nil {
		return nil, nil, lost
	}
	e.log.Info("link attempt started", "linkSession", s.ID, "authorization", a.ID, "wallet", a.Wallet, "status", a.Status)
	return s, a, result
}

// attemptAllowed returns ECONFLICT unless s, whose current attempt is
// attempt (nil if none), may get a new attempt: open, within its lifetime,
// and without an attempt in applyToken.
func (e *Engine) attemptAllowed(s *autodebit.LinkSession, attempt *autodebit.Authorization) error {
	switch {
	case s.Status != autodebit.LinkSessionOpen:
		return autodebit.Errorf(autodebit.ECONFLICT, "Link session %s is %s.", s.ID, s.Status)
	case s.Expired(e.now()):
		return autodebit.Errorf(autodebit.ECONFLICT, "Link session %s has expired.", s.ID)
	case attempt != nil && (attempt.Status == autodebit.AuthorizationAuthorized || attempt.Status == autodebit.AuthorizationActive):
		return autodebit.Errorf(autodebit.ECONFLICT, "The wallet is being linked on link session %s; wait a moment.", s.ID)
	}
	return nil
}

// CancelLinkSession cancels an open session (the buyer's Cancel, or the
// merchant's): its page stops working and an attempt still PENDING is
// failed, so that nothing links through it. by says who (CancelledBy*).
// Cancelling a cancelled session returns it unchanged.
//
// Returns ENOTFOUND for an unknown session and ECONFLICT for one that is
// complete or expired, or whose attempt is AUTHORIZED (applyToken is
// finishing: its answer decides).
func (e *Engine) CancelLinkSession(ctx context.Context, id, by string) (*autodebit.LinkSession, error) {
	var out *autodebit.LinkSession
	err := e.endLinkSession(ctx, id, func(tx autodebit.Tx, s *autodebit.LinkSession, attempt *autodebit.Authorization, now time.Time) error {
		out = s
		switch {
		case s.Status == autodebit.LinkSessionCancelled:
			return nil
		case s.Status != autodebit.LinkSessionOpen:
			return autodebit.Errorf(autodebit.ECONFLICT, "Link session %s is %s and cannot be cancelled.", s.ID, s.Status)
		case attempt != nil && attempt.Status == autodebit.AuthorizationAuthorized:
			return autodebit.Errorf(autodebit.ECONFLICT, "The wallet is being linked on link session %s right now; it cannot be cancelled.", s.ID)
		}
		if err := e.failAttemptTx(ctx, tx, attempt, CodeLinkSessionCancelled, "the link session was cancelled", now); err != nil {
			return err
		}
		s.Status, s.CancelledAt = autodebit.LinkSessionCancelled, now
		if err := tx.UpdateLinkSession(ctx, s); err != nil {
			return fmt.Errorf("cancel link session %s: %w", s.ID, err)
		}
		return appendTimeline(ctx, tx, stateEntry(s.ID, "CANCELLED by the "+by, now))
	})
	if err != nil {
		return nil, err
	}
	e.log.Info("link session cancelled", "linkSession", id, "by", by)
	return out, nil
}

// expireLinkSession ends a session still open at its expiry, failing a
// PENDING attempt and publishing link_session.expired. A session whose
// attempt is AUTHORIZED waits for applyToken's answer.
func (e *Engine) expireLinkSession(ctx context.Context, id string) error {
	var wait time.Duration
	err := e.endLinkSession(ctx, id, func(tx autodebit.Tx, s *autodebit.LinkSession, attempt *autodebit.Authorization, now time.Time) error {
		switch {
		case s.Status != autodebit.LinkSessionOpen:
			return nil
		case !s.Expired(now):
			wait = s.ExpiresAt.Sub(now)
			return nil
		case attempt != nil && attempt.Status == autodebit.AuthorizationAuthorized:
			wait = linkingRetryDelay
			return nil
		}
		if err := e.failAttemptTx(ctx, tx, attempt, CodeLinkSessionExpired, "the link session expired", now); err != nil {
			return err
		}
		s.Status = autodebit.LinkSessionExpired
		if err := tx.UpdateLinkSession(ctx, s); err != nil {
			return fmt.Errorf("expire link session %s: %w", s.ID, err)
		}
		if err := appendTimeline(ctx, tx, stateEntry(s.ID, "EXPIRED with nothing linked", now)); err != nil {
			return err
		}
		return e.publishLinkSessionTx(ctx, tx, autodebit.EventLinkSessionExpired, s.ID)
	})
	if err != nil {
		return err
	}
	if wait > 0 {
		return &RetryError{Delay: wait, Err: errors.New("link session not expired yet")}
	}
	return nil
}

// endLinkSession runs fn in a transaction holding the session's current
// attempt (nil if none) and then the session, both locked in that order.
// fn sees them as they are under the locks.
func (e *Engine) endLinkSession(ctx context.Context, id string, fn func(tx autodebit.Tx, s *autodebit.LinkSession, attempt *autodebit.Authorization, now time.Time) error) error {
	for range 3 {
		s, err := e.store.FindLinkSessionByID(ctx, id)
		if err != nil {
			return err
		}
		moved := false
		err = e.store.WithTx(ctx, func(tx autodebit.Tx) error {
			var attempt *autodebit.Authorization
			if s.AuthorizationID != "" {
				var err error
				if attempt, err = tx.FindAuthorizationForUpdate(ctx, s.AuthorizationID); err != nil {
					return err
				}
			}
			cur, err := tx.FindLinkSessionForUpdate(ctx, id)
			if err != nil {
				return err
			}
			if cur.AuthorizationID != s.AuthorizationID {
				moved = true // a new attempt started between the read and the locks
				return nil
			}
			return fn(tx, cur, attempt, e.now())
		})
		if err != nil || !moved {
			return err
		}
	}
	return autodebit.Errorf(autodebit.ECONFLICT, "Link session %s keeps changing; try again.", id)
}

// failAttemptTx fails a session's attempt that is still PENDING, because
// the session ended: a QR code still on a screen must not link anything.
func (e *Engine) failAttemptTx(ctx context.Context, tx autodebit.Tx, a *autodebit.Authorization, code, msg string, now time.Time) error {
	if a == nil || a.Status != autodebit.AuthorizationPending {
		return nil
	}
	a.Status, a.FailureCode, a.FailureMessage = autodebit.AuthorizationFailed, code, msg
	return e.moveAuthorizationTx(ctx, tx, a, "FAILED: "+code, now)
}

// attemptMovedTx follows a session's attempt that moved to a's status: a
// note in the session's timeline and, when a is ACTIVE and the session
// still open, the session's completion and its link_session.completed
// event, in the transaction that stores the token. (The authorization is
// locked first, the session second, as on every path.)
func (e *Engine) attemptMovedTx(ctx context.Context, tx autodebit.Tx, a *autodebit.Authorization, note string, now time.Time) error {
	if err := appendTimeline(ctx, tx, stateEntry(a.LinkSessionID, "ATTEMPT "+a.ID+" "+note, now)); err != nil {
		return err
	}
	if a.Status != autodebit.AuthorizationActive {
		return nil
	}
	s, err := tx.FindLinkSessionForUpdate(ctx, a.LinkSessionID)
	if err != nil {
		return fmt.Errorf("find link session %s of %s: %w", a.LinkSessionID, a.ID, err)
	}
	if s.Status != autodebit.LinkSessionOpen {
		// The token stands (the buyer agreed, and authorization.active tells
		// the merchant), but the session keeps its end.
		e.log.Warn("token issued for a link session that was no longer open", "linkSession", s.ID, "status", s.Status, "authorization", a.ID, "token", a.TokenID)
		return appendTimeline(ctx, tx, stateEntry(s.ID, fmt.Sprintf("token %s issued after the session was %s; the session keeps its status", a.TokenID, s.Status), now))
	}
	s.Status, s.AuthorizationID, s.TokenID, s.CompletedAt = autodebit.LinkSessionComplete, a.ID, a.TokenID, now
	if s.BuyerChoosesWallet {
		s.Wallet = a.Wallet
	}
	if err := tx.UpdateLinkSession(ctx, s); err != nil {
		return fmt.Errorf("complete link session %s: %w", s.ID, err)
	}
	if err := appendTimeline(ctx, tx, stateEntry(s.ID, "COMPLETE: token "+a.TokenID, now)); err != nil {
		return err
	}
	e.log.Info("link session complete", "linkSession", s.ID, "token", a.TokenID)
	return e.publishLinkSessionTx(ctx, tx, autodebit.EventLinkSessionCompleted, s.ID)
}

// publishLinkSessionTx publishes a link_session.* event of session id with
// the session as its GET shows it after the change.
func (e *Engine) publishLinkSessionTx(ctx context.Context, tx autodebit.Tx, typ autodebit.EventType, id string) error {
	cur, err := tx.FindLinkSessionByID(ctx, id)
	if err != nil {
		return fmt.Errorf("read link session %s back: %w", id, err)
	}
	return e.publish(ctx, tx, typ, cur.ID, e.LinkSessionView(cur))
}
