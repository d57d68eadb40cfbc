// Package webhook signs and verifies autodebit's webhook deliveries, which
// follow the Standard Webhooks specification (standardwebhooks.com): a POST
// whose body is the event, with the headers webhook-id (the event ID, the
// same on every attempt), webhook-timestamp (Unix seconds of the attempt)
// and webhook-signature, a space-separated list of "v1,<base64 of
// HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>", one per secret the
// sender still honours.
//
// A receiver verifies with a Verifier; the engine's deliveries and
// `autodebit listen` sign with Sign and SetHeaders, so that there is one
// implementation of the scheme. The package imports only the standard
// library, so a merchant's backend can take it without the rest of autodebit.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every signing secret, so that one is recognised as such
// wherever it is pasted (the Standard Webhooks serialisation).
const SecretPrefix = "whsec_"

// Secret sizes. NewSecret draws SecretBytes; a secret given to Sign or a
// Verifier must decode to between MinSecretBytes and MaxSecretBytes, the
// range the specification allows for HMAC-SHA256 keys.
const (
	SecretBytes    = 32
	MinSecretBytes = 24
	MaxSecretBytes = 64
)

// signatureVersion marks an HMAC-SHA256 signature in webhook-signature
// ("v1a" would be ed25519, which autodebit does not send).
const signatureVersion = "v1"

// NewSecret returns a new signing secret: "whsec_" and the padded standard
// base64 of SecretBytes random bytes.
func NewSecret() (string, error) {
	b := make([]byte, SecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook: draw a secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// ParseSecret returns the key bytes of a secret in NewSecret's form. Anything
// else is refused, with a reason that never repeats the secret: a secret
// without the whsec_ prefix (a raw key, or an API key pasted by mistake),
// one that is not padded standard base64, or one outside the allowed size.
func ParseSecret(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New("webhook: the secret does not start with whsec_; use the secret autodebit showed when the endpoint was created or its secret rotated")
	}
	key, err := base64.StdEncoding.Strict().DecodeString(enc)
	if err != nil {
		return nil, errors.New("webhook: the secret after whsec_ is not padded standard base64; copy it whole, with any trailing '='")
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, fmt.Errorf("webhook: the secret decodes to %d bytes; a signing secret has %d to %d", len(key), MinSecretBytes, MaxSecretBytes)
	}
	return key, nil
}

// Sign returns the signature of one attempt: "v1," and the base64 of
// HMAC-SHA256(key, "{id}.{unix ts}.{body}"). id must not contain a '.', which
// would make the signed content ambiguous (event IDs never do).
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return "", err
	}
	if err := checkID(id); err != nil {
		return "", err
	}
	return signatureVersion + "," + base64.StdEncoding.EncodeToString(mac(key, id, ts.Unix(), body)), nil
}

// SignatureHeader returns the webhook-signature value for secrets: each
// one's signature, space-separated, in order. Sending the current secret's
// and a rotated-out one's lets a receiver move to the new secret without
// missing a delivery.
func SignatureHeader(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("webhook: no secret to sign with")
	}
	sigs := make([]string, 0, len(secrets))
	for i, s := range secrets {
		sig, err := Sign(s, id, ts, body)
		if err != nil {
			return "", fmt.Errorf("secret %d of %d: %w", i+1, len(secrets), err)
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// SetHeaders sets on h everything a delivery of body carries besides the
// body: Content-Type, webhook-id, webhook-timestamp (ts in Unix seconds) and
// webhook-signature for secrets. ts is the attempt's time, wall-clock time
// even in simulator mode, as receivers compare it with their own clock.
func SetHeaders(h http.Header, secrets []string, id string, ts time.Time, body []byte) error {
	sig, err := SignatureHeader(secrets, id, ts, body)
	if err != nil {
		return err
	}
	h.Set("Content-Type", "application/json")
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return nil
}

func checkID(id string) error {
	if id == "" {
		return errors.New("webhook: the message ID is empty")
	}
	if strings.ContainsAny(id, ". \t\r\n") {
		return fmt.Errorf("webhook: the message ID %q contains a '.' or a space; it would make the signed content ambiguous", clip(id, 64))
	}
	return nil
}

// mac computes HMAC-SHA256(key, "{id}.{ts}.{body}").
func mac(key []byte, id string, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, ts, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// clip shortens s for an error message, so that a hostile header cannot
// flood a log.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
