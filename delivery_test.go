package autodebit_test

import (
	"testing"

	"github.com/autodebit/autodebit"
)

func TestClipTextKeepsRunes(t *testing.T) {
	if got := autodebit.ClipText("héllo", 2); got != "h" {
		t.Fatalf("ClipText cut a rune: %q", got)
	}
	if got := autodebit.ClipText("a\xffb", 10); got != "a\uFFFDb" {
		t.Fatalf("ClipText kept invalid UTF-8: %q", got)
	}
}
