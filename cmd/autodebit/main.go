// Command autodebit runs Antom Scan to Link auto debit end to end: the
// engine (serve), the Antom simulator (sim), key generation (keys) and the
// operator commands that call the engine's REST API.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "autodebit:", err)
		os.Exit(1)
	}
}

// commands lists the constructors of the subcommands; each file adds its own
// in an init function, so commands stay independent of each other.
var commands []func() *cobra.Command

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "autodebit",
		Short:         "Antom Scan to Link auto debit: link wallets, charge tokens, know every result",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return applyEnv(cmd.Flags())
		},
	}
	for _, c := range commands {
		root.AddCommand(c())
	}
	return root
}

// applyEnv sets every flag not given on the command line from its
// environment variable AUTODEBIT_<FLAG> (upper case, dashes as underscores).
func applyEnv(flags *pflag.FlagSet) error {
	var err error
	flags.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		name := "AUTODEBIT_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := flags.Set(f.Name, v); e != nil {
				err = fmt.Errorf("environment variable %s: %w", name, e)
			}
		}
	})
	return err
}

// readKeyArg returns the key text of a key flag: the value itself (the
// one-line base64 form Antom's dashboard shows) or, for @FILE, the file's
// contents (PEM or one-line base64).
func readKeyArg(flag, v string) (string, error) {
	if path, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("--%s: %w", flag, err)
		}
		return string(b), nil
	}
	return v, nil
}
