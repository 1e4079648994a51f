// Package store is the directory's PostgreSQL reads of the suppliers and
// transactions intake stored (its schema is migrated by intake's store).
package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/services/intake/internal/directory"
)

// The read queries are built from fixed fragments only: order_by, field
// names and filters select among the constants below, and every value a
// caller sends travels as a bind parameter.

// WordSimilarity is how close (0..1) a name's best-matching words must be to
// a search for it to match: 0.5 lets "acme steal" find "ACME Steel Corp".
const WordSimilarity = 0.5

// column reads one field into a Supplier or Transaction.
type column[T any] struct {
	expr string
	dest func(*T) any
}

// Store implements directory.Store. Besides the pool it holds the
// fragments its statements are built from, made once in New.
type Store struct {
	pool               *pgxpool.Pool
	supplierColumns    map[string]column[directory.Supplier]
	transactionColumns map[string]column[directory.Transaction]
	supplierSorts      map[string]sortKey
	transactionSorts   map[string]sortKey
	// readsTotals finds a reference to the totals table (t) in an
	// expression.
	readsTotals *regexp.Regexp
}

// New returns a Store.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, supplierColumns: supplierColumns(), transactionColumns: transactionColumns(),
		supplierSorts: supplierSorts(), transactionSorts: transactionSorts(), readsTotals: regexp.MustCompile(`\bt\.`)}
}

func supplierColumns() map[string]column[directory.Supplier] {
	return map[string]column[directory.Supplier]{
		"display_name":      {"x.name", func(s *directory.Supplier) any { return &s.Name }},
		"create_time":       {"x.created_at", func(s *directory.Supplier) any { return &s.CreatedAt }},
		"update_time":       {"greatest(x.updated_at, t.updated_at)", func(s *directory.Supplier) any { return &s.UpdatedAt }},
		"country":           {"x.country", func(s *directory.Supplier) any { return &s.Country }},
		"naics_codes":       {"x.naics_codes", func(s *directory.Supplier) any { return &s.NAICSCodes }},
		"spend_usd":         {"t.spend_usd::text", func(s *directory.Supplier) any { return &s.Spend }},
		"kg_co2e":           {"t.kg_co2e::text", func(s *directory.Supplier) any { return &s.Kg }},
		"kg_co2e_per_usd":   {"CASE WHEN t.spend_usd <> 0 THEN round(t.kg_co2e / t.spend_usd, 6)::text ELSE '' END", func(s *directory.Supplier) any { return &s.Intensity }},
		"transaction_count": {"t.tx_count", func(s *directory.Supplier) any { return &s.Count }},
	}
}

// suppliersFrom is where supplier reads find a supplier (x) and its running
// totals (t): every supplier has exactly one totals row (migration 0005).
const suppliersFrom = " FROM intake.suppliers x JOIN intake.supplier_totals t ON t.tenant_id = x.tenant_id AND t.supplier_id = x.supplier_id"

// supplierSource is the FROM clause for reading exprs of suppliers by id:
// the totals are joined only when an expression reads them.
func (s *Store) supplierSource(exprs []string) string {
	if slices.ContainsFunc(exprs, s.readsTotals.MatchString) {
		return suppliersFrom
	}
	return " FROM intake.suppliers x"
}

// supplierIDCol is the transactions' supplier column.
const supplierIDCol = "supplier_id"

func transactionColumns() map[string]column[directory.Transaction] {
	return map[string]column[directory.Transaction]{
		"date":            {"tx_date", func(t *directory.Transaction) any { return &t.Date }},
		"supplier_id":     {supplierIDCol, func(t *directory.Transaction) any { return &t.SupplierID }},
		"naics_code":      {"naics_code", func(t *directory.Transaction) any { return &t.NAICS }},
		"amount_usd":      {"amount_usd::text", func(t *directory.Transaction) any { return &t.Amount }},
		"currency":        {"currency", func(t *directory.Transaction) any { return &t.Currency }},
		"amount":          {"coalesce(amount, amount_usd)::text", func(t *directory.Transaction) any { return &t.Original }},
		"description":     {"description", func(t *directory.Transaction) any { return &t.Desc }},
		"category":        {"category", func(t *directory.Transaction) any { return &t.Category }},
		"category_source": {"coalesce(category_source, 'factor')", func(t *directory.Transaction) any { return &t.CategorySource }},
		"upload":          {"upload_id", func(t *directory.Transaction) any { return &t.Upload }},
		"row_number":      {"row_number", func(t *directory.Transaction) any { return &t.Row }},
		// Reading the supplier needs its id; the emission result, the date (to
		// find its partition).
		"supplier":        {supplierIDCol, func(t *directory.Transaction) any { return &t.SupplierID }},
		"emission_result": {"tx_date", func(t *directory.Transaction) any { return &t.Date }},
	}
}

