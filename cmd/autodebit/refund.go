package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/client"
)

func init() { commands = append(commands, newRefundCommand) }

func newRefundCommand() *cobra.Command {
	var amount, reason, idemKey string
	cmd := &cobra.Command{
		Use:   "refund CHARGE_ID --amount AMOUNT",
		Short: "Refund part or all of a successful charge",
		Long: `refund returns money from a SUCCESS charge. The amount is in major units of
the charge's currency. A FAIL result exits non-zero.`,
		Example: "  autodebit refund chg_… --amount 5.00 --reason 'damaged item'",
		Args:    oneArg("CHARGE_ID"),
	}
	api := addAPIFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&amount, "amount", "", "amount to refund in major units, e.g. 5.00 (required)")
	f.StringVar(&reason, "reason", "", "why, for the records")
	f.StringVar(&idemKey, "idempotency-key", "", "Idempotency-Key header (default: a random key)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := func() error {
			if err := checkID("", args[0], autodebit.ChargeIDPrefix); err != nil {
				return err
			}
			if amount == "" {
				return fmt.Errorf("--amount is required, in major units, e.g. --amount 5.00")
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			ch, err := c.Charge(cmd.Context(), args[0])
			if err != nil {
				return apiErrorID(err, args[0])
			}
			amt, err := parseAmount(amount, ch.Amount.Currency)
			if err != nil {
				return err
			}
			if idemKey == "" {
				idemKey = newIdempotencyKey()
			}
			r, err := c.CreateRefund(cmd.Context(), ch.ID, client.RefundParams{Amount: amt, Reason: reason, IdempotencyKey: idemKey})
			if err != nil {
				return apiErrorID(err, ch.ID)
			}
			out := cmd.OutOrStdout()
			if api.json {
				if err := writeJSON(out, r); err != nil {
					return err
				}
			} else if err := printRefund(out, r); err != nil {
				return err
			}
			if r.Status == "FAIL" {
				return fmt.Errorf("refund %s failed: %s", r.ID, strings.TrimSpace(r.ResultCode+" "+paren(r.ResultMessage)))
			}
			return nil
		}(); err != nil {
			return fmt.Errorf("refund: %w", err)
		}
		return nil
	}
	return cmd
}
