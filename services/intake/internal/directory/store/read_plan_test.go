package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/intake/internal/directory"
	intakestore "github.com/vcci-dev/vcci/services/intake/internal/store"
)

// A supplier's page of transactions, with every field a page shows, is
// read from the covering index alone once the heap is all-visible: no
// column of the statement the store sends may be missing from the index.
func TestSupplierPageIsAnIndexOnlyScan(t *testing.T) {
	pool, tenant := planDB(t)
	ctx := context.Background()
	seedTransactions(t, pool, tenant, 2000)
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
	for _, tq := range []directory.TransactionQuery{
		{SupplierID: "S7", Order: "date desc", Page: directory.Page{Limit: 50}},
		{SupplierID: "S7", Order: "date desc", Page: directory.Page{Limit: 50, After: []string{"2024-06-01", "T9"}}},
	} {
		rs, err := New(pool).transactionsSQL(tenant, tq)
		stmt, q := rs.stmt, rs.q
		if err != nil {
			t.Fatal(err)
		}
		// Few rows: make the planner show the index path it has.
		plan := explain(ctx, t, pool, tenant, `SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off`, stmt, q.args)
		text := strings.Join(plan, "\n")
		if !strings.Contains(text, "Index Only Scan") || strings.Contains(strings.ReplaceAll(text, "Index Only Scan", ""), "Index Scan") {
			t.Fatalf("%s\nplan:\n%s", stmt, text)
		}
	}
}

