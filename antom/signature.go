package antom

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Algorithm is the only signature algorithm Antom uses: SHA256withRSA
// (RSASSA-PKCS1-v1_5 over a SHA-256 digest).
const Algorithm = "RSA256"

// DefaultKeyVersion is the keyVersion sent when none is configured; Antom's
// SDKs send "1".
const DefaultKeyVersion = "1"

// SignatureContent returns the exact bytes Antom signs:
//
//	<method> <uri>\n<clientID>.<time>.<body>
//
// uri is the request path plus query string, without scheme or host. The
// same shape is used for requests, responses and notifications; see Sign.
func SignatureContent(method, uri, clientID, time string, body []byte) []byte {
	b := make([]byte, 0, len(method)+len(uri)+len(clientID)+len(time)+len(body)+4)
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, '\n')
	b = append(b, clientID...)
	b = append(b, '.')
	b = append(b, time...)
	b = append(b, '.')
	b = append(b, body...)
	return b
}

// digest hashes the signature content without building it in memory.
func digest(method, uri, clientID, time string, body []byte) []byte {
	h := sha256.New()
	io.WriteString(h, method)
	io.WriteString(h, " ")
	io.WriteString(h, uri)
	io.WriteString(h, "\n")
	io.WriteString(h, clientID)
	io.WriteString(h, ".")
	io.WriteString(h, time)
	io.WriteString(h, ".")
	h.Write(body)
	return h.Sum(nil)
}

// Sign signs the content of SignatureContent with key and returns the
// signature as Antom puts it in a header: standard base64, then URL-encoded
// with form encoding ('+' → %2B, '/' → %2F, '=' → %3D).
//
// For a request, key is the merchant's private key and time the Request-Time
// header; for a response or notification, key is Antom's and time is the
// Response-Time or Request-Time header. RSASSA-PKCS1-v1_5 is deterministic,
// so the same inputs always give the same signature.
func Sign(key *rsa.PrivateKey, method, uri, clientID, time string, body []byte) (string, error) {
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest(method, uri, clientID, time, body))
	if err != nil {
		return "", fmt.Errorf("sign %s %s: %w", method, uri, err)
	}
	return url.QueryEscape(base64.StdEncoding.EncodeToString(sig)), nil
}

// SignatureHeader formats the value of the Signature header.
func SignatureHeader(keyVersion, signature string) string {
	if keyVersion == "" {
		keyVersion = DefaultKeyVersion
	}
	return "algorithm=" + Algorithm + ",keyVersion=" + keyVersion + ",signature=" + signature
}

// ParsedSignature is a parsed Signature header.
type ParsedSignature struct {
	Algorithm  string
	KeyVersion string // empty when the header has none
	Signature  []byte // raw RSA signature bytes
}

// ParseSignatureHeader parses "algorithm=RSA256,keyVersion=1,signature=…".
// Spaces around the parts are allowed (Antom's docs show them after commas).
// Everything after the first "signature=" is the URL-encoded base64
// signature, as Antom's SDKs read it; base64 that was not URL-encoded is
// accepted too ('+' is kept, not read as a space). The algorithm may be
// absent, as the SDKs never read it; when present it must be RSA256.
//
// Errors wrap ErrBadSignature.
func ParseSignatureHeader(h string) (*ParsedSignature, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return nil, fmt.Errorf("%w: Signature header is empty", ErrBadSignature)
	}
	i := strings.Index(h, "signature=")
	if i < 0 {
		return nil, fmt.Errorf("%w: Signature header has no signature= part", ErrBadSignature)
	}
	p := &ParsedSignature{}
	for field := range strings.SplitSeq(h[:i], ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return nil, fmt.Errorf("%w: Signature header part %q is not key=value", ErrBadSignature, field)
		}
		switch strings.TrimSpace(k) {
		case "algorithm":
			p.Algorithm = strings.TrimSpace(v)
		case "keyVersion":
			p.KeyVersion = strings.TrimSpace(v)
		default:
			// Unknown attributes are ignored, as Antom's SDKs do.
		}
	}
	if p.Algorithm != "" && p.Algorithm != Algorithm {
		return nil, fmt.Errorf("%w: algorithm %q is not supported, want %s", ErrBadSignature, p.Algorithm, Algorithm)
	}
	enc := strings.TrimSpace(h[i+len("signature="):])
	if enc == "" {
		return nil, fmt.Errorf("%w: signature value is empty", ErrBadSignature)
	}
	// PathUnescape, not QueryUnescape: it decodes %2B, %2F and %3D the same
	// way but keeps a literal '+', which can only be base64.
	unesc, err := url.PathUnescape(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not URL-encoded: %v", ErrBadSignature, err)
	}
	raw, err := base64.StdEncoding.DecodeString(unesc)
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not base64: %v", ErrBadSignature, err)
	}
	if len(raw) == 0 {
		// base64 skips line breaks, so "%0A" decodes to nothing.
		return nil, fmt.Errorf("%w: signature value is empty", ErrBadSignature)
	}
	p.Signature = raw
	return p, nil
}

// Verify checks a Signature header value against the content of
// SignatureContent, using the signer's public key. It returns an error
// wrapping ErrBadSignature when the header is malformed or the signature does
// not match.
func Verify(pub *rsa.PublicKey, method, uri, clientID, time string, body []byte, header string) error {
	p, err := ParseSignatureHeader(header)
	if err != nil {
		return err
	}
	return VerifyParsed(pub, method, uri, clientID, time, body, p)
}

// VerifyParsed is Verify for an already parsed header.
func VerifyParsed(pub *rsa.PublicKey, method, uri, clientID, time string, body []byte, p *ParsedSignature) error {
	if pub == nil {
		return errors.New("verify signature: no public key configured")
	}
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest(method, uri, clientID, time, body), p.Signature); err != nil {
		return fmt.Errorf("%w: does not match %s %s signed by client %q at %q", ErrBadSignature, method, uri, clientID, time)
	}
	return nil
}
