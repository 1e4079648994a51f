package intake

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/pkg/units"
)

// checkKind reads a line's own Scope 3 category, if it gives one, and
// checks an activity or product line. It returns the column at fault and
// why, or "".
func checkKind(r *Row, category string) (col int, reason string) {
	if category != "" {
		n, err := strconv.ParseInt(category, 10, 16)
		if err != nil || n < 1 || n > 15 {
			return colCategory, "not a Scope 3 category (a number from 1 to 15)"
		}
		r.Category, r.Override = int16(n), true
	}
	switch {
	case r.Activity != "":
		return checkActivity(r)
	case r.ProductID != "":
		return checkProduct(r)
	}
	// Nothing reads another spend line's quantity: it is not kept.
	r.Quantity, r.Unit = "", ""
	return 0, ""
}

// quantityReason is the error of a quantity that is not one.
const quantityReason = "not a non-negative number with at most 6 decimals (like 12.5)"

// checkProduct checks a product line's quantity, if it gives one: a
// decimal as an activity's, in a unit it names. The unit is not checked
// here: the footprint's declared unit is the supplier's (it may be
// "piece"), and the calculator converts to it.
func checkProduct(r *Row) (col int, reason string) {
	switch {
	case r.Quantity == "" && r.Unit != "":
		return colQuantity, "required with a unit"
	case r.Quantity == "":
		return 0, ""
	case !isQuantity(r.Quantity):
		return colQuantity, quantityReason
	case r.Unit == "":
		return colUnit, "required with a quantity"
	}
	return 0, ""
}

// checkActivity checks an activity line against the shipped activity
// factors (refdata.DESNZ; the calculator checks again against the set it
// holds): the activity exists, the quantity is a non-negative decimal with
// at most 6 decimals, and the unit converts to the factor's. A line with no
// category of its own takes the factor's, if it has one (a category rule
// may give one, Validator.Next). A line with no amount records no spend:
// 0 USD. It returns the column at fault and why, or "".
func checkActivity(r *Row) (col int, reason string) {
	set, err := refdata.DESNZ()
	if err != nil {
		return colActivity, "the activity factors could not be read: " + err.Error()
	}
	f, ok := set.Get(r.Activity)
	switch {
	case !ok:
		return colActivity, fmt.Sprintf("unknown activity: not a factor of %s (GET /v1/factorSets/%s/factors lists them)", set.Name, set.Name)
	case !isQuantity(r.Quantity):
		return colQuantity, quantityReason
	}
	q, _ := new(big.Rat).SetString(r.Quantity)
	if _, err := units.Convert(q, r.Unit, f.Unit); err != nil {
		return colUnit, fmt.Sprintf("does not convert to the factor's unit %q (%s)", f.Unit, strings.TrimPrefix(err.Error(), "units.Convert: "))
	}
	if !r.Override {
		r.Category = f.Category
	}
	if r.Amount == "" && r.Currency == "" {
		r.Amount, r.Currency = "0", "USD"
	}
	return 0, ""
}

// isQuantity matches [0-9]{1,14}(\.[0-9]{1,6})?.
func isQuantity(s string) bool {
	whole, frac, dot := strings.Cut(s, ".")
	if len(whole) < 1 || len(whole) > 14 || !digits(whole) {
		return false
	}
	return !dot || (len(frac) >= 1 && len(frac) <= 6 && digits(frac))
}
