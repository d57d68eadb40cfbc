package sqldb

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// TokenKeySize is the size of the key that encrypts secrets at rest.
const TokenKeySize = 32

// sealedPrefix marks the format of a sealed value: AES-256-GCM with a random
// 96-bit nonce, as "v1." + base64url(nonce || ciphertext || tag).
const sealedPrefix = "v1."

// secrets encrypts the secrets kept at rest (access and refresh tokens,
// authCodes) and hashes access tokens for lookup. Two keys are derived from
// the token key with HKDF-SHA256, one per purpose.
type secrets struct {
	aead    cipher.AEAD
	hashKey []byte

	// linkKey derives a link session's URL secret from its ID, and
	// linkHashKey keys the hash the session is found by: the secret itself
	// is never stored.
	linkKey, linkHashKey []byte
}

func newSecrets(tokenKey []byte) (*secrets, error) {
	if len(tokenKey) != TokenKeySize {
		return nil, fmt.Errorf("token key is %d bytes, want %d", len(tokenKey), TokenKeySize)
	}
	sealKey, err := hkdf.Key(sha256.New, tokenKey, nil, "autodebit secrets seal v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive seal key: %w", err)
	}
	hashKey, err := hkdf.Key(sha256.New, tokenKey, nil, "autodebit access token hash v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive hash key: %w", err)
	}
	linkKey, err := hkdf.Key(sha256.New, tokenKey, nil, "autodebit link session secret v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive link session key: %w", err)
	}
	linkHashKey, err := hkdf.Key(sha256.New, tokenKey, nil, "autodebit link session secret hash v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive link session hash key: %w", err)
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, fmt.Errorf("new cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new gcm: %w", err)
	}
	return &secrets{aead: aead, hashKey: hashKey, linkKey: linkKey, linkHashKey: linkHashKey}, nil
}

// seal encrypts plaintext, binding it to context (e.g. "tokens.access_token:tok_…")
// so that a sealed value copied to another row or column does not open.
// An empty plaintext seals to "" (stored as NULL).
func (s *secrets) seal(context, plaintext string) string {
	if plaintext == "" {
		return ""
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	rand.Read(nonce)
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(plaintext), []byte(context)))
}

// open reverses seal. It fails if the value was sealed with another key or
// for another context, or was altered.
func (s *secrets) open(context, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	enc, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return "", errors.New("unknown sealed format")
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", fmt.Errorf("decode sealed value: %w", err)
	} else if len(b) < s.aead.NonceSize() {
		return "", errors.New("sealed value too short")
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], []byte(context))
	if err != nil {
		return "", fmt.Errorf("decrypt (wrong token key?): %w", err)
	}
	return string(plain), nil
}

// hash returns the hex HMAC-SHA256 of an access token, by which a token is
// found without decrypting any row.
func (s *secrets) hash(accessToken string) string {
	m := hmac.New(sha256.New, s.hashKey)
	m.Write([]byte(accessToken))
	return hex.EncodeToString(m.Sum(nil))
}

// linkSecret returns the URL secret of link session id: the base64url
// HMAC-SHA256 of the ID under linkKey (43 characters, 256 bits), so that a
// store can show a session's URL again without keeping the secret.
func (s *secrets) linkSecret(id string) string {
	m := hmac.New(sha256.New, s.linkKey)
	m.Write([]byte("link_sessions:" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// linkSecretHash returns the hex HMAC-SHA256 of a link session secret
// under linkHashKey: what the link_sessions table keeps.
func (s *secrets) linkSecretHash(secret string) string {
	m := hmac.New(sha256.New, s.linkHashKey)
	m.Write([]byte(secret))
	return hex.EncodeToString(m.Sum(nil))
}
