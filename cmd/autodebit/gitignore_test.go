package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServe_FilesAreGitIgnored runs serve with a SQLite database, then checks
// that every file it left beside the database (keys included), and the
// simulator's state files, are ignored by the repository's .gitignore, both at
// the top of a checkout (the default autodebit.db) and under a folder (--db
// sqlite:demo/x.db): a secret there must never show up in `git status`.
func TestServe_FilesAreGitIgnored(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("git is not installed; CI needs it to check .gitignore")
		}
		t.Skip("git is not installed, so .gitignore cannot be checked")
	}
	top, err := exec.Command(git, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("not in a git checkout: %v", err)
		}
		t.Skip("not in a git checkout, so .gitignore cannot be checked")
	}
	root := strings.TrimSpace(string(top))

	dir := t.TempDir()
	m := &Main{
		Config: ServeConfig{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(dir, "autodebit.db"), LogFormat: "json", LogLevel: "info"},
		Stderr: &syncBuffer{},
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.Close(ctx)

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{"autodebit.db.sim.json": true, "autodebit.db.sim-key": true}
	for _, e := range entries {
		names[e.Name()] = true
	}
	for _, want := range []string{"autodebit.db", "autodebit.db.api-key", "autodebit.db.token-key"} {
		if !names[want] {
			t.Fatalf("serve left %v beside its database, without %s", entries, want)
		}
	}
	for name := range names {
		for _, path := range []string{name, "demo/" + strings.Replace(name, "autodebit.db", "x.db", 1)} {
			cmd := exec.Command(git, "-C", root, "check-ignore", "-q", "--no-index", path)
			if err := cmd.Run(); err != nil {
				var exit *exec.ExitError
				if errors.As(err, &exit) && exit.ExitCode() == 1 {
					t.Errorf("%s is not in .gitignore: serve keeps it beside the database", path)
				} else {
					t.Fatalf("git check-ignore %s: %v", path, err)
				}
			}
		}
	}
}
