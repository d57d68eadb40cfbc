package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"
	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit/client"
	adhttp "github.com/autodebit/autodebit/http"
)

// sessionFlags are the flags of `link --session`.
type sessionFlags struct {
	on                           bool
	returnURL, cancelURL, locale string
	lifetime                     time.Duration
}

var sessionOnlyFlags = []string{"return-url", "cancel-url", "locale", "lifetime"}

func (s *sessionFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&s.on, "session", false, "make a link session: print the URL of a page to send the buyer, and wait until it is complete")
	f.StringVar(&s.returnURL, "return-url", "", "with --session: where the buyer's browser goes once linked (default: a page saying the wallet is linked)")
	f.StringVar(&s.cancelURL, "cancel-url", "", "with --session: where the buyer's Cancel goes (default: no Cancel button)")
	f.StringVar(&s.locale, "locale", "", "with --session: the page's language, one of en, zh, id, ko, th, ms, tl (default: the buyer's browser decides)")
	f.DurationVar(&s.lifetime, "lifetime", 0, "with --session: how long the link works, 1m to 24h (default 1h)")
}

// set reports whether a flag that needs --session was given.
func (s *sessionFlags) set(cmd *cobra.Command) bool {
	for _, name := range sessionOnlyFlags {
		if cmd.Flags().Changed(name) {
			return true
		}
	}
	return false
}

// linkSession makes a link session, prints its URL (and its QR code, for a
// buyer at the counter) and, unless noWait, waits until it ends.
func linkSession(cmd *cobra.Command, api *apiOptions, sf sessionFlags, customer, wallet string, noWait bool, poll time.Duration) error {
	c, err := api.client()
	if err != nil {
		return err
	}
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	p := client.LinkSessionParams{CustomerID: customer, Wallet: wallet, ReturnURL: sf.returnURL, CancelURL: sf.cancelURL, Locale: sf.locale}
	if sf.lifetime != 0 {
		p.Lifetime = sf.lifetime.String()
	}
	ls, err := c.CreateLinkSession(ctx, p)
	if err != nil {
		return apiError(err)
	}
	if !api.json {
		if q, err := qrcode.New(ls.URL, qrcode.Medium); err == nil {
			fmt.Fprint(out, q.ToSmallString(false))
		}
		fmt.Fprintf(out, "Send this link to the buyer: %s\n", ls.URL)
		fmt.Fprintf(out, "Link session %s for customer %s, expires %s\n", ls.ID, ls.CustomerID, fmtTime(ls.ExpiresAt))
	}
	if noWait {
		if api.json {
			return writeJSON(out, ls)
		}
		return nil
	}
	ls, err = waitLinkSession(ctx, cmd, c, ls.ID, poll)
	if err != nil {
		return apiError(err)
	}
	if api.json {
		if err := writeJSON(out, ls); err != nil {
			return err
		}
	}
	if ls.Status != "complete" {
		return fmt.Errorf("link session %s is %s; make a new one for the buyer", ls.ID, ls.Status)
	}
	if !api.json {
		fmt.Fprintf(out, "Linked: token %s\n", ls.TokenID)
	}
	return nil
}

// waitLinkSession polls a session until it is complete, cancelled or
// expired, saying on stderr where the buyer is.
func waitLinkSession(ctx context.Context, cmd *cobra.Command, c *client.Client, id string, every time.Duration) (*adhttp.LinkSession, error) {
	sp := newSpinner(cmd.ErrOrStderr())
	defer sp.stop()
	tick := time.NewTicker(max(every, 10*time.Millisecond))
	defer tick.Stop()
	for {
		ls, err := c.LinkSession(ctx, id)
		if err != nil {
			return nil, err
		}
		if ls.Status != "open" {
			sp.set("")
			return ls, nil
		}
		text := "Waiting for the buyer to open the link (Ctrl-C stops waiting; the link stays valid)…"
		if ls.AuthorizationID != "" {
			if a, err := c.Authorization(ctx, ls.AuthorizationID); err == nil {
				switch a.Status {
				case "PENDING":
					text = "The buyer sees the QR code for " + a.Wallet + "; waiting for them to approve…"
				case "AUTHORIZED":
					text = "Approved in the wallet; getting the token…"
				default:
					text = "The attempt is " + a.Status + "; waiting for the buyer to try again…"
				}
			}
		}
		sp.set(text)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stopped waiting; link session %s is open (see GET /v1/link-sessions/%s)", id, id)
		case <-tick.C:
		}
	}
}

func printLinkSession(w io.Writer, ls *adhttp.LinkSession) error {
	wallet := ls.Wallet
	if ls.BuyerChoosesWallet {
		wallet = strings.TrimSpace(wallet + " (the buyer chooses)")
	}
	return fields(w,
		"Link session", ls.ID,
		"Status", ls.Status,
		"Customer", ls.CustomerID,
		"Wallet", wallet,
		"Token", ls.TokenID,
		"Authorization", ls.AuthorizationID,
		"URL", ls.URL,
		"Return URL", ls.ReturnURL,
		"Cancel URL", ls.CancelURL,
		"Locale", ls.Locale,
		"Expires", fmtTime(ls.ExpiresAt),
		"Completed", fmtTimePtr(ls.CompletedAt),
		"Cancelled", fmtTimePtr(ls.CancelledAt),
		"Created", fmtTime(ls.CreatedAt),
	)
}
