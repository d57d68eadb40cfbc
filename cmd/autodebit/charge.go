package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/client"
)

func init() { commands = append(commands, newChargeCommand) }

func newChargeCommand() *cobra.Command {
	var token, amount, currency, description, idemKey string
	cmd := &cobra.Command{
		Use:   "charge --token TOKEN_ID --amount AMOUNT [--currency CUR]",
		Short: "Charge a token",
		Long: `charge debits a linked wallet. The amount is in major units (--amount 15.00 for PHP 15.00), in the
currency of the token's wallet unless --currency says otherwise.
The charge is sent with an Idempotency-Key: a random one per run unless
--idempotency-key is given, so running it again with the same key and fields
returns the first charge instead of charging twice. A FAIL result exits non-zero.
An INIT result means Antom has not answered yet: the engine finds out; follow it
with ` + "`autodebit status CHARGE_ID`" + `.`,
		Example: "  autodebit charge --token tok_… --amount 15.00 --description 'May plan'",
		Args:    cobra.NoArgs,
	}
	api := addAPIFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&token, "token", "", "token ID to charge (required)")
	f.StringVar(&amount, "amount", "", "amount in major units, e.g. 15.00 (required)")
	f.StringVar(&currency, "currency", "", "ISO 4217 currency, e.g. PHP (default: the currency of the token's wallet)")
	f.StringVar(&description, "description", "", "what the charge is for, shown to the buyer")
	f.StringVar(&idemKey, "idempotency-key", "", "Idempotency-Key header (default: a random key, printed)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := func() error {
			if token == "" {
				return fmt.Errorf("--token is required, e.g. --token tok_… (see `autodebit tokens`)")
			}
			if err := checkID("--token", token, autodebit.TokenIDPrefix); err != nil {
				return err
			}
			if strings.TrimSpace(amount) == "" {
				return fmt.Errorf("--amount is required, in major units, e.g. --amount 15.00")
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			if strings.TrimSpace(currency) == "" {
				if currency, err = tokenCurrency(cmd.Context(), c, token); err != nil {
					return err
				}
			}
			amt, err := parseAmount(amount, currency)
			if err != nil {
				return err
			}
			if idemKey == "" {
				idemKey = newIdempotencyKey()
			}
			ch, err := c.CreateCharge(cmd.Context(), client.ChargeParams{
				TokenID: token, Amount: amt, Description: description, IdempotencyKey: idemKey,
			})
			if err != nil {
				return apiErrorID(err, token)
			}
			out := cmd.OutOrStdout()
			if api.json {
				if err := writeJSON(out, struct {
					IdempotencyKey string `json:"idempotencyKey"`
					Charge         any    `json:"charge"`
				}{idemKey, ch}); err != nil {
					return err
				}
			} else {
				if err := printCharge(out, ch); err != nil {
					return err
				}
				fmt.Fprintf(out, "Idempotency-Key:  %s\n", idemKey)
				if ch.Status == "INIT" {
					fmt.Fprintf(out, "The result is not known yet; the engine will find out. Check with: autodebit status %s\n", ch.ID)
				}
			}
			if ch.Status == "FAIL" {
				return fmt.Errorf("charge %s failed: %s", ch.ID, strings.TrimSpace(ch.ResultCode+" "+paren(ch.ResultMessage)))
			}
			return nil
		}(); err != nil {
			return fmt.Errorf("charge: %w", err)
		}
		return nil
	}
	return cmd
}

// tokenCurrency returns the currency of the wallet of token id: the only one
// its charges can be in.
func tokenCurrency(ctx context.Context, c *client.Client, id string) (string, error) {
	t, err := c.Token(ctx, id)
	if err != nil {
		return "", apiErrorID(err, id)
	}
	w, ok := antom.LookupWallet(t.Wallet)
	if !ok {
		return "", fmt.Errorf("--currency is required: token %s is on wallet %q, whose currency is not known here", id, t.Wallet)
	}
	return w.Currency, nil
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}
