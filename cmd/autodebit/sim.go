package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/antomsim"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newSimCommand) }

// simFlags are the flags of `autodebit sim`.
type simFlags struct {
	addr              string
	clientID          string
	merchantPublicKey string
	privateKey        string
	timeScale         float64
	notifyURL         string
	seed              int64
	allowRemote       bool
	publicURL         string
	controlKey        string
	debugAddr         string
}

func newSimCommand() *cobra.Command {
	var f simFlags
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the Antom simulator alone",
		Long: `sim runs a stateful Antom simulator: Antom's Open API (Scan to Link subset) at
/ams/api/v1/... and /ams/sandbox/api/v1/..., a wallet page at each consult QR
URL, signed notifications with Antom's resend schedule, and a control API under
/sim/v1/ (accounts, faults, clock, delivery log, truth). Without --private-key
it makes a new Antom key pair and prints the public key; with
--merchant-public-key it verifies every request's signature.

The control API and the home page's list of waiting QR codes need the control
key (--control-key; without it a new key is made and printed): send
"Authorization: Bearer KEY", or open /?key=KEY in a browser. Requests naming
another host than the listening address, a loopback name or --public-url's host
are refused (DNS rebinding), and so are cross-origin POSTs from browsers.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !f.allowRemote && !isLoopback(f.addr) {
				return fmt.Errorf("--addr %s: the simulator's wallet pages approve links for anyone holding a QR code and its API may not check signatures; listen on a loopback address, or pass --allow-remote on a network you trust", f.addr)
			}
			ln, err := net.Listen("tcp", f.addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", f.addr, err)
			}
			return runSim(cmd.Context(), f, ln, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8081", "address to listen on")
	fl.StringVar(&f.clientID, "client-id", antomsim.DefaultClientID, "merchant Client-Id the simulator accepts")
	fl.StringVar(&f.merchantPublicKey, "merchant-public-key", "", "merchant public key (base64 or @FILE); set to verify every request")
	fl.StringVar(&f.privateKey, "private-key", "", "Antom's own private key (base64 or @FILE); empty makes a new one")
	fl.Float64Var(&f.timeScale, "time-scale", 1, "clock speed: 1 = real time, 60 = a minute per second")
	fl.StringVar(&f.notifyURL, "notify-url", "", "default notification URL (the Antom dashboard setting)")
	fl.Int64Var(&f.seed, "seed", 0, "seed for IDs, tokens and faults (0 = random)")
	fl.BoolVar(&f.allowRemote, "allow-remote", false, "allow a non-loopback --addr (on a network you trust)")
	fl.StringVar(&f.publicURL, "public-url", "", "URL at which the engine and buyers reach the simulator, used in QR links; its host is accepted in the Host header (default http://ADDR)")
	fl.StringVar(&f.debugAddr, "debug-addr", "", debugAddrUsage)
	fl.StringVar(&f.controlKey, "control-key", "", "key of the control API and the home page's QR list, at least 16 characters (value or @FILE; default: a new one, printed)")
	return cmd
}

// simConfig turns the flags into a simulator config. baseURL is the URL the
// simulator is reached at.
func simConfig(f simFlags, baseURL string) (antomsim.Config, error) {
	cfg := antomsim.Config{ClientID: f.clientID, BaseURL: baseURL, NotifyURL: f.notifyURL, TimeScale: f.timeScale, Seed: f.seed}
	if f.timeScale <= 0 {
		return cfg, fmt.Errorf("--time-scale %v must be positive", f.timeScale)
	}
	if f.publicURL != "" && !strings.HasPrefix(f.publicURL, "http://") && !strings.HasPrefix(f.publicURL, "https://") {
		return cfg, fmt.Errorf("--public-url %q must start with http:// or https://", f.publicURL)
	}
	if f.controlKey == "" {
		cfg.ControlSecret = antomsim.NewControlSecret()
	} else {
		s, err := readKeyArg("control-key", f.controlKey)
		if err != nil {
			return cfg, err
		}
		if cfg.ControlSecret = strings.TrimSpace(s); len(cfg.ControlSecret) < 16 || strings.ContainsAny(cfg.ControlSecret, " \t\r\n") {
			return cfg, errors.New("--control-key must be at least 16 characters, without spaces (e.g. from `openssl rand -hex 32`)")
		}
	}
	if f.privateKey != "" {
		s, err := readKeyArg("private-key", f.privateKey)
		if err != nil {
			return cfg, err
		}
		if cfg.AntomPrivateKey, err = antom.ParsePrivateKey("--private-key (Antom private key)", s); err != nil {
			return cfg, err
		}
	}
	if f.merchantPublicKey != "" {
		s, err := readKeyArg("merchant-public-key", f.merchantPublicKey)
		if err != nil {
			return cfg, err
		}
		if cfg.MerchantPublicKey, err = antom.ParsePublicKey("--merchant-public-key", s); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// runSim serves the simulator on ln until ctx is done, after printing the
// settings a merchant needs to out.
func runSim(ctx context.Context, f simFlags, ln net.Listener, out io.Writer) error {
	baseURL := strings.TrimRight(f.publicURL, "/")
	if baseURL == "" {
		baseURL = "http://" + ln.Addr().String()
	}
	cfg, err := simConfig(f, baseURL)
	if err != nil {
		ln.Close()
		return err
	}
	// The listening address's own name is accepted besides --public-url's
	// host and the loopback names (0.0.0.0 names nothing a client would send).
	if host, _, err := net.SplitHostPort(ln.Addr().String()); err == nil {
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			cfg.AllowedHosts = append(cfg.AllowedHosts, host)
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	sim, err := antomsim.New(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	defer sim.Close()

	fmt.Fprintf(out, "Antom simulator listening on http://%s\n\n", ln.Addr())
	fmt.Fprintf(out, "Merchant settings:\n  Antom URL (--antom-url):               %s\n  client ID (--client-id):               %s\n  Antom public key (--antom-public-key): %s\n",
		baseURL, sim.ClientID(), sim.AntomPublicKeyBase64())
	if f.privateKey == "" {
		fmt.Fprintln(out, "  (a new Antom key pair was made for this run; pass --private-key to keep one across runs)")
	}
	if cfg.MerchantPublicKey == nil {
		fmt.Fprintln(out, "  merchant signatures are NOT verified (pass --merchant-public-key to verify them)")
	}
	if f.notifyURL != "" {
		fmt.Fprintf(out, "  default notification URL: %s\n", f.notifyURL)
	}
	fmt.Fprintf(out, "\nSeed %d, time scale %v. Wallet pages: %s/qr/… · control API: %s/sim/v1/\n", sim.Seed(), f.timeScale, baseURL, baseURL)
	if f.controlKey == "" {
		fmt.Fprintf(out, "Control key (new for this run): %s\n  send \"Authorization: Bearer KEY\" to the control API; open %s/?key=KEY for the waiting QR codes\n", cfg.ControlSecret, baseURL)
	} else {
		fmt.Fprintln(out, "Control key: as given (not shown)")
	}

	if f.debugAddr != "" {
		dbg, err := serveProfiler(f.debugAddr, cfg.Logger)
		if err != nil {
			ln.Close()
			return err
		}
		defer dbg.Close()
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
