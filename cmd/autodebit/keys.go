package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/autodebit/autodebit/antom"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newKeysCommand) }

func newKeysCommand() *cobra.Command {
	var out string
	var asJSON, force bool
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Make an RSA-2048 key pair in Antom's formats",
		Long: `keys makes an RSA-2048 key pair. It prints the private key as one-line base64
PKCS#8 (what --private-key takes) and the public key as one-line base64 X.509
(what you upload to Antom's dashboard, or pass to the simulator's
--merchant-public-key). With --out DIR it writes private.pem (mode 0600),
public.pem, private.b64 and public.b64 into DIR instead; it refuses to replace
existing key files unless --force is given, since a lost private key cannot
be made again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out != "" && !force {
				if err := checkNoKeyFiles(out); err != nil {
					return err
				}
			}
			kp, err := antom.GenerateKeyPair()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out != "" {
				if err := writeKeyFiles(out, kp, force); err != nil {
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
	cmd.Flags().BoolVar(&force, "force", false, "with --out, replace key files already in DIR (the old private key is lost)")
	return cmd
}

// keyFileNames are the files `keys --out` writes, private ones first.
var keyFileNames = []string{"private.pem", "private.b64", "public.pem", "public.b64"}

// checkNoKeyFiles refuses a directory that already holds one of the key
// files, before anything is written: a private key overwritten by mistake
// cannot be recovered, and replacing only some files would leave a public
// key that no longer matches its private key.
func checkNoKeyFiles(dir string) error {
	for _, name := range keyFileNames {
		path := filepath.Join(dir, name)
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s already exists; keep it, choose another --out directory, or pass --force to replace the key pair (the old private key is lost)", path)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("check %s: %w", path, err)
		}
	}
	return nil
}

// writeKeyFiles writes the pair into dir. Without force a file that appeared
// since checkNoKeyFiles is still not replaced (a link, not a rename); with force an
// existing file is replaced and gets the mode below, whatever it had.
func writeKeyFiles(dir string, kp *antom.KeyPair, force bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	data := map[string]string{
		"private.pem": kp.PrivateKeyPEM(),
		"private.b64": kp.PrivateKeyBase64 + "\n",
		"public.pem":  kp.PublicKeyPEM(),
		"public.b64":  kp.PublicKeyBase64 + "\n",
	}
	for _, name := range keyFileNames {
		path := filepath.Join(dir, name)
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "private") {
			mode = 0o600
		}
		if err := writeKeyFile(path, data[name], mode, force); err != nil {
			return err
		}
	}
	return nil
}

// writeKeyFile writes one key file whole or not at all (a temporary file,
// synced, then linked or renamed into place): a failure never leaves a torn
// key, and with force the old file stays until the new one is complete.
func writeKeyFile(path, data string, mode os.FileMode, force bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if force {
		err = os.Rename(tmp, path)
	} else {
		err = os.Link(tmp, path) // fails if a file appeared meanwhile
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists; pass --force to replace the key pair (the old private key is lost)", path)
	} else if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
