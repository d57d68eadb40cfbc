package autodebit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit"
)

func TestAmount_Validate(t *testing.T) {
	for _, tt := range []struct {
		a  autodebit.Amount
		ok bool
	}{
		{autodebit.Amount{"PHP", 1}, true},
		{autodebit.Amount{"PHP", 0}, false},
		{autodebit.Amount{"PHP", -5}, false},
		{autodebit.Amount{"php", 5}, false},
		{autodebit.Amount{"PH", 5}, false},
		{autodebit.Amount{}, false},
	} {
		if err := tt.a.Validate(); (err == nil) != tt.ok {
			t.Errorf("%v.Validate()=%v, want ok=%v", tt.a, err, tt.ok)
		} else if err != nil && autodebit.ErrorCode(err) != autodebit.EINVALID {
			t.Errorf("%v.Validate() code=%q", tt.a, autodebit.ErrorCode(err))
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}
