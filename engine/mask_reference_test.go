package engine

// The masking maskBodyReference did before it was rewritten as a single pass over the
// bytes (issue 14): a json.Decoder token stream, re-encoded. FuzzMaskBody
// holds the two to the same output on every input.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/autodebit/autodebit"
)

// maskBodyReference returns a JSON body for the audit trail with every secret value
// masked (see autodebit.MaskSecret). It decodes the body rather than
// searching its text, so a key matches whatever its case or escaping
// ("ACCESSTOKEN", "acc\u0065ssToken"), at any depth and however often it
// repeats; a secret key holding something other than a string is masked
// whole. The result is the same JSON, compact, with the keys in their
// order, numbers as written and strings re-escaped (HTML characters kept).
//
// A body that is not one valid JSON value cannot be searched reliably, so
// none of it is kept: the result is "[not JSON: N bytes, not kept]". An
// empty body stays empty.
func maskBodyReference(body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var out bytes.Buffer
	if err := refMaskValue(dec, &out, false); err != nil {
		return refUnparsable(body)
	}
	if _, err := dec.Token(); err != io.EOF {
		return refUnparsable(body) // trailing data
	}
	return out.String()
}

func refUnparsable(body []byte) string {
	return fmt.Sprintf("[not JSON: %d bytes, not kept]", len(body))
}

// refMaskValue copies the next JSON value from dec to out, masking it whole
// when secret is set and otherwise masking the secret fields of the objects
// inside it.
func refMaskValue(dec *json.Decoder, out *bytes.Buffer, secret bool) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); ok {
		if !secret {
			return refMaskContainer(dec, d, out)
		}
		if err := refMaskContainer(dec, d, new(bytes.Buffer)); err != nil {
			return err
		}
		tok = "" // an object or array where a secret string belongs: mask it whole
	}
	switch t := tok.(type) {
	case string:
		if secret {
			t = autodebit.MaskSecret(t)
		}
		refWriteJSONString(out, t)
	case nil:
		out.WriteString("null")
	default: // json.Number or bool
		if secret {
			refWriteJSONString(out, autodebit.MaskSecret(""))
		} else {
			fmt.Fprint(out, t)
		}
	}
	return nil
}

// refMaskContainer copies the rest of the object or array that open started.
func refMaskContainer(dec *json.Decoder, open json.Delim, out *bytes.Buffer) error {
	out.WriteRune(rune(open))
	for first := true; dec.More(); first = false {
		if !first {
			out.WriteByte(',')
		}
		secret := false
		if open == '{' {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			refWriteJSONString(out, key)
			out.WriteByte(':')
			secret = refIsSecretField(key)
		}
		if err := refMaskValue(dec, out, secret); err != nil {
			return err
		}
	}
	tok, err := dec.Token() // the closing delimiter
	if err != nil {
		return err
	}
	closing, ok := tok.(json.Delim)
	if !ok {
		return fmt.Errorf("unexpected %v at the end of a JSON %c", tok, open)
	}
	out.WriteRune(rune(closing))
	return nil
}

// refWriteJSONString writes s as a JSON string, leaving <, > and & readable.
func refWriteJSONString(out *bytes.Buffer, s string) {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	out.Truncate(out.Len() - 1) // Encode's newline
}

func refIsSecretField(key string) bool {
	for _, f := range []string{"accessToken", "refreshToken", "paymentMethodId", "authCode"} {
		if strings.EqualFold(key, f) {
			return true
		}
	}
	return false
}

// FuzzMaskBody holds MaskBody to the output of the decoder-based masking it
// replaced, on every input: the same bytes, valid JSON or not. (One
// difference is meant and tested in TestMaskBodyDepth: beyond the 10,000
// levels of nesting json.Valid allows, nothing is kept.)
func FuzzMaskBody(f *testing.F) {
	for _, s := range []string{
		``, ` `, `null`, `"x"`, `12`, `-1.5e3`, `true`, `[]`, `{}`, `[{}]`, `{"a":{}}`,
		`{"accessToken":"28101003ABCDEFGH12345678"}`,
		`{"ACCESSTOKEN":"28101003ABCDEFGH12345678","n":1}`,
		`{"acc\u0065ssToken":"28101003ABCDEFGH12345678"}`,
		`{"accessTo\u212Aen":"KELVINTOKEN000011112222"}`,
		"{\"accessTo\u212aen\":\"KELVINTOKEN000011112222\"}",
		`{"accessToken":"2810\u00310003ABCDEFGH12345678"}`,
		`{"accessToken":{"value":"OBJECTTOKEN0000111122223333"}}`,
		`{"accessToken":[1,{"a":"b"}],"authCode":null,"refreshToken":12,"paymentMethodId":false}`,
		`{ "z": 1.50, "a": [true, null, 12345678901234567890], "q": "<a&b>" }`,
		`{"s":"tab\there \/ \"q\" \\ \u2028 \ud83d\ude00 \udc00"}`,
		"{\"s\":\"caf\u00e9 \u2028 \xff\x7f\"}",
		`{"a":1} {"b":2}`, `{"a":1`, `<html>`, "\ufeff{}",
	} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("../antom/testdata/*.json")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, want := MaskBody(body), maskBodyReference(body); got != want {
			t.Fatalf("MaskBody(%q)\n = %q\nwant %q (the decoder-based masking)", body, got, want)
		}
	})
}

// BenchmarkMaskBody masks a pay request, as the timeline does for every
// exchange.
func BenchmarkMaskBody(b *testing.B) {
	body, err := os.ReadFile("../antom/testdata/pay.request.json")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("OnePass", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			MaskBody(body)
		}
	})
	b.Run("Decoder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			maskBodyReference(body)
		}
	})
}

// Nesting deeper than json.Valid's 10,000 levels is not kept, secret or
// not; the decoder-based masking took any depth. At the limit the two agree.
func TestMaskBodyDepth(t *testing.T) {
	nest := func(depth int) []byte {
		return []byte(strings.Repeat(`{"a":`, depth-1) + `{"accessToken":"28101003ABCDEFGH12345678"}` + strings.Repeat("}", depth-1))
	}
	at := nest(10000)
	if got, want := MaskBody(at), maskBodyReference(at); got != want || strings.Contains(got, "ABCDEFGH1234") {
		t.Errorf("10,000 levels: MaskBody differs from the decoder-based masking, or keeps the secret")
	}
	deeper := nest(10001)
	if got, want := MaskBody(deeper), unparsableBody(deeper); got != want {
		t.Errorf("10,001 levels: MaskBody = %.60q…, want %q", got, want)
	}
}