// Suppliers ordered by a running total are read by walking that total's
// index in supplier_totals, a later page starting where the last one ended
// (the keyset bounds the index scan), never by sorting the tenant's
// suppliers. The pages join up: every supplier once, in order.
func TestSupplierPagesWalkTheTotalsIndex(t *testing.T) {
	pool, tenant := planDB(t)
	ctx := context.Background()
	// 3,000 suppliers (their totals rows come from the insert trigger),
	// with ties in every total.
	if err := db.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO intake.suppliers (tenant_id, supplier_id, name) SELECT $1, 'S' || i, 'Supplier ' || i FROM generate_series(1, 3000) i`, tenant); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE intake.supplier_totals SET kg_co2e = (substr(supplier_id, 2)::int % 700) * 1.5,
			spend_usd = substr(supplier_id, 2)::int % 900, tx_count = substr(supplier_id, 2)::int % 40`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE intake.suppliers, intake.supplier_totals`); err != nil {
		t.Fatal(err)
	}
	s := New(pool)
	for order, index := range map[string]string{
		"kg_co2e desc":           "supplier_totals_by_kg",
		"spend_usd desc":         "supplier_totals_by_spend",
		"transaction_count desc": "supplier_totals_by_count",
	} {
		seen := walkPages(ctx, t, pool, tenant, order, index, func(after []string) (string, pgx.NamedArgs, []string, []string) {
			sq := directory.SupplierQuery{Order: order, Fields: []string{"kg_co2e"}, Page: directory.Page{Limit: 100, After: after}}
			rs, err := s.suppliersSQL(tenant, sq)
			stmt, q := rs.stmt, rs.q
			if err != nil {
				t.Fatal(err)
			}
			page, err := s.ListSuppliers(ctx, tenant, sq)
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]string, 0, len(page.Suppliers))
			for _, sup := range page.Suppliers {
				ids = append(ids, sup.ID)
			}
			return stmt, q.args, ids, page.Next
		})
		col := map[string]string{"kg_co2e desc": "kg_co2e", "spend_usd desc": "spend_usd", "transaction_count desc": "tx_count"}[order]
		inOrder(t, pool, order, seen, `SELECT supplier_id FROM intake.supplier_totals ORDER BY `+col+` DESC, supplier_id DESC`)
	}
}

// Transactions ordered by amount are read by walking the amount index of
// each partition, a later page starting where the last one ended, though
// the transactions policy keeps conditions that are not leakproof (as
// numeric's < is) out of index scans. The pages join up.
func TestTransactionPagesByAmountWalkTheIndex(t *testing.T) {
	pool, tenant := planDB(t)
	ctx := context.Background()
	seedTransactions(t, pool, tenant, 3000)
	if _, err := pool.Exec(ctx, `ANALYZE intake.transactions`); err != nil {
		t.Fatal(err)
	}
	s := New(pool)
	for order, sql := range map[string]string{
		"amount_usd desc": `SELECT transaction_id FROM intake.transactions ORDER BY amount_usd DESC, transaction_id DESC`,
		"amount_usd":      `SELECT transaction_id FROM intake.transactions ORDER BY amount_usd, transaction_id`,
	} {
		var amounts []string
		seen := walkPages(ctx, t, pool, tenant, order, "amount_e4", func(after []string) (string, pgx.NamedArgs, []string, []string) {
			tq := directory.TransactionQuery{Order: order, Fields: []string{"amount_usd"}, Page: directory.Page{Limit: 200, After: after}}
			rs, err := New(pool).transactionsSQL(tenant, tq)
			stmt, q := rs.stmt, rs.q
			if err != nil {
				t.Fatal(err)
			}
			page, err := s.ListTransactions(ctx, tenant, tq)
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]string, 0, len(page.Transactions))
			for _, tx := range page.Transactions {
				ids, amounts = append(ids, tx.ID), append(amounts, tx.Amount)
			}
			return stmt, q.args, ids, page.Next
		})
		inOrder(t, pool, order, seen, sql)
		// The cursor holds the amount as shown, and reads it back exactly.
		if amounts[0] != map[string]string{"amount_usd desc": "1048.5000", "amount_usd": "0.0000"}[order] {
			t.Fatalf("%s: first amount %s", order, amounts[0])
		}
	}
}

// A deep offset page by date skips its offset in the date index alone,
// an index-only scan, and reads only its own rows from the table; it
// serves the rows, fields and order a plain OFFSET does.
func TestDeepOffsetPagesSkipInTheIndex(t *testing.T) {
	pool, tenant := planDB(t)
	ctx := context.Background()
	seedTransactions(t, pool, tenant, 3000)
	if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) intake.transactions`, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	s := New(pool)
	for _, tc := range []struct {
		name, order, supplier, sql string
	}{
		{"newest first", "date desc", "", "ORDER BY tx_date DESC, transaction_id DESC"},
		{"oldest first", "date", "", "ORDER BY tx_date, transaction_id"},
		{"a supplier's", "date desc", "S7", "ORDER BY tx_date DESC, transaction_id DESC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tq := directory.TransactionQuery{SupplierID: tc.supplier, Order: tc.order, Page: directory.Page{Limit: 20, Offset: 100, Count: true}}
			rs, err := New(pool).transactionsSQL(tenant, tq)
			stmt, q := rs.stmt, rs.q
			if err != nil {
				t.Fatal(err)
			}
			if !rs.generic {
				t.Fatal("a deep page is not run with its generic plan")
			}
			// The plan ListTransactions runs, the one kept for every offset:
			// the generic plan of the prepared statement, its arguments
			// still parameters.
			plan := strings.Join(explainGeneric(ctx, t, pool, tenant, stmt, q.args), "\n")
			if !strings.Contains(plan, "Index Only Scan") || !strings.Contains(plan, "Nested Loop") || !strings.Contains(plan, "(tenant_id = $1)") {
				t.Fatalf("%s\nplan:\n%s", stmt, plan)
			}
			page, err := s.ListTransactions(ctx, tenant, tq)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]string, 0, len(page.Transactions))
			for _, tx := range page.Transactions {
				got = append(got, tx.ID+" "+tx.Date.Format(time.DateOnly)+" "+tx.SupplierID+" "+tx.Amount)
			}
			rows, err := pool.Query(ctx, `SELECT transaction_id || ' ' || tx_date || ' ' || supplier_id || ' ' || amount_usd
				FROM intake.transactions WHERE tenant_id = $1 AND ($2 = '' OR supplier_id = $2) `+tc.sql+` LIMIT 20 OFFSET 100`, tenant, tc.supplier)
			if err != nil {
				t.Fatal(err)
			}
			want, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			if len(want) != 20 || !slices.Equal(got, want) {
				t.Fatalf("page = %q\nwant %q", got, want)
			}
		})
	}
}

