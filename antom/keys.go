package antom

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"
)

// KeyError reports a key that could not be used. Which names the key
// ("merchant private key", "Antom public key", …) and Reason says what is
// wrong with it in words a person can act on.
type KeyError struct {
	Which  string
	Reason string
	Err    error
}

func (e *KeyError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Which, e.Reason, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Which, e.Reason)
}

func (e *KeyError) Unwrap() error { return e.Err }

// MinKeyBits is the smallest RSA modulus accepted. Antom issues and expects
// RSA-2048 keys.
const MinKeyBits = 2048

// ParsePrivateKey parses an RSA private key in any of the forms a merchant
// meets: the one-line base64 PKCS#8 DER that Antom's dashboard shows, PEM
// "PRIVATE KEY" (PKCS#8) or PEM "RSA PRIVATE KEY" (PKCS#1), or one-line
// base64 PKCS#1. Whitespace around and inside the base64 is ignored.
//
// which names the key in errors, e.g. "merchant private key".
func ParsePrivateKey(which, s string) (*rsa.PrivateKey, error) {
	der, err := keyDER(which, s)
	if err != nil {
		return nil, err
	}
	var key *rsa.PrivateKey
	if k, err8 := x509.ParsePKCS8PrivateKey(der); err8 == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, &KeyError{Which: which, Reason: fmt.Sprintf("is a %T, want an RSA key", k)}
		}
		key = rk
	} else if k, err1 := x509.ParsePKCS1PrivateKey(der); err1 == nil {
		key = k
	} else {
		if _, errPub := x509.ParsePKIXPublicKey(der); errPub == nil {
			return nil, &KeyError{Which: which, Reason: "is a public key, want a private key"}
		}
		if _, errPub := x509.ParsePKCS1PublicKey(der); errPub == nil {
			return nil, &KeyError{Which: which, Reason: "is a public key, want a private key"}
		}
		return nil, &KeyError{Which: which, Reason: "is neither PKCS#8 nor PKCS#1 DER", Err: err8}
	}
	if n := key.N.BitLen(); n < MinKeyBits {
		return nil, &KeyError{Which: which, Reason: fmt.Sprintf("is %d bits, want at least %d", n, MinKeyBits)}
	}
	if err := key.Validate(); err != nil {
		return nil, &KeyError{Which: which, Reason: "is not a valid RSA key", Err: err}
	}
	key.Precompute()
	return key, nil
}

// ParsePublicKey parses an RSA public key: one-line base64 X.509
// SubjectPublicKeyInfo DER as Antom's dashboard shows it, PEM "PUBLIC KEY",
// or PEM "RSA PUBLIC KEY" (PKCS#1). Whitespace around and inside the base64
// is ignored; anything after the key is refused.
//
// which names the key in errors, e.g. "Antom public key".
func ParsePublicKey(which, s string) (*rsa.PublicKey, error) {
	der, err := keyDER(which, s)
	if err != nil {
		return nil, err
	}
	var key *rsa.PublicKey
	if k, errX := x509.ParsePKIXPublicKey(der); errX == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, &KeyError{Which: which, Reason: fmt.Sprintf("is a %T, want an RSA key", k)}
		}
		key = rk
	} else if k, err1 := x509.ParsePKCS1PublicKey(der); err1 == nil {
		key = k
	} else {
		if _, errPriv := x509.ParsePKCS8PrivateKey(der); errPriv == nil {
			return nil, &KeyError{Which: which, Reason: "is a private key, want a public key"}
		}
		if _, errPriv := x509.ParsePKCS1PrivateKey(der); errPriv == nil {
			return nil, &KeyError{Which: which, Reason: "is a private key, want a public key"}
		}
		return nil, &KeyError{Which: which, Reason: "is not X.509 SubjectPublicKeyInfo DER", Err: errX}
	}
	if n := key.N.BitLen(); n < MinKeyBits {
		return nil, &KeyError{Which: which, Reason: fmt.Sprintf("is %d bits, want at least %d", n, MinKeyBits)}
	}
	return key, nil
}

// keyDER returns the DER bytes inside a PEM block or a base64 string.
func keyDER(which, s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, &KeyError{Which: which, Reason: "is empty"}
	}
	if strings.HasPrefix(s, "-----BEGIN") {
		block, rest := pem.Decode([]byte(s))
		if block == nil {
			return nil, &KeyError{Which: which, Reason: "has a PEM header but no valid PEM block"}
		}
		if len(strings.TrimSpace(string(rest))) > 0 {
			return nil, &KeyError{Which: which, Reason: "has data after its PEM block"}
		}
		if len(block.Headers) > 0 || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, &KeyError{Which: which, Reason: "is an encrypted PEM key; decrypt it first"}
		}
		if block.Type == "CERTIFICATE" {
			return nil, &KeyError{Which: which, Reason: "is a certificate, want a key"}
		}
		return checkTrailing(which, block.Bytes)
	}
	clean := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
	der, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return nil, &KeyError{Which: which, Reason: "is not PEM and not valid base64", Err: err}
	}
	return checkTrailing(which, der)
}

// checkTrailing refuses bytes after the key's DER structure, which
// x509.ParsePKCS8PrivateKey would silently ignore.
func checkTrailing(which string, der []byte) ([]byte, error) {
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil {
		return nil, &KeyError{Which: which, Reason: "is not DER-encoded", Err: err}
	}
	if len(rest) > 0 {
		return nil, &KeyError{Which: which, Reason: fmt.Sprintf("has %d bytes of trailing data after the key", len(rest))}
	}
	return der, nil
}

// KeyPair is an RSA key pair in the encodings Antom's dashboard uses.
type KeyPair struct {
	PrivateKey *rsa.PrivateKey
	// PrivateKeyBase64 is the one-line base64 PKCS#8 DER of the private key.
	PrivateKeyBase64 string
	// PublicKeyBase64 is the one-line base64 X.509 SubjectPublicKeyInfo DER.
	PublicKeyBase64 string
}

// PrivateKeyPEM returns the private key as a PEM "PRIVATE KEY" (PKCS#8) block.
func (p *KeyPair) PrivateKeyPEM() string {
	der, _ := base64.StdEncoding.DecodeString(p.PrivateKeyBase64)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// PublicKeyPEM returns the public key as a PEM "PUBLIC KEY" block.
func (p *KeyPair) PublicKeyPEM() string {
	der, _ := base64.StdEncoding.DecodeString(p.PublicKeyBase64)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// GenerateKeyPair makes a new RSA-2048 key pair with crypto/rand.
func GenerateKeyPair() (*KeyPair, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate rsa key: %w", err)
	}
	return NewKeyPair(key)
}

// NewKeyPair encodes an existing private key and its public half.
func NewKeyPair(key *rsa.PrivateKey) (*KeyPair, error) {
	priv, err := EncodePrivateKey(key)
	if err != nil {
		return nil, err
	}
	pub, err := EncodePublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return &KeyPair{PrivateKey: key, PrivateKeyBase64: priv, PublicKeyBase64: pub}, nil
}

// EncodePrivateKey returns key as one-line base64 PKCS#8 DER.
func EncodePrivateKey(key *rsa.PrivateKey) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("marshal private key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// EncodePublicKey returns key as one-line base64 X.509 SubjectPublicKeyInfo DER.
func EncodePublicKey(key *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return "", fmt.Errorf("marshal public key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(der), nil
}
