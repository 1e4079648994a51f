package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
)

const supplierFactorCols = `id, supplier_id, kind, product_id, declared_unit, value::text, reporting_year, verified,
	coalesce(primary_data_share::text, ''), boundary, valid_from, valid_to, create_time, coalesce(recalculation_id, 0)`

func scanSupplierFactor(row pgx.CollectableRow) (calculator.SupplierFactor, error) {
	var f calculator.SupplierFactor
	if err := row.Scan(&f.ID, &f.SupplierID, &f.Kind, &f.ProductID, &f.DeclaredUnit, &f.Value, &f.ReportingYear, &f.Verified,
		&f.PrimaryShare, &f.Boundary, &f.ValidFrom, &f.ValidTo, &f.CreateTime, &f.Recalculation); err != nil {
		return f, fmt.Errorf("scan supplier factor: %w", err)
	}
	return f, nil
}

func (s *Store) SupplierFactorsOf(ctx context.Context, tenant uuid.UUID, suppliers []string) ([]calculator.SupplierFactor, error) {
	var out []calculator.SupplierFactor
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: `SELECT ` + supplierFactorCols + `
		FROM calculator.supplier_factors WHERE tenant_id = $1 AND supplier_id = ANY($2)
		ORDER BY supplier_id, valid_from DESC, id DESC`, Args: []any{tenant, suppliers}, Scan: db.Collect(&out, scanSupplierFactor)})
	if err != nil {
		return nil, fmt.Errorf("store.SupplierFactorsOf: %w", err)
	}
	return out, nil
}

func (s *Store) SupplierFactor(ctx context.Context, tenant uuid.UUID, id int64) (calculator.SupplierFactor, error) {
	var f calculator.SupplierFactor
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: `SELECT ` + supplierFactorCols + `
		FROM calculator.supplier_factors WHERE tenant_id = $1 AND id = $2`, Args: []any{tenant, id},
		Scan: db.OneRow(func(row pgx.Row) error {
			var err error
			f, err = scanSupplierFactor(row.(pgx.CollectableRow))
			return err
		})})
	if err := db.NotFound(err, "store.SupplierFactor", calculator.ErrSupplierFactorNotFound); err != nil {
		return f, err
	}
	err = s.supplierGases(ctx, tenant, []*calculator.SupplierFactor{&f})
	return f, err
}

func (s *Store) ListSupplierFactors(ctx context.Context, tenant uuid.UUID, f calculator.FactorFilter, limit int, after int64) ([]calculator.SupplierFactor, error) {
	var out []calculator.SupplierFactor
	var since *time.Time
	if !f.Since.IsZero() {
		since = &f.Since
	}
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: `SELECT ` + supplierFactorCols + `
		FROM calculator.supplier_factors
		WHERE tenant_id = $1 AND ($2::text[] IS NULL OR supplier_id = ANY($2)) AND ($3 = 0 OR id < $3)
			AND ($5::timestamptz IS NULL OR create_time >= $5)
		ORDER BY id DESC LIMIT $4`, Args: []any{tenant, f.Suppliers, after, limit, since}, Scan: db.Collect(&out, scanSupplierFactor)})
	if err != nil {
		return nil, fmt.Errorf("store.ListSupplierFactors: %w", err)
	}
	ps := make([]*calculator.SupplierFactor, len(out))
	for i := range out {
		ps[i] = &out[i]
	}
	return out, s.supplierGases(ctx, tenant, ps)
}

