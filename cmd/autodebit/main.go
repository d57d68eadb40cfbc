// Command autodebit runs Antom Scan to Link auto debit end to end: the
// engine (serve), the Antom simulator (sim), key generation (keys) and the
// operator commands that call the engine's REST API.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/autodebit/autodebit/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, newRootCommand(), os.Stderr)
	stop()
	os.Exit(code)
}

// execute runs root and returns the exit code. An error is printed on
// stderr as one line of text or, when the command was given --json, as a
// JSON object like the REST API's errors, so that scripts can read both
// outcomes: {"error": {"code": "not_found", "message": "…"}}, the code
// being the server's when it gave one.
func execute(ctx context.Context, root *cobra.Command, stderr io.Writer) int {
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	if wantsJSON(cmd) {
		type body struct {
			Code    string `json:"code,omitempty"`
			Message string `json:"message"`
		}
		writeJSON(stderr, map[string]body{"error": {Code: client.ErrorCode(err), Message: err.Error()}})
	} else {
		fmt.Fprintln(stderr, "autodebit:", err)
	}
	return 1
}

// wantsJSON reports whether cmd was asked for JSON, by --json or, when an
// error came before the environment was read, by AUTODEBIT_JSON.
func wantsJSON(cmd *cobra.Command) bool {
	if cmd == nil {
		return false
	}
	f := cmd.Flags().Lookup("json")
	if f == nil {
		return false
	}
	if f.Changed {
		return f.Value.String() == "true"
	}
	on, _ := strconv.ParseBool(os.Getenv("AUTODEBIT_JSON"))
	return on
}

// commands lists the constructors of the subcommands; each file adds its own
// in an init function, so commands stay independent of each other.
var commands []func() *cobra.Command

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "autodebit",
		Short:         "Antom Scan to Link auto debit: link wallets, charge tokens, know every result",
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return applyEnv(cmd.Flags())
		},
	}
	root.SetVersionTemplate("autodebit {{.Version}}\n")
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
