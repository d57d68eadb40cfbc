package autodebit_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/autodebit/autodebit"
)

func TestErrorCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code string
		msg  string
	}{
		{nil, "", ""},
		{errors.New("boom"), autodebit.EINTERNAL, "Internal error."},
		{autodebit.Errorf(autodebit.ENOTFOUND, "Charge %s not found.", "chg_1"), autodebit.ENOTFOUND, "Charge chg_1 not found."},
		{fmt.Errorf("find charge: %w", autodebit.Errorf(autodebit.ECONFLICT, "Changed.")), autodebit.ECONFLICT, "Changed."},
		{autodebit.Errorf(autodebit.EINTERNAL, "secret detail"), autodebit.EINTERNAL, "Internal error."},
	} {
		if got := autodebit.ErrorCode(tt.err); got != tt.code {
			t.Errorf("ErrorCode(%v)=%q, want %q", tt.err, got, tt.code)
		}
		if got := autodebit.ErrorMessage(tt.err); got != tt.msg {
			t.Errorf("ErrorMessage(%v)=%q, want %q", tt.err, got, tt.msg)
		}
	}
}