// sortKey is how one order sorts: the expression, its SQL type (to read a
// cursor value back), the direction, and the id column that breaks ties:
// the one in the same index as expr, so that a page's keyset condition
// bounds that index's scan.
type sortKey struct {
	expr, typ string
	desc      bool
	id        string
	// cursor, when set, is the SQL of the value a cursor holds instead of
	// expr's, and fromCursor (a format of one %s, the bound text) turns
	// that value back into expr's terms.
	cursor, fromCursor string
}

// text is the SQL that reads the sort value as text, for the cursor. A
// date is formatted with to_char: PostgreSQL 15 plans "LIMIT n" over the
// partitions as a full sort when the select list holds date::text (a
// DateStyle-dependent cast), instead of walking the date index backwards.
func (sk sortKey) text() string {
	if sk.cursor != "" {
		return sk.cursor
	}
	if sk.typ == dateType {
		return "to_char(" + sk.expr + ", 'YYYY-MM-DD')"
	}
	return sk.expr + "::text"
}

func supplierSorts() map[string]sortKey {
	return map[string]sortKey{
		"kg_co2e desc":           sortBy("t.kg_co2e", "numeric", true, "t.supplier_id"),
		"kg_co2e":                sortBy("t.kg_co2e", "numeric", false, "t.supplier_id"),
		"spend_usd desc":         sortBy("t.spend_usd", "numeric", true, "t.supplier_id"),
		"spend_usd":              sortBy("t.spend_usd", "numeric", false, "t.supplier_id"),
		"display_name":           sortBy("x.name", "text", false, "x.supplier_id"),
		"display_name desc":      sortBy("x.name", "text", true, "x.supplier_id"),
		"transaction_count desc": sortBy("t.tx_count", "bigint", true, "t.supplier_id"),
		"relevance":              sortBy("public.word_similarity(intake.fold(@q), x.search_name)", "real", true, "x.supplier_id"),
	}
}

// dateType is SQL's date type, a sort key's type by name.
const dateType = "date"

func transactionSorts() map[string]sortKey {
	return map[string]sortKey{
		"date desc": sortBy("x.tx_date", dateType, true, "x.transaction_id"),
		"date":      sortBy("x.tx_date", dateType, false, "x.transaction_id"),
		// The amount in ten-thousandths (migration 0006): bigint's comparisons
		// are leakproof, so the keyset bounds the index scan under the policy.
		// The cursor holds the amount as shown.
		"amount_usd desc": amountKey(true),
		"amount_usd":      amountKey(false),
	}
}

func sortBy(expr, typ string, desc bool, id string) sortKey {
	return sortKey{expr: expr, typ: typ, desc: desc, id: id}
}

func amountKey(desc bool) sortKey {
	k := sortBy("x.amount_e4", "bigint", desc, "x.transaction_id")
	k.cursor, k.fromCursor = "x.amount_usd::text", "(%s::numeric * 10000)::bigint"
	return k
}

// query accumulates a statement's text and its bind parameters.
type query struct {
	args pgx.NamedArgs
	n    int
}

func (q *query) arg(v any) string {
	q.n++
	name := "p" + strconv.Itoa(q.n)
	q.args[name] = v
	return "@" + name
}

// selectList returns the columns to read for fields (all when nil) and the
// scan targets for a row.
func selectList[T any](cols map[string]column[T], fields []string) ([]string, []func(*T) any) {
	var exprs []string
	var dests []func(*T) any
	seen := map[string]bool{}
	add := func(c column[T]) {
		if !seen[c.expr] {
			seen[c.expr] = true
			exprs = append(exprs, c.expr)
			dests = append(dests, c.dest)
		}
	}
	if fields == nil {
		// Sorted: the same SQL text keeps PostgreSQL's statement cache warm.
		for _, name := range slices.Sorted(maps.Keys(cols)) {
			add(cols[name])
		}
		return exprs, dests
	}
	for _, f := range fields {
		if c, ok := cols[f]; ok {
			add(c)
		}
	}
	return exprs, dests
}

// selectSQL is "SELECT head, exprs..." with the columns selectList chose.
func selectSQL(head string, exprs []string) string {
	return "SELECT " + strings.Join(append([]string{head}, exprs...), ", ")
}

