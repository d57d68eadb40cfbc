package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
)

// serve with its default settings refuses a correctly signed notification
// whose request-time is two days old, a year ahead or unreadable, with a 4xx
// naming the request-time, and accepts a fresh one.
func TestServe_NotificationFreshnessByDefault(t *testing.T) {
	merchant, err := antom.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	antomKeys, err := antom.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	m, sim := startMainOnAntom(t, merchant, antomsim.Config{AntomPrivateKey: antomKeys.PrivateKey}, nil)

	body := []byte(`{"authorizationNotifyType":"TOKEN_CANCELED","accessToken":"unknown-token","reason":"user","result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success."}}`)
	post := func(reqTime string) (int, string) {
		req, err := antom.NewNotificationRequest(context.Background(), m.URL+"/antom/notify/authorization", sim.ClientID(), reqTime, antomKeys.PrivateKey, "1", body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	now := time.Now()
	for name, reqTime := range map[string]string{
		"48h old":      strconv.FormatInt(now.Add(-48*time.Hour).UnixMilli(), 10),
		"a year ahead": now.AddDate(1, 0, 0).Format(time.RFC3339),
		"unreadable":   "soon",
	} {
		if status, reply := post(reqTime); status != http.StatusBadRequest || !strings.Contains(reply, "request-time") {
			t.Errorf("%s: HTTP %d %s, want 400 naming the request-time", name, status, reply)
		}
	}
	if status, reply := post(strconv.FormatInt(now.UnixMilli(), 10)); strings.Contains(reply, "request-time") || status >= 400 && status < 500 {
		t.Errorf("fresh: HTTP %d %s, want it past the freshness check", status, reply)
	}
	// The flags' defaults are the verifier's.
	f := newServeCommand().Flags()
	if got := f.Lookup("notify-max-age").DefValue; got != antom.DefaultNotificationMaxAge.String() {
		t.Errorf("--notify-max-age defaults to %s", got)
	}
	if got := f.Lookup("notify-skew").DefValue; got != antom.DefaultNotificationMaxSkew.String() {
		t.Errorf("--notify-skew defaults to %s", got)
	}
}

// startMainOnAntom runs serve as merchant against a standalone simulator
// standing in for a real Antom (--antom-url), made from simCfg; mod may
// change serve's config first.
func startMainOnAntom(t *testing.T, merchant *antom.KeyPair, simCfg antomsim.Config, mod func(*ServeConfig)) (*Main, *antomsim.Sim) {
	t.Helper()
	simCfg.MerchantPublicKey, simCfg.Logger = &merchant.PrivateKey.PublicKey, slog.New(slog.DiscardHandler)
	sim, err := antomsim.New(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim)
	t.Cleanup(func() { simSrv.Close(); sim.Close() })
	cfg := DefaultServeConfig()
	cfg.Addr, cfg.DB, cfg.LogLevel = "127.0.0.1:0", "sqlite:"+filepath.Join(t.TempDir(), "autodebit.db"), "error"
	cfg.AntomURL, cfg.ClientID, cfg.PrivateKey, cfg.AntomPublicKey = simSrv.URL, sim.ClientID(), merchant.PrivateKeyBase64, sim.AntomPublicKeyBase64()
	if mod != nil {
		mod(&cfg)
	}
	m := &Main{Config: cfg, Stderr: io.Discard}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m, sim
}
