package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit/client"
)

func init() { commands = append(commands, newChargeCommand) }

func newChargeCommand() *cobra.Command {
	var token, amount, currency, description, idemKey string
	cmd := &cobra.Command{
		Use:   "charge --token TOKEN --amount AMOUNT --currency CUR",
		Short: "Charge a token",
		Long: `charge debits a linked wallet. The amount is in major units (--amount 15.00 for PHP 15.00).
The charge is sent with an Idempotency-Key: a random one per run unless
--idempotency-key is given, so running it again with the same key and fields
returns the first charge instead of charging twice. A FAIL result exits non-zero.
An INIT result means Antom has not answered yet: the engine finds out; follow it
with ` + "`autodebit status CHARGE`" + `.`,
		Example: "  autodebit charge --token tok_… --amount 15.00 --currency PHP --description 'May plan'",
		Args:    cobra.NoArgs,
	}
	api := addAPIFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&token, "token", "", "token ID to charge (required)")
	f.StringVar(&amount, "amount", "", "amount in major units, e.g. 15.00 (required)")
	f.StringVar(&currency, "currency", "", "ISO 4217 currency, e.g. PHP (required)")
	f.StringVar(&description, "description", "", "what the charge is for, shown to the buyer")
	f.StringVar(&idemKey, "idempotency-key", "", "Idempotency-Key header (default: a random key, printed)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := func() error {
			if token == "" {
				return fmt.Errorf("--token is required")
			}
			amt, err := parseAmount(amount, currency)
			if err != nil {
				return err
			}
			c, err := api.client()
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
				return apiError(err)
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

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}
