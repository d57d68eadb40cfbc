package autodebit

import "strconv"

// Amount is money in minor units of a currency, as Antom carries it:
// {Currency: "PHP", Value: 1500} is PHP 15.00. The zero value is not a valid
// amount.
type Amount struct {
	Currency string `json:"currency"` // ISO 4217 alpha-3, upper case
	Value    int64  `json:"value"`    // minor units
}

// Validate returns EINVALID unless the currency is three upper-case letters
// and the value is positive.
func (a Amount) Validate() error {
	if !isCurrency(a.Currency) {
		return Errorf(EINVALID, "Amount currency must be a three-letter ISO 4217 code such as PHP.")
	} else if a.Value <= 0 {
		return Errorf(EINVALID, "Amount value must be a positive number of minor units.")
	}
	return nil
}

// String returns the amount in major units after its currency, "PHP 15.00"
// for {PHP 1500} and "KRW 50" for {KRW 50}: the one form logs, errors, the
// CLI and the console show (antom.FormatAmount writes the same). A currency
// not in the table is shown with 2 decimals.
func (a Amount) String() string {
	exp, ok := currencyExponents[a.Currency]
	if !ok {
		exp = 2
	}
	v := a.Value
	sign := ""
	if v < 0 {
		sign = "-"
	}
	s := strconv.FormatUint(absUint(v), 10)
	if exp > 0 {
		for len(s) <= exp {
			s = "0" + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	return a.Currency + " " + sign + s
}

func absUint(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1 // math.MinInt64 has no positive int64
	}
	return uint64(v)
}

// CurrencyExponent returns the number of minor-unit digits of an ISO 4217
// currency (2 for PHP, 0 for KRW, 3 for KWD) and whether it is known.
func CurrencyExponent(currency string) (int, bool) {
	e, ok := currencyExponents[currency]
	return e, ok
}

// currencyExponents is a copy of antom's table of the currencies merchants
// meet with Antom (the root package imports only the standard library, and
// antom imports nothing of ours). TestCurrencyExponents_MatchAntom fails
// when the two differ, so change both together.
var currencyExponents = map[string]int{
	"AED": 2, "AUD": 2, "BDT": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2, "CZK": 2, "DKK": 2,
	"EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "JPY": 0, "KRW": 0,
	"MOP": 2, "MXN": 2, "MYR": 2, "NOK": 2, "NZD": 2, "PHP": 2, "PKR": 2, "PLN": 2, "SAR": 2,
	"SEK": 2, "SGD": 2, "THB": 2, "TRY": 2, "TWD": 2, "USD": 2, "VND": 0, "ZAR": 2,
	"BHD": 3, "KWD": 3, "OMR": 3, "CLP": 0, "ISK": 0, "UGX": 0,
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range s {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
