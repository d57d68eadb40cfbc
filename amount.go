package autodebit

import "fmt"

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

// String returns e.g. "1500 PHP".
func (a Amount) String() string { return fmt.Sprintf("%d %s", a.Value, a.Currency) }

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
