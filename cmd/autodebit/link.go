package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"
	"github.com/spf13/cobra"

	adhttp "github.com/autodebit/autodebit/http"
)

func init() { commands = append(commands, newLinkCommand) }

func newLinkCommand() *cobra.Command {
	var customer, wallet string
	var noWait bool
	var poll time.Duration
	var session sessionFlags
	cmd := &cobra.Command{
		Use:   "link --customer ID --wallet WALLET",
		Short: "Link a customer's wallet: show the QR code and wait until the token is issued",
		Long: `link starts a wallet authorization, prints its QR code in the terminal with
the QR URL, and waits (polling the authorization) until it ends: ACTIVE prints
the token ID; FAILED or EXPIRED exits non-zero. --no-wait returns at once.

With --session it makes a link session instead: it prints the URL of the page
to send the buyer (who picks the wallet unless --wallet names it, and may try
again on the page), and waits until the session is complete (the token ID),
cancelled or expired (non-zero).
Wallets: ` + strings.Join(walletCodes(), ", ") + `.`,
		Example: "  autodebit link --customer cus_42 --wallet GCASH\n  autodebit link --session --customer cus_42 --return-url https://shop.example/linked",
		Args:    cobra.NoArgs,
	}
	api := addAPIFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&customer, "customer", "", "merchant's customer ID (required)")
	f.StringVar(&wallet, "wallet", "", "wallet, e.g. GCASH (required, except with --session, where the buyer may choose)")
	f.BoolVar(&noWait, "no-wait", false, "print the QR code (or the link) and return without waiting")
	f.DurationVar(&poll, "poll-interval", time.Second, "how often to check the authorization while waiting")
	session.add(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := func() error {
			if customer == "" {
				return fmt.Errorf("--customer is required")
			}
			if session.on {
				if wallet != "" {
					wallet = strings.ToUpper(wallet)
					if err := checkChoice("--wallet", wallet, "a Scan to Link wallet", walletCodes()); err != nil {
						return err
					}
				}
				return linkSession(cmd, api, session, customer, wallet, noWait, poll)
			}
			if session.set(cmd) {
				return fmt.Errorf("--return-url, --cancel-url, --locale and --lifetime need --session")
			}
			if wallet == "" {
				return fmt.Errorf("--wallet is required, e.g. --wallet GCASH")
			}
			wallet = strings.ToUpper(wallet)
			if err := checkChoice("--wallet", wallet, "a Scan to Link wallet", walletCodes()); err != nil {
				return err
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			a, err := c.CreateAuthorization(ctx, customer, wallet)
			if err != nil {
				return apiError(err)
			}
			if !api.json {
				if a.QR != nil {
					if q, err := qrcode.New(a.QR.Text, qrcode.Medium); err == nil {
						fmt.Fprint(out, q.ToSmallString(false))
					}
					fmt.Fprintf(out, "Scan with %s, or open: %s\n", a.Wallet, a.QR.Text)
				}
				fmt.Fprintf(out, "Authorization %s for customer %s, expires %s\n", a.ID, a.CustomerID, fmtTime(a.ExpiresAt))
			}
			if noWait {
				if api.json {
					return writeJSON(out, a)
				}
				return nil
			}
			a, err = waitAuthorization(ctx, cmd.ErrOrStderr(), a.ID, poll, func(ctx context.Context, id string) (*adhttp.Authorization, error) {
				return c.Authorization(ctx, id)
			})
			if err != nil {
				return apiError(err)
			}
			if api.json {
				if err := writeJSON(out, a); err != nil {
					return err
				}
			}
			switch a.Status {
			case "ACTIVE":
				if !api.json {
					fmt.Fprintf(out, "Linked: token %s\n", a.TokenID)
				}
				return nil
			default:
				msg := fmt.Sprintf("authorization %s is %s", a.ID, a.Status)
				if a.FailureCode != "" {
					msg += ": " + a.FailureCode
				}
				if a.FailureMessage != "" {
					msg += " (" + a.FailureMessage + ")"
				}
				return fmt.Errorf("%s; run link again for a new QR code", msg)
			}
		}(); err != nil {
			return fmt.Errorf("link: %w", err)
		}
		return nil
	}
	return cmd
}

// waitAuthorization polls until the authorization is ACTIVE, FAILED or
// EXPIRED, showing a spinner and the status on w.
func waitAuthorization(ctx context.Context, w io.Writer, id string, every time.Duration,
	get func(context.Context, string) (*adhttp.Authorization, error)) (*adhttp.Authorization, error) {
	sp := newSpinner(w)
	defer sp.stop()
	tick := time.NewTicker(max(every, 10*time.Millisecond))
	defer tick.Stop()
	for {
		a, err := get(ctx, id)
		if err != nil {
			return nil, err
		}
		switch a.Status {
		case "ACTIVE", "FAILED", "EXPIRED":
			sp.set("")
			return a, nil
		case "AUTHORIZED":
			sp.set("Approved in the wallet; getting the token…")
		default:
			sp.set("Waiting for the buyer to scan and approve (Ctrl-C stops waiting; the QR stays valid)…")
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stopped waiting; authorization %s is %s (see `autodebit status %s`)", id, a.Status, id)
		case <-tick.C:
		}
	}
}

// spinner shows a status line: animated on a terminal, otherwise one line
// per change of text. It is not safe for concurrent use.
type spinner struct {
	w     io.Writer
	tty   bool
	text  string
	done  chan struct{}
	upd   chan string
	ended chan struct{}
}

func newSpinner(w io.Writer) *spinner {
	s := &spinner{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			s.tty = true
		}
	}
	if s.tty {
		s.done, s.upd, s.ended = make(chan struct{}), make(chan string), make(chan struct{})
		go s.run()
	}
	return s
}

func (s *spinner) run() {
	defer close(s.ended)
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	text := ""
	for i := 0; ; i++ {
		select {
		case <-s.done:
			fmt.Fprint(s.w, "\r\033[K")
			return
		case text = <-s.upd:
		case <-t.C:
		}
		if text != "" {
			fmt.Fprintf(s.w, "\r\033[K%s %s", frames[i%len(frames)], text)
		} else {
			fmt.Fprint(s.w, "\r\033[K")
		}
	}
}

// set changes the text; "" clears the line.
func (s *spinner) set(text string) {
	if text == s.text {
		return
	}
	s.text = text
	if s.tty {
		s.upd <- text
	} else if text != "" {
		fmt.Fprintln(s.w, text)
	}
}

func (s *spinner) stop() {
	if s.tty && s.done != nil {
		close(s.done)
		<-s.ended
		s.done = nil
	}
}