// targets are the scan destinations of one row: head, then t's fields.
func targets[T any](t *T, dests []func(*T) any, head ...any) []any {
	for _, d := range dests {
		head = append(head, d(t))
	}
	return head
}

// keyedRows collects a list query's rows, each read after its id and its
// sort key as text (the cursor); the query asks for one row past the page,
// to know whether there is a next one.
type keyedRows[T any] struct {
	rows []T
	keys []string
}

func (k *keyedRows[T]) scan(dests []func(*T) any, id func(*T) *string) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var t T
			var key string
			if err := rows.Scan(targets(&t, dests, id(&t), &key)...); err != nil {
				return fmt.Errorf("scan row: %w", err)
			}
			k.rows = append(k.rows, t)
			k.keys = append(k.keys, key)
		}
		return rows.Err()
	}
}

// page is the first limit rows and, when more were read, the cursor that
// resumes after the last of them.
func (k *keyedRows[T]) page(limit int, id func(*T) *string) ([]T, []string) {
	if len(k.rows) <= limit {
		return k.rows, nil
	}
	return k.rows[:limit], []string{k.keys[limit-1], *id(&k.rows[limit-1])}
}

// keyset adds the WHERE condition that resumes after the row with the sort
// value and id in after, and returns the ORDER BY clause.
func keyset(q *query, where *[]string, sk sortKey, after []string) (string, error) {
	dir, cmp := "ASC", ">"
	if sk.desc {
		dir, cmp = "DESC", "<"
	}
	if after != nil {
		if len(after) != 2 {
			return "", errors.New("cursor has the wrong shape")
		}
		from := "%s::" + sk.typ
		if sk.fromCursor != "" {
			from = sk.fromCursor
		}
		*where = append(*where, fmt.Sprintf("(%s, %s) %s (%s, %s)", sk.expr, sk.id, cmp, fmt.Sprintf(from, q.arg(after[0])), q.arg(after[1])))
	}
	return fmt.Sprintf("%s %s, %s %s", sk.expr, dir, sk.id, dir), nil
}

// ListSuppliers reads one page of suppliers.
func (s *Store) ListSuppliers(ctx context.Context, tenant uuid.UUID, sq directory.SupplierQuery) (directory.SupplierPage, error) {
	rs, err := s.suppliersSQL(tenant, sq)
	if err != nil {
		return directory.SupplierPage{}, err
	}
	var page directory.SupplierPage
	var got keyedRows[directory.Supplier]
	id := func(s *directory.Supplier) *string { return &s.ID }
	var stmts []db.Stmt
	if sq.Text != "" {
		stmts = append(stmts, db.Stmt{SQL: fmt.Sprintf("SELECT set_config('pg_trgm.word_similarity_threshold', '%g', true)", WordSimilarity)})
	}
	stmts = append(stmts, db.Stmt{SQL: rs.stmt, Args: []any{rs.q.args}, Scan: got.scan(rs.dests, id)})
	if sq.Count {
		stmts = append(stmts, db.Stmt{SQL: rs.count, Args: []any{rs.q.args}, Scan: db.One(&page.Total)})
	}
	if err := db.InTenantBatch(ctx, s.pool, tenant, stmts...); err != nil {
		return directory.SupplierPage{}, fmt.Errorf("store.ListSuppliers: %w", err)
	}
	page.Suppliers, page.Next = got.page(sq.Limit, id)
	return page, nil
}

// readSQL is a list read's statements: the page's, the one that counts
// what its filter matches, their parameters and the page's scan targets.
type readSQL[T any] struct {
	stmt, count string
	q           *query
	dests       []func(*T) any
	// generic: run stmt with the plan PostgreSQL keeps for it (see
	// genericPlanSQL), not one planned for its arguments each time.
	generic bool
}

// genericPlanSQL makes the rest of a batch's transaction use a prepared
// statement's generic plan. PostgreSQL otherwise compares it with plans
// for each call's arguments, and for a LIMIT and OFFSET given as arguments
// the generic one looks costlier (it assumes a tenth of the rows), so every
// call is planned again: about 10 ms for a deep page over the transactions'
// partitions, twice what running it takes.
const genericPlanSQL = "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)"

