package postgres

import (
	"net/url"
	"strings"
)

// redacted replaces a password wherever Redact finds one.
const redacted = "xxxxx"

// Redact returns a PostgreSQL connection string fit for logs, errors and
// reports: every password in it is replaced by xxxxx. It understands both
// forms pgx accepts:
//
//   - URLs (postgres://user:pass@host/db?password=pass&sslpassword=pass):
//     the userinfo password and every query parameter whose name contains
//     "password", in any case, are replaced, and a fragment is dropped
//     (an unescaped # in a password starts one).
//   - key=value strings (host=h password='p w' user=u): every value whose
//     key contains "password" is replaced, quoted or not.
//
// When the string cannot be parsed it is redacted conservatively: a URL
// loses its userinfo and its query, and anything else that mentions a
// password is replaced entirely; the rest (e.g. sqlite:PATH) is returned
// unchanged.
func Redact(dsn string) string {
	if strings.Contains(dsn, "://") {
		return redactURL(dsn)
	}
	if out, ok := redactKeyValues(dsn); ok {
		return out
	}
	if isPasswordKey(dsn) {
		return "[unparsable connection string, redacted]"
	}
	return dsn
}

// isPasswordKey reports whether a connection parameter holds a password:
// password, sslpassword, and any spelling pgx may learn later.
func isPasswordKey(key string) bool {
	return strings.Contains(strings.ToLower(key), "password")
}

func redactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return redactBrokenURL(dsn)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
	}
	if u.RawQuery != "" {
		pairs := strings.Split(u.RawQuery, "&")
		for i, p := range pairs {
			k, _, _ := strings.Cut(p, "=")
			if name, err := url.QueryUnescape(k); err != nil || isPasswordKey(name) {
				pairs[i] = k + "=" + redacted
			}
		}
		u.RawQuery = strings.Join(pairs, "&")
	}
	if u.Fragment != "" || u.RawFragment != "" {
		u.Fragment, u.RawFragment = redacted, ""
	}
	return u.String()
}

// redactBrokenURL keeps the scheme and the host of a URL that does not
// parse, and hides its userinfo and everything after the path: a password
// with an unescaped /, ? or # is what usually breaks one.
func redactBrokenURL(dsn string) string {
	i := strings.Index(dsn, "://")
	scheme, rest := dsn[:i+3], dsn[i+3:]
	userinfo := ""
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest, userinfo = rest[at+1:], redacted+"@"
	}
	if cut := strings.IndexAny(rest, "?#"); cut >= 0 {
		rest = rest[:cut] + "?" + redacted
	}
	return scheme + userinfo + rest
}

// redactKeyValues redacts a libpq key=value string: keys are words, values
// are either bare (up to the next space) or single-quoted with backslash
// escapes. It reports false when dsn is not such a string.
func redactKeyValues(dsn string) (string, bool) {
	var b strings.Builder
	s := dsn
	for {
		trimmed := strings.TrimLeft(s, " \t\n\r")
		b.WriteString(s[:len(s)-len(trimmed)])
		s = trimmed
		if s == "" {
			return b.String(), b.Len() > 0 && strings.Contains(dsn, "=")
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return "", false
		}
		key := strings.TrimRight(s[:eq], " \t")
		if !isWord(key) {
			return "", false
		}
		b.WriteString(s[:eq+1])
		s = s[eq+1:]
		spaces := len(s) - len(strings.TrimLeft(s, " \t"))
		b.WriteString(s[:spaces])
		s = s[spaces:]
		n, ok := valueLen(s)
		if !ok {
			return "", false
		}
		if isPasswordKey(key) {
			b.WriteString(redacted)
		} else {
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
}

// valueLen returns the length of the value at the start of s.
func valueLen(s string) (int, bool) {
	if !strings.HasPrefix(s, "'") {
		if i := strings.IndexAny(s, " \t\n\r"); i >= 0 {
			return i, true
		}
		return len(s), true
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '\'':
			return i + 1, true
		}
	}
	return 0, false // unterminated quote
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
