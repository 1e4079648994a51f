package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vcci-dev/vcci/services/intake/internal/directory"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

// An offset page's total comes from counters (migration 0007), and is the
// number of rows its filter matches as soon as the uploads that stored
// them have succeeded: for every kind of filter, on both ways of storing
// an upload, after a first upload and after a second one, and for each
// tenant apart.
func TestTransactionTotalsMatchACount(t *testing.T) {
	for _, p := range paths {
		t.Run(p.Name, func(t *testing.T) {
			ctx := context.Background()
			e := setupPath(t, p.Small)
			day := func(s string) time.Time {
				d, err := time.Parse(time.DateOnly, s)
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			// Lines of 7 suppliers and 3 codes (two categories) from
			// 2023-11-15 on, a day apart: they cross month and year ends.
			spend := func(prefix string, n int) string {
				var b strings.Builder
				b.WriteString(header)
				codes := []string{"331110", "484110", "541511"}
				for i := range n {
					fmt.Fprintf(&b, "%s%d,%s,S%d,Supplier %d,%s,%d.50,USD,line\n", prefix, i,
						day("2023-11-15").AddDate(0, 0, i).Format(time.DateOnly), i%7, i%7, codes[i%3], 10+i)
				}
				return b.String()
			}
			filters := []struct {
				name string
				q    directory.TransactionQuery
				sql  string // the same filter on the transactions
				args []any
			}{
				{"none", directory.TransactionQuery{}, "true", nil},
				{"supplier", directory.TransactionQuery{SupplierID: "S3"}, "supplier_id = $2", []any{"S3"}},
				{"unknown supplier", directory.TransactionQuery{SupplierID: "S99"}, "supplier_id = $2", []any{"S99"}},
				{"naics", directory.TransactionQuery{NAICS: "484110"}, "naics_code = $2", []any{"484110"}},
				{"category", directory.TransactionQuery{Category: 1}, "category = $2", []any{int16(1)}},
				{"supplier and naics", directory.TransactionQuery{SupplierID: "S2", NAICS: "331110"}, "supplier_id = $2 AND naics_code = $3", []any{"S2", "331110"}},
				{"supplier and category", directory.TransactionQuery{SupplierID: "S4", Category: 4}, "supplier_id = $2 AND category = $3", []any{"S4", int16(4)}},
				{"dates", directory.TransactionQuery{Start: day("2023-12-10"), End: day("2024-02-03")}, "tx_date BETWEEN $2 AND $3", []any{day("2023-12-10"), day("2024-02-03")}},
				{"from a date", directory.TransactionQuery{Start: day("2024-01-20")}, "tx_date >= $2", []any{day("2024-01-20")}},
				{"supplier, whole months", directory.TransactionQuery{SupplierID: "S1", Start: day("2023-12-01"), End: day("2024-01-31")},
					"supplier_id = $2 AND tx_date BETWEEN $3 AND $4", []any{"S1", day("2023-12-01"), day("2024-01-31")}},
				{"supplier, cut months", directory.TransactionQuery{SupplierID: "S1", Start: day("2023-11-20"), End: day("2024-02-10")},
					"supplier_id = $2 AND tx_date BETWEEN $3 AND $4", []any{"S1", day("2023-11-20"), day("2024-02-10")}},
				{"naics, within a month", directory.TransactionQuery{NAICS: "541511", Start: day("2024-01-05"), End: day("2024-01-25")},
					"naics_code = $2 AND tx_date BETWEEN $3 AND $4", []any{"541511", day("2024-01-05"), day("2024-01-25")}},
				{"category, until a date", directory.TransactionQuery{Category: 1, End: day("2024-01-09")}, "category = $2 AND tx_date <= $3", []any{int16(1), day("2024-01-09")}},
				{"naics and category", directory.TransactionQuery{NAICS: "331110", Category: 1}, "naics_code = $2 AND category = $3", []any{"331110", int16(1)}},
			}
			check := func(stage string) {
				t.Helper()
				for name, tenant := range map[string]uuid.UUID{"a": e.A, "b": e.B} {
					for _, f := range filters {
						q := f.q
						q.Order, q.Page = "date desc", directory.Page{Limit: 10, Count: true}
						page, err := e.st.ListTransactions(ctx, tenant, q)
						if err != nil {
							t.Fatalf("%s, tenant %s, %s: %v", stage, name, f.name, err)
						}
						var want int64
						if err := e.Pool.QueryRow(ctx, "SELECT count(*) FROM intake.transactions WHERE tenant_id = $1 AND "+f.sql,
							append([]any{tenant}, f.args...)...).Scan(&want); err != nil {
							t.Fatal(err)
						}
						if page.Total != want {
							t.Errorf("%s, tenant %s, %s: total %d, count(*) %d", stage, name, f.name, page.Total, want)
						}
					}
				}
			}
			upload := func(tenant uuid.UUID, name, body string) {
				t.Helper()
				if _, err := e.Svc.Receive(ctx, tenant, intake.NewUpload{Filename: name}, strings.NewReader(body)); err != nil {
					t.Fatal(err)
				}
			}
			upload(e.A, "first.csv", spend("A", 120))
			upload(e.B, "other.csv", spend("B", 40))
			drain(t, e)
			check("after the first uploads")
			// The second repeats 60 of the first's lines, which are
			// rejected, not counted twice.
			upload(e.A, "second.csv", spend("A", 180))
			drain(t, e)
			var n int64
			if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM intake.transactions WHERE tenant_id = $1`, e.A).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 180 {
				t.Fatalf("tenant a has %d transactions, want 180", n)
			}
			check("after the second upload")
			// Each upload appended its own counter rows (migration 0010);
			// compaction folds a key's rows into one and changes no total.
			dups := func() (n int64) {
				t.Helper()
				if err := e.Pool.QueryRow(ctx, `SELECT
					(SELECT count(*) - count(DISTINCT (tenant_id, tx_date)) FROM intake.transaction_days) +
					(SELECT count(*) - count(DISTINCT (tenant_id, supplier_id)) FROM intake.transaction_suppliers) +
					(SELECT count(*) - count(DISTINCT (tenant_id, naics_code, category, month)) FROM intake.transaction_codes)`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			before := dups()
			if before == 0 {
				t.Fatal("the second upload added no counter row of a key the first had: nothing to compact")
			}
			removed, err := store.CompactCounts(ctx, e.Pool)
			if err != nil {
				t.Fatal(err)
			}
			if removed != before || dups() != 0 {
				t.Fatalf("compaction removed %d rows, want %d; %d keys still have more than one row", removed, before, dups())
			}
			check("after compaction")
			var deltas int64
			if err := e.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM intake.transaction_days WHERE delta) +
				(SELECT count(*) FROM intake.transaction_suppliers WHERE delta) +
				(SELECT count(*) FROM intake.transaction_codes WHERE delta)`).Scan(&deltas); err != nil {
				t.Fatal(err)
			}
			if again, err := store.CompactCounts(ctx, e.Pool); err != nil || again != 0 || deltas != 0 {
				t.Fatalf("after compaction %d delta rows are left and a second one removed %d (%v), want 0 and 0", deltas, again, err)
			}
		})
	}
}
