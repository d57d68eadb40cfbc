package antom

import (
	"fmt"
	"strings"
)

// Wallet is a Scan to Link payment method. Its Code is used both as
// customerBelongsTo (consult, applyToken) and as paymentMethodType (pay).
type Wallet struct {
	Code     string
	Name     string
	Region   string
	Currency string
	// MinValue and MaxValue bound one payment, in minor units of Currency.
	// MaxValue 0 means Antom states no per-transaction limit.
	MinValue int64
	MaxValue int64
}

// The seven Scan to Link wallets (antom-api.md §10). Limits are per
// transaction; daily, monthly and yearly limits are the wallet's business.
var wallets = []Wallet{
	{Code: "ALIPAY_CN", Name: "Alipay", Region: "CN", Currency: "CNY", MinValue: 10},
	{Code: "ALIPAY_HK", Name: "AlipayHK", Region: "HK", Currency: "HKD", MinValue: 1, MaxValue: 50_000_00},
	{Code: "DANA", Name: "DANA", Region: "ID", Currency: "IDR", MinValue: 300_00, MaxValue: 10_000_000_00},
	{Code: "GCASH", Name: "GCash", Region: "PH", Currency: "PHP", MinValue: 1_00, MaxValue: 100_000_00},
	{Code: "KAKAOPAY", Name: "Kakao Pay", Region: "KR", Currency: "KRW", MinValue: 50, MaxValue: 2_000_000},
	{Code: "TNG", Name: "Touch 'n Go eWallet", Region: "MY", Currency: "MYR", MinValue: 5, MaxValue: 20_000_00},
	{Code: "TRUEMONEY", Name: "TrueMoney", Region: "TH", Currency: "THB", MinValue: 1_00, MaxValue: 30_000_00},
}

// Wallets returns the Scan to Link wallets, in a stable order. The slice is a
// copy; callers may modify it.
func Wallets() []Wallet {
	return append([]Wallet(nil), wallets...)
}

// LookupWallet returns the Scan to Link wallet with the given code.
func LookupWallet(code string) (Wallet, bool) {
	for _, w := range wallets {
		if w.Code == code {
			return w, true
		}
	}
	return Wallet{}, false
}

func walletCodes() string {
	codes := make([]string, len(wallets))
	for i, w := range wallets {
		codes[i] = w.Code
	}
	return strings.Join(codes, ", ")
}

// CheckAmount reports whether a is a valid payment amount for this wallet:
// the wallet's currency, at least its minimum and at most its maximum.
func (w Wallet) CheckAmount(a Amount) error {
	if a.Currency != w.Currency {
		return fmt.Errorf("currency %s is not supported by %s, which pays in %s", a.Currency, w.Code, w.Currency)
	}
	if a.Value < w.MinValue {
		return fmt.Errorf("%s is below the %s minimum of %s", FormatAmount(a), w.Code, FormatAmount(Amount{w.Currency, w.MinValue}))
	}
	if w.MaxValue > 0 && a.Value > w.MaxValue {
		return fmt.Errorf("%s is above the %s maximum of %s", FormatAmount(a), w.Code, FormatAmount(Amount{w.Currency, w.MaxValue}))
	}
	return nil
}

// currencyExponents lists ISO 4217 minor-unit exponents for the currencies
// merchants meet with Antom. A currency not listed is rejected.
var currencyExponents = map[string]int{
	"AED": 2, "AUD": 2, "BDT": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2, "CZK": 2, "DKK": 2,
	"EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "JPY": 0, "KRW": 0,
	"MOP": 2, "MXN": 2, "MYR": 2, "NOK": 2, "NZD": 2, "PHP": 2, "PKR": 2, "PLN": 2, "SAR": 2,
	"SEK": 2, "SGD": 2, "THB": 2, "TRY": 2, "TWD": 2, "USD": 2, "VND": 0, "ZAR": 2,
	"BHD": 3, "KWD": 3, "OMR": 3, "CLP": 0, "ISK": 0, "UGX": 0,
}

// CurrencyExponent returns the number of minor-unit digits of an ISO 4217
// currency (2 for USD, 0 for KRW, 3 for KWD) and whether it is known.
func CurrencyExponent(currency string) (int, bool) {
	e, ok := currencyExponents[currency]
	return e, ok
}

// CheckAmount reports whether a is a valid Antom amount: a known ISO 4217
// currency, a positive value in minor units, and for IDR a value ending in
// 00 (Antom's rule). It does not apply wallet limits; see Wallet.CheckAmount.
func CheckAmount(a Amount) error {
	if a.Currency == "" {
		return fmt.Errorf("currency is required")
	}
	if _, ok := currencyExponents[a.Currency]; !ok {
		return fmt.Errorf("currency %q is not a supported ISO 4217 code", a.Currency)
	}
	if a.Value <= 0 {
		return fmt.Errorf("value must be a positive number of minor units, got %d", a.Value)
	}
	if a.Currency == "IDR" && a.Value%100 != 0 {
		return fmt.Errorf("IDR value %d must end in 00", a.Value)
	}
	return nil
}

// FormatAmount renders a in major units with its currency, e.g. "CNY 1.00",
// "KRW 50".
func FormatAmount(a Amount) string {
	exp, ok := currencyExponents[a.Currency]
	if !ok {
		exp = 2
	}
	neg := a.Value < 0
	v := a.Value
	if neg {
		v = -v
	}
	s := fmt.Sprintf("%d", v)
	if exp > 0 {
		for len(s) <= exp {
			s = "0" + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return a.Currency + " " + s
}
