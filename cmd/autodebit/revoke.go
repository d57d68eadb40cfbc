package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit"
)

func init() { commands = append(commands, newRevokeCommand) }

func newRevokeCommand() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "revoke TOKEN_ID",
		Short: "Revoke a token: the wallet is unlinked and can no longer be charged",
		Long: `revoke asks Antom to cancel the token and marks it REVOKED. It asks for
confirmation unless --yes is given.`,
		Example: "  autodebit revoke tok_… --yes",
		Args:    oneArg("TOKEN_ID"),
	}
	api := addAPIFlags(cmd)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := func() error {
			if err := checkID("", args[0], autodebit.TokenIDPrefix); err != nil {
				return err
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			t, err := c.Token(cmd.Context(), args[0])
			if err != nil {
				return apiErrorID(err, args[0])
			}
			if t.Status != "ACTIVE" {
				return fmt.Errorf("token %s is already %s; nothing to do", t.ID, t.Status)
			}
			if !yes {
				fmt.Fprintf(cmd.ErrOrStderr(), "Revoke token %s (%s, customer %s, login %s)? It can no longer be charged. [y/N] ",
					t.ID, t.Wallet, t.CustomerID, dash(t.UserLoginID))
				line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return fmt.Errorf("not confirmed; token %s is unchanged", t.ID)
				}
			}
			t, err = c.RevokeToken(cmd.Context(), t.ID)
			if err != nil {
				return apiErrorID(err, t.ID)
			}
			if api.json {
				return writeJSON(cmd.OutOrStdout(), t)
			}
			return printToken(cmd.OutOrStdout(), t)
		}(); err != nil {
			return fmt.Errorf("revoke: %w", err)
		}
		return nil
	}
	return cmd
}
