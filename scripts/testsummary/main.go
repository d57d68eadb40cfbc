// Command testsummary reads `go test -json` on stdin and prints what a
// plain `go test` prints (package results, and the output of failing tests),
// followed by a list of every test that skipped and why. scripts/test pipes
// the suite through it, so a test that did not run (a browser test without
// Chromium, say) is never mistaken for one that passed.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	if err := summarize(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json), build events included.
type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Output     string
}

// skip is a test that did not run, with the lines it logged before skipping.
type skip struct {
	pkg, test, reason string
}

// summary holds the output of tests still running, to print it if they fail
// and to read the reason if they skip.
type summary struct {
	w       io.Writer
	own     map[string][]string // package+test → that test's own lines
	family  map[string][]string // package+top-level test → its lines and its subtests'
	running map[string]bool     // package+top-level test, started and not ended
	skips   []skip
}

func summarize(r io.Reader, w io.Writer) error {
	s := &summary{w: w, own: map[string][]string{}, family: map[string][]string{}, running: map[string]bool{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(w, "%s\n", line) // not test2json: show it as it came
			continue
		}
		s.handle(e)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read go test -json: %w", err)
	}
	s.report()
	return nil
}

func (s *summary) handle(e event) {
	switch {
	case e.Action == "build-output":
		io.WriteString(s.w, e.Output)
	case e.Test == "":
		s.handlePackage(e)
	default:
		s.handleTest(e)
	}
}

func (s *summary) handlePackage(e event) {
	switch e.Action {
	case "output":
		if e.Output != "PASS\n" && !strings.HasPrefix(e.Output, "=== ") {
			io.WriteString(s.w, e.Output)
		}
	case "fail":
		// A panic or a timeout ends the package with tests still running:
		// their output is the only clue to what went wrong.
		prefix := e.Package + "\x00"
		for key := range s.running {
			if strings.HasPrefix(key, prefix) {
				s.print(s.family[key])
				s.forget(key)
			}
		}
	}
}

func (s *summary) handleTest(e event) {
	own := e.Package + "\x00" + e.Test
	top, _, _ := strings.Cut(e.Test, "/")
	family := e.Package + "\x00" + top
	switch e.Action {
	case "run":
		s.running[family] = true
	case "output":
		s.own[own] = append(s.own[own], e.Output)
		s.family[family] = append(s.family[family], e.Output)
	case "skip":
		s.skips = append(s.skips, skip{e.Package, e.Test, reason(s.own[own])})
	case "fail":
		if e.Test == top {
			s.print(s.family[family])
		}
	}
	if e.Action == "pass" || e.Action == "fail" || e.Action == "skip" {
		delete(s.own, own)
		if e.Test == top {
			s.forget(family)
		}
	}
}

func (s *summary) forget(family string) {
	delete(s.family, family)
	delete(s.running, family)
}

// print writes a failed test's output as plain `go test` shows it, without
// the === RUN/PAUSE/CONT markers of verbose mode.
func (s *summary) print(lines []string) {
	for _, l := range lines {
		if !strings.HasPrefix(strings.TrimLeft(l, " "), "=== ") {
			io.WriteString(s.w, l)
		}
	}
}

// reason is what a skipped test logged, the t.Skip message included, on one
// line.
func reason(lines []string) string {
	var parts []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		parts = append(parts, l)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " ")
}

func (s *summary) report() {
	if len(s.skips) == 0 {
		fmt.Fprintln(s.w, "No test skipped.")
		return
	}
	fmt.Fprintf(s.w, "\nSKIPPED: %d test(s) did not run:\n", len(s.skips))
	for _, k := range s.skips {
		pkg := strings.TrimPrefix(k.pkg, "github.com/autodebit/autodebit/")
		fmt.Fprintf(s.w, "SKIPPED: %s %s: %s\n", pkg, k.test, k.reason)
	}
}
