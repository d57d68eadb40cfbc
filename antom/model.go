package antom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Result statuses carried in every response and notification.
const (
	StatusSuccess = "S" // success
	StatusFail    = "F" // failure, final
	StatusUnknown = "U" // unknown: resend the same request or inquire
)

// Result is the result object of every Antom response and notification.
type Result struct {
	ResultCode    string `json:"resultCode"`
	ResultStatus  string `json:"resultStatus"`
	ResultMessage string `json:"resultMessage,omitempty"`
}

// Succeeded reports whether ResultStatus is S.
func (r Result) Succeeded() bool { return r.ResultStatus == StatusSuccess }

// Failed reports whether ResultStatus is F.
func (r Result) Failed() bool { return r.ResultStatus == StatusFail }

// Unknown reports whether ResultStatus is U.
func (r Result) Unknown() bool { return r.ResultStatus == StatusUnknown }

func (r Result) String() string {
	return r.ResultStatus + "/" + r.ResultCode
}

// Response is implemented by every API response: it exposes the common
// result object.
type Response interface {
	GetResult() Result
}

// Amount is money in the minor units of Currency (ISO 4217): USD 1.00 is
// {USD, 100}, KRW 50 is {KRW, 50}. On the wire the value is a decimal string,
// as Antom sends it.
type Amount struct {
	Currency string
	Value    int64
}

type wireAmount struct {
	Currency string `json:"currency"`
	Value    string `json:"value"`
}

// MarshalJSON writes {"currency":"CNY","value":"100"}.
func (a Amount) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireAmount{Currency: a.Currency, Value: strconv.FormatInt(a.Value, 10)})
}

// UnmarshalJSON reads an Antom amount. The value must be a JSON string of
// decimal digits, as Antom requires; a JSON number is rejected.
func (a *Amount) UnmarshalJSON(b []byte) error {
	var w struct {
		Currency json.RawMessage `json:"currency"`
		Value    json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("amount: %w", err)
	}
	if err := unmarshalString(w.Currency, &a.Currency); err != nil {
		return fmt.Errorf("amount.currency: %w", err)
	}
	var v string
	if err := unmarshalString(w.Value, &v); err != nil {
		return fmt.Errorf("amount.value: %w", err)
	}
	if v == "" {
		a.Value = 0
		return nil
	}
	n, err := ParseMinorUnits(v)
	if err != nil {
		return fmt.Errorf("amount.value: %w", err)
	}
	a.Value = n
	return nil
}

// ParseMinorUnits parses a non-negative decimal integer string of at most 18
// digits, without sign, spaces or leading zeros (except "0" itself).
func ParseMinorUnits(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("is empty")
	}
	if len(s) > 18 {
		return 0, fmt.Errorf("%q has more than 18 digits", s)
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%q has a leading zero", s)
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a whole number of minor units", s)
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

func unmarshalString(raw json.RawMessage, dst *string) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		*dst = ""
		return nil
	}
	if raw[0] != '"' {
		return fmt.Errorf("must be a JSON string, got %s", raw)
	}
	return json.Unmarshal(raw, dst)
}

// timeLayout is the datetime format Antom uses: ISO 8601 with a UTC offset
// and second precision, e.g. 2019-11-27T12:01:01+08:00.
const timeLayout = "2006-01-02T15:04:05-07:00"

// Time is an Antom datetime. It marshals in Antom's documented form, second
// precision and a ±hh:mm offset, and unmarshals any form ParseTime reads
// (+08:00, +0800, +08 or Z, with or without fractional seconds). The zero
// Time is omitted from requests (fields are tagged omitzero).
type Time struct{ time.Time }

// NewTime wraps t.
func NewTime(t time.Time) Time { return Time{t} }

// MarshalJSON writes the time as a JSON string in Antom's format.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.Format(timeLayout) + `"`), nil
}

// UnmarshalJSON reads an ISO 8601 time given as a JSON string (see
// ParseTime). An empty string or null is the zero Time.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := unmarshalString(b, &s); err != nil {
		return err
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// Env describes the buyer's terminal. For Scan to Link TerminalType is WEB.
type Env struct {
	TerminalType string `json:"terminalType,omitempty"`
	OSType       string `json:"osType,omitempty"`
	OSVersion    string `json:"osVersion,omitempty"`
	ClientIP     string `json:"clientIp,omitempty"`
	UserAgent    string `json:"userAgent,omitempty"`
	DeviceID     string `json:"deviceId,omitempty"`
}