// supplierGases fills the figures' gases from their factors.
func (s *Store) supplierGases(ctx context.Context, tenant uuid.UUID, fs []*calculator.SupplierFactor) error {
	if len(fs) == 0 {
		return nil
	}
	byCode := map[string]*calculator.SupplierFactor{}
	codes := make([]string, len(fs))
	for i, f := range fs {
		codes[i] = f.Code()
		byCode[codes[i]] = f
	}
	var code, gas, value string
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: `SELECT g.code, g.gas, g.value::text
		FROM calculator.factor_gases g JOIN calculator.factor_sets s ON s.id = g.factor_set_id
		WHERE s.tenant_id = $1 AND s.name = $2 AND g.code = ANY($3) ORDER BY g.code, g.gas`,
		Args: []any{tenant, calculator.SupplierSet, codes}, Scan: func(rows pgx.Rows) error {
			if _, err := pgx.ForEachRow(rows, []any{&code, &gas, &value}, func() error {
				f := byCode[code]
				f.Gases = append(f.Gases, calculator.Gas{Gas: gas, Value: value})
				return nil
			}); err != nil {
				return fmt.Errorf("read gases: %w", err)
			}
			return nil
		}})
	if err != nil {
		return fmt.Errorf("supplier gases: %w", err)
	}
	return nil
}

// errRepeated rolls back a create whose request id a concurrent one
// recorded first.
var errRepeated = errors.New("request id recorded by another create")

