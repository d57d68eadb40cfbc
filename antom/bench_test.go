package antom_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/autodebit/autodebit/antom"
)

func BenchmarkSign(b *testing.B) {
	mustKeys(b)
	v := loadVectors(b).Vectors[0]
	body := []byte(v.Body)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := antom.Sign(merchantKey, "POST", v.Path, v.ClientID, v.Time, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	mustKeys(b)
	v := loadVectors(b).Vectors[0]
	body := []byte(v.Body)
	pub := &merchantKey.PublicKey
	b.ReportAllocs()
	for b.Loop() {
		if err := antom.Verify(pub, "POST", v.Path, v.ClientID, v.Time, body, v.SignatureHeader); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPayRoundTrip is a full Pay over loopback: validate, marshal,
// sign, send over a reused connection, and verify the response, which the
// server signs with the Antom key (that signing is part of the time).
func BenchmarkPayRoundTrip(b *testing.B) {
	mustKeys(b)
	resp := readFile(b, "testdata/pay.response.success.json")
	const respTime = "2019-11-27T12:00:02+08:00"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		sig, err := antom.Sign(antomKey, http.MethodPost, r.URL.RequestURI(), sandboxClientID, respTime, resp)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Client-Id", sandboxClientID)
		w.Header().Set("Response-Time", respTime)
		w.Header().Set("Signature", antom.SignatureHeader("1", sig))
		w.Write(resp)
	}))
	b.Cleanup(srv.Close)
	c, err := antom.NewClient(antom.Config{BaseURL: srv.URL, ClientID: sandboxClientID, PrivateKey: merchantKey, AntomPublicKey: &antomKey.PublicKey})
	if err != nil {
		b.Fatal(err)
	}
	req := payReq()
	req.PaymentExpiryTime = antom.Time{}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		r, err := c.Pay(ctx, req)
		if err != nil || !r.Result.Succeeded() {
			b.Fatal(r, err)
		}
	}
}
