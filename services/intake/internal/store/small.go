package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
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

// ValidateSmall validates several small uploads of one tenant, each one
// chunk, and stores them in one transaction: their content is read in one
// query and validated in memory, each with its own open (its column
// mapping); their transaction ids are claimed, and a row whose id another
// upload holds (earlier, or earlier in the batch) is rejected, whatever its
// date (claimIDs); and the rows, suppliers, errors and new states go in as
// array parameters in one pipelined batch. A header that names no usable
// columns fails its own upload only. The uploads validation finishes are
// handed to end in the same transaction.
func (s *Store) ValidateSmall(ctx context.Context, us []intake.Upload, open func(intake.Upload, io.Reader) (*intake.Validator, error), end intake.EndsTx) ([]intake.Validated, error) {
	tenant := us[0].Tenant
	ids := make([]int64, len(us))
	at := make(map[int64]int, len(us))
	for i, u := range us {
		if u.Tenant != tenant || u.Size > ChunkSize {
			return nil, fmt.Errorf("store.ValidateSmall: uploads/%d is not a small upload of tenant %s", u.ID, tenant)
		}
		ids[i], at[u.ID] = u.ID, i
	}
	var out []intake.Validated
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		// The transaction waits, open, while the calculator is asked about
		// the files' codes: the attempt's deadline bounds it.
		if err := db.UntilDeadline(ctx, tx); err != nil {
			return err
		}
		if err := fence(ctx, tx, us...); err != nil {
			return err
		}
		content, err := smallContent(ctx, tx, ids)
		if err != nil {
			return err
		}
		sb := &smallBatch{us: us, at: at, out: make([]intake.Validated, len(us))} // a retried transaction starts over
		out = sb.out
		b := &pgx.Batch{}
		if err := sb.validate(b, open, content); err != nil {
			return err
		}
		if len(sb.rows) > 0 {
			if err := s.partitions.Ensure(ctx, TransactionsTable, sb.minD, sb.maxD); err != nil {
				return err
			}
			dups, err := claimIDs(ctx, tx, tenant, sb.rows)
			if err != nil {
				return err
			}
			sb.rejectHeld(dups)
			queueRows(b, tenant, sb.rows)
			queueSuppliers(b, tenant, sb.rows)
			queueSupplierCountries(b, tenant, sb.rows)
		}
		queueValidated(b, tenant, sb.validated())
		sb.splitRows()
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("store rows: %w", err)
		}
		var done []int
		for i, v := range out {
			if finished(v) {
				done = append(done, i)
			}
		}
		if len(done) == 0 {
			return nil
		}
		return end(ctx, tx, done)
	})
	if err != nil {
		return nil, fmt.Errorf("store.ValidateSmall: %w", err)
	}
	return out, nil
}