// partitionScan finds the partition a plan's line reads.
var partitionScan = regexp.MustCompile(`on (transactions_\d{4}q\d)( |$)`)

// An offset page's total is read from the counters, not by counting the
// rows: without dates, or with a code's dates on month bounds, the
// statement reads no transaction; a supplier's dates count that supplier's
// rows alone; a code's range that cuts a month counts only that month's
// rows (one partition of the four).
func TestTransactionTotalsAreNotAScan(t *testing.T) {
	pool, tenant := planDB(t)
	ctx := context.Background()
	seedTransactions(t, pool, tenant, 3000)
	if _, err := pool.Exec(ctx, `ANALYZE intake.transactions, intake.transaction_days, intake.transaction_suppliers, intake.transaction_codes`); err != nil {
		t.Fatal(err)
	}
	day := func(s string) time.Time {
		d, _ := time.Parse(time.DateOnly, s)
		return d
	}
	for _, tc := range []struct {
		name    string
		tq      directory.TransactionQuery
		scanned string // the partitions counted, "" for none
		rows    int64
	}{
		{"no filter", directory.TransactionQuery{}, "", 3000},
		{"supplier", directory.TransactionQuery{SupplierID: "S7"}, "", 150},
		{"naics", directory.TransactionQuery{NAICS: "331110"}, "", 3000},
		{"category", directory.TransactionQuery{Category: 1}, "", 3000},
		{"dates", directory.TransactionQuery{Start: day("2024-02-10"), End: day("2024-07-20")}, "", 1620},
		{"naics, whole months", directory.TransactionQuery{NAICS: "331110", Start: day("2024-02-01"), End: day("2024-06-30")}, "", 1510},
		{"naics, a cut month", directory.TransactionQuery{NAICS: "331110", Start: day("2024-02-10"), End: day("2024-06-30")}, "transactions_2024q1", 1420},
		{"supplier and dates", directory.TransactionQuery{SupplierID: "S7", Start: day("2024-02-10"), End: day("2024-06-30")}, "transactions_2024q1 transactions_2024q2", 70},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tq := tc.tq
			tq.Order, tq.Page = "date desc", directory.Page{Limit: 50, Offset: 100, Count: true}
			rs, err := New(pool).transactionsSQL(tenant, tq)
			count, q := rs.count, rs.q
			if err != nil {
				t.Fatal(err)
			}
			var scanned []string
			for _, l := range explain(ctx, t, pool, tenant, "", count, q.args) {
				if m := partitionScan.FindStringSubmatch(l); m != nil {
					scanned = append(scanned, m[1])
				}
			}
			if want := strings.Fields(tc.scanned); !slices.Equal(slices.Compact(slices.Sorted(slices.Values(scanned))), want) {
				t.Fatalf("counting read partitions %v, want %v:\n%s", scanned, want, count)
			}
			page, err := New(pool).ListTransactions(ctx, tenant, tq)
			if err != nil || page.Total != tc.rows {
				t.Fatalf("total %d, %v; want %d", page.Total, err, tc.rows)
			}
		})
	}
}

