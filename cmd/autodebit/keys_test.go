package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runKeys runs `autodebit keys` with args and returns its output and error.
func runKeys(tb testing.TB, args ...string) (string, error) {
	tb.Helper()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"keys"}, args...))
	err := root.Execute()
	return out.String(), err
}

func readFiles(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	got := map[string]string{}
	for _, name := range keyFileNames {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		got[name] = string(b)
	}
	return got
}

// TestKeysOutRefusesExisting checks that a second `keys --out DIR` keeps the
// key pair already there unless --force is given.
func TestKeysOutRefusesExisting(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keys")
	if _, err := runKeys(t, "--out", dir); err != nil {
		t.Fatal(err)
	}
	first := readFiles(t, dir)

	t.Run("Refused", func(t *testing.T) {
		_, err := runKeys(t, "--out", dir)
		if err == nil {
			t.Fatal("second keys --out succeeded; want a refusal")
		}
		for _, want := range []string{filepath.Join(dir, "private.pem"), "already exists", "--force"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
		if got := readFiles(t, dir); got["private.pem"] != first["private.pem"] || got["public.b64"] != first["public.b64"] {
			t.Fatal("a refused keys --out changed the key files")
		}
	})

	t.Run("OnePublicFileLeft", func(t *testing.T) {
		other := t.TempDir()
		if err := os.WriteFile(filepath.Join(other, "public.b64"), []byte("mine\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := runKeys(t, "--out", other); err == nil || !strings.Contains(err.Error(), "public.b64") {
			t.Fatalf("err = %v, want a refusal naming public.b64", err)
		}
		if _, err := os.Stat(filepath.Join(other, "private.pem")); err == nil {
			t.Fatal("a refused keys --out wrote private.pem")
		}
	})

	t.Run("Force", func(t *testing.T) {
		if err := os.Chmod(filepath.Join(dir, "private.pem"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := runKeys(t, "--out", dir, "--force"); err != nil {
			t.Fatal(err)
		}
		got := readFiles(t, dir)
		if got["private.pem"] == first["private.pem"] || got["public.pem"] == first["public.pem"] {
			t.Fatal("keys --out --force kept the old pair")
		}
		fi, err := os.Stat(filepath.Join(dir, "private.pem"))
		if err != nil {
			t.Fatal(err)
		} else if fi.Mode().Perm() != 0o600 {
			t.Fatalf("private.pem mode %v after --force, want 0600", fi.Mode().Perm())
		}
	})
}