// suppliersSQL is ListSuppliers' statements. Every supplier has one totals
// row: the count needs no join.
func (s *Store) suppliersSQL(tenant uuid.UUID, sq directory.SupplierQuery) (readSQL[directory.Supplier], error) {
	var rs readSQL[directory.Supplier]
	sk, ok := s.supplierSorts[sq.Order]
	if !ok {
		return rs, fmt.Errorf("store.ListSuppliers: unknown order %q", sq.Order)
	}
	q := &query{args: pgx.NamedArgs{"q": sq.Text}}
	rs.q = q
	ta := q.arg(tenant)
	exprs, dests := selectList(s.supplierColumns, sq.Fields)
	rs.dests = dests
	head := selectSQL("x.supplier_id, "+sk.text(), exprs)
	if s.readsTotals.MatchString(sk.expr) && sq.Text == "" && sq.NAICS == "" && sq.Country == "" {
		// Ordered by a total, nothing to filter on: the page is found in
		// supplier_totals alone, then its suppliers by primary key. Joined
		// first, the suppliers policy would keep the keyset condition (not
		// leakproof: numeric's <) out of the index scan.
		inner := []string{"t.tenant_id = " + ta}
		order, err := keyset(q, &inner, sk, sq.After)
		if err != nil {
			return rs, err
		}
		rs.stmt = head + fmt.Sprintf(" FROM (SELECT "+totalsCols+" FROM intake.supplier_totals t WHERE %s ORDER BY %s LIMIT %d OFFSET %d) t"+
			" JOIN intake.suppliers x ON x.tenant_id = t.tenant_id AND x.supplier_id = t.supplier_id ORDER BY %s",
			strings.Join(inner, " AND "), order, sq.Limit+1, sq.Offset, order)
		rs.count = supplierCount + "x.tenant_id = " + ta
		return rs, nil
	}
	where := []string{"x.tenant_id = " + ta}
	if sq.Text != "" {
		// Trigram word similarity finds typos; the substring test finds
		// short or partial words trigrams miss. Both use the GIN index.
		where = append(where, fmt.Sprintf("(intake.fold(@q) OPERATOR(public.<%%) x.search_name OR x.search_name LIKE '%%' || intake.fold(%s) || '%%')",
			q.arg(likeEscape(sq.Text))))
	}
	if sq.NAICS != "" {
		where = append(where, "x.naics_codes @> ARRAY["+q.arg(sq.NAICS)+"]::text[]")
	}
	if sq.Country != "" {
		where = append(where, "x.country = "+q.arg(sq.Country))
	}
	rs.count = supplierCount + strings.Join(where, " AND ")
	order, err := keyset(q, &where, sk, sq.After)
	if err != nil {
		return rs, err
	}
	rs.stmt = head + suppliersFrom + " WHERE " + strings.Join(where, " AND ") + " ORDER BY " + order
	rs.stmt += fmt.Sprintf(" LIMIT %d OFFSET %d", sq.Limit+1, sq.Offset)
	return rs, nil
}

// supplierCount begins the statement that counts the suppliers a filter
// matches.
const supplierCount = "SELECT count(*) FROM intake.suppliers x WHERE "

// totalsCols are supplier_totals' columns, read where a page of suppliers
// is found in that table alone.
const totalsCols = "t.tenant_id, t.supplier_id, t.spend_usd, t.kg_co2e, t.tx_count, t.updated_at"

// likeEscape quotes LIKE's wildcards (with the default escape, backslash).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}

// Supplier reads one supplier.
func (s *Store) Supplier(ctx context.Context, tenant uuid.UUID, id string, fields []string) (directory.Supplier, error) {
	exprs, dests := selectList(s.supplierColumns, fields)
	stmt := selectSQL("x.supplier_id", exprs) + s.supplierSource(exprs) + " WHERE x.tenant_id = $1 AND x.supplier_id = $2"
	var sup directory.Supplier
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: stmt, Args: []any{tenant, id}, Scan: db.One(targets(&sup, dests, &sup.ID)...)})
	return sup, db.NotFound(err, "store.Supplier", directory.ErrSupplierNotFound)
}

// SuppliersByID reads the suppliers named, with the fields given (nil: all),
// in one query; unknown ids are left out.
func (s *Store) SuppliersByID(ctx context.Context, tenant uuid.UUID, ids []string, fields []string) ([]directory.Supplier, error) {
	exprs, dests := selectList(s.supplierColumns, fields)
	stmt := selectSQL("x.supplier_id", exprs) + s.supplierSource(exprs) + " WHERE x.tenant_id = $1 AND x.supplier_id = ANY($2) ORDER BY x.supplier_id"
	var out []directory.Supplier
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: stmt, Args: []any{tenant, ids}, Scan: db.Collect(&out, func(r pgx.CollectableRow) (directory.Supplier, error) {
		var sup directory.Supplier
		if err := r.Scan(targets(&sup, dests, &sup.ID)...); err != nil {
			return sup, fmt.Errorf("scan supplier: %w", err)
		}
		return sup, nil
	})})
	if err != nil {
		return nil, fmt.Errorf("store.SuppliersByID: %w", err)
	}
	return out, nil
}

