package antom_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/autodebit/autodebit/antom"
)

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestParsePrivateKey_Formats(t *testing.T) {
	mustKeys(t)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(merchantKey)
	pkcs1 := x509.MarshalPKCS1PrivateKey(merchantKey)
	b64 := base64.StdEncoding.EncodeToString
	wrapped := b64(pkcs8)
	wrapped = wrapped[:64] + "\n" + wrapped[64:128] + "\r\n " + wrapped[128:]
	for name, s := range map[string]string{
		"Base64PKCS8":        b64(pkcs8),
		"Base64PKCS8Wrapped": "  " + wrapped + "\n",
		"PEMPKCS8":           pemOf("PRIVATE KEY", pkcs8),
		"PEMPKCS1":           pemOf("RSA PRIVATE KEY", pkcs1),
		"Base64PKCS1":        b64(pkcs1),
	} {
		t.Run(name, func(t *testing.T) {
			k, err := antom.ParsePrivateKey("merchant private key", s)
			if err != nil {
				t.Fatal(err)
			}
			if !k.Equal(merchantKey) {
				t.Fatal("parsed a different key")
			}
		})
	}
}

func TestParsePublicKey_Formats(t *testing.T) {
	mustKeys(t)
	pub := &antomKey.PublicKey
	spki, _ := x509.MarshalPKIXPublicKey(pub)
	for name, s := range map[string]string{
		"Base64X509": base64.StdEncoding.EncodeToString(spki),
		"PEM":        pemOf("PUBLIC KEY", spki),
		"PEMPKCS1":   pemOf("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(pub)),
	} {
		t.Run(name, func(t *testing.T) {
			k, err := antom.ParsePublicKey("Antom public key", s)
			if err != nil {
				t.Fatal(err)
			}
			if !k.Equal(pub) {
				t.Fatal("parsed a different key")
			}
		})
	}
}

func TestParseKey_Errors(t *testing.T) {
	mustKeys(t)
	b64 := base64.StdEncoding.EncodeToString
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(merchantKey)
	pkcs1 := x509.MarshalPKCS1PrivateKey(merchantKey)
	spki, _ := x509.MarshalPKIXPublicKey(&merchantKey.PublicKey)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	small8, _ := x509.MarshalPKCS8PrivateKey(small)
	smallPub, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec8, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPub, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	encrypted := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: pkcs1}))

	for _, tc := range []struct {
		name    string
		private bool
		in      string
		reason  string
	}{
		{"PrivEmpty", true, "  \n", "is empty"},
		{"PrivGarbage", true, "not a key!", "not PEM and not valid base64"},
		{"PrivBase64Garbage", true, b64([]byte("hello world")), "DER"},
		{"PrivGivenPublic", true, b64(spki), "is a public key"},
		{"PrivGivenPublicPEM", true, pemOf("PUBLIC KEY", spki), "is a public key"},
		{"PrivGivenPKCS1Public", true, b64(x509.MarshalPKCS1PublicKey(&merchantKey.PublicKey)), "is a public key"},
		{"Priv1024", true, b64(small8), "is 1024 bits"},
		{"PrivEncryptedPEM", true, encrypted, "encrypted"},
		{"PrivEncryptedPKCS8PEM", true, pemOf("ENCRYPTED PRIVATE KEY", pkcs8), "encrypted"},
		{"PrivTrailingBase64", true, b64(append(append([]byte{}, pkcs8...), 0, 1, 2)), "trailing data"},
		{"PrivTrailingPEM", true, pemOf("PRIVATE KEY", pkcs8) + "junk", "data after its PEM block"},
		{"PrivBrokenPEM", true, "-----BEGIN PRIVATE KEY-----\nAAAA", "no valid PEM block"},
		{"PrivEC", true, b64(ec8), "want an RSA key"},
		{"PubEmpty", false, "", "is empty"},
		{"PubGarbage", false, "%%%", "not PEM and not valid base64"},
		{"PubGivenPrivate", false, b64(pkcs8), "is a private key"},
		{"PubGivenPKCS1Private", false, b64(pkcs1), "is a private key"},
		{"PubGivenPrivatePEM", false, pemOf("PRIVATE KEY", pkcs8), "is a private key"},
		{"Pub1024", false, b64(smallPub), "is 1024 bits"},
		{"PubTrailing", false, b64(append(append([]byte{}, spki...), 0)), "trailing data"},
		{"PubEC", false, b64(ecPub), "want an RSA key"},
		{"PubCertificate", false, pemOf("CERTIFICATE", spki), "certificate"},
		{"PubNotSPKI", false, b64([]byte{0x30, 0x03, 0x02, 0x01, 0x05}), "not X.509"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			which := "Antom public key"
			var err error
			if tc.private {
				which = "merchant private key"
				_, err = antom.ParsePrivateKey(which, tc.in)
			} else {
				_, err = antom.ParsePublicKey(which, tc.in)
			}
			var ke *antom.KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("err=%v, want *KeyError", err)
			}
			if ke.Which != which || !strings.Contains(ke.Reason, tc.reason) || !strings.HasPrefix(err.Error(), which+": ") {
				t.Fatalf("err=%q (reason %q), want it to name %q and say %q", err, ke.Reason, which, tc.reason)
			}
		})
	}
}

func TestGenerateKeyPair(t *testing.T) {
	kp, err := antom.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	if kp.PrivateKey.N.BitLen() != 2048 {
		t.Fatalf("bits=%d", kp.PrivateKey.N.BitLen())
	}
	if strings.ContainsAny(kp.PrivateKeyBase64+kp.PublicKeyBase64, "\n -") {
		t.Fatal("base64 keys must be one line without armour")
	}
	for name, s := range map[string]string{"base64": kp.PrivateKeyBase64, "PEM": kp.PrivateKeyPEM()} {
		priv, err := antom.ParsePrivateKey("generated private key", s)
		if err != nil || !priv.Equal(kp.PrivateKey) {
			t.Fatalf("%s private key does not round-trip: %v", name, err)
		}
	}
	for name, s := range map[string]string{"base64": kp.PublicKeyBase64, "PEM": kp.PublicKeyPEM()} {
		pub, err := antom.ParsePublicKey("generated public key", s)
		if err != nil || !pub.Equal(&kp.PrivateKey.PublicKey) {
			t.Fatalf("%s public key does not round-trip: %v", name, err)
		}
	}
	if !strings.HasPrefix(kp.PrivateKeyPEM(), "-----BEGIN PRIVATE KEY-----") || !strings.HasPrefix(kp.PublicKeyPEM(), "-----BEGIN PUBLIC KEY-----") {
		t.Fatal("PEM block types")
	}
	sig, err := antom.Sign(kp.PrivateKey, "POST", "/p", "c", "1", []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := antom.ParsePublicKey("k", kp.PublicKeyBase64)
	if err := antom.Verify(pub, "POST", "/p", "c", "1", []byte("{}"), antom.SignatureHeader("", sig)); err != nil {
		t.Fatal(err)
	}
}
