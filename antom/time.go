package antom

import (
	"errors"
	"fmt"
	"time"
)

// ParseTime reads a datetime as Antom sends it in bodies and headers: ISO
// 8601 extended format with a UTC offset, e.g. 2019-11-27T12:01:01+08:00.
// Antom documents the colon form, but ISO 8601 also allows the offset as
// +0800 or +08, and Z for UTC, and Antom's own samples use more than one of
// them; a valid time in any of these forms must never make a genuine answer
// or notification unreadable. Fractional seconds (after "." or ",") are
// accepted. A time without an offset is refused: it names no instant.
//
// Every Antom datetime this package reads goes through ParseTime (Time's
// UnmarshalJSON and ParseRequestTime), so they all accept the same forms.
func ParseTime(s string) (time.Time, error) {
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q %v; want ISO 8601 with a UTC offset, e.g. 2019-11-27T12:01:01+08:00", clip(s, 64), err)
	}
	return t, nil
}

// dateTimeLen is the length of YYYY-MM-DDThh:mm:ss.
const dateTimeLen = len("2006-01-02T15:04:05")

// maxOffset is the largest UTC offset accepted, as in java.time: real zones
// lie within -12:00 and +14:00.
const maxOffset = 18 * time.Hour

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("is empty")
	}
	if len(s) < dateTimeLen || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, errors.New("does not start with YYYY-MM-DDThh:mm:ss")
	}
	rest := s[dateTimeLen:]
	// Fractional seconds: digits after "." or ",".
	frac := ""
	if rest != "" && (rest[0] == '.' || rest[0] == ',') {
		n := digits(rest[1:])
		if n == 0 {
			return time.Time{}, errors.New("has no digits after its decimal separator")
		}
		frac, rest = "."+rest[1:1+n], rest[1+n:]
	}
	zone, err := parseOffset(rest)
	if err != nil {
		return time.Time{}, err
	}
	// What is left is strict RFC 3339, which the standard library checks
	// field by field (month 1-12, day within the month, hour 0-23…).
	t, err := time.Parse(time.RFC3339Nano, s[:dateTimeLen]+frac+zone)
	if err != nil {
		return time.Time{}, errors.New("is not a valid date and time")
	}
	return t, nil
}

// parseOffset reads a UTC offset, Z, ±hh, ±hhmm or ±hh:mm, and returns it in
// RFC 3339 form (Z or ±hh:mm).
func parseOffset(s string) (string, error) {
	switch {
	case s == "":
		return "", errors.New("has no UTC offset")
	case s == "Z":
		return s, nil
	case s[0] != '+' && s[0] != '-':
		return "", fmt.Errorf("has %q where its UTC offset should be", clip(s, 16))
	}
	var hh, mm string
	switch v := s[1:]; {
	case len(v) == 2 && digits(v) == 2:
		hh, mm = v, "00"
	case len(v) == 4 && digits(v) == 4:
		hh, mm = v[:2], v[2:]
	case len(v) == 5 && v[2] == ':' && digits(v[:2]) == 2 && digits(v[3:]) == 2:
		hh, mm = v[:2], v[3:]
	default:
		return "", fmt.Errorf("has UTC offset %q, not ±hh:mm, ±hhmm or ±hh", clip(s, 16))
	}
	h, m := int(hh[0]-'0')*10+int(hh[1]-'0'), int(mm[0]-'0')*10+int(mm[1]-'0')
	if m > 59 || time.Duration(h)*time.Hour+time.Duration(m)*time.Minute > maxOffset {
		return "", fmt.Errorf("has UTC offset %s, beyond ±18:00", s)
	}
	return s[:1] + hh + ":" + mm, nil
}

// digits is the number of ASCII digits s starts with.
func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
