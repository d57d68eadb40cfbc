package antom_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"testing"

	"github.com/autodebit/autodebit/antom"
)

type vectorFile struct {
	PrivateKey string   `json:"testPrivateKeyPkcs8Base64"`
	PublicKey  string   `json:"testPublicKeyX509Base64"`
	Vectors    []vector `json:"vectors"`
}

type vector struct {
	Name            string `json:"name"`
	Path            string `json:"path"`
	ClientID        string `json:"clientId"`
	Time            string `json:"timeHeaderValue"`
	Body            string `json:"body"`
	ContentToSign   string `json:"contentToSign"`
	SignatureURLEnc string `json:"signatureUrlEncoded"`
	SignatureHeader string `json:"signatureHeader"`
}

func loadVectors(tb testing.TB) vectorFile {
	tb.Helper()
	b, err := os.ReadFile("testdata/signature-test-vector.json")
	if err != nil {
		tb.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		tb.Fatal(err)
	}
	if len(f.Vectors) == 0 {
		tb.Fatal("no vectors")
	}
	return f
}

func TestSignatureVector(t *testing.T) {
	f := loadVectors(t)
	priv, err := antom.ParsePrivateKey("test private key", f.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := antom.ParsePublicKey("test public key", f.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			body := []byte(v.Body)
			if got := string(antom.SignatureContent("POST", v.Path, v.ClientID, v.Time, body)); got != v.ContentToSign {
				t.Fatalf("content=%q, want %q", got, v.ContentToSign)
			}
			sig, err := antom.Sign(priv, "POST", v.Path, v.ClientID, v.Time, body)
			if err != nil {
				t.Fatal(err)
			}
			if sig != v.SignatureURLEnc {
				t.Fatalf("signature=%s, want %s", sig, v.SignatureURLEnc)
			}
			if h := antom.SignatureHeader("1", sig); h != v.SignatureHeader {
				t.Fatalf("header=%s, want %s", h, v.SignatureHeader)
			}
			if err := antom.Verify(pub, "POST", v.Path, v.ClientID, v.Time, body, v.SignatureHeader); err != nil {
				t.Fatalf("verify: %v", err)
			}
			// A one-bit change in any signed input fails verification.
			flip := func(s string) string {
				b := []byte(s)
				b[len(b)/2] ^= 1
				return string(b)
			}
			cases := map[string]func() error{
				"body": func() error {
					return antom.Verify(pub, "POST", v.Path, v.ClientID, v.Time, []byte(flip(v.Body)), v.SignatureHeader)
				},
				"path": func() error {
					return antom.Verify(pub, "POST", flip(v.Path), v.ClientID, v.Time, body, v.SignatureHeader)
				},
				"clientID": func() error {
					return antom.Verify(pub, "POST", v.Path, flip(v.ClientID), v.Time, body, v.SignatureHeader)
				},
				"time": func() error {
					return antom.Verify(pub, "POST", v.Path, v.ClientID, flip(v.Time), body, v.SignatureHeader)
				},
			}
			for name, verify := range cases {
				if err := verify(); !errors.Is(err, antom.ErrBadSignature) {
					t.Errorf("one bit changed in %s: err=%v, want ErrBadSignature", name, err)
				}
			}
		})
	}
}

func TestParseSignatureHeader(t *testing.T) {
	f := loadVectors(t)
	v := f.Vectors[0]
	enc := v.SignatureURLEnc
	raw, _ := url.QueryUnescape(enc)
	want, _ := base64.StdEncoding.DecodeString(raw)
	for _, tc := range []struct {
		name, header, keyVersion, algorithm string
	}{
		{"SDK", "algorithm=RSA256,keyVersion=1,signature=" + enc, "1", "RSA256"},
		{"DocsSpaces", "algorithm=RSA256, keyVersion=2, signature=" + enc, "2", "RSA256"},
		{"SpacesEverywhere", "  algorithm = RSA256 ,  keyVersion = 1 ,signature=" + enc + "  ", "1", "RSA256"},
		{"NoAlgorithm", "keyVersion=1,signature=" + enc, "1", ""},
		{"SignatureOnly", "signature=" + enc, "", ""},
		{"NotURLEncoded", "algorithm=RSA256,keyVersion=1,signature=" + raw, "1", "RSA256"},
		{"UnknownPart", "algorithm=RSA256,foo=bar,keyVersion=1,signature=" + enc, "1", "RSA256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := antom.ParseSignatureHeader(tc.header)
			if err != nil {
				t.Fatal(err)
			}
			if p.KeyVersion != tc.keyVersion || p.Algorithm != tc.algorithm || !bytes.Equal(p.Signature, want) {
				t.Fatalf("parsed %+v", p)
			}
			pub, _ := antom.ParsePublicKey("k", f.PublicKey)
			if err := antom.Verify(pub, "POST", v.Path, v.ClientID, v.Time, []byte(v.Body), tc.header); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, tc := range []struct{ name, header string }{
		{"Empty", "  "},
		{"NoSignature", "algorithm=RSA256,keyVersion=1"},
		{"EmptySignature", "algorithm=RSA256,keyVersion=1,signature= "},
		{"OtherAlgorithm", "algorithm=RSA512,keyVersion=1,signature=" + enc},
		{"NotKeyValue", "algorithm,signature=" + enc},
		{"BadEscape", "signature=%zz"},
		{"NotBase64", "signature=%21%21%21"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := antom.ParseSignatureHeader(tc.header); !errors.Is(err, antom.ErrBadSignature) {
				t.Fatalf("err=%v, want ErrBadSignature", err)
			}
		})
	}
	if err := antom.Verify(nil, "POST", "/", "c", "t", nil, "signature=AAAA"); err == nil {
		t.Fatal("Verify with no key must fail")
	}
}
