package antom_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/autodebit/autodebit/antom"
	"pgregory.net/rapid"
)

func TestParseTime(t *testing.T) {
	cst := time.FixedZone("", 8*3600)
	want := time.Date(2019, 11, 27, 12, 1, 1, 0, cst)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2019-11-27T12:01:01+08:00", want},
		{"2019-11-27T12:01:01+0800", want},
		{"2019-11-27T12:01:01+08", want},
		{"2019-11-27T04:01:01Z", want},
		{"2019-11-27T04:01:01+00:00", want},
		{"2019-11-27T04:01:01-00:00", want},
		{"2019-11-26T22:31:01-0530", want},
		{"2019-11-27T12:01:01.125+08:00", want.Add(125 * time.Millisecond)},
		{"2019-11-27T12:01:01.125+0800", want.Add(125 * time.Millisecond)},
		{"2019-11-27T12:01:01,5+08", want.Add(500 * time.Millisecond)},
		{"2019-11-27T04:01:01.000000001Z", want.Add(time.Nanosecond)},
		{"2020-02-29T12:01:01+14:00", time.Date(2020, 2, 29, 12, 1, 1, 0, time.FixedZone("", 14*3600))},
		{"2019-11-27T12:01:01-12:00", time.Date(2019, 11, 27, 12, 1, 1, 0, time.FixedZone("", -12*3600))},
	} {
		got, err := antom.ParseTime(tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q)=%v,%v, want %v", tc.in, got, err, tc.want)
		}
	}
	for in, reason := range map[string]string{
		"":                              "is empty",
		"yesterday":                     "does not start with YYYY-MM-DDThh:mm:ss",
		"2019-11-27":                    "does not start with YYYY-MM-DDThh:mm:ss",
		"2019-11-27 12:01:01+08:00":     "does not start with YYYY-MM-DDThh:mm:ss",
		"2019-11-27T12:01:01":           "has no UTC offset",
		"2019-11-27T12:01:01.125":       "has no UTC offset",
		"2019-11-27T12:01:01.+08:00":    "no digits after its decimal separator",
		"2019-11-27T12:01:01 +08:00":    `has " +08:00" where its UTC offset should be`,
		"2019-11-27T12:01:01+8":         "not ±hh:mm, ±hhmm or ±hh",
		"2019-11-27T12:01:01+080":       "not ±hh:mm, ±hhmm or ±hh",
		"2019-11-27T12:01:01+08:0":      "not ±hh:mm, ±hhmm or ±hh",
		"2019-11-27T12:01:01+08:00:00":  "not ±hh:mm, ±hhmm or ±hh",
		"2019-11-27T12:01:01+08:00 ":    "not ±hh:mm, ±hhmm or ±hh",
		"2019-11-27T12:01:01Z ":         `has "Z " where its UTC offset should be`,
		"2019-11-27T12:01:01+08:60":     "beyond ±18:00",
		"2019-11-27T12:01:01+19":        "beyond ±18:00",
		"2019-11-27T24:00:00Z":          "is not a valid date and time",
		"2019-02-29T12:01:01Z":          "is not a valid date and time",
		"2019-13-01T12:01:01Z":          "is not a valid date and time",
		"20x9-11-27T12:01:01Z":          "is not a valid date and time",
		"2019-11-27T12:01:61Z":          "is not a valid date and time",
		"2019-11-27t12:01:01z":          "does not start with YYYY-MM-DDThh:mm:ss",
		"1574827201000":                 "does not start with YYYY-MM-DDThh:mm:ss",
		"2019-11-27T12:01:01+08:00\x00": "not ±hh:mm, ±hhmm or ±hh",
	} {
		_, err := antom.ParseTime(in)
		if err == nil {
			t.Errorf("ParseTime(%q) accepted", in)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, reason) || !strings.Contains(msg, "want ISO 8601 with a UTC offset") {
			t.Errorf("ParseTime(%q): %q, want it to say %q", in, msg, reason)
		}
	}
}

