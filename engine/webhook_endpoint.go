package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/webhook"
)

// WebhookURLPolicy says which hosts a webhook endpoint's URL may name.
type WebhookURLPolicy string

// Webhook URL policies.
const (
	// WebhookURLsPublic refuses a URL whose host is, or resolves to, a
	// private, loopback, link-local, unspecified, multicast or shared
	// (carrier-grade NAT) address: a production engine must not be made to
	// POST to its own network. A host resolving to several addresses is
	// refused if any of them is such an address.
	WebhookURLsPublic WebhookURLPolicy = "public"
	// WebhookURLsAny accepts every host: for development against a
	// receiver on this machine or network (serve with the in-process
	// simulator, or --webhook-allow-private).
	WebhookURLsAny WebhookURLPolicy = "any"
)

// defaultWebhookSecretOverlap is how long a rotated-out secret still signs
// deliveries.
const defaultWebhookSecretOverlap = 24 * time.Hour

// WebhookEndpointInput is what a merchant asks to create.
type WebhookEndpointInput struct {
	URL         string
	EventTypes  []string // empty: every type
	Description string
	// IdempotencyKey makes the request safe to repeat: the same key with
	// the same parameters returns the same endpoint (and its secret, unless
	// it was rotated since); with different parameters it is a conflict.
	IdempotencyKey string
}

func (in WebhookEndpointInput) hash() string {
	types := slices.Clone(in.EventTypes)
	slices.Sort(types)
	return requestHash(in.URL, strings.Join(types, ","), in.Description)
}

// WebhookEndpointUpdate is a change to an endpoint; nil fields stay as they
// are.
type WebhookEndpointUpdate struct {
	URL         *string
	EventTypes  *[]string // an empty list means every type
	Description *string
	// Enabled false stops deliveries (DisabledReason says the merchant did
	// it); true resumes them and clears FailingSince and DisabledReason.
	Enabled *bool
}

// DisabledByMerchant is the DisabledReason of an endpoint the merchant
// disabled.
const DisabledByMerchant = "Disabled by the merchant."

// CreateWebhookEndpoint stores a new, enabled endpoint with a fresh signing
// secret, which the returned endpoint carries: show it to the merchant now,
// as the API never shows it again (only RotateWebhookEndpointSecret makes a
// new one).
//
// Returns EINVALID for a malformed URL, description or event type, or a
// host the WebhookURLPolicy refuses; EUNAVAILABLE if the host could not be
// resolved for the policy; ECONFLICT for an Idempotency-Key reused with
// different parameters.
func (e *Engine) CreateWebhookEndpoint(ctx context.Context, in WebhookEndpointInput) (*autodebit.WebhookEndpoint, error) {
	if len(in.IdempotencyKey) > 255 || !autodebit.IsPrintable(in.IdempotencyKey) {
		return nil, autodebit.Errorf(autodebit.EINVALID, "Idempotency-Key must be printable text of at most 255 characters.")
	}
	hash := in.hash()
	if in.IdempotencyKey != "" {
		if w, err := e.webhookEndpointForKey(ctx, in.IdempotencyKey, hash); w != nil || err != nil {
			return replayed(ctx, w), err
		}
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return nil, err
	}
	now := e.now()
	if len(in.EventTypes) == 0 {
		in.EventTypes = nil // every type
	}
	w := &autodebit.WebhookEndpoint{
		ID:             autodebit.NewID(autodebit.WebhookEndpointIDPrefix),
		URL:            in.URL,
		Description:    in.Description,
		EventTypes:     slices.Clone(in.EventTypes),
		Enabled:        true,
		Secret:         secret,
		IdempotencyKey: in.IdempotencyKey,
		RequestHash:    hash,
		CreatedAt:      now,
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	if err := e.checkWebhookHost(ctx, w.URL); err != nil {
		return nil, err
	}
	err = e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		if err := tx.CreateWebhookEndpoint(ctx, w); err != nil {
			return err
		}
		return appendTimeline(ctx, tx, stateEntry(w.ID, "CREATED "+endpointSummary(w), now))
	})
	if autodebit.ErrorCode(err) == autodebit.ECONFLICT && in.IdempotencyKey != "" {
		// A concurrent request with the same key won the insert.
		if w, err := e.webhookEndpointForKey(ctx, in.IdempotencyKey, hash); w != nil || err != nil {
			return replayed(ctx, w), err
		}
	}
	if err != nil {
		return nil, err
	}
	e.log.Info("webhook endpoint created", "endpoint", w)
	return w, nil
}