// CodeDetail is one rendering of the authorization QR code.
type CodeDetail struct {
	CodeValueType string `json:"codeValueType,omitempty"` // QRCODE or BARCODE
	CodeValue     string `json:"codeValue"`
	DisplayType   string `json:"displayType"` // TEXT, SMALLIMAGE, MIDDLEIMAGE, BIGIMAGE, IMAGE
}

// AuthCodeForm carries the Scan to Link QR code.
type AuthCodeForm struct {
	CodeDetails []CodeDetail `json:"codeDetails"`
}

// Text returns the codeValue of the TEXT entry, the payload to render as a
// QR code, or "" if there is none.
func (f *AuthCodeForm) Text() string {
	return f.value(func(d string) bool { return d == "TEXT" })
}

// ImageURL returns the codeValue of the first image entry, or "".
func (f *AuthCodeForm) ImageURL() string {
	return f.value(func(d string) bool { return d != "TEXT" })
}

func (f *AuthCodeForm) value(match func(displayType string) bool) string {
	if f == nil {
		return ""
	}
	for _, d := range f.CodeDetails {
		if match(d.DisplayType) {
			return d.CodeValue
		}
	}
	return ""
}

// PaymentMethod names the wallet and, for auto debit, the access token.
type PaymentMethod struct {
	PaymentMethodType string `json:"paymentMethodType"`
	// PaymentMethodID is the accessToken returned by applyToken. Secret.
	PaymentMethodID string `json:"paymentMethodId,omitempty"`
	CustomerID      string `json:"customerId,omitempty"`
	ExtendInfo      string `json:"extendInfo,omitempty"`
}

// Goods is one line of an order.
type Goods struct {
	ReferenceGoodsID string  `json:"referenceGoodsId"`
	GoodsName        string  `json:"goodsName"`
	GoodsCategory    string  `json:"goodsCategory,omitempty"`
	GoodsUnitAmount  *Amount `json:"goodsUnitAmount,omitempty"`
	GoodsQuantity    string  `json:"goodsQuantity,omitempty"`
	GoodsURL         string  `json:"goodsUrl,omitempty"`
}

// Buyer identifies the buyer to Antom for risk checks.
type Buyer struct {
	ReferenceBuyerID string `json:"referenceBuyerId,omitempty"`
	BuyerPhoneNo     string `json:"buyerPhoneNo,omitempty"`
	BuyerEmail       string `json:"buyerEmail,omitempty"`
}

// Merchant is the secondary merchant, for acquirers.
type Merchant struct {
	ReferenceMerchantID string `json:"referenceMerchantId,omitempty"`
	MerchantMCC         string `json:"merchantMCC,omitempty"`
	MerchantName        string `json:"merchantName,omitempty"`
	MerchantDisplayName string `json:"merchantDisplayName,omitempty"`
}

// Order describes what is being paid for.
type Order struct {
	ReferenceOrderID string    `json:"referenceOrderId"`
	OrderDescription string    `json:"orderDescription"`
	OrderAmount      Amount    `json:"orderAmount"`
	Merchant         *Merchant `json:"merchant,omitempty"`
	Goods            []Goods   `json:"goods,omitempty"`
	Buyer            *Buyer    `json:"buyer,omitempty"`
	Env              *Env      `json:"env,omitempty"`
	ExtendInfo       string    `json:"extendInfo,omitempty"`
}

// SettlementStrategy selects the settlement currency.
type SettlementStrategy struct {
	SettlementCurrency string `json:"settlementCurrency,omitempty"`
}

// PSPCustomerInfo describes the buyer's wallet account.
type PSPCustomerInfo struct {
	PSPName             string `json:"pspName,omitempty"`
	PSPCustomerID       string `json:"pspCustomerId,omitempty"`
	DisplayCustomerID   string `json:"displayCustomerId,omitempty"`
	DisplayCustomerName string `json:"displayCustomerName,omitempty"`
}
