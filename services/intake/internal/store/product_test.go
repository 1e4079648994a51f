package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

const productFile = `transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,supplier_country,quantity,unit,product_id
P1,2024-06-14,S1,Acme,331110,1200.00,USD,coil,de,2.5,tonne,STEEL-HR-01
P2,2024-06-15,S1,Acme,331110,80,USD,bolts,,400,piece,BOLT-M8
T1,2024-06-16,S2,Beta,541511,10,USD,dev,,7,h,
B1,2024-06-17,S1,Acme,331110,10,USD,x,,abc,kg,STEEL-HR-01
B2,2024-06-17,S1,Acme,331110,10,USD,x,,12,,STEEL-HR-01
`

// Product lines are stored with their product, quantity and unit on both
// ways an upload is stored (a spend line's quantity is not), and reach
// the calculator with them and their supplier's country; a bad product
// quantity rejects its row, naming the column.
func TestProductLinesReachTheCalculator(t *testing.T) {
	for _, p := range paths {
		t.Run(p.Name, func(t *testing.T) {
			ctx := context.Background()
			e := setupPath(t, p.Small)
			e.calc.Keep = true
			u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{Filename: "products.csv"}, strings.NewReader(productFile))
			if err != nil {
				t.Fatal(err)
			}
			drain(t, e)
			got, err := e.svc.Get(ctx, e.a, u.ID)
			// kg = 2 x (1200 + 80 + 10), the fake calculator's factor on dollars
			if err != nil || got.State != intake.Succeeded || got.Accepted != 3 || got.Rejected != 2 || got.Kg != "2580.0000000" {
				t.Fatalf("upload = %+v, %v", got, err)
			}
			want := []intake.RowError{
				{Row: 5, Column: "quantity", Reason: "not a non-negative number with at most 6 decimals (like 12.5)", Value: "abc"},
				{Row: 6, Column: "unit", Reason: "required with a quantity"},
			}
			if s := got.ErrorSamples; len(s) != 2 || s[0] != want[0] || s[1] != want[1] {
				t.Fatalf("errors = %+v", s)
			}

			// NULL reads "-".
			rows, err := e.pool.Query(ctx, `SELECT concat_ws(' ', transaction_id, coalesce(product_id, '-'), coalesce(quantity::text, '-'),
				coalesce(unit, '-'), coalesce(activity, '-')) FROM intake.transactions ORDER BY transaction_id`)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			wantStored := []string{"P1 STEEL-HR-01 2.5 tonne -", "P2 BOLT-M8 400 piece -", "T1 - - - -"}
			if len(stored) != len(wantStored) {
				t.Fatalf("stored %v", stored)
			}
			for i := range wantStored {
				if stored[i] != wantStored[i] {
					t.Errorf("stored %v, want %v", stored[i], wantStored[i])
				}
			}

			// P2 gives no country: its supplier's, from P1, goes with it.
			sent := map[string][4]string{}
			for _, r := range e.calc.Rows {
				sent[r.TransactionID] = [4]string{r.ProductID, r.Country, r.Quantity, r.Unit}
			}
			wantSent := map[string][4]string{
				"P1": {"STEEL-HR-01", "DE", "2.5", "tonne"},
				"P2": {"BOLT-M8", "DE", "400", "piece"},
				"T1": {"", "", "", ""},
			}
			if len(sent) != len(wantSent) {
				t.Fatalf("sent %v", sent)
			}
			for id, w := range wantSent {
				if sent[id] != w {
					t.Errorf("%s sent %v, want %v", id, sent[id], w)
				}
			}
		})
	}
}
