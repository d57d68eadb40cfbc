package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/autodebit/autodebit/antom"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newKeysCommand) }

func newKeysCommand() *cobra.Command {
	var out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Make an RSA-2048 key pair in Antom's formats",
		Long: `keys makes an RSA-2048 key pair. It prints the private key as one-line base64
PKCS#8 (what --private-key takes) and the public key as one-line base64 X.509
(what you upload to Antom's dashboard, or pass to the simulator's
--merchant-public-key). With --out DIR it writes private.pem (mode 0600),
public.pem, private.b64 and public.b64 into DIR instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			kp, err := antom.GenerateKeyPair()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out != "" {
				if err := writeKeyFiles(out, kp); err != nil {
					return err
				}
				fmt.Fprintf(w, "wrote %s (0600), %s, %s (0600), %s\n",
					filepath.Join(out, "private.pem"), filepath.Join(out, "public.pem"),
					filepath.Join(out, "private.b64"), filepath.Join(out, "public.b64"))
				return nil
			}
			if asJSON {
				return json.NewEncoder(w).Encode(map[string]string{
					"privateKey": kp.PrivateKeyBase64,
					"publicKey":  kp.PublicKeyBase64,
				})
			}
			fmt.Fprintf(w, "private key (keep secret; --private-key):\n%s\n\npublic key (upload to Antom; --merchant-public-key):\n%s\n",
				kp.PrivateKeyBase64, kp.PublicKeyBase64)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write the key files into")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the pair as JSON {privateKey, publicKey}")
	return cmd
}

func writeKeyFiles(dir string, kp *antom.KeyPair) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	files := []struct {
		name string
		data string
		mode os.FileMode
	}{
		{"private.pem", kp.PrivateKeyPEM(), 0o600},
		{"private.b64", kp.PrivateKeyBase64 + "\n", 0o600},
		{"public.pem", kp.PublicKeyPEM(), 0o644},
		{"public.b64", kp.PublicKeyBase64 + "\n", 0o644},
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, []byte(f.data), f.mode); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}
