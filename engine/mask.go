package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/autodebit/autodebit"
)

// secretFields are the JSON fields whose values must never be stored in
// the clear: access and refresh tokens, the token as paymentMethodId, and
// the single-use authCode.
var secretFields = [][]byte{[]byte("accessToken"), []byte("refreshToken"), []byte("paymentMethodId"), []byte("authCode")}

// isSecretField reports whether a decoded object key names a secret field
// the way encoding/json (and so the antom client) matches a key to a
// struct field: case-insensitively, with Unicode folding.
func isSecretField(key []byte) bool {
	for _, f := range secretFields {
		if bytes.EqualFold(key, f) {
			return true
		}
	}
	return false
}

// MaskBody returns a JSON body for the audit trail with every secret value
// masked (see autodebit.MaskSecret). It reads the body as JSON rather than
// searching its text, so a key matches whatever its case or escaping
// ("ACCESSTOKEN", "acc\u0065ssToken"), at any depth and however often it
// repeats; a secret key holding something other than a string is masked
// whole. The result is the same JSON, compact, with the keys in their
// order, numbers as written and strings as encoding/json writes them with
// HTML escaping off.
//
// A body that is not one valid JSON value cannot be searched reliably, so
// none of it is kept: the result is "[not JSON: N bytes, not kept]". That
// includes JSON nested more than 10,000 levels deep, which json.Valid
// refuses. An empty body stays empty.
//
// It runs on every Antom exchange and notification, so it is one pass over
// the bytes after json.Valid, copying what needs no change as it is; only a
// string with escapes or non-ASCII text, or a secret, goes through
// encoding/json. FuzzMaskBody holds it to the output of the json.Decoder
// token stream it replaced (which, unlike json.Valid, took any depth).
func MaskBody(body []byte) (masked string) {
	if len(bytes.TrimSpace(body)) == 0 {
		return ""
	}
	if !json.Valid(body) {
		return unparsableBody(body)
	}
	defer func() {
		if recover() != nil { // a bug here must not fail the exchange, nor keep a secret
			masked = unparsableBody(body)
		}
	}()
	m := masker{in: body, out: make([]byte, 0, len(body))}
	m.value(false)
	return string(m.out)
}

func unparsableBody(body []byte) string {
	return fmt.Sprintf("[not JSON: %d bytes, not kept]", len(body))
}

// masker copies a JSON value that json.Valid accepted from in to out,
// masking secrets; being valid, the input needs no checks here.
type masker struct {
	in  []byte
	i   int
	out []byte
}

func (m *masker) space() {
	for m.i < len(m.in) {
		switch m.in[m.i] {
		case ' ', '\t', '\n', '\r':
			m.i++
		default:
			return
		}
	}
}

// value copies the next value, masking it whole when secret is set (except
// null, which stays null) and otherwise masking the secret fields of the
// objects inside it.
func (m *masker) value(secret bool) {
	m.space()
	switch c := m.in[m.i]; {
	case c == '{' || c == '[':
		if secret {
			m.skipContainer()
			m.writeString(autodebit.MaskSecret("")) // an object or array where a secret string belongs
			return
		}
		m.container()
	case c == '"':
		raw := m.stringToken()
		if secret {
			m.writeString(autodebit.MaskSecret(decodeString(raw)))
		} else {
			m.copyString(raw)
		}
	default: // a number, true, false or null
		start := m.i
		for m.i < len(m.in) && !isDelimiter(m.in[m.i]) {
			m.i++
		}
		lit := m.in[start:m.i]
		switch {
		case c == 'n':
			m.out = append(m.out, "null"...)
		case secret:
			m.writeString(autodebit.MaskSecret(""))
		default:
			m.out = append(m.out, lit...)
		}
	}
}

func isDelimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ':', ']', '}':
		return true
	}
	return false
}

// container copies the object or array that starts at m.i.
func (m *masker) container() {
	open := m.in[m.i]
	closing := byte(']')
	if open == '{' {
		closing = '}'
	}
	m.out = append(m.out, open)
	m.i++
	m.space()
	if m.in[m.i] == closing {
		m.out = append(m.out, closing)
		m.i++
		return
	}
	for {
		secret := false
		if open == '{' {
			m.space()
			raw := m.stringToken()
			m.copyString(raw)
			m.space()
			m.i++ // ':'
			m.out = append(m.out, ':')
			secret = isSecretField(keyBytes(raw))
		}
		m.value(secret)
		m.space()
		c := m.in[m.i]
		m.i++
		if c != ',' {
			m.out = append(m.out, closing)
			return
		}
		m.out = append(m.out, ',')
	}
}

// skipContainer moves past the object or array that starts at m.i.
func (m *masker) skipContainer() {
	depth := 0
	for m.i < len(m.in) {
		switch m.in[m.i] {
		case '"':
			m.stringToken()
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				m.i++
				return
			}
		}
		m.i++
	}
}

// stringToken returns the string that starts at m.i, quotes included, and
// moves past it.
func (m *masker) stringToken() []byte {
	start := m.i
	m.i++
	for {
		switch m.in[m.i] {
		case '\\':
			m.i += 2
		case '"':
			m.i++
			return m.in[start:m.i]
		default:
			m.i++
		}
	}
}

// copyString writes a string token as encoding/json would write its value:
// as it is when that is the same, re-encoded otherwise.
func (m *masker) copyString(raw []byte) {
	if verbatim(raw[1 : len(raw)-1]) {
		m.out = append(m.out, raw...)
		return
	}
	m.writeString(unquote(raw))
}

// verbatim reports whether encoding/json, with HTML escaping off, writes
// the decoded value of a string's contents s exactly as s: no escapes, no
// control characters, valid UTF-8 without U+2028 and U+2029.
func verbatim(s []byte) bool {
	ascii := true
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			return false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if ascii {
		return true
	}
	return utf8.Valid(s) && !bytes.Contains(s, []byte("\u2028")) && !bytes.Contains(s, []byte("\u2029"))
}

// keyBytes is an object key's decoded value, for matching.
func keyBytes(raw []byte) []byte {
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1] // invalid UTF-8 matches no field, decoded or not
	}
	return []byte(unquote(raw))
}

// decodeString is the value of a string token, as encoding/json reads it.
func decodeString(raw []byte) string {
	if s := raw[1 : len(raw)-1]; verbatim(s) {
		return string(s)
	}
	return unquote(raw)
}

// unquote decodes a string token with encoding/json.
func unquote(raw []byte) string {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		panic(err) // cannot happen: json.Valid accepted it (MaskBody recovers)
	}
	return s
}

// writeString writes s as a JSON string, leaving <, > and & readable.
func (m *masker) writeString(s string) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	m.out = append(m.out, b.Bytes()[:b.Len()-1]...) // without Encode's newline
}