// smallContent reads the one chunk of each upload named, by upload.
func smallContent(ctx context.Context, tx pgx.Tx, ids []int64) (map[int64][]byte, error) {
	content := make(map[int64][]byte, len(ids))
	res, err := tx.Query(ctx, `SELECT upload_id, data FROM intake.upload_chunks WHERE upload_id = ANY($1) AND seq = 0`, ids)
	if err != nil {
		return nil, fmt.Errorf("query chunks: %w", err)
	}
	var id int64
	var data []byte
	if _, err := pgx.ForEachRow(res, []any{&id, &data}, func() error {
		content[id] = data
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read chunks: %w", err)
	}
	return content, nil
}

// smallBatch is ValidateSmall's work on its uploads: their outcomes, row
// errors and accepted rows.
type smallBatch struct {
	us   []intake.Upload
	at   map[int64]int // index in us by upload id
	out  []intake.Validated
	errs [][]intake.RowError
	rows []intake.Row // accepted, in upload then line order
	// minD and maxD span the accepted rows' dates.
	minD, maxD time.Time
}

// validate runs each upload's content through a Validator; a refused
// header's record is queued on b.
func (sb *smallBatch) validate(b *pgx.Batch, open func(intake.Upload, io.Reader) (*intake.Validator, error), content map[int64][]byte) error {
	sb.errs = make([][]intake.RowError, len(sb.us))
	for i, u := range sb.us {
		v, err := open(u, bytes.NewReader(content[u.ID]))
		if he := (*intake.HeaderError)(nil); errors.As(err, &he) {
			sb.out[i].Refused = he
			queueRefused(b, u, he)
			continue
		}
		if err != nil {
			return err
		}
		all, err := v.All()
		v.Close()
		if err != nil {
			return fmt.Errorf("uploads/%d: %w", u.ID, err)
		}
		sb.out[i] = intake.Validated{Read: v.Read, Accepted: v.Accepted, Rejected: v.Rejected, MinDate: v.MinDate, MaxDate: v.MaxDate, Ignored: v.Ignored}
		sb.errs[i] = v.Errors
		for j := range all {
			all[j].Upload = u.ID
		}
		sb.rows = append(sb.rows, all...)
		if v.Accepted > 0 {
			if sb.minD.IsZero() || v.MinDate.Before(sb.minD) {
				sb.minD = v.MinDate
			}
			if v.MaxDate.After(sb.maxD) {
				sb.maxD = v.MaxDate
			}
		}
	}
	return nil
}

// rejectHeld rejects the rows whose transaction id another upload holds
// (dups, from claimIDs), whatever their date.
func (sb *smallBatch) rejectHeld(dups map[rowKey]int64) {
	if len(dups) == 0 {
		return
	}
	kept := sb.rows[:0]
	for _, r := range sb.rows {
		other, ok := dups[rowKey{r.Upload, r.Line}]
		if !ok {
			kept = append(kept, r)
			continue
		}
		i := sb.at[r.Upload]
		sb.out[i].Accepted--
		sb.out[i].Rejected++
		sb.errs[i] = append(sb.errs[i], intake.RowError{Row: r.Line, Column: colTransactionID,
			Reason: fmt.Sprintf("transaction already stored by uploads/%d", other), Value: r.TransactionID})
	}
	sb.rows = kept
}

// splitRows hands each upload its stored rows: each upload's rows are one
// run of rows, which are in upload order.
func (sb *smallBatch) splitRows() {
	rows := sb.rows
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].Upload == rows[start].Upload {
			end++
		}
		sb.out[sb.at[rows[start].Upload]].Rows = rows[start:end:end]
		start = end
	}
}

// validated lists the uploads' validations to record, leaving out those
// whose header was refused (queueRefused recorded them).
func (sb *smallBatch) validated() []validated {
	vs := make([]validated, 0, len(sb.us))
	for i, u := range sb.us {
		if sb.out[i].Refused == nil {
			vs = append(vs, validated{u, sb.out[i], sb.errs[i]})
		}
	}
	return vs
}

// rowKey is a row of one upload.
type rowKey struct{ upload, line int64 }

// claimIDs claims rows' transaction ids for their uploads and returns, by
// upload and line, the upload that holds each id another upload has: one
// stored before, one that a concurrent upload committed first, or one
// earlier in rows. Each id is one probe of intake.transaction_ids' primary
// key, whatever its date; the holders are looked up only when some id was
// taken.
func claimIDs(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, rows []intake.Row) (map[rowKey]int64, error) {
	out := map[rowKey]int64{}
	first := make(map[string]rowKey, len(rows))
	var repeats [][2]rowKey // a row, and the earlier row of the batch it repeats
	ups := make([]int64, 0, len(rows))
	lines := make([]int64, 0, len(rows))
	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		if f, ok := first[r.TransactionID]; ok {
			// A file does not repeat an id: another upload in the batch.
			repeats = append(repeats, [2]rowKey{{r.Upload, r.Line}, f})
			continue
		}
		first[r.TransactionID] = rowKey{r.Upload, r.Line}
		ups, lines, ids = append(ups, r.Upload), append(lines, r.Line), append(ids, r.TransactionID)
	}
	// In id order, as the large path claims: concurrent uploads wait for
	// each other's ids in one order.
	tag, err := tx.Exec(ctx, `
		INSERT INTO intake.transaction_ids (tenant_id, transaction_id, upload_id)
		SELECT $1, id, up FROM unnest($2::text[], $3::bigint[]) AS s(id, up) ORDER BY id
		ON CONFLICT DO NOTHING`, tenant, ids, ups)
	if err != nil {
		return nil, fmt.Errorf("claim transaction ids: %w", err)
	}
	if tag.RowsAffected() < int64(len(ids)) {
		res, err := tx.Query(ctx, `
			SELECT s.up, s.line, t.upload_id
			FROM unnest($2::bigint[], $3::bigint[], $4::text[]) AS s(up, line, id)
			JOIN intake.transaction_ids t ON t.tenant_id = $1 AND t.transaction_id = s.id AND t.upload_id <> s.up`,
			tenant, ups, lines, ids)
		if err != nil {
			return nil, fmt.Errorf("query held transaction ids: %w", err)
		}
		var k rowKey
		var other int64
		if _, err = pgx.ForEachRow(res, []any{&k.upload, &k.line, &other}, func() error {
			out[k] = other
			return nil
		}); err != nil {
			return nil, fmt.Errorf("read held transaction ids: %w", err)
		}
	}
	for _, r := range repeats {
		// The earlier row is stored by its upload, or, if its id was held
		// already, by the upload that holds it.
		by, ok := out[r[1]]
		if !ok {
			by = r[1].upload
		}
		out[r[0]] = by
	}
	return out, nil
}