// ListTransactions reads one page of transactions.
func (s *Store) ListTransactions(ctx context.Context, tenant uuid.UUID, tq directory.TransactionQuery) (directory.TransactionPage, error) {
	rs, err := s.transactionsSQL(tenant, tq)
	if err != nil {
		return directory.TransactionPage{}, err
	}
	var page directory.TransactionPage
	var got keyedRows[directory.Transaction]
	id := func(t *directory.Transaction) *string { return &t.ID }
	var stmts []db.Stmt
	if tq.Count {
		stmts = append(stmts, db.Stmt{SQL: rs.count, Args: []any{rs.q.args}, Scan: db.One(&page.Total)})
	}
	if rs.generic {
		stmts = append(stmts, db.Stmt{SQL: genericPlanSQL})
	}
	stmts = append(stmts, db.Stmt{SQL: rs.stmt, Args: []any{rs.q.args}, Scan: got.scan(rs.dests, id)})
	if err := db.InTenantBatch(ctx, s.pool, tenant, stmts...); err != nil {
		return directory.TransactionPage{}, fmt.Errorf("store.ListTransactions: %w", err)
	}
	page.Transactions, page.Next = got.page(tq.Limit, id)
	return page, nil
}

// transactionsSQL is ListTransactions' statements; the count (countSQL)
// only when tq asks for it.
func (s *Store) transactionsSQL(tenant uuid.UUID, tq directory.TransactionQuery) (readSQL[directory.Transaction], error) {
	var rs readSQL[directory.Transaction]
	sk, ok := s.transactionSorts[tq.Order]
	if !ok {
		return rs, fmt.Errorf("store.ListTransactions: unknown order %q", tq.Order)
	}
	q := &query{args: pgx.NamedArgs{}}
	rs.q = q
	ta := q.arg(tenant)
	where := []string{"tenant_id = " + ta}
	if tq.SupplierID != "" {
		where = append(where, "supplier_id = "+q.arg(tq.SupplierID))
	}
	if tq.NAICS != "" {
		where = append(where, "naics_code = "+q.arg(tq.NAICS))
	}
	if tq.Category != 0 {
		where = append(where, "category = "+q.arg(tq.Category))
	}
	if tq.Count {
		rs.count = countSQL(q, ta, tq, where)
	}
	if !tq.Start.IsZero() {
		where = append(where, "tx_date >= "+q.arg(tq.Start))
	}
	if !tq.End.IsZero() {
		where = append(where, "tx_date <= "+q.arg(tq.End))
	}
	order, err := keyset(q, &where, sk, tq.After)
	if err != nil {
		return rs, err
	}
	exprs, dests := selectList(s.transactionColumns, tq.Fields)
	rs.dests = dests
	head := selectSQL("transaction_id, "+sk.text(), exprs)
	page := fmt.Sprintf(" LIMIT %d OFFSET %d", tq.Limit+1, tq.Offset)
	if tq.Offset > 0 && sk.expr == "x.tx_date" && tq.NAICS == "" && tq.Category == 0 {
		// A deep page skips its offset in the date index alone (the
		// tenant's, or a supplier's), then reads only its own rows: read
		// whole, every skipped row was a heap fetch. One statement for
		// every offset, with a generic plan: the lateral join is a nested
		// loop whatever LIMIT and OFFSET are.
		//nolint:unqueryvet // the lateral row goes on to head, which names its columns
		rs.stmt = head + " FROM (SELECT x.tx_date AS k_date, x.transaction_id AS k_id FROM intake.transactions x WHERE " +
			strings.Join(where, " AND ") + " ORDER BY " + order + " LIMIT " + q.arg(tq.Limit+1) + " OFFSET " + q.arg(tq.Offset) +
			") k CROSS JOIN LATERAL (SELECT * FROM intake.transactions x WHERE x.tenant_id = " + ta +
			" AND x.tx_date = k.k_date AND x.transaction_id = k.k_id LIMIT 1) x ORDER BY " + order
		rs.generic = true
		return rs, nil
	}
	rs.stmt = head + " FROM intake.transactions x WHERE " + strings.Join(where, " AND ") + " ORDER BY " + order + page
	return rs, nil
}

