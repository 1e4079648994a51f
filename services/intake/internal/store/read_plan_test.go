package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/dbtest"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

// A supplier's page of transactions, with every field a page shows, is
// read from the covering index alone once the heap is all-visible: no
// column of the statement the store sends may be missing from the index.
func TestSupplierPageIsAnIndexOnlyScan(t *testing.T) {
	pool := dbtest.NewPool(t, "intake", func(ctx context.Context, pool *pgxpool.Pool) error {
		if err := tenancy.Migrate(ctx, pool); err != nil {
			return err
		}
		return Migrate(ctx, pool)
	})
	ctx := context.Background()
	tenant, err := tenancy.EnsureTenant(ctx, pool, "a")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.EnsureQuarterlyPartitions(ctx, pool, "intake.transactions", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := db.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO intake.uploads (tenant_id, filename, state) VALUES ($1, 'f.csv', 1) RETURNING id`, tenant).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO intake.transactions (tenant_id, transaction_id, tx_date, upload_id, row_number, supplier_id, naics_code, amount_usd, currency, description, category)
			SELECT $1, 'T' || i, date '2024-01-01' + (i % 300), $2, i, 'S' || (i % 20), '331110', i, 'USD', 'line ' || i, 1 FROM generate_series(1, 2000) i`, tenant, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// The widest row the validator accepts (ids of 128 bytes, a 2,048-byte
	// description of random text) still fits a btree entry of the index.
	wide := make([]byte, 1536)
	rand.Read(wide)
	if err := db.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO intake.transactions (tenant_id, transaction_id, tx_date, upload_id, row_number, supplier_id, naics_code, amount_usd, currency, description, category)
			SELECT $1, $2, date '2024-05-01', upload_id, 9999, $3, '331110', 123456789012.34, 'USD', $4, 1 FROM intake.transactions LIMIT 1`,
			tenant, strings.Repeat("t", 128), strings.Repeat("s", 128), base64.StdEncoding.EncodeToString(wide))
		return err
	}); err != nil {
		t.Fatalf("widest row: %v", err)
	}
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) intake.transactions`, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	for _, tq := range []intake.TransactionQuery{
		{SupplierID: "S7", Order: "date desc", Page: intake.Page{Limit: 50}},
		{SupplierID: "S7", Order: "date desc", Page: intake.Page{Limit: 50, After: []string{"2024-06-01", "T9"}}},
	} {
		stmt, _, q, _, err := transactionsSQL(tenant, tq)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		err = db.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
			// Few rows: make the planner show the index path it has.
			if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off`, pgx.QueryExecModeSimpleProtocol); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, "EXPLAIN (COSTS OFF) "+stmt, q.args)
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
		if !strings.Contains(text, "Index Only Scan") || strings.Contains(strings.ReplaceAll(text, "Index Only Scan", ""), "Index Scan") {
			t.Fatalf("%s\nplan:\n%s", stmt, text)
		}
	}
}
