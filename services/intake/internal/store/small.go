package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

// SmallUpload is the largest upload (bytes, one chunk: about 10,000 rows)
// validated in memory and stored with array parameters. Larger ones are
// streamed through COPY into a staging table, which costs a temporary
// table's catalog churn per upload: cheap next to a million rows, most of
// the work for ten.
const SmallUpload = ChunkSize

// supplierUpsert ends both paths' supplier insert: the latest name and
// country in the file win, NAICS codes accumulate, and unchanged suppliers
// are not rewritten.
const supplierUpsert = `
	ON CONFLICT (tenant_id, supplier_id) DO UPDATE SET
		name = excluded.name,
		country = CASE WHEN excluded.country <> '' THEN excluded.country ELSE s.country END,
		naics_codes = CASE WHEN excluded.naics_codes <@ s.naics_codes THEN s.naics_codes
			ELSE (SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(s.naics_codes || excluded.naics_codes) x) END,
		updated_at = now()
	WHERE s.name IS DISTINCT FROM excluded.name
	   OR (excluded.country <> '' AND excluded.country IS DISTINCT FROM s.country)
	   OR NOT excluded.naics_codes <@ s.naics_codes`

// storeSmall is Validate's body for an upload of at most the small limit:
// the accepted rows are held in memory, transactions stored by another
// upload are found by primary key, one probe per row, and the rows,
// suppliers, errors and new state are written in one pipelined batch.
func (s *Store) storeSmall(ctx context.Context, tx pgx.Tx, u intake.Upload, v *intake.Validator) (intake.Validated, error) {
	rows, err := v.All()
	if err != nil {
		return intake.Validated{}, err
	}
	errs := v.Errors
	out := intake.Validated{Read: v.Read, Accepted: v.Accepted, Rejected: v.Rejected, MinDate: v.MinDate, MaxDate: v.MaxDate}
	b := &pgx.Batch{}
	if len(rows) > 0 {
		if err := db.EnsureQuarterlyPartitions(ctx, s.pool, TransactionsTable, v.MinDate, v.MaxDate); err != nil {
			return out, err
		}
		dups, err := storedElsewhere(ctx, tx, u, rows)
		if err != nil {
			return out, err
		}
		if len(dups) > 0 {
			kept := rows[:0]
			for _, r := range rows {
				if other, ok := dups[r.Line]; ok {
					errs = append(errs, intake.RowError{Row: r.Line, Column: "transaction_id",
						Reason: fmt.Sprintf("transaction already stored by uploads/%d", other), Value: r.TransactionID})
					out.Accepted--
					out.Rejected++
					continue
				}
				kept = append(kept, r)
			}
			rows = kept
		}
		queueRows(b, u, rows)
		queueSuppliers(b, u, rows)
	}
	queueValidated(b, u, out, errs)
	out.Rows = rows // nil only when none was accepted, and then unused
	return out, tx.SendBatch(ctx, b).Close()
}

// storedElsewhere returns, by line, the upload that already stored each of
// rows' transactions, if another one did. Each row is one primary-key probe
// into its date's partition: a join against the whole date range would
// walk every transaction stored between the rows' dates.
func storedElsewhere(ctx context.Context, tx pgx.Tx, u intake.Upload, rows []intake.Row) (map[int64]int64, error) {
	lines := make([]int64, len(rows))
	ids := make([]string, len(rows))
	dates := make([]time.Time, len(rows))
	for i, r := range rows {
		lines[i], ids[i], dates[i] = r.Line, r.TransactionID, r.Date
	}
	res, err := tx.Query(ctx, `
		SELECT s.line, t.upload_id
		FROM unnest($2::bigint[], $3::text[], $4::date[]) AS s(line, id, d)
		CROSS JOIN LATERAL (
			SELECT t.upload_id FROM intake.transactions t
			WHERE t.tenant_id = $1 AND t.transaction_id = s.id AND t.tx_date = s.d AND t.upload_id <> $5
		) t`, u.Tenant, lines, ids, dates, u.ID)
	if err != nil {
		return nil, err
	}
	out := map[int64]int64{}
	var line, other int64
	_, err = pgx.ForEachRow(res, []any{&line, &other}, func() error {
		out[line] = other
		return nil
	})
	return out, err
}

