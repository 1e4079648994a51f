package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/store"
)

// A result's factor is found through both columns of the factors' key
// under row-level security. The planner puts only leakproof expressions in
// an index condition there: with coalesce(e.factor_code, e.naics_code) it
// read every factor of the set for each result and filtered on the code.
func TestResultReadFindsItsFactorByKey(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	// A stored line, so that the results have a partition to plan.
	if _, err := f.svc.Calculate(ctx, f.a, []calculator.Line{{TransactionID: "T1", Date: day("2024-01-15"), SupplierID: "S1", NAICS: "331110", Amount: "1000.00", Upload: 7}}); err != nil {
		t.Fatal(err)
	}
	var plan []string
	err := db.InTenant(ctx, f.pool, f.a, func(tx pgx.Tx) error {
		// Empty tables plan anything: force the nested loop a batch read
		// of a few results gets.
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `EXPLAIN SELECT f.code FROM calculator.emission_results e`+store.ResultQuantity+` WHERE e.tenant_id = $1`, f.a)
		if err != nil {
			return err
		}
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	for i, line := range plan {
		if strings.Contains(line, " on factors f") {
			if i+1 < len(plan) && strings.Contains(plan[i+1], "Index Cond:") && strings.Contains(plan[i+1], "(code = CASE") {
				return
			}
			break
		}
	}
	t.Fatalf("the factor is not looked up by (factor_set_id, code):\n%s", text)
}
