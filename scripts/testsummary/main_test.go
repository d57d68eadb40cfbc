package main

import (
	"strings"
	"testing"
)

// A run of three tests: TestA skips after logging, TestB/s fails, TestC/sk
// skips inside a passing parent; then a package that panics mid-test.
const sample = `{"Action":"start","Package":"x"}
{"Action":"run","Package":"x","Test":"TestA"}
{"Action":"output","Package":"x","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"x","Test":"TestA","Output":"    x_test.go:3: Chromium is not installed\n"}
{"Action":"output","Package":"x","Test":"TestA","Output":"--- SKIP: TestA (0.00s)\n"}
{"Action":"skip","Package":"x","Test":"TestA","Elapsed":0}
{"Action":"run","Package":"x","Test":"TestB"}
{"Action":"output","Package":"x","Test":"TestB","Output":"=== RUN   TestB\n"}
{"Action":"run","Package":"x","Test":"TestB/s"}
{"Action":"output","Package":"x","Test":"TestB/s","Output":"=== RUN   TestB/s\n"}
{"Action":"output","Package":"x","Test":"TestB/s","Output":"    x_test.go:4: bad\n"}
{"Action":"output","Package":"x","Test":"TestB/s","Output":"--- FAIL: TestB/s (0.00s)\n"}
{"Action":"fail","Package":"x","Test":"TestB/s","Elapsed":0}
{"Action":"output","Package":"x","Test":"TestB","Output":"--- FAIL: TestB (0.00s)\n"}
{"Action":"fail","Package":"x","Test":"TestB","Elapsed":0}
{"Action":"run","Package":"x","Test":"TestC"}
{"Action":"output","Package":"x","Test":"TestC","Output":"    x_test.go:5: passing log\n"}
{"Action":"run","Package":"x","Test":"TestC/sk"}
{"Action":"output","Package":"x","Test":"TestC/sk","Output":"    x_test.go:6: sub skip\n"}
{"Action":"skip","Package":"x","Test":"TestC/sk","Elapsed":0}
{"Action":"pass","Package":"x","Test":"TestC","Elapsed":0}
{"Action":"output","Package":"x","Output":"FAIL\n"}
{"Action":"output","Package":"x","Output":"FAIL\tx\t0.006s\n"}
{"Action":"fail","Package":"x","Elapsed":0.006}
{"Action":"run","Package":"github.com/autodebit/autodebit/y","Test":"TestPanics"}
{"Action":"output","Package":"github.com/autodebit/autodebit/y","Test":"TestPanics","Output":"panic: boom\n"}
{"Action":"output","Package":"github.com/autodebit/autodebit/y","Output":"FAIL\tgithub.com/autodebit/autodebit/y\t0.1s\n"}
{"Action":"fail","Package":"github.com/autodebit/autodebit/y","Elapsed":0.1}
{"Action":"output","Package":"github.com/autodebit/autodebit/z","Output":"ok  \tgithub.com/autodebit/autodebit/z\t0.2s\n"}
{"Action":"pass","Package":"github.com/autodebit/autodebit/z","Elapsed":0.2}
go: some line that is not JSON
`

func TestSummarize(t *testing.T) {
	var out strings.Builder
	if err := summarize(strings.NewReader(sample), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"SKIPPED: 2 test(s) did not run",
		"SKIPPED: x TestA: x_test.go:3: Chromium is not installed\n",
		"SKIPPED: x TestC/sk: x_test.go:6: sub skip\n",
		"x_test.go:4: bad\n", "--- FAIL: TestB (0.00s)\n", "FAIL\tx\t0.006s\n",
		"panic: boom\n", // a test cut short by a panic still shows its output
		"ok  \tgithub.com/autodebit/autodebit/z\t0.2s\n",
		"go: some line that is not JSON\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"=== RUN", "passing log", "--- SKIP"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("output has %q, which plain go test does not print:\n%s", unwanted, got)
		}
	}
}

func TestSummarize_NoSkips(t *testing.T) {
	var out strings.Builder
	in := `{"Action":"output","Package":"z","Output":"ok  \tz\t0.2s\n"}` + "\n"
	if err := summarize(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasSuffix(got, "No test skipped.\n") || strings.Contains(got, "SKIPPED") {
		t.Fatalf("output %q, want the result and \"No test skipped.\"", got)
	}
}