// supplierFactorOfRequest is the factor the create with request id made.
func (s *Store) supplierFactorOfRequest(ctx context.Context, tenant uuid.UUID, request string) (calculator.SupplierFactor, error) {
	var id int64
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT id FROM calculator.supplier_factors WHERE tenant_id = $1 AND request_id = $2`, tenant, request).Scan(&id)
	})
	if err := db.NotFound(err, "store.supplierFactorOfRequest", calculator.ErrSupplierFactorNotFound); err != nil {
		return calculator.SupplierFactor{}, err
	}
	return s.SupplierFactor(ctx, tenant, id)
}

// CreateSupplierFactor stores the figure, then its factor 'sf-{id}' (f's
// code is set here) and gases in the tenant's supplier set, made with the
// tenant's first figure.
func (s *Store) CreateSupplierFactor(ctx context.Context, tenant uuid.UUID, sf calculator.SupplierFactor, f factors.Factor) (calculator.SupplierFactor, error) {
	if sf.RequestID != "" {
		earlier, err := s.supplierFactorOfRequest(ctx, tenant, sf.RequestID)
		if !errors.Is(err, calculator.ErrSupplierFactorNotFound) {
			return earlier, err
		}
	}
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var set int16
		err := tx.QueryRow(ctx, `WITH ins AS (
				INSERT INTO calculator.factor_sets (tenant_id, name, display_name, publisher, version, unit, source, region, gas_unit, licence, kind)
				VALUES ($1, $2, 'Supplier-specific data', 'the tenant''s suppliers', 'live', 'kg CO2e per unit (each factor''s)',
					'supplier figures registered through /v1/supplierFactors', '', 'kg', 'the supplier''s', 'supplier')
				ON CONFLICT (tenant_id, name) WHERE tenant_id IS NOT NULL DO NOTHING RETURNING id)
			SELECT id FROM ins UNION ALL SELECT id FROM calculator.factor_sets WHERE tenant_id = $1 AND name = $2`,
			tenant, calculator.SupplierSet).Scan(&set)
		if err != nil {
			return fmt.Errorf("supplier set: %w", err)
		}
		// The id first: the recalculation names the factor, and the factor
		// its recalculation.
		if err := tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('calculator.supplier_factors', 'id'))`).Scan(&sf.ID); err != nil {
			return fmt.Errorf("supplier factor id: %w", err)
		}
		// The supplier's stored lines are recalculated with it, queued in
		// the same transaction: the figure is not there without its job.
		var stored bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM calculator.emission_totals WHERE tenant_id = $1 AND dim = 1 AND key = $2 AND tx_count <> 0)`,
			tenant, sf.SupplierID).Scan(&stored); err != nil {
			return fmt.Errorf("look up stored lines: %w", err)
		}
		if stored {
			if sf.Recalculation, err = s.insertRecalc(ctx, tx, tenant, calculator.Recalculation{SupplierID: sf.SupplierID,
				Reason: fmt.Sprintf("supplier factor supplierFactors/%d registered", sf.ID)}); err != nil {
				return err
			}
		}
		// A create repeating a request id waits here for the first one's
		// commit, then inserts nothing and is rolled back (its
		// recalculation with it).
		rows, err := tx.Query(ctx, `INSERT INTO calculator.supplier_factors (id, tenant_id, supplier_id, kind, product_id, declared_unit, value,
				reporting_year, verified, primary_data_share, boundary, valid_from, valid_to, factor_set_id, request_id, recalculation_id)
			OVERRIDING SYSTEM VALUE
			VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9, nullif($10, '')::numeric, $11, $12, $13, $14, nullif($15, ''), nullif($16, 0))
			ON CONFLICT (tenant_id, request_id) WHERE request_id IS NOT NULL DO NOTHING RETURNING create_time`,
			sf.ID, tenant, sf.SupplierID, sf.Kind, sf.ProductID, sf.DeclaredUnit, sf.Value, sf.ReportingYear, sf.Verified, sf.PrimaryShare,
			sf.Boundary, sf.ValidFrom, sf.ValidTo, set, sf.RequestID, sf.Recalculation)
		if err != nil {
			return fmt.Errorf("insert supplier factor: %w", err)
		}
		if sf.CreateTime, err = pgx.CollectExactlyOneRow(rows, pgx.RowTo[time.Time]); errors.Is(err, pgx.ErrNoRows) {
			return errRepeated
		} else if err != nil {
			return fmt.Errorf("insert supplier factor: %w", err)
		}
		f.Code = sf.Code()
		if _, err := tx.Exec(ctx, `INSERT INTO calculator.factors (factor_set_id, tenant_id, code, title, value, unit, value_ar4, value_ar6)
			VALUES ($1, $2, $3, $4, $5::numeric, $6, $7::numeric, $8::numeric)`, set, tenant, f.Code, f.Title, f.Value, f.Unit, f.AR4, f.AR6); err != nil {
			return fmt.Errorf("insert factor: %w", err)
		}
		for _, g := range f.Gases {
			if _, err := tx.Exec(ctx, `INSERT INTO calculator.factor_gases (factor_set_id, tenant_id, code, gas, value)
				VALUES ($1, $2, $3, $4, $5::numeric)`, set, tenant, f.Code, g.Gas, g.Value); err != nil {
				return fmt.Errorf("insert gas %s: %w", g.Gas, err)
			}
		}
		return nil
	})
	if errors.Is(err, errRepeated) {
		return s.supplierFactorOfRequest(ctx, tenant, sf.RequestID)
	}
	if err != nil {
		return sf, fmt.Errorf("store.CreateSupplierFactor: %w", err)
	}
	return sf, nil
}

// inventoryCols read an inventory group g (key, kg columns, spend, count)
// joined to its set s. The key is 'category|set id|method|indicators|code'
// (calculator.InventoryKey): scanInventoryRow takes it apart, and
// InventoryGroups sorts by it, in Go: in SQL the parsing and the text sort
// were four fifths of the statement's time.
const inventoryCols = `g.key, s.name, g.kg::text, g.kg4::text, g.kg6::text, g.spend::text, g.n`

// keyedRow is an inventory group with its key, to sort by.
type keyedRow struct {
	key string
	row calculator.InventoryRow
}

func scanInventoryRow(row pgx.CollectableRow) (keyedRow, error) {
	var k keyedRow
	r := &k.row
	if err := row.Scan(&k.key, &r.Set, &r.Kg, &r.Kg4, &r.Kg6, &r.Spend, &r.Count); err != nil {
		return k, fmt.Errorf("scan inventory group: %w", err)
	}
	return k, parseGroupKey(k.key, r)
}

// parseGroupKey reads a group's category, method, indicators and code
// from its key into r.
func parseGroupKey(key string, r *calculator.InventoryRow) error {
	parts := strings.SplitN(key, "|", 5)
	if len(parts) != 5 {
		return fmt.Errorf("inventory group key %q: want category|set|method|indicators|code", key)
	}
	cat, err := strconv.ParseInt(parts[0], 10, 16)
	if err != nil {
		return fmt.Errorf("inventory group key %q: category: %w", key, err)
	}
	dq, err := strconv.ParseInt(parts[3], 10, 32)
	if err != nil {
		return fmt.Errorf("inventory group key %q: indicators: %w", key, err)
	}
	r.Category, r.Method, r.DQ, r.Code = int16(cat), parts[2], int32(dq), parts[4]
	return nil
}

// outside finds a month with data (summary dimension 4) outside the
// months $2 to $3.
const outside = `SELECT 1 FROM calculator.emission_totals WHERE tenant_id = $1 AND dim = 4 AND tx_count <> 0
	AND (key < to_char($2::date, 'YYYY-MM') OR key > to_char($3::date, 'YYYY-MM'))`

// InventoryGroups reads the groups now (from the totals), of a period's
// months (inventory_months), as of a day (the daily log's days up to it; a
// period's months from monthsAsOf) or of a snapshot (its copy, or its
// months').
func (s *Store) InventoryGroups(ctx context.Context, tenant uuid.UUID, at calculator.InventoryAt) (calculator.InventoryData, error) {
	var out calculator.InventoryData
	var src string
	args := []any{tenant}
	head := db.Stmt{SQL: `SELECT coalesce((SELECT gwp_basis FROM calculator.tenant_settings WHERE tenant_id = $1), 'AR5'), now(), true`, Args: []any{tenant}}
	switch {
	case at.Snapshot != 0 && at.Period():
		src = `SELECT key, sum(kg_co2e) AS kg, sum(kg_co2e_ar4) AS kg4, sum(kg_co2e_ar6) AS kg6, sum(spend_usd) AS spend, sum(tx_count) AS n
			FROM calculator.inventory_snapshot_months WHERE tenant_id = $1 AND snapshot_id = $2 AND month BETWEEN $3 AND $4 GROUP BY key`
		args = append(args, at.Snapshot, at.From, at.To)
		head = db.Stmt{SQL: `SELECT gwp_basis, create_time, months FROM calculator.inventory_snapshots WHERE tenant_id = $1 AND id = $2`, Args: args[:2]}
	case at.Snapshot != 0:
		src = `SELECT key, kg_co2e AS kg, kg_co2e_ar4 AS kg4, kg_co2e_ar6 AS kg6, spend_usd AS spend, tx_count AS n
			FROM calculator.inventory_snapshot_groups WHERE tenant_id = $1 AND snapshot_id = $2`
		args = append(args, at.Snapshot)
		head = db.Stmt{SQL: `SELECT gwp_basis, create_time, months FROM calculator.inventory_snapshots WHERE tenant_id = $1 AND id = $2`, Args: args}
	case !at.Day.IsZero() && at.Period():
		src = `SELECT key, sum(kg_co2e) AS kg, sum(kg_co2e_ar4) AS kg4, sum(kg_co2e_ar6) AS kg6, sum(spend_usd) AS spend, sum(tx_count) AS n
			FROM (` + monthsAsOf + `) m GROUP BY key`
		args = append(args, at.Day, at.From, at.To)
	case at.Period():
		// A period holding every month with data is every group: then the
		// groups' totals are read, a row a group, not a row a month.
		src = `SELECT key, sum(kg_co2e) AS kg, sum(kg_co2e_ar4) AS kg4, sum(kg_co2e_ar6) AS kg6, sum(spend_usd) AS spend, sum(tx_count) AS n
			FROM calculator.inventory_months WHERE tenant_id = $1 AND month BETWEEN $2 AND $3 AND EXISTS (` + outside + `) GROUP BY key
			UNION ALL
			SELECT key, kg_co2e, coalesce(kg_co2e_ar4, kg_co2e), coalesce(kg_co2e_ar6, kg_co2e), spend_usd, tx_count
			FROM calculator.emission_totals WHERE tenant_id = $1 AND dim = 5 AND NOT EXISTS (` + outside + `)`
		args = append(args, at.From, at.To)
	case !at.Day.IsZero():
		src = `SELECT key, sum(kg_co2e) AS kg, sum(kg_co2e_ar4) AS kg4, sum(kg_co2e_ar6) AS kg6, sum(spend_usd) AS spend, sum(tx_count) AS n
			FROM calculator.emission_totals_log WHERE tenant_id = $1 AND day <= $2 GROUP BY key`
		args = append(args, at.Day)
	default:
		src = `SELECT key, kg_co2e AS kg, coalesce(kg_co2e_ar4, kg_co2e) AS kg4, coalesce(kg_co2e_ar6, kg_co2e) AS kg6, spend_usd AS spend, tx_count AS n
			FROM calculator.emission_totals WHERE tenant_id = $1 AND dim = 5`
	}
	var basis string
	var months bool
	var rows []keyedRow
	head.Scan = db.OneRow(func(row pgx.Row) error { return row.Scan(&basis, &out.ReadTime, &months) })
	stmts := []db.Stmt{head, {SQL: `SELECT ` + inventoryCols + ` FROM (` + src + `) g
		JOIN calculator.factor_sets s ON s.id = split_part(g.key, '|', 2)::smallint
		WHERE g.n <> 0`, Args: args, Scan: db.Collect(&rows, scanInventoryRow)}}
	// As of a day, months are read from the day the tenant's months log
	// starts.
	var logStart *time.Time
	if !at.Day.IsZero() && (at.Period() || at.Months) {
		stmts = append(stmts, db.Stmt{SQL: `SELECT (SELECT day FROM calculator.inventory_months_log_start WHERE tenant_id = $1)`,
			Args: []any{tenant}, Scan: db.One(&logStart)})
	}
	if at.Months {
		stmts = append(stmts, monthsStmt(tenant, at, &out.Months))
	}
	err := db.InTenantBatch(ctx, s.pool, tenant, stmts...)
	if err := db.NotFound(err, "store.InventoryGroups", calculator.ErrSnapshotNotFound); err != nil {
		return out, err
	}
	if !months {
		const why = "snapshot %d was recorded before snapshots kept their months: it is read whole, without a period or months"
		switch {
		case at.Period():
			return calculator.InventoryData{}, apperr.Invalid("period_start", why, at.Snapshot)
		case at.Months:
			return calculator.InventoryData{}, apperr.Invalid("include_months", why, at.Snapshot)
		}
	}
	if logStart != nil && at.Day.Before(*logStart) {
		const why = "months are logged from %s: as of %s the inventory is read whole, without a period or months"
		field := "include_months"
		if at.Period() {
			field = "period_start"
		}
		return calculator.InventoryData{}, apperr.Invalid(field, why, logStart.Format(time.DateOnly), at.Day.Format(time.DateOnly))
	}
	// By key, bytewise (as PostgreSQL's C collation would).
	slices.SortFunc(rows, func(a, b keyedRow) int { return strings.Compare(a.key, b.key) })
	out.Rows = make([]calculator.InventoryRow, len(rows))
	for i, k := range rows {
		out.Rows[i] = k.row
	}
	out.Basis = refdata.Basis(basis)
	if !at.Day.IsZero() { // what a day's read says does not depend on when it is made
		out.ReadTime = at.Day.AddDate(0, 0, 1)
	}
	return out, nil
}

// monthsAsOf are the months' groups ($3 to $4) at the end of day $2: a
// group as it is if it has not changed since, else as at the end of its
// latest logged day up to $2 (none: made after $2, left out). Only the
// groups changed since are looked up in the log.
const monthsAsOf = `SELECT month, key, kg_co2e, kg_co2e_ar4, kg_co2e_ar6, spend_usd, tx_count
	FROM calculator.inventory_months WHERE tenant_id = $1 AND month BETWEEN $3 AND $4 AND day <= $2
	UNION ALL
	(SELECT DISTINCT ON (l.month, l.key) l.month, l.key, l.kg_co2e, l.kg_co2e_ar4, l.kg_co2e_ar6, l.spend_usd, l.tx_count
	FROM calculator.inventory_months m
	JOIN calculator.inventory_months_log l ON l.tenant_id = $1 AND l.month = m.month AND l.key = m.key AND l.day <= $2
	WHERE m.tenant_id = $1 AND m.month BETWEEN $3 AND $4 AND m.day > $2
	ORDER BY l.month, l.key, l.day DESC)`

// monthsStmt reads at's months (in its period, if any) into out: now from
// the month totals (summary dimension 4), from a snapshot's months, or as
// of a day from the months log.
func monthsStmt(tenant uuid.UUID, at calculator.InventoryAt, out *[]calculator.MonthRow) db.Stmt {
	from, to := at.From, at.To
	if !at.Period() {
		from, to = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 1, 0, 0, 0, 0, time.UTC)
	}
	st := db.Stmt{SQL: `SELECT (key || '-01')::date, kg_co2e::text, coalesce(kg_co2e_ar4, kg_co2e)::text, coalesce(kg_co2e_ar6, kg_co2e)::text, tx_count
		FROM calculator.emission_totals WHERE tenant_id = $1 AND dim = 4 AND tx_count <> 0
			AND key BETWEEN to_char($2::date, 'YYYY-MM') AND to_char($3::date, 'YYYY-MM') ORDER BY key`, Args: []any{tenant, from, to}}
	switch {
	case at.Snapshot != 0:
		st = db.Stmt{SQL: `SELECT month, sum(kg_co2e)::text, sum(kg_co2e_ar4)::text, sum(kg_co2e_ar6)::text, sum(tx_count)
			FROM calculator.inventory_snapshot_months WHERE tenant_id = $1 AND month BETWEEN $2 AND $3 AND snapshot_id = $4
			GROUP BY month HAVING sum(tx_count) <> 0 ORDER BY month`, Args: []any{tenant, from, to, at.Snapshot}}
	case !at.Day.IsZero():
		st = db.Stmt{SQL: `SELECT month, sum(kg_co2e)::text, sum(kg_co2e_ar4)::text, sum(kg_co2e_ar6)::text, sum(tx_count)
			FROM (` + monthsAsOf + `) m GROUP BY month HAVING sum(tx_count) <> 0 ORDER BY month`, Args: []any{tenant, at.Day, from, to}}
	}
	st.Scan = db.Collect(out, func(row pgx.CollectableRow) (calculator.MonthRow, error) {
		var m calculator.MonthRow
		if err := row.Scan(&m.Month, &m.Kg, &m.Kg4, &m.Kg6, &m.Count); err != nil {
			return m, fmt.Errorf("scan inventory month: %w", err)
		}
		return m, nil
	})
	return st
}

// snapshotCols read a snapshot n with its total under its basis.
const snapshotCols = `n.id, n.display_name, n.gwp_basis, n.create_time, n.months, n.suppliers,
	coalesce((SELECT round(sum(CASE n.gwp_basis WHEN 'AR4' THEN g.kg_co2e_ar4 WHEN 'AR6' THEN g.kg_co2e_ar6 ELSE g.kg_co2e END), 7)
		FROM calculator.inventory_snapshot_groups g WHERE g.snapshot_id = n.id), 0)::text,
	coalesce((SELECT sum(g.tx_count) FROM calculator.inventory_snapshot_groups g WHERE g.snapshot_id = n.id), 0)::bigint`

func scanSnapshot(row pgx.CollectableRow) (calculator.Snapshot, error) {
	var n calculator.Snapshot
	var basis string
	if err := row.Scan(&n.ID, &n.Name, &basis, &n.CreateTime, &n.Months, &n.Suppliers, &n.Kg, &n.Count); err != nil {
		return n, fmt.Errorf("scan snapshot: %w", err)
	}
	n.Basis = refdata.Basis(basis)
	return n, nil
}

// CreateSnapshot copies the inventory's groups under a new name, in one
// transaction: the copy is the inventory at one instant.
func (s *Store) CreateSnapshot(ctx context.Context, tenant uuid.UUID, name string) (calculator.Snapshot, error) {
	var out calculator.Snapshot
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO calculator.inventory_snapshots (tenant_id, display_name, gwp_basis, months, suppliers)
			VALUES ($1, $2, coalesce((SELECT gwp_basis FROM calculator.tenant_settings WHERE tenant_id = $1), 'AR5'), true, true)
			ON CONFLICT (tenant_id, display_name) DO NOTHING RETURNING id`, tenant, name).Scan(&id); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return calculator.ErrSnapshotExists
			}
			return fmt.Errorf("insert snapshot: %w", err)
		}
		// One statement: the groups, their months and the summaries' months
		// are of one instant.
		if _, err := tx.Exec(ctx, `WITH g AS (
				INSERT INTO calculator.inventory_snapshot_groups
					(snapshot_id, tenant_id, key, kg_co2e, kg_co2e_ar4, kg_co2e_ar6, spend_usd, tx_count)
				SELECT $2, tenant_id, key, kg_co2e, coalesce(kg_co2e_ar4, kg_co2e), coalesce(kg_co2e_ar6, kg_co2e), spend_usd, tx_count
				FROM calculator.emission_totals WHERE tenant_id = $1 AND dim = 5 AND tx_count <> 0
			), s AS (
				INSERT INTO calculator.snapshot_summary_months
					(snapshot_id, tenant_id, dim, month, key, kg_co2e, kg_co2e_ar4, kg_co2e_ar6, spend_usd, tx_count)
				SELECT $2, tenant_id, dim, month, key, kg_co2e, kg_co2e_ar4, kg_co2e_ar6, spend_usd, tx_count
				FROM calculator.summary_months WHERE tenant_id = $1 AND tx_count <> 0)
			INSERT INTO calculator.inventory_snapshot_months
				(snapshot_id, tenant_id, month, key, kg_co2e, kg_co2e_ar4, kg_co2e_ar6, spend_usd, tx_count)
			SELECT $2, tenant_id, month, key, kg_co2e, kg_co2e_ar4, kg_co2e_ar6, spend_usd, tx_count
			FROM calculator.inventory_months WHERE tenant_id = $1 AND tx_count <> 0`, tenant, id); err != nil {
			return fmt.Errorf("copy groups: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT `+snapshotCols+` FROM calculator.inventory_snapshots n WHERE n.id = $1`, id)
		if err != nil {
			return fmt.Errorf("read snapshot: %w", err)
		}
		if out, err = pgx.CollectExactlyOneRow(rows, scanSnapshot); err != nil {
			return fmt.Errorf("read snapshot: %w", err)
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, calculator.ErrSnapshotExists) {
			err = fmt.Errorf("store.CreateSnapshot: %w", err)
		}
		return out, err
	}
	// A snapshot is read right after it is recorded (a hotspot pack of it):
	// without statistics of its rows, PostgreSQL filtered a supplier's keys
	// instead of looking them up (89 against 19 ms for the methods of 100
	// suppliers at 100k lines). Best effort, as the tables' owner;
	// autovacuum comes later where it is on.
	_, _ = s.pool.Exec(ctx, `ANALYZE calculator.snapshot_summary_months`)
	return out, nil
}

func (s *Store) Snapshots(ctx context.Context, tenant uuid.UUID) ([]calculator.Snapshot, error) {
	var out []calculator.Snapshot
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: `SELECT ` + snapshotCols + `
		FROM calculator.inventory_snapshots n WHERE n.tenant_id = $1 ORDER BY n.id DESC`, Args: []any{tenant},
		Scan: db.Collect(&out, scanSnapshot)})
	if err != nil {
		return nil, fmt.Errorf("store.Snapshots: %w", err)
	}
	return out, nil
}