// webhookEndpointForKey returns the endpoint created with an
// Idempotency-Key, nil if there is none, or ECONFLICT if it was created with
// other parameters or its secret has been rotated since: the replay would
// otherwise hand out a secret that no longer signs alone.
func (e *Engine) webhookEndpointForKey(ctx context.Context, key, hash string) (*autodebit.WebhookEndpoint, error) {
	w, err := e.store.FindWebhookEndpointByIdempotencyKey(ctx, key)
	if autodebit.ErrorCode(err) == autodebit.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if w.RequestHash != hash {
		return nil, autodebit.Errorf(autodebit.ECONFLICT, "Idempotency-Key %q was already used for webhook endpoint %s with different parameters.", key, w.ID)
	}
	if !w.PreviousSecretExpiresAt.IsZero() {
		return nil, autodebit.Errorf(autodebit.ECONFLICT,
			"Idempotency-Key %q created webhook endpoint %s, whose secret has been rotated since; rotate it again to get a secret.", key, w.ID)
	}
	return w, nil
}

// UpdateWebhookEndpoint changes an endpoint's URL, event types, description
// or enabled flag. Re-enabling clears FailingSince and DisabledReason. An
// update that changes nothing writes nothing.
//
// Returns ENOTFOUND for an unknown endpoint and EINVALID (or EUNAVAILABLE)
// as CreateWebhookEndpoint for a bad field; nothing changes then.
func (e *Engine) UpdateWebhookEndpoint(ctx context.Context, id string, u WebhookEndpointUpdate) (*autodebit.WebhookEndpoint, error) {
	if u.URL != nil {
		// Check the host before the transaction: resolving is slow.
		if err := autodebit.ValidateWebhookURL(*u.URL); err != nil {
			return nil, err
		}
		if err := e.checkWebhookHost(ctx, *u.URL); err != nil {
			return nil, err
		}
	}
	now := e.now()
	var out *autodebit.WebhookEndpoint
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		w, err := tx.FindWebhookEndpointForUpdate(ctx, id)
		if err != nil {
			return err
		}
		changed := applyWebhookEndpointUpdate(w, u)
		out = w
		if len(changed) == 0 {
			return nil
		}
		if err := tx.UpdateWebhookEndpoint(ctx, w); err != nil {
			return err
		}
		return appendTimeline(ctx, tx, stateEntry(w.ID, "UPDATED "+strings.Join(changed, ", ")+": "+endpointSummary(w), now))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// applyWebhookEndpointUpdate applies u to w and names the fields it changed.
func applyWebhookEndpointUpdate(w *autodebit.WebhookEndpoint, u WebhookEndpointUpdate) []string {
	var changed []string
	if u.URL != nil && *u.URL != w.URL {
		w.URL = *u.URL
		changed = append(changed, "url")
	}
	if u.EventTypes != nil && !slices.Equal(*u.EventTypes, w.EventTypes) {
		w.EventTypes = nil // every type
		if len(*u.EventTypes) > 0 {
			w.EventTypes = slices.Clone(*u.EventTypes)
		}
		changed = append(changed, "eventTypes")
	}
	if u.Description != nil && *u.Description != w.Description {
		w.Description = *u.Description
		changed = append(changed, "description")
	}
	if u.Enabled != nil && *u.Enabled != w.Enabled {
		w.Enabled = *u.Enabled
		if w.Enabled {
			w.FailingSince, w.DisabledReason = time.Time{}, ""
		} else {
			w.DisabledReason = DisabledByMerchant
		}
		changed = append(changed, "enabled")
	}
	return changed
}

// DeleteWebhookEndpoint removes an endpoint: nothing is delivered to it
// any more. It returns the endpoint as it was.
//
// Returns ENOTFOUND for an unknown endpoint.
func (e *Engine) DeleteWebhookEndpoint(ctx context.Context, id string) (*autodebit.WebhookEndpoint, error) {
	now := e.now()
	var out *autodebit.WebhookEndpoint
	err := e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		// Not FindWebhookEndpointForUpdate first: the store's delete locks
		// the endpoint's deliveries before the endpoint (the lock order, see
		// engine/webhook.go), and returns the endpoint as it deleted it.
		w, err := tx.DeleteWebhookEndpoint(ctx, id)
		if err != nil {
			return err
		}
		out = w
		return appendTimeline(ctx, tx, stateEntry(id, "DELETED "+endpointSummary(w), now))
	})
	if err != nil {
		return nil, err
	}
	e.log.Info("webhook endpoint deleted", "endpoint", out)
	return out, nil
}

