package store

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/services/intake/internal/directory"
)

// pick is the names of fields whose bit is set in bits, plus one unknown
// name when bit 15 is (the API validates names; the store ignores others).
func pick(names []string, bits uint16) []string {
	if bits == 0 {
		return nil // every field
	}
	out := []string{}
	for i, n := range names {
		if bits&(1<<(i%15)) != 0 {
			out = append(out, n)
		}
	}
	if bits&(1<<15) != 0 {
		out = append(out, "name; DROP TABLE x")
	}
	return out
}

// standIn is v's stand-in of the same emptiness: a query whose values are
// all replaced by stand-ins must build the same SQL, or values reach it.
func standIn(v, s string) string {
	if v == "" {
		return ""
	}
	return s
}

// hasArg reports whether v travels as one of q's bind parameters.
func hasArg(q *query, v any) bool {
	return slices.ContainsFunc(slices.Collect(maps.Values(q.args)), func(a any) bool { return a == v })
}

// FuzzListSQL builds the list statements from arbitrary filters, order,
// fields, page and cursor. An unknown order is an error; otherwise the SQL
// text must not change when every value is swapped for another (values
// travel as bind parameters, never in the text), and each value must be
// one of the parameters.
func FuzzListSQL(f *testing.F) {
	f.Add("acme steel", "331110", "DE", "suppliers/S1", "kg_co2e desc", uint16(0), uint16(50), uint32(0), "3000.0000000", "S1", int16(0), int16(365), uint8(1), true)
	f.Add("", "", "", "", "date desc", uint16(0x8003), uint16(1000), uint32(100000), "2024-03-01", "T1", int16(-400), int16(20), uint8(0), false)
	f.Add("100%_' OR 1=1 --", "", "", "S1", "amount_usd", uint16(0xffff), uint16(1), uint32(7), "12.5", "T'; DROP TABLE x", int16(31), int16(59), uint8(15), true)
	f.Add("müller", "484110", "US", "", "relevance", uint16(5), uint16(10), uint32(0), "0.5", "S2", int16(0), int16(0), uint8(0), false)
	f.Add("", "", "", "", "display_name desc", uint16(2), uint16(3), uint32(3), "", "", int16(1), int16(-1), uint8(3), true)
	tenant := uuid.MustParse("7d3c1f4e-2a9b-4c1d-8e5f-0a1b2c3d4e5f")
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	s := New(nil)
	supplierFields := slices.Sorted(maps.Keys(s.supplierColumns))
	transactionFields := slices.Sorted(maps.Keys(s.transactionColumns))
	f.Fuzz(func(t *testing.T, text, naics, country, supplier, order string, fields, limit uint16, offset uint32,
		after0, after1 string, start, end int16, category uint8, cursor bool) {
		page := directory.Page{Limit: int(limit), Offset: int(offset % 100_001), Count: !cursor}
		if cursor {
			page.After = []string{after0, after1}
		}
		standInPage := page
		if cursor {
			standInPage.After = []string{"0", "a"}
		}
		day := func(d int16) time.Time {
			if d == 0 {
				return time.Time{}
			}
			return base.AddDate(0, 0, int(d))
		}

		sq := directory.SupplierQuery{Text: text, NAICS: naics, Country: country, Order: order, Fields: pick(supplierFields, fields), Page: page}
		rs, err := s.suppliersSQL(tenant, sq)
		stmt, filter, q := rs.stmt, rs.count, rs.q
		if _, known := s.supplierSorts[order]; !known {
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("unknown order %q", order)) {
				t.Fatalf("order %q: err = %v, want unknown order", order, err)
			}
		} else {
			alt := sq
			alt.Text, alt.NAICS, alt.Country, alt.Page = standIn(text, "x"), standIn(naics, "000000"), standIn(country, "ZZ"), standInPage
			altRS, altErr := s.suppliersSQL(tenant, alt)
			altStmt, altFilter := altRS.stmt, altRS.count
			if err != nil || altErr != nil || stmt != altStmt || filter != altFilter {
				t.Fatalf("supplier SQL depends on the values:\n%s\n%s\n(%v, %v)", stmt, altStmt, err, altErr)
			}
			for _, v := range slices.Concat([]string{text, likeEscape(text), naics, country}, page.After) {
				if v != "" && !hasArg(q, v) {
					t.Fatalf("value %q is not among the parameters %v", v, q.args)
				}
			}
		}

		tq := directory.TransactionQuery{SupplierID: supplier, NAICS: naics, Start: day(start), End: day(end), Category: int16(category),
			Order: order, Fields: pick(transactionFields, fields), Page: page}
		trs, err := s.transactionsSQL(tenant, tq)
		stmt, q = trs.stmt, trs.q
		count := trs.count
		if _, known := s.transactionSorts[order]; !known {
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("unknown order %q", order)) {
				t.Fatalf("order %q: err = %v, want unknown order", order, err)
			}
			return
		}
		alt := tq
		alt.SupplierID, alt.NAICS, alt.Page = standIn(supplier, "s"), standIn(naics, "000000"), standInPage
		if category != 0 {
			alt.Category = 1
		}
		altTRS, altErr := s.transactionsSQL(tenant, alt)
		altStmt, altCount := altTRS.stmt, altTRS.count
		if err != nil || altErr != nil || stmt != altStmt || count != altCount {
			t.Fatalf("transaction SQL depends on the values:\n%s\n%s\n%s\n%s\n(%v, %v)", stmt, altStmt, count, altCount, err, altErr)
		}
		for _, v := range slices.Concat([]string{supplier, naics}, page.After) {
			if v != "" && !hasArg(q, v) {
				t.Fatalf("value %q is not among the parameters %v", v, q.args)
			}
		}
	})
}