// countSQL counts the transactions tq's filter matches from the counters
// the insert trigger keeps (migration 0007), and from the rows only where
// they do not answer, bounded: a supplier with other filters counts that
// supplier's rows; a date range with a NAICS code or category counts the
// rows of the at most two months it cuts. others are the filter's
// conditions besides the dates, on the transactions' columns; ta is the
// tenant's argument.
func countSQL(q *query, ta string, tq directory.TransactionQuery, others []string) string {
	lo, hi := tq.Start, tq.End // hi is inclusive
	var end time.Time
	if !hi.IsZero() {
		end = hi.AddDate(0, 0, 1)
	}
	// The rows between the bounds, from inclusive and to exclusive; a zero bound is open.
	rows := func(from, to time.Time) string {
		w := slices.Clone(others)
		if !from.IsZero() {
			w = append(w, "tx_date >= "+q.arg(from))
		}
		if !to.IsZero() {
			w = append(w, "tx_date < "+q.arg(to))
		}
		return "(SELECT count(*) FROM intake.transactions x WHERE " + strings.Join(w, " AND ") + ")"
	}
	sum := func(table string, where []string) string {
		return "(SELECT coalesce(sum(n), 0)::bigint FROM intake." + table + " WHERE " + strings.Join(where, " AND ") + ")"
	}
	dated := !lo.IsZero() || !hi.IsZero()
	switch {
	case len(others) == 1:
		w := []string{"tenant_id = " + ta}
		if !lo.IsZero() {
			w = append(w, "tx_date >= "+q.arg(lo))
		}
		if !hi.IsZero() {
			w = append(w, "tx_date <= "+q.arg(hi))
		}
		return "SELECT " + sum("transaction_days", w)
	case tq.SupplierID != "" && len(others) == 2 && !dated:
		return "SELECT " + sum("transaction_suppliers", []string{"tenant_id = " + ta, "supplier_id = " + q.arg(tq.SupplierID)})
	case tq.SupplierID != "":
		return "SELECT " + rows(lo, end)
	}
	whole, cutLo, cutHi := wholeMonths(lo, hi)
	if whole == nil {
		return "SELECT " + rows(lo, end)
	}
	w := []string{"tenant_id = " + ta}
	if tq.NAICS != "" {
		w = append(w, "naics_code = "+q.arg(tq.NAICS))
	}
	if tq.Category != 0 {
		w = append(w, "category = "+q.arg(tq.Category))
	}
	if !whole[0].IsZero() {
		w = append(w, "month >= "+q.arg(whole[0]))
	}
	if !whole[1].IsZero() {
		w = append(w, "month < "+q.arg(whole[1]))
	}
	stmt := "SELECT " + sum("transaction_codes", w)
	if cutLo {
		stmt += " + " + rows(lo, whole[0])
	}
	if cutHi {
		stmt += " + " + rows(whole[1], end)
	}
	return stmt
}

// wholeMonths are the first days of the first month inside [lo, hi] and of
// the month after the last one (zero when lo or hi is), nil if no month is
// wholly inside; cutLo and cutHi say whether the range starts or ends part
// way through a month.
func wholeMonths(lo, hi time.Time) (whole []time.Time, cutLo, cutHi bool) {
	first := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) }
	var from, to time.Time
	if !lo.IsZero() {
		if from = first(lo); from.Before(lo) {
			from, cutLo = from.AddDate(0, 1, 0), true
		}
	}
	if !hi.IsZero() {
		end := hi.AddDate(0, 0, 1)
		to = first(end)
		cutHi = to.Before(end)
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return nil, false, false
	}
	return []time.Time{from, to}, cutLo, cutHi
}

// Transaction reads one transaction; an id stored under two dates answers
// with the earliest, as the calculator's results do.
func (s *Store) Transaction(ctx context.Context, tenant uuid.UUID, id string, fields []string) (directory.Transaction, error) {
	exprs, dests := selectList(s.transactionColumns, fields)
	stmt := selectSQL("transaction_id", exprs) + " FROM intake.transactions WHERE tenant_id = $1 AND transaction_id = $2 ORDER BY tx_date LIMIT 1"
	var t directory.Transaction
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: stmt, Args: []any{tenant, id}, Scan: db.One(targets(&t, dests, &t.ID)...)})
	return t, db.NotFound(err, "store.Transaction", directory.ErrTransactionNotFound)
}

var _ directory.Store = (*Store)(nil)