// RotateWebhookEndpointSecret gives an endpoint a new signing secret, which
// the returned endpoint carries (show it now; it is not shown again). The
// old secret becomes PreviousSecret and still signs deliveries, beside the
// new one, for Config.WebhookSecretOverlap, so that the receiver can switch
// without refusing a delivery. Rotating again within the overlap ends the
// older secret's overlap at once: at most two secrets sign.
//
// Returns ENOTFOUND for an unknown endpoint.
func (e *Engine) RotateWebhookEndpointSecret(ctx context.Context, id string) (*autodebit.WebhookEndpoint, error) {
	return e.rotateWebhookEndpointSecret(ctx, id, nil)
}

// RotateWebhookEndpointSecretOnce is RotateWebhookEndpointSecret for a
// confirmation that may be sent twice (a reload, a double click): it
// rotates only if the endpoint's latest rotation is still the one its
// sender saw, lastRotation (the endpoint's PreviousSecretExpiresAt then;
// zero if it had never been rotated). A second rotation would otherwise end
// at once the overlap of the secret the receiver still uses.
//
// Returns ENOTFOUND for an unknown endpoint and ECONFLICT, rotating
// nothing, if it was rotated since.
func (e *Engine) RotateWebhookEndpointSecretOnce(ctx context.Context, id string, lastRotation time.Time) (*autodebit.WebhookEndpoint, error) {
	return e.rotateWebhookEndpointSecret(ctx, id, &lastRotation)
}

// rotateWebhookEndpointSecret rotates id's secret, if lastRotation is nil
// or is the endpoint's PreviousSecretExpiresAt, checked on the locked row.
func (e *Engine) rotateWebhookEndpointSecret(ctx context.Context, id string, lastRotation *time.Time) (*autodebit.WebhookEndpoint, error) {
	secret, err := webhook.NewSecret()
	if err != nil {
		return nil, err
	}
	now := e.now()
	var out *autodebit.WebhookEndpoint
	err = e.store.WithTx(ctx, func(tx autodebit.Tx) error {
		w, err := tx.FindWebhookEndpointForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if lastRotation != nil && !w.PreviousSecretExpiresAt.Equal(*lastRotation) {
			return autodebit.Errorf(autodebit.ECONFLICT,
				"The secret of webhook endpoint %s was rotated again since this rotation was asked for (its new secret was shown then); nothing was rotated.", id)
		}
		w.PreviousSecret, w.PreviousSecretExpiresAt = w.Secret, now.Add(e.cfg.WebhookSecretOverlap)
		w.Secret = secret
		if err := tx.UpdateWebhookEndpoint(ctx, w); err != nil {
			return err
		}
		out = w
		what := fmt.Sprintf("SECRET ROTATED; the previous secret also signs until %s", w.PreviousSecretExpiresAt.UTC().Format(time.RFC3339))
		return appendTimeline(ctx, tx, stateEntry(id, what, now))
	})
	if err != nil {
		return nil, err
	}
	e.log.Info("webhook endpoint secret rotated", "endpoint", out, "previousSecretExpiresAt", out.PreviousSecretExpiresAt)
	return out, nil
}

