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
--merchant-public-key it verifies every request's signature.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !f.allowRemote && !isLoopback(f.addr) {
				return fmt.Errorf("--addr %s: the simulator hands out tokens and takes unsigned control requests; listen on a loopback address, or pass --allow-remote on a network you trust", f.addr)
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
	fl.BoolVar(&f.allowRemote, "allow-remote", false, "allow a non-loopback --addr (the control API has no authentication)")
	return cmd
}

// simConfig turns the flags into a simulator config. baseURL is the URL the
// simulator is reached at.
func simConfig(f simFlags, baseURL string) (antomsim.Config, error) {
	cfg := antomsim.Config{ClientID: f.clientID, BaseURL: baseURL, NotifyURL: f.notifyURL, TimeScale: f.timeScale, Seed: f.seed}
	if f.timeScale <= 0 {
		return cfg, fmt.Errorf("--time-scale %v must be positive", f.timeScale)
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
	baseURL := "http://" + ln.Addr().String()
	cfg, err := simConfig(f, baseURL)
	if err != nil {
		ln.Close()
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	sim, err := antomsim.New(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	defer sim.Close()

	fmt.Fprintf(out, "Antom simulator listening on %s\n\n", baseURL)
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
	fmt.Fprintf(out, "\nSeed %d, time scale %v. Wallet pages: %s/ · control API: %s/sim/v1/\n", sim.Seed(), f.timeScale, baseURL, baseURL)

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