// queueRows queues the insert of accepted rows, each under its upload.
func queueRows(b *pgx.Batch, tenant uuid.UUID, rows []intake.Row) {
	n := len(rows)
	ids, sups, codes := make([]string, n), make([]string, n), make([]string, n)
	amounts, curs, usds, descs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	acts, qtys, units, srcs, prods := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	dates := make([]time.Time, n)
	ups, lines := make([]int64, n), make([]int64, n)
	cats := make([]int16, n)
	for i, r := range rows {
		ids[i], dates[i], ups[i], lines[i], sups[i], codes[i] = r.TransactionID, r.Date, r.Upload, r.Line, r.SupplierID, r.NAICS
		amounts[i], curs[i], descs[i], cats[i] = r.Amount, r.Currency, r.Description, r.Category
		if r.Currency != "USD" {
			usds[i] = r.AmountUSD
		}
		acts[i], qtys[i], units[i], srcs[i], prods[i] = r.Activity, r.Quantity, r.Unit, r.CategorySource(), r.ProductID
	}
	b.Queue(`
		INSERT INTO intake.transactions (tenant_id, transaction_id, tx_date, upload_id, row_number, supplier_id,
			naics_code, amount_usd, currency, amount, description, category, activity, quantity, unit, category_source, product_id)
		SELECT $1, id, d, up, line, sup, code, coalesce(nullif(usd, ''), amount)::numeric(18, 4), cur,
			CASE WHEN usd <> '' THEN amount::numeric(18, 4) END, descr, cat, nullif(act, ''), nullif(qty, '')::numeric, nullif(unit, ''), nullif(src, 'factor'),
			nullif(prod, '')
		FROM unnest($2::text[], $3::date[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::smallint[], $12::text[],
			$13::text[], $14::text[], $15::text[], $16::text[], $17::text[])
			AS r(id, d, up, line, sup, code, amount, cur, descr, cat, usd, act, qty, unit, src, prod)`,
		tenant, ids, dates, ups, lines, sups, codes, amounts, curs, descs, cats, usds, acts, qtys, units, srcs, prods)
}

// queueSuppliers queues the upsert of the rows' suppliers: per supplier,
// the name and country of its last row (the country of its last row that
// has one) and its NAICS codes, ascending. Key order: concurrent uploads
// lock shared suppliers in the same order.
func queueSuppliers(b *pgx.Batch, tenant uuid.UUID, rows []intake.Row) {
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
		if r.NAICS != "" && !slices.Contains(x.codes, r.NAICS) {
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
		ORDER BY i`+supplierUpsert, tenant, ids, names, countries, codes)
}

// queueSupplierCountries queues the read of the rows' suppliers' countries,
// as just stored, into the rows when the batch is closed: the calculator
// is sent the supplier's country, as it is when the rows are read back
// (Store.Accepted), not the line's.
func queueSupplierCountries(b *pgx.Batch, tenant uuid.UUID, rows []intake.Row) {
	at := map[string][]int{}
	for i, r := range rows {
		at[r.SupplierID] = append(at[r.SupplierID], i)
	}
	ids := slices.Collect(maps.Keys(at))
	b.Queue(`SELECT supplier_id, country FROM intake.suppliers WHERE tenant_id = $1 AND supplier_id = ANY($2)`, tenant, ids).
		Query(func(res pgx.Rows) error {
			var id, country string
			if _, err := pgx.ForEachRow(res, []any{&id, &country}, func() error {
				for _, i := range at[id] {
					rows[i].Country = country
				}
				return nil
			}); err != nil {
				return fmt.Errorf("read supplier countries: %w", err)
			}
			return nil
		})
}