// endpointSummary describes an endpoint for its timeline, without secrets.
func endpointSummary(w *autodebit.WebhookEndpoint) string {
	types := "all event types"
	if len(w.EventTypes) > 0 {
		types = strings.Join(w.EventTypes, " ")
	}
	state := "enabled"
	if !w.Enabled {
		state = "disabled"
	}
	return fmt.Sprintf("url=%s eventTypes=%s %s", w.URL, types, state)
}

// checkWebhookHost applies the WebhookURLPolicy to rawURL's host: under
// WebhookURLsPublic the host, or every address it resolves to, must be a
// public address (see webhookAddrAllowed).
//
// This check at create and update time is for the merchant's benefit (a
// clear error now); it cannot stop DNS rebinding, where a name resolves to
// a public address now and a private one later. The delivery code must
// therefore check again at send time, on the address it actually connects
// to (a net.Dialer Control calling webhookAddrAllowed).
func (e *Engine) checkWebhookHost(ctx context.Context, rawURL string) error {
	if e.cfg.WebhookURLPolicy == WebhookURLsAny {
		return nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return autodebit.Errorf(autodebit.EINVALID, "Webhook endpoint url is not a valid URL.")
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		addrs, err = e.lookupHost(lctx, host)
		var dnsErr *net.DNSError
		switch {
		case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			return autodebit.Errorf(autodebit.EINVALID, "Webhook endpoint host %q does not exist (no DNS record).", host)
		case err != nil:
			e.log.Warn("resolve webhook endpoint host", "host", host, "err", err)
			return autodebit.Errorf(autodebit.EUNAVAILABLE, "Webhook endpoint host %q could not be resolved to check it is a public address; try again.", host)
		case len(addrs) == 0:
			return autodebit.Errorf(autodebit.EINVALID, "Webhook endpoint host %q has no address.", host)
		}
	}
	for _, a := range addrs {
		if !webhookAddrAllowed(a) {
			return autodebit.Errorf(autodebit.EINVALID,
				"Webhook endpoint host %q is (or resolves to) %s, a private, loopback or otherwise internal address, which this engine does not deliver to; use a public URL (a development engine can allow it with --webhook-allow-private).",
				host, a.Unmap())
		}
	}
	return nil
}

// Address ranges that netip does not call private but that are not the
// public internet either (RFC 6890 and friends): shared address space
// (carrier-grade NAT), "this network", IETF protocol assignments,
// benchmarking, the reserved 240/4, deprecated site-local IPv6, and the
// IPv6 prefixes that embed an IPv4 address (NAT64, 6to4, IPv4-compatible),
// whose embedded address is checked too.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("fec0::/10"),
}

// embeddedIPv4 returns the IPv4 address an IPv6 transition address
// carries: NAT64 (64:ff9b::/96, 64:ff9b:1::/48), 6to4 (2002::/16) and the
// deprecated IPv4-compatible form (::/96).
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	switch {
	case netip.MustParsePrefix("64:ff9b::/96").Contains(a), netip.MustParsePrefix("64:ff9b:1::/48").Contains(a),
		netip.MustParsePrefix("::/96").Contains(a):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case netip.MustParsePrefix("2002::/16").Contains(a):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

// webhookAddrAllowed reports whether WebhookURLsPublic lets a delivery go to
// a: a global unicast address that is not private (RFC 1918, RFC 4193),
// loopback, link-local, unspecified, multicast or in blockedPrefixes, and
// whose embedded IPv4 address, if any, is allowed too.
func webhookAddrAllowed(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() ||
		a.IsUnspecified() || a.IsMulticast() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	if v4, ok := embeddedIPv4(a); ok {
		return webhookAddrAllowed(v4)
	}
	return true
}
