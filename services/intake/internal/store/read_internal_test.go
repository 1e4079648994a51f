package store

import (
	"slices"
	"testing"
)

// The mask decides the SELECT list: fields left out are not read at all.
func TestSelectListFollowsTheMask(t *testing.T) {
	exprs, dests := selectList(supplierColumns, []string{"display_name", "kg_co2e"})
	if !slices.Equal(exprs, []string{"x.name", "t.kg_co2e::text"}) || len(dests) != 2 {
		t.Fatalf("supplier mask: %v", exprs)
	}
	exprs, _ = selectList(supplierColumns, []string{})
	if len(exprs) != 0 {
		t.Fatalf("name only reads %v besides the id", exprs)
	}
	exprs, _ = selectList(supplierColumns, nil)
	if len(exprs) != len(supplierColumns) {
		t.Fatalf("no mask reads %d of %d columns", len(exprs), len(supplierColumns))
	}
	// supplier needs only the id to look the supplier up (read once), the
	// emission result only the date to find its partition.
	exprs, _ = selectList(transactionColumns, []string{"supplier", "supplier_id", "amount_usd", "emission_result"})
	if !slices.Equal(exprs, []string{"supplier_id", "amount_usd::text", "tx_date"}) {
		t.Fatalf("transaction mask: %v", exprs)
	}
	// Unknown names (validated earlier, against the contract) add nothing.
	exprs, _ = selectList(transactionColumns, []string{"name; DROP TABLE x"})
	if len(exprs) != 0 {
		t.Fatalf("unknown field read %v", exprs)
	}
}
