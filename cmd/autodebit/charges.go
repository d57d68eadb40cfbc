package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/client"
)

func init() { commands = append(commands, newChargesCommand) }

func newChargesCommand() *cobra.Command {
	var p client.ListParams
	cmd := &cobra.Command{
		Use:     "charges",
		Short:   "List charges, newest first",
		Example: "  autodebit charges --status INIT\n  autodebit charges --customer cus_42 --json",
		Args:    cobra.NoArgs,
	}
	api := addAPIFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&p.Status, "status", "", "INIT, SUCCESS, FAIL or CANCELLED")
	f.StringVar(&p.CustomerID, "customer", "", "only this customer's charges")
	f.StringVar(&p.Wallet, "wallet", "", "only charges on this wallet")
	f.StringVar(&p.TokenID, "token", "", "only charges of this token")
	f.IntVar(&p.Limit, "limit", 20, "how many to show (at most 100)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := func() error {
			p.Status, p.Wallet = strings.ToUpper(p.Status), strings.ToUpper(p.Wallet)
			if err := checkChoice("--status", p.Status, "a charge status", chargeStatuses()); err != nil {
				return err
			}
			if err := checkChoice("--wallet", p.Wallet, "a Scan to Link wallet", walletCodes()); err != nil {
				return err
			}
			if p.TokenID != "" {
				if err := checkID("--token", p.TokenID, autodebit.TokenIDPrefix); err != nil {
					return err
				}
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			list, err := c.Charges(cmd.Context(), p)
			if err != nil {
				return apiError(err)
			}
			out := cmd.OutOrStdout()
			if api.json {
				return writeJSON(out, list)
			}
			if len(list.Data) == 0 {
				fmt.Fprintln(out, "No charges.")
				return nil
			}
			t := newTable(out, "ID", "CREATED", "CUSTOMER", "WALLET", "AMOUNT", "STATUS", "RESULT")
			for _, ch := range list.Data {
				t.row(ch.ID, fmtTime(ch.CreatedAt), ch.CustomerID, ch.Wallet, formatAmount(ch.Amount), ch.Status, dash(ch.ResultCode))
			}
			if err := t.flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "%d of %d charges\n", len(list.Data), list.Total)
			return nil
		}(); err != nil {
			return fmt.Errorf("charges: %w", err)
		}
		return nil
	}
	return cmd
}
