package intake

import (
	"fmt"
	"math/big"
	"time"

	"github.com/vcci-dev/vcci/pkg/refdata"
)

// ToUSD converts amount, a valid amount in currency, to US dollars at the
// average rate of day's month; the calculator converts the same way and
// records the rate. An error names what is missing: the currency, or its
// rate for the month.
func ToUSD(amount, currency string, day time.Time) (string, error) {
	if currency == "USD" {
		return amount, nil
	}
	fx, err := refdata.FX()
	if err != nil {
		return "", fmt.Errorf("intake.ToUSD: %w", err)
	}
	rate, err := fx.Rate(currency, day)
	if err != nil {
		return "", err // a row's reason, shown as is
	}
	a, ok := new(big.Rat).SetString(amount)
	if !ok {
		return "", fmt.Errorf("intake.ToUSD: %q is not a decimal", amount)
	}
	return rate.ToUSD(a), nil
}
