package store

import (
	"slices"
	"testing"
)

// The mask decides the SELECT list: fields left out are not read at all.
func TestSelectListFollowsTheMask(t *testing.T) {
	s := New(nil)
	exprs, dests := selectList(s.supplierColumns, []string{"display_name", "kg_co2e"})
	if !slices.Equal(exprs, []string{"x.name", "t.kg_co2e::text"}) || len(dests) != 2 {
		t.Fatalf("supplier mask: %v", exprs)
	}
	// Totals are joined only when a field reads them.
	if got := s.supplierSource(exprs); got != suppliersFrom {
		t.Fatalf("reading kg_co2e from %q", got)
	}
	if ident, _ := selectList(s.supplierColumns, []string{"display_name", "country", "naics_codes", "create_time"}); s.supplierSource(ident) != " FROM intake.suppliers x" {
		t.Fatalf("reading %v from %q", ident, s.supplierSource(ident))
	}
	if upd, _ := selectList(s.supplierColumns, []string{"update_time"}); s.supplierSource(upd) != suppliersFrom {
		t.Fatalf("reading update_time from %q", s.supplierSource(upd))
	}
	exprs, _ = selectList(s.supplierColumns, []string{})
	if len(exprs) != 0 {
		t.Fatalf("name only reads %v besides the id", exprs)
	}
	exprs, _ = selectList(s.supplierColumns, nil)
	if len(exprs) != len(s.supplierColumns) {
		t.Fatalf("no mask reads %d of %d columns", len(exprs), len(s.supplierColumns))
	}
	// supplier needs only the id to look the supplier up (read once), the
	// emission result only the date to find its partition.
	exprs, _ = selectList(s.transactionColumns, []string{"supplier", "supplier_id", "amount_usd", "emission_result"})
	if !slices.Equal(exprs, []string{"supplier_id", "amount_usd::text", "tx_date"}) {
		t.Fatalf("transaction mask: %v", exprs)
	}
	// Unknown names (validated earlier, against the contract) add nothing.
	exprs, _ = selectList(s.transactionColumns, []string{"name; DROP TABLE x"})
	if len(exprs) != 0 {
		t.Fatalf("unknown field read %v", exprs)
	}
}