// queueRows queues the insert of the accepted rows.
func queueRows(b *pgx.Batch, u intake.Upload, rows []intake.Row) {
	n := len(rows)
	ids, sups, codes := make([]string, n), make([]string, n), make([]string, n)
	amounts, curs, descs := make([]string, n), make([]string, n), make([]string, n)
	dates := make([]time.Time, n)
	lines := make([]int64, n)
	cats := make([]int16, n)
	for i, r := range rows {
		ids[i], dates[i], lines[i], sups[i], codes[i] = r.TransactionID, r.Date, r.Line, r.SupplierID, r.NAICS
		amounts[i], curs[i], descs[i], cats[i] = r.Amount, r.Currency, r.Description, r.Category
	}
	b.Queue(`
		INSERT INTO intake.transactions (tenant_id, transaction_id, tx_date, upload_id, row_number, supplier_id,
			naics_code, amount_usd, currency, description, category)
		SELECT $1, id, d, $2, line, sup, code, amount::numeric(18, 4), cur, descr, cat
		FROM unnest($3::text[], $4::date[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::smallint[])
			AS r(id, d, line, sup, code, amount, cur, descr, cat)`,
		u.Tenant, u.ID, ids, dates, lines, sups, codes, amounts, curs, descs, cats)
}

// queueSuppliers queues the upsert of the rows' suppliers: per supplier,
// the name and country of its last row (the country of its last row that
// has one) and its NAICS codes, ascending. Key order: concurrent uploads
// lock shared suppliers in the same order.
func queueSuppliers(b *pgx.Batch, u intake.Upload, rows []intake.Row) {
	type sup struct {
		name, country string
		codes         []string
	}
	by := map[string]*sup{}
	for _, r := range rows { // rows are in line order
		x := by[r.SupplierID]
		if x == nil {
			x = &sup{}
			by[r.SupplierID] = x
		}
		x.name = r.SupplierName
		if r.Country != "" {
			x.country = r.Country
		}
		if !slices.Contains(x.codes, r.NAICS) {
			x.codes = append(x.codes, r.NAICS)
		}
	}
	ids := make([]string, 0, len(by))
	for id := range by {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	names, countries, codes := make([]string, len(ids)), make([]string, len(ids)), make([]string, len(ids))
	for i, id := range ids {
		x := by[id]
		slices.Sort(x.codes)
		// NAICS codes are six digits: a comma cannot be part of one.
		names[i], countries[i], codes[i] = x.name, x.country, strings.Join(x.codes, ",")
	}
	b.Queue(`
		INSERT INTO intake.suppliers AS s (tenant_id, supplier_id, name, country, naics_codes)
		SELECT $1, id, name, country, string_to_array(codes, ',')
		FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS n(id, name, country, codes, i)
		ORDER BY i`+supplierUpsert, u.Tenant, ids, names, countries, codes)
}

// failHeader records a header that does not name the required columns as
// the upload's failure.
func failHeader(ctx context.Context, tx pgx.Tx, u intake.Upload, he *intake.HeaderError) error {
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM intake.upload_errors WHERE upload_id = $1`, u.ID)
	queueErrors(b, u, he.Errors)
	b.Queue(`UPDATE intake.uploads SET state = $2, failure_reason = $3, rows_rejected = 0,
		completed_at = now(), updated_at = now(), lease_until = NULL WHERE id = $1`,
		u.ID, intake.Failed, "the header does not name the required columns: "+he.Error())
	return tx.SendBatch(ctx, b).Close()
}
