package antomsim_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
)

// timed wraps a handler and adds up the wall time spent in it.
type timed struct {
	h     http.Handler
	total atomic.Int64
}

func (t *timed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	t.h.ServeHTTP(w, r)
	t.total.Add(int64(time.Since(start)))
}

// signNs measures one RSA-2048 signature, the unit the simulator's cost is
// compared with.
func signNs(b *testing.B, key *rsa.PrivateKey) float64 {
	d := sha256.Sum256([]byte("x"))
	const n = 200
	start := time.Now()
	for range n {
		rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	}
	return float64(time.Since(start).Nanoseconds()) / n
}

// BenchmarkPay drives antom.Client.Pay against httptest.NewServer(sim),
// sequentially, with merchant signatures verified and notifications going
// to a receiver. It reports sim-ns/op (time inside the simulator's handler,
// which signs the response), sign-ns (one RSA-2048 signature) and
// sim/sign, the ratio that must stay within 1.3.
//
// NoNotify sends no notifications; Notify also delivers notifyPayment for
// every pay (one more Antom signature, in the background, on the same two
// cores), so its sim-ns/op includes that contention.
func BenchmarkPay(b *testing.B) {
	b.Run("NoNotify", func(b *testing.B) { benchmarkPay(b, false) })
	b.Run("Notify", func(b *testing.B) { benchmarkPay(b, true) })
}

func benchmarkPay(b *testing.B, notify bool) {
	mk, ak := keys(b)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { antom.WriteAck(w) }))
	defer recv.Close()
	notifyURL := ""
	if notify {
		notifyURL = recv.URL
	}
	sim, err := antomsim.New(antomsim.Config{ClientID: "BENCH", AntomPrivateKey: ak, MerchantPublicKey: &mk.PublicKey,
		NotifyURL: notifyURL, Seed: 1, DefaultBalance: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	th := &timed{h: sim}
	srv := httptest.NewServer(th)
	defer srv.Close()
	client, _ := antom.NewClient(antom.Config{BaseURL: srv.URL, ClientID: "BENCH", PrivateKey: mk, AntomPublicKey: sim.AntomPublicKey()})
	ctx := context.Background()
	c, err := client.Consult(ctx, consultReq("GCASH", "bench"))
	if err != nil {
		b.Fatal(err)
	}
	a, _ := sim.Approve(c.AuthCodeForm.Text(), "")
	tok, _ := client.ApplyToken(ctx, &antom.ApplyTokenRequest{GrantType: antom.GrantTypeAuthorizationCode, CustomerBelongsTo: "GCASH", AuthCode: a.AuthCode})
	sign := signNs(b, ak)
	th.total.Store(0)
	b.ResetTimer()
	for i := range b.N {
		r, err := client.Pay(ctx, payReq(fmt.Sprintf("bench-%d", i), tok.AccessToken, "GCASH", php(100)))
		if err != nil || !r.Result.Succeeded() {
			b.Fatalf("pay: %v %+v", err, r)
		}
	}
	b.StopTimer()
	simNs := float64(th.total.Load()) / float64(b.N)
	b.ReportMetric(simNs, "sim-ns/op")
	b.ReportMetric(sign, "sign-ns")
	b.ReportMetric(simNs/sign, "sim/sign")
}

// BenchmarkServePay calls the simulator's handler in process with pre-signed
// pay requests: ns/op is the simulator's own CPU per signed call (verify the
// merchant signature, decode, validate, pay, sign the answer). sim/sign is
// its ratio to one RSA-2048 signature.
func BenchmarkServePay(b *testing.B) {
	mk, ak := keys(b)
	sim, err := antomsim.New(antomsim.Config{ClientID: "BENCH", AntomPrivateKey: ak, MerchantPublicKey: &mk.PublicKey,
		Seed: 1, DefaultBalance: 1 << 40, ManualClock: true})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	srv := httptest.NewServer(sim)
	defer srv.Close()
	client, _ := antom.NewClient(antom.Config{BaseURL: srv.URL, ClientID: "BENCH", PrivateKey: mk, AntomPublicKey: sim.AntomPublicKey(), NowFunc: sim.Now})
	ctx := context.Background()
	c, _ := client.Consult(ctx, consultReq("GCASH", "bench"))
	a, _ := sim.Approve(c.AuthCodeForm.Text(), "")
	tok, _ := client.ApplyToken(ctx, &antom.ApplyTokenRequest{GrantType: antom.GrantTypeAuthorizationCode, CustomerBelongsTo: "GCASH", AuthCode: a.AuthCode})
	const path = "/ams/api/v1/payments/pay"
	type signed struct {
		body []byte
		sig  string
	}
	reqs := make([]signed, b.N)
	for i := range reqs {
		body, _ := antom.MarshalBody(payReq(fmt.Sprintf("bench-%d", i), tok.AccessToken, "GCASH", php(100)))
		sig, _ := antom.Sign(mk, "POST", path, "BENCH", "1700000000000", body)
		reqs[i] = signed{body, antom.SignatureHeader("1", sig)}
	}
	sign := signNs(b, ak)
	b.ResetTimer()
	for i := range b.N {
		r := httptest.NewRequest("POST", "http://127.0.0.1"+path, bytes.NewReader(reqs[i].body))
		r.Header.Set("Content-Type", "application/json; charset=UTF-8")
		r.Header.Set("Client-Id", "BENCH")
		r.Header.Set("Request-Time", "1700000000000")
		r.Header.Set("Signature", reqs[i].sig)
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, r)
		if w.Code != 200 || !bytes.Contains(w.Body.Bytes(), []byte(`"resultStatus":"S"`)) {
			b.Fatalf("pay: %d %s", w.Code, w.Body)
		}
	}
	b.StopTimer()
	b.ReportMetric(sign, "sign-ns")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/sign, "sim/sign")
}
