package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit/client"
)

func init() { commands = append(commands, newTokensCommand) }

func newTokensCommand() *cobra.Command {
	var p client.ListParams
	cmd := &cobra.Command{
		Use:     "tokens",
		Short:   "List payment tokens (linked wallets)",
		Example: "  autodebit tokens --customer cus_42\n  autodebit tokens --status ACTIVE --json",
		Args:    cobra.NoArgs,
	}
	api := addAPIFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&p.CustomerID, "customer", "", "only this customer's tokens")
	f.StringVar(&p.Status, "status", "", "ACTIVE, REVOKED or EXPIRED")
	f.StringVar(&p.Wallet, "wallet", "", "only tokens of this wallet")
	f.IntVar(&p.Limit, "limit", 50, "how many to show (at most 100)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := func() error {
			p.Status, p.Wallet = strings.ToUpper(p.Status), strings.ToUpper(p.Wallet)
			if err := checkChoice("--status", p.Status, "a token status", tokenStatuses()); err != nil {
				return err
			}
			if err := checkChoice("--wallet", p.Wallet, "a Scan to Link wallet", walletCodes()); err != nil {
				return err
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			list, err := c.Tokens(cmd.Context(), p)
			if err != nil {
				return apiError(err)
			}
			out := cmd.OutOrStdout()
			if api.json {
				return writeJSON(out, list)
			}
			if len(list.Data) == 0 {
				fmt.Fprintln(out, "No tokens.")
				return nil
			}
			t := newTable(out, "ID", "CUSTOMER", "WALLET", "LOGIN", "STATUS", "EXPIRES", "CREATED")
			for _, tk := range list.Data {
				status := tk.Status
				if tk.RevokePending {
					status += " (revoke pending)"
				}
				t.row(tk.ID, tk.CustomerID, tk.Wallet, dash(tk.UserLoginID), status, fmtTimePtr(tk.AccessTokenExpiresAt), fmtTime(tk.CreatedAt))
			}
			if err := t.flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "%d of %d tokens\n", len(list.Data), list.Total)
			return nil
		}(); err != nil {
			return fmt.Errorf("tokens: %w", err)
		}
		return nil
	}
	return cmd
}
