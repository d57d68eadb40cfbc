package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/autodebit/autodebit"
)

func init() { commands = append(commands, newCancelCommand) }

func newCancelCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cancel CHARGE_ID",
		Short: "Cancel a charge (a paid one is refunded in full by Antom)",
		Long: `cancel asks Antom to cancel the payment of a charge. Antom accepts it until
00:15 (UTC+8) the next day; a payment already made is refunded in full.`,
		Example: "  autodebit cancel chg_…",
		Args:    oneArg("CHARGE_ID"),
	}
	api := addAPIFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := func() error {
			if err := checkID("", args[0], autodebit.ChargeIDPrefix); err != nil {
				return err
			}
			c, err := api.client()
			if err != nil {
				return err
			}
			ch, err := c.CancelCharge(cmd.Context(), args[0])
			if err != nil {
				return apiErrorID(err, args[0])
			}
			if api.json {
				return writeJSON(cmd.OutOrStdout(), ch)
			}
			return printCharge(cmd.OutOrStdout(), ch)
		}(); err != nil {
			return fmt.Errorf("cancel: %w", err)
		}
		return nil
	}
	return cmd
}