// Any instant, written in any of the offset forms ISO 8601 allows, with or
// without fractional seconds, reads back as the same instant and offset.
func TestParseTime_RoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sec := rapid.Int64Range(time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC).Unix(), time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC).Unix()).Draw(t, "sec")
		nsec := rapid.SampledFrom([]int64{0, 0, 1, 125_000_000, 999_999_999, rapid.Int64Range(0, 999_999_999).Draw(t, "n")}).Draw(t, "nsec")
		offMin := rapid.IntRange(-18*60, 18*60).Draw(t, "offsetMinutes")
		form := rapid.SampledFrom([]string{"-07:00", "-0700", "-07", "Z07:00"}).Draw(t, "form")
		if form == "-07" {
			offMin -= offMin % 60 // hours only
		}
		if form == "Z07:00" {
			offMin = 0
		}
		in := time.Unix(sec, nsec).In(time.FixedZone("", offMin*60))
		s := in.Format("2006-01-02T15:04:05.999999999" + form)
		got, err := antom.ParseTime(s)
		if err != nil {
			t.Fatalf("ParseTime(%q): %v", s, err)
		}
		_, off := got.Zone()
		if !got.Equal(in) || off != offMin*60 {
			t.Fatalf("ParseTime(%q)=%v, want %v", s, got, in)
		}
		// Marshalling keeps Antom's documented form and the second.
		b, err := json.Marshal(antom.NewTime(got))
		if err != nil {
			t.Fatal(err)
		}
		want := `"` + in.Format("2006-01-02T15:04:05-07:00") + `"`
		if string(b) != want {
			t.Fatalf("Marshal(%v)=%s, want %s", got, b, want)
		}
		var back antom.Time
		if err := json.Unmarshal(b, &back); err != nil || !back.Equal(in.Truncate(time.Second)) {
			t.Fatalf("Unmarshal(%s)=%v,%v", b, back.Time, err)
		}
	})
}

func TestTime_JSON(t *testing.T) {
	var v struct {
		A, B, C antom.Time
	}
	if err := json.Unmarshal([]byte(`{"A":"2019-11-27T12:01:01+0800","B":"","C":null}`), &v); err != nil {
		t.Fatal(err)
	}
	if !v.A.Equal(time.Date(2019, 11, 27, 4, 1, 1, 0, time.UTC)) || !v.B.IsZero() || !v.C.IsZero() {
		t.Fatalf("%+v", v)
	}
	if b, _ := json.Marshal(v.A); string(b) != `"2019-11-27T12:01:01+08:00"` {
		t.Fatalf("Marshal=%s, want Antom's form with a colon", b)
	}
	for _, in := range []string{`{"A":"2019-11-27T12:01:01"}`, `{"A":"soon"}`, `{"A":1574827261}`} {
		if err := json.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("Unmarshal(%s) accepted", in)
		}
	}
}

// A response whose times use the other ISO 8601 offset forms is a genuine
// answer: pay S with "+0800" is a success, not an unreadable (maybe sent)
// reply, and applyToken's expiry times are read.
func TestClient_ISO8601ResponseTimes(t *testing.T) {
	f := newFakeAntom(t, sandboxClientID)
	f.respond = func(w http.ResponseWriter, r *http.Request, api string, body []byte) {
		b := readFile(t, "testdata/"+sampleResponse[api])
		b = bytes.ReplaceAll(b, []byte(`:02+08:00"`), []byte(`:02.5+0800"`))
		b = bytes.ReplaceAll(b, []byte(`+08:00"`), []byte(`+0800"`))
		f.writeSigned(w, r, http.StatusOK, b, antomKey)
	}
	c := f.client(t)
	pay, err := c.Pay(ctxT(t), payReq())
	if err != nil {
		t.Fatalf("pay S with +0800 times: %v", err)
	}
	if !pay.Result.Succeeded() || !pay.PaymentTime.Equal(time.Date(2019, 11, 27, 4, 0, 2, 500_000_000, time.UTC)) || !pay.PaymentCreateTime.Equal(time.Date(2019, 11, 27, 4, 0, 1, 0, time.UTC)) {
		t.Fatalf("pay=%+v", pay)
	}
	tok, err := c.ApplyToken(ctxT(t), applyTokenReq())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessTokenExpiryTime.IsZero() || tok.RefreshTokenExpiryTime.IsZero() {
		t.Fatalf("token=%+v", tok)
	}
}

// A notification whose body times use "+0800" verifies and is read.
func TestNotificationVerifier_ISO8601BodyTimes(t *testing.T) {
	s := newNotifyServer(t, newVerifier(t))
	body := bytes.ReplaceAll(readFile(t, "testdata/notifyPayment.success.json"), []byte(`+08:00"`), []byte(`+0800"`))
	if !bytes.Contains(body, []byte(`"paymentTime": "2019-11-27T12:00:02+0800"`)) {
		t.Fatalf("sample changed: %s", body)
	}
	n, err, reply := s.send(t, antomKey, sandboxClientID, "2019-11-27T12:00:01+0800", body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !antom.IsAck(reply) || !n.Payment.PaymentTime.Equal(time.Date(2019, 11, 27, 4, 0, 2, 0, time.UTC)) {
		t.Fatalf("payment=%+v reply=%s", n.Payment, reply)
	}
	// A body time that is not ISO 8601 is a malformed body, and says why.
	bad := bytes.ReplaceAll(body, []byte(`"2019-11-27T12:00:02+0800"`), []byte(`"27/11/2019 12:00:02"`))
	_, err, _ = s.send(t, antomKey, sandboxClientID, epochNow, bad, nil)
	if !errors.Is(err, antom.ErrMalformedBody) || !strings.Contains(err.Error(), "want ISO 8601") {
		t.Fatalf("err=%v, want a malformed body naming the time", err)
	}
}
