package sqldb

import (
	"bytes"
	"strings"
	"testing"
)

func TestSecrets(t *testing.T) {
	s, err := newSecrets(bytes.Repeat([]byte{1}, TokenKeySize))
	if err != nil {
		t.Fatal(err)
	}
	const plain = "281100000000000000000000secret"
	sealed := s.seal("tokens.access_token:tok_1", plain)
	if !strings.HasPrefix(sealed, sealedPrefix) || strings.Contains(sealed, "secret") {
		t.Fatalf("sealed=%q", sealed)
	}
	if again := s.seal("tokens.access_token:tok_1", plain); again == sealed {
		t.Fatal("two seals of the same value are equal: nonce reused")
	}
	if got, err := s.open("tokens.access_token:tok_1", sealed); err != nil || got != plain {
		t.Fatalf("open=%q, %v", got, err)
	}
	if got, err := s.open("x", ""); err != nil || got != "" || s.seal("x", "") != "" {
		t.Fatalf("empty value: %q, %v", got, err)
	}

	other, err := newSecrets(bytes.Repeat([]byte{2}, TokenKeySize))
	if err != nil {
		t.Fatal(err)
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if tampered == sealed {
		tampered = sealed[:len(sealed)-2] + "BB"
	}
	for name, open := range map[string]func() (string, error){
		"WrongKey":     func() (string, error) { return other.open("tokens.access_token:tok_1", sealed) },
		"WrongContext": func() (string, error) { return s.open("tokens.access_token:tok_2", sealed) },
		"Tampered":     func() (string, error) { return s.open("tokens.access_token:tok_1", tampered) },
		"Plaintext":    func() (string, error) { return s.open("tokens.access_token:tok_1", plain) },
		"Short":        func() (string, error) { return s.open("tokens.access_token:tok_1", sealedPrefix+"AAAA") },
	} {
		if got, err := open(); err == nil {
			t.Errorf("%s: opened as %q", name, got)
		}
	}

	if s.hash(plain) != s.hash(plain) || s.hash(plain) == other.hash(plain) || s.hash(plain) == s.hash(plain+"x") {
		t.Fatal("hash is not a keyed function of the token")
	}
	if _, err := newSecrets(make([]byte, 16)); err == nil {
		t.Fatal("accepted a 16-byte key")
	}
}