// seedTransactions stores n transactions of 20 suppliers, over 2024, with
// amounts that tie: (i mod 700) * 1.5 for the i-th.
func seedTransactions(t *testing.T, pool *pgxpool.Pool, tenant uuid.UUID, n int) {
	t.Helper()
	ctx := context.Background()
	if err := db.NewPartitions(pool).Ensure(ctx, "intake.transactions", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := db.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO intake.uploads (tenant_id, filename, state) VALUES ($1, 'f.csv', 1) RETURNING id`, tenant).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO intake.transactions (tenant_id, transaction_id, tx_date, upload_id, row_number, supplier_id, naics_code, amount_usd, currency, description, category)
			SELECT $1, 'T' || i, date '2024-01-01' + (i % 300), $2, i, 'S' || (i % 20), '331110', (i % 700) * 1.5, 'USD', 'line ' || i, 1 FROM generate_series(1, $3::int) i`, tenant, id, n)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// walkPages reads the pages of one order until the last. Every page's
// plan walks an index whose name holds index, and a later page's keyset
// condition is an Index Cond (a filter would re-read the pages before it).
// page returns a page's statement and arguments, the ids it served and the
// cursor after it; walkPages returns every id served, in order.
func walkPages(ctx context.Context, t *testing.T, pool *pgxpool.Pool, tenant uuid.UUID, order, index string, page func(after []string) (stmt string, args pgx.NamedArgs, ids, next []string)) []string {
	t.Helper()
	var seen, after []string
	for {
		stmt, args, ids, next := page(after)
		plan := explain(ctx, t, pool, tenant, "", stmt, args)
		text := strings.Join(plan, "\n")
		bounded := false
		for _, l := range plan {
			bounded = bounded || strings.Contains(l, "Index Cond") && strings.Contains(l, "ROW(")
		}
		if !strings.Contains(text, index) || after != nil && !bounded {
			t.Fatalf("%s, after %v:\n%s\nplan:\n%s", order, after, stmt, text)
		}
		seen = append(seen, ids...)
		if next == nil {
			return seen
		}
		after = next
	}
}

// inOrder checks that the pages served the ids the query sql reads, once
// each and in its order.
func inOrder(t *testing.T, pool *pgxpool.Pool, order string, seen []string, sql string) {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	want, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("%s: pages gave %d rows, want %d in order (first differs at %d)", order, len(seen), len(want), firstDiff(seen, want))
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// planDB is a migrated intake database with one tenant.
func planDB(t *testing.T) (*pgxpool.Pool, uuid.UUID) {
	t.Helper()
	pool := testsupport.NewPool(t, "intake", intakestore.Migrate)
	return pool, testsupport.Tenant(t, pool, "a")
}

// explain is the plan of stmt as the tenant would run it, after the
// settings in pre (none if empty).
func explain(ctx context.Context, t *testing.T, pool *pgxpool.Pool, tenant uuid.UUID, pre, stmt string, args pgx.NamedArgs) []string {
	t.Helper()
	var plan []string
	if err := db.InTenant(ctx, pool, tenant, func(tx pgx.Tx) error {
		if pre != "" {
			if _, err := tx.Exec(ctx, pre, pgx.QueryExecModeSimpleProtocol); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, "EXPLAIN (COSTS OFF) "+stmt, args)
		if err != nil {
			return err
		}
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return plan
}

// explainGeneric is the generic plan of stmt prepared, the one PostgreSQL
// keeps for every call under force_generic_plan.
func explainGeneric(ctx context.Context, t *testing.T, pool *pgxpool.Pool, tenant uuid.UUID, stmt string, args pgx.NamedArgs) []string {
	t.Helper()
	sql, params, err := args.RewriteQuery(ctx, nil, stmt, nil)
	if err != nil {
		t.Fatal(err)
	}
	// EXECUTE takes its arguments as literals. A name of its own: the
	// statement outlives the transaction on a pooled connection.
	lits := make([]string, len(params))
	for i, v := range params {
		lits[i] = "'" + strings.ReplaceAll(fmt.Sprint(v), "'", "''") + "'"
	}
	name := fmt.Sprintf("generic_%d", generics.Add(1))
	return explain(ctx, t, pool, tenant, "SET LOCAL plan_cache_mode = force_generic_plan; PREPARE "+name+" AS "+sql,
		"EXECUTE "+name+"("+strings.Join(lits, ", ")+")", nil)
}

var generics atomic.Int64
