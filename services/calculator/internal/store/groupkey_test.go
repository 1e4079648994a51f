package store_test

import (
	"testing"

	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/store"
)

// A group's key is taken apart as calculator.InventoryKey put it
// together, the code last with any '|' it holds.
func TestGroupKeyIsReadBack(t *testing.T) {
	for _, want := range []calculator.InventoryRow{
		{Category: 1, Method: calculator.MethodSpendBased, DQ: 0, Code: "331110"},
		{Category: 15, Method: calculator.MethodSupplierProduct, DQ: 54321, Code: "STEEL|HR|01"},
		{Category: 4, Method: calculator.MethodAverageData, DQ: 11111, Code: ""},
	} {
		var got calculator.InventoryRow
		key := calculator.InventoryKey(want.Category, 7, want.Method, want.DQ, want.Code)
		if err := store.ParseGroupKey(key, &got); err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", key, got, err, want)
		}
	}
	for _, key := range []string{"1|2|spend-based|0", "x|2|spend-based|0|331110", "1|2|spend-based|4.5|331110", "99999|2|m|0|c"} {
		var r calculator.InventoryRow
		if err := store.ParseGroupKey(key, &r); err == nil {
			t.Errorf("%q: read as %+v, want an error", key, r)
		}
	}
}
