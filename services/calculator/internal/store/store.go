// Package store is the calculator's PostgreSQL persistence.
package store

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/refdata"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
	"github.com/vcci-dev/vcci/services/calculator/internal/factors"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ResultsTable is the partitioned results table, kept partitioned ahead.
const ResultsTable = "calculator.emission_results"

// Migrate creates or updates the calculator schema and loads the shipped
// factor sets.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := db.Migrate(ctx, pool, "calculator", migrations); err != nil {
		return err
	}
	for _, set := range factors.Shipped() {
		if err := LoadSet(ctx, pool, set); err != nil {
			return err
		}
	}
	if err := backfillBases(ctx, pool); err != nil {
		return err
	}
	return migrateRiver(ctx, pool)
}

// LoadSet loads a public factor set once; a set already loaded keeps its
// factors (a new version is a new set, so results keep pointing at what
// they used) and only gains what later versions of vcci record of the same
// published values: its price year, its factors' gases and their CO2e
// under AR4 and AR6.
func LoadSet(ctx context.Context, pool *pgxpool.Pool, set factors.Set) error {
	var base *string
	if set.PriceYear != 0 {
		b, err := priceBase(set.PriceYear)
		if err != nil {
			return fmt.Errorf("store.LoadSet: %w", err)
		}
		base = &b
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE calculator.factor_sets IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("lock factor sets: %w", err)
		}
		var id int16
		var complete bool
		err := db.NotFound(tx.QueryRow(ctx, `SELECT id, (price_year IS NOT NULL OR $2 = 0)
				AND NOT EXISTS (SELECT 1 FROM calculator.factors f WHERE f.factor_set_id = s.id AND f.value_ar4 IS NULL)
			FROM calculator.factor_sets s WHERE name = $1 AND tenant_id IS NULL`, set.Name, set.PriceYear).Scan(&id, &complete),
			"look up set", calculator.ErrSetNotFound)
		switch {
		case err == nil && complete:
			return nil // the usual start: the published factors are not even parsed
		case err != nil && !errors.Is(err, calculator.ErrSetNotFound):
			return err
		}
		fs, ferr := set.Factors()
		if ferr != nil {
			return fmt.Errorf("read the factors: %w", ferr)
		}
		if err == nil {
			return completeSet(ctx, tx, id, set, base, fs)
		}
		return insertSet(ctx, tx, nil, set, base, fs)
	})
	if err != nil {
		return fmt.Errorf("store.LoadSet: %w", err)
	}
	return nil
}

// stageFactors copies fs, and their gases, into temporary tables.
func stageFactors(ctx context.Context, tx pgx.Tx, id int16, fs []factors.Factor) error {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE factor_stage (factor_set_id smallint, code text, title text, value text, category smallint,
			unit text, region text, ar4 text, ar6 text) ON COMMIT DROP;
		CREATE TEMP TABLE gas_stage (factor_set_id smallint, code text, gas text, value text) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("create stage: %w", err)
	}
	rows := make([][]any, len(fs))
	var gases [][]any
	for i, f := range fs {
		rows[i] = []any{id, f.Code, f.Title, f.Value, f.Category, f.Unit, f.Region, f.AR4, f.AR6}
		for _, g := range f.Gases {
			gases = append(gases, []any{id, f.Code, g.Gas, g.Value})
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"factor_stage"}, strings.Fields("factor_set_id code title value category unit region ar4 ar6"),
		pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("stage factors: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"gas_stage"}, strings.Fields("factor_set_id code gas value"), pgx.CopyFromRows(gases)); err != nil {
		return fmt.Errorf("stage gases: %w", err)
	}
	return nil
}

// insertSet stores a new set, its factors and their gases, public (tenant
// nil) or the tenant's.
func insertSet(ctx context.Context, tx pgx.Tx, tenant *uuid.UUID, set factors.Set, base *string, fs []factors.Factor) error {
	var id int16
	err := tx.QueryRow(ctx, `INSERT INTO calculator.factor_sets (tenant_id, name, display_name, publisher, version, unit, source, region, data_year,
			price_year, price_index_base, gas_unit, licence, kind)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, nullif($10, 0), $11, $12, $13, $14) RETURNING id`,
		tenant, set.Name, set.DisplayName, set.Publisher, set.Version, set.Unit, set.Source, set.Region, set.Year, set.PriceYear, base,
		set.GasUnit, set.Licence, string(set.Kind)).Scan(&id)
	if err != nil {
		return fmt.Errorf("insert set: %w", err)
	}
	if err := stageFactors(ctx, tx, id, fs); err != nil {
		return err
	}
	if _, err = tx.Exec(ctx, `INSERT INTO calculator.factors (factor_set_id, tenant_id, code, title, value, category, unit, region, value_ar4, value_ar6)
		SELECT factor_set_id, $1::uuid, code, title, value::numeric, nullif(category, 0), nullif(unit, ''), nullif(region, ''), ar4::numeric, ar6::numeric
		FROM factor_stage`, tenant); err != nil {
		return fmt.Errorf("insert factors: %w", err)
	}
	return insertGases(ctx, tx, tenant)
}

// insertGases stores the staged gases, public (tenant nil) or the
// tenant's, and, for a public set, refreshes the planner's statistics. Every calculation
// joins its lines to the factors: without statistics (autovacuum may be
// off, or not there yet) the planner guesses a set has 3 factors, not
// 1,016, and sorts them all per batch instead of probing the key.
func insertGases(ctx context.Context, tx pgx.Tx, tenant *uuid.UUID) error {
	if _, err := tx.Exec(ctx, `INSERT INTO calculator.factor_gases (factor_set_id, tenant_id, code, gas, value)
		SELECT factor_set_id, $1::uuid, code, gas, value::numeric FROM gas_stage`, tenant); err != nil {
		return fmt.Errorf("insert gases: %w", err)
	}
	if tenant != nil {
		return nil // only the tables' owner may analyze them; the public sets keep their statistics current
	}
	if _, err := tx.Exec(ctx, `ANALYZE calculator.factor_sets, calculator.factors, calculator.factor_gases`); err != nil {
		return fmt.Errorf("analyze factors: %w", err)
	}
	return nil
}

// completeSet gives a set loaded by an earlier version of vcci what this
// one records of the same published factors: the price year, the gases and
// the re-expressed values. The published values are not touched.
func completeSet(ctx context.Context, tx pgx.Tx, id int16, set factors.Set, base *string, fs []factors.Factor) error {
	if _, err := tx.Exec(ctx, `UPDATE calculator.factor_sets SET price_year = coalesce(price_year, nullif($2, 0)),
			price_index_base = coalesce(price_index_base, $3), gas_unit = $4, licence = $5 WHERE id = $1`, id, set.PriceYear, base, set.GasUnit, set.Licence); err != nil {
		return fmt.Errorf("complete the set: %w", err)
	}
	if err := stageFactors(ctx, tx, id, fs); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE calculator.factors f SET value_ar4 = s.ar4::numeric, value_ar6 = s.ar6::numeric,
			unit = nullif(s.unit, ''), region = nullif(s.region, '')
		FROM factor_stage s WHERE f.factor_set_id = s.factor_set_id AND f.code = s.code AND f.value = s.value::numeric`); err != nil {
		return fmt.Errorf("complete factors: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM gas_stage s WHERE EXISTS (SELECT 1 FROM calculator.factor_gases g
		WHERE g.factor_set_id = s.factor_set_id AND g.code = s.code AND g.gas = s.gas)`); err != nil {
		return fmt.Errorf("complete gases: %w", err)
	}
	return insertGases(ctx, tx, nil)
}

// backfillBases gives totals rows stored before CO2e was kept
// under every GWP basis their AR4 and AR6 values, from the results and
// their factors, once, tenant by tenant. The tenant's rows are locked
// meanwhile so a concurrent calculation cannot slip between the read and
// the update.
func backfillBases(ctx context.Context, pool *pgxpool.Pool) error {
	rows, err := pool.Query(ctx, `SELECT id FROM iam.tenants`)
	if err != nil {
		return fmt.Errorf("store.backfillBases: %w", err)
	}
	tenants, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("store.backfillBases: %w", err)
	}
	for _, t := range tenants {
		if err := db.InTenant(ctx, pool, t, func(tx pgx.Tx) error { return backfillTenant(ctx, tx) }); err != nil {
			return fmt.Errorf("store.backfillBases: tenant %s: %w", t, err)
		}
	}
	return nil
}

func backfillTenant(ctx context.Context, tx pgx.Tx) error {
	var pending bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM calculator.emission_totals WHERE kg_co2e_ar4 IS NULL)`).Scan(&pending); err != nil || !pending {
		return err //nolint:wrapcheck // wrapped by backfillBases, naming the tenant
	}
	_, err := tx.Exec(ctx, `
		SELECT 1 FROM calculator.emission_totals FOR UPDATE;
		WITH g AS (
			SELECT e.supplier_id, date_trunc('month', e.tx_date)::date AS month, e.naics_code, e.category,
				sum(coalesce(e.factor_quantity, e.amount_base_usd, e.amount_usd) * f.value_ar4) AS k4,
				sum(coalesce(e.factor_quantity, e.amount_base_usd, e.amount_usd) * f.value_ar6) AS k6
			FROM calculator.emission_results e JOIN calculator.factors f ON f.factor_set_id = e.factor_set_id AND f.code = e.naics_code
			GROUP BY 1, 2, 3, 4)
		UPDATE calculator.emission_totals t SET kg_co2e_ar4 = x.k4, kg_co2e_ar6 = x.k6
		FROM (SELECT dim, key, sum(k4) AS k4, sum(k6) AS k6 FROM (
				SELECT 1 AS dim, supplier_id AS key, k4, k6 FROM g
				UNION ALL SELECT 2, category::text, k4, k6 FROM g
				UNION ALL SELECT 3, naics_code, k4, k6 FROM g
				UNION ALL SELECT 4, to_char(month, 'YYYY-MM'), k4, k6 FROM g) u
			GROUP BY 1, 2) x
		WHERE t.dim = x.dim AND t.key = x.key`)
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	return nil
}

// priceBase is the average CPI-U of year, the index of the set's dollars.
func priceBase(year int) (string, error) {
	cpi, err := refdata.CPIU()
	if err != nil {
		return "", fmt.Errorf("price base: %w", err)
	}
	base, err := cpi.YearAverage(year)
	if err != nil {
		return "", fmt.Errorf("price base: %w", err)
	}
	return base, nil
}

// Store implements calculator.Store.
type Store struct {
	pool       *pgxpool.Pool
	partitions *db.Partitions
	jobs       *river.Client[pgx.Tx] // inserts only
	// Now is the clock the inventory's daily log is kept by; tests set it.
	Now func() time.Time
}

// New returns a Store.
func New(pool *pgxpool.Pool) *Store {
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: RiverSchema})
	if err != nil {
		panic(fmt.Sprintf("store.New: river: %v", err)) // a fixed, valid config
	}
	return &Store{pool: pool, partitions: db.NewPartitions(pool), jobs: jobs, Now: time.Now}
}

// day is the UTC day changes are logged under now.
func (s *Store) day() time.Time {
	y, m, d := s.Now().UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// KeepPartitionsAhead creates the results' partitions ahead of time, daily,
// until ctx ends; Calculate then finds them known.
func (s *Store) KeepPartitionsAhead(ctx context.Context, onErr func(error)) {
	s.partitions.KeepAhead(ctx, onErr, ResultsTable)
}

func (s *Store) FactorSets(ctx context.Context, tenant uuid.UUID) ([]calculator.FactorSet, error) {
	var out []calculator.FactorSet
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: `SELECT s.name, s.display_name, s.publisher, s.version, s.unit, s.source,
			(SELECT count(*) FROM calculator.factors f WHERE f.factor_set_id = s.id), s.region, s.data_year, s.kind,
			coalesce(s.price_year, 0), coalesce(s.price_index_base::text, '')
			FROM ` + visibleSets + ` s ORDER BY s.name`, Scan: db.Collect(&out, func(r pgx.CollectableRow) (calculator.FactorSet, error) {
		var fs calculator.FactorSet
		if err := r.Scan(&fs.Name, &fs.DisplayName, &fs.Publisher, &fs.Version, &fs.Unit, &fs.Source, &fs.Count, &fs.Region, &fs.Year, &fs.Kind,
			&fs.PriceYear, &fs.PriceBase); err != nil {
			return fs, fmt.Errorf("scan factor set: %w", err)
		}
		return fs, nil
	})})
	if err != nil {
		return nil, fmt.Errorf("store.FactorSets: %w", err)
	}
	return out, nil
}

func (s *Store) Factors(ctx context.Context, tenant uuid.UUID, keys []calculator.FactorKey) ([]calculator.Factor, error) {
	sets := make([]string, len(keys))
	codes := make([]string, len(keys))
	for i, k := range keys {
		sets[i], codes[i] = k.Set, k.Code
	}
	var out []calculator.Factor
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: `
			SELECT ` + factorCols + `
			FROM unnest($1::text[], $2::text[]) AS k(set_name, code)
			JOIN ` + visibleSets + ` s ON s.name = k.set_name
			JOIN calculator.factors f ON f.factor_set_id = s.id AND f.code = k.code`, Args: []any{sets, codes}, Scan: db.Collect(&out, scanFactor)})
	if err != nil {
		return nil, fmt.Errorf("store.Factors: %w", err)
	}
	return out, nil
}

// SetFactors returns every factor of one set (none for a set the tenant
// cannot see or that does not exist).
func (s *Store) SetFactors(ctx context.Context, tenant uuid.UUID, set string) ([]calculator.Factor, error) {
	var out []calculator.Factor
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: `
			SELECT ` + factorCols + factorsFrom + `
			WHERE s.name = $1 ORDER BY f.code`, Args: []any{set}, Scan: db.Collect(&out, scanFactor)})
	if err != nil {
		return nil, fmt.Errorf("store.SetFactors: %w", err)
	}
	return out, nil
}

// factorCols are what scanFactor reads: a factor with its set's details.
const factorCols = `s.name, f.code, f.title, f.value::text, coalesce('kg CO2e/' || f.unit, s.unit), coalesce(f.unit, ''), coalesce(f.category, 0), s.version, s.source,
	coalesce(f.region, s.region), s.data_year, s.licence, s.gas_unit, coalesce(f.value_ar4::text, ''), coalesce(f.value_ar6::text, ''),
	coalesce((SELECT array_agg(g.gas || '=' || g.value::text ORDER BY g.gas) FROM calculator.factor_gases g
		WHERE g.factor_set_id = f.factor_set_id AND g.code = f.code), '{}')`

// factorsFrom joins the factors to their sets.
const factorsFrom = ` FROM ` + visibleSets + ` s JOIN calculator.factors f ON f.factor_set_id = s.id`

func scanFactor(r pgx.CollectableRow) (calculator.Factor, error) {
	return scanFactorKey(r)
}

// scanFactorKey scans factorCols, then into keys (a list's sort key).
func scanFactorKey(r pgx.Row, keys ...any) (calculator.Factor, error) {
	var f calculator.Factor
	var gases []string
	dest := append([]any{&f.Set, &f.Code, &f.Title, &f.Value, &f.Unit, &f.ActivityUnit, &f.Category, &f.SetVersion, &f.Source, &f.Region, &f.Year,
		&f.Licence, &f.GasUnit, &f.AR4, &f.AR6, &gases}, keys...)
	if err := r.Scan(dest...); err != nil {
		return f, fmt.Errorf("scan factor: %w", err)
	}
	f.Gases = make([]calculator.Gas, len(gases))
	for i, g := range gases {
		f.Gases[i].Gas, f.Gases[i].Value, _ = strings.Cut(g, "=")
	}
	return f, nil
}

// factorFields are the columns ListFactors filters (all but value) and
// orders by (code, title, value), with their SQL types.
var factorFields = map[string]struct{ expr, typ string }{
	"category": {"f.category", "smallint"},
	"code":     {"f.code", sqlText},
	"title":    {"f.title", sqlText},
	"activity": {"f.code", sqlText},
	"unit":     {"coalesce(f.unit, s.unit)", sqlText},
	"region":   {"coalesce(f.region, s.region)", sqlText},
	"year":     {"s.data_year", "smallint"},
	"version":  {"s.version", sqlText},
	"value":    {"f.value", "numeric"},
	// A factor has the gas: the condition is written apart.
	"gas": {"g.gas", sqlText},
}

const sqlText = "text"

// ListFactors reads one page of factors, resuming after q.After, and
// counts every factor the query matches.
func (s *Store) ListFactors(ctx context.Context, tenant uuid.UUID, q calculator.FactorQuery) (calculator.FactorPage, error) {
	var page calculator.FactorPage
	// The set's name and the code break ties, in the same direction:
	// every factor has one place.
	name, desc := strings.CutSuffix(q.Order, " desc")
	sort, ok := factorFields[name]
	if !ok {
		return page, fmt.Errorf("store.ListFactors: unknown order %q", q.Order)
	}
	args := pgx.NamedArgs{"set": q.Set}
	where := []string{"true"}
	if q.Set != calculator.AllSets {
		where = append(where, "s.name = @set")
	}
	for i, c := range q.Conds {
		col, ok := factorFields[c.Field]
		if !ok {
			return page, fmt.Errorf("store.ListFactors: unknown field %q", c.Field)
		}
		p := "c" + strconv.Itoa(i)
		args[p] = c.Value
		if c.Field == "gas" {
			where = append(where, fmt.Sprintf(`EXISTS (SELECT 1 FROM calculator.factor_gases g
				WHERE g.factor_set_id = f.factor_set_id AND g.code = f.code AND g.gas = @%s)`, p))
			continue
		}
		switch c.Op {
		case calculator.OpEquals:
			where = append(where, fmt.Sprintf("%s = @%s::text::%s", col.expr, p, col.typ))
		case calculator.OpPrefix:
			where = append(where, fmt.Sprintf("starts_with(%s, @%s)", col.expr, p))
		case calculator.OpContains:
			where = append(where, fmt.Sprintf("strpos(lower(%s), lower(@%s)) > 0", col.expr, p))
		}
	}
	count := "SELECT count(*)" + factorsFrom + " WHERE " + strings.Join(where, " AND ")
	dir, op := "ASC", ">"
	if desc {
		dir, op = "DESC", "<"
	}
	if q.After != nil {
		if len(q.After) != 3 {
			return page, fmt.Errorf("store.ListFactors: cursor has %d keys, not 3", len(q.After))
		}
		args["a0"], args["a1"], args["a2"] = q.After[0], q.After[1], q.After[2]
		where = append(where, fmt.Sprintf("(%s, s.name, f.code) %s (@a0::text::%s, @a1, @a2)", sort.expr, op, sort.typ))
	}
	list := fmt.Sprintf("SELECT %s, %s::text%s WHERE %s ORDER BY %s %s, s.name %s, f.code %s LIMIT %d",
		factorCols, sort.expr, factorsFrom, strings.Join(where, " AND "), sort.expr, dir, dir, dir, q.Limit+1)
	var keys []string
	exists := q.Set == calculator.AllSets
	var stmts []db.Stmt
	if !exists {
		stmts = append(stmts, db.Stmt{SQL: `SELECT EXISTS (SELECT 1 FROM calculator.factor_sets WHERE name = @set)`, Args: []any{args}, Scan: db.One(&exists)})
	}
	stmts = append(stmts, db.Stmt{SQL: count, Args: []any{args}, Scan: db.One(&page.Total)},
		db.Stmt{SQL: list, Args: []any{args}, Scan: func(rows pgx.Rows) error {
			defer rows.Close()
			for rows.Next() {
				var key string
				f, err := scanFactorKey(rows, &key)
				if err != nil {
					return err
				}
				page.Factors, keys = append(page.Factors, f), append(keys, key)
			}
			return rows.Err()
		}})
	if err := db.InTenantBatch(ctx, s.pool, tenant, stmts...); err != nil {
		return calculator.FactorPage{}, fmt.Errorf("store.ListFactors: %w", err)
	}
	if !exists {
		return calculator.FactorPage{}, calculator.ErrSetNotFound
	}
	if len(page.Factors) > q.Limit {
		last := page.Factors[q.Limit-1]
		page.Factors, page.Next = page.Factors[:q.Limit], []string{keys[q.Limit-1], last.Set, last.Code}
	}
	return page, nil
}

// Calculate stores the lines' results and adds them to the totals in one
// transaction, skipping transactions calculated before (so retries are
// safe).
func (s *Store) Calculate(ctx context.Context, tenant uuid.UUID, lines []calculator.Line) (calculator.Calculated, error) {
	minD, maxD := lines[0].Date, lines[0].Date
	for _, l := range lines {
		if l.Date.Before(minD) {
			minD = l.Date
		}
		if l.Date.After(maxD) {
			maxD = l.Date
		}
	}
	if err := s.partitions.Ensure(ctx, ResultsTable, minD, maxD); err != nil {
		return calculator.Calculated{}, err
	}
	var out calculator.Calculated
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		st, err := storeLines(ctx, tx, tenant, lines, nil, &out)
		if err != nil {
			return err
		}
		if err := addTotals(ctx, tx, tenant, st.totals, s.day()); err != nil {
			return err
		}
		ls, shares := st.lines, st.shares
		for _, g := range out.Suppliers {
			out.Stored += g.Count
		}
		out.Skipped = int64(len(lines)) - out.Stored
		if out.Skipped > 0 {
			if shares, err = batchTotals(ctx, tx, tenant, ls, &out); err != nil {
				return err
			}
		}
		if out.Kg, err = sumKg(out.Suppliers); err != nil {
			return err
		}
		out.Uploads, err = byUpload(shares)
		return err
	})
	if db.IsRetryable(err) {
		return calculator.Calculated{}, calculator.ErrConflict
	}
	if err != nil {
		return calculator.Calculated{}, fmt.Errorf("store.Calculate: %w", err)
	}
	return out, nil
}

// storeLines stores the lines' results, by run (nil: their upload), with
// the tenant's sets; it returns the totals to add and the lines as
// arrays.
func storeLines(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, lines []calculator.Line, run *int64, out *calculator.Calculated) (stored, error) {
	sets, err := tenantSets(ctx, tx, tenant, lines)
	if err != nil {
		return stored{}, err
	}
	// The lines go in as arrays: a staging table would cost a temporary
	// table's catalog churn per batch, most of the work for a small one.
	st := stored{lines: newLineArrays(lines)}
	if err := checkCodes(ctx, tx, sets.spendName, sets.spend, st.lines.distinct); err != nil {
		return st, err
	}
	st.totals, st.shares, err = storeResults(ctx, tx, tenant, sets, st.lines, run, out)
	return st, err
}

// stored is what storeLines stored: the totals to add, the lines as
// arrays, and each upload's share by supplier.
type stored struct {
	totals totals
	lines  lineArrays
	shares []uploadGroup
}

// setIDs are the sets a batch's lines use, and the spend set's base-year
// price index.
type setIDs struct {
	spend, activity         int16
	supplier                int16 // the tenant's SupplierSet; 0 when no line uses it
	base                    string
	spendName, activityName string
}

// lineArrays are a batch's lines as column arrays, for unnest, and the
// distinct NAICS codes its spend lines name. Empty strings stand for NULL:
// the price of an activity line, the conversion of a line in dollars.
type lineArrays struct {
	ids, sups, codes, amounts, prices, priceMonths []string
	curs, originals, rates, rateMonths             []string
	qtys, units, factorQtys                        []string
	products, countries                            []string
	dates                                          []time.Time
	uploads                                        []int64
	cats                                           []int16
	dqs                                            []int32
	// Lines with supplier data: the supplier factor's id (NULL: none), the
	// quantity it multiplies and the method; nil for a batch without any.
	supplierIDs    []*int64
	supplierQtys   []string
	methods        []string
	versions       []int32 // nil: every line's first version
	distinct       []string
	supplierFactor bool // some line uses a supplier factor
}

func newLineArrays(lines []calculator.Line) lineArrays {
	n := len(lines)
	text := func() []string { return make([]string, n) }
	ls := lineArrays{ids: text(), sups: text(), codes: text(), amounts: text(), prices: text(), priceMonths: text(),
		dates: make([]time.Time, n), uploads: make([]int64, n), cats: make([]int16, n)}
	// The conversion and activity arrays only for a batch that has such
	// lines: nil goes as NULL, which unnest pads with NULLs, and a batch of
	// dollar spend lines sends and parses seven fewer arrays.
	if slices.ContainsFunc(lines, func(l calculator.Line) bool { return l.Currency != "" }) {
		ls.curs, ls.originals, ls.rates, ls.rateMonths = text(), text(), text(), text()
	}
	if slices.ContainsFunc(lines, func(l calculator.Line) bool { return l.Activity != "" || l.ProductID != "" }) {
		ls.qtys, ls.units, ls.factorQtys = text(), text(), text()
	}
	if slices.ContainsFunc(lines, func(l calculator.Line) bool { return l.ProductID != "" || l.SupplierCountry != "" }) {
		ls.products, ls.countries = text(), text()
	}
	if ls.supplierFactor = slices.ContainsFunc(lines, func(l calculator.Line) bool { return l.SupplierFactor != 0 }); ls.supplierFactor {
		ls.supplierIDs, ls.supplierQtys, ls.methods = make([]*int64, n), text(), text()
	}
	if slices.ContainsFunc(lines, func(l calculator.Line) bool { return l.Version > 1 }) {
		ls.versions = make([]int32, n)
	}
	ls.dqs = make([]int32, n)
	seen := map[string]bool{}
	for i := range lines {
		l := &lines[i]
		ls.ids[i], ls.dates[i], ls.sups[i], ls.amounts[i], ls.uploads[i], ls.cats[i] = l.TransactionID, l.Date, l.SupplierID, l.Amount, l.Upload, l.Category
		ls.dqs[i] = l.DQ
		if ls.products != nil {
			ls.products[i], ls.countries[i] = l.ProductID, l.SupplierCountry
		}
		if ls.versions != nil {
			ls.versions[i] = max(l.Version, 1)
		}
		if l.SupplierFactor != 0 {
			ls.supplierIDs[i], ls.supplierQtys[i], ls.methods[i] = &l.SupplierFactor, l.SupplierQty, l.Method
		}
		if l.ProductID != "" && l.Activity == "" {
			ls.qtys[i], ls.units[i] = l.Quantity, l.Unit
		}
		if l.Currency != "" {
			ls.curs[i], ls.originals[i], ls.rates[i], ls.rateMonths[i] = l.Currency, l.Original, l.FXRate, l.FXMonth.Format(time.DateOnly)
		}
		if l.Activity != "" {
			ls.codes[i], ls.qtys[i], ls.units[i], ls.factorQtys[i] = l.Activity, l.Quantity, l.Unit, l.FactorQty
			continue
		}
		ls.codes[i], ls.prices[i], ls.priceMonths[i] = l.NAICS, l.PriceIndex, l.PriceMonth.Format(time.DateOnly)
		if !seen[l.NAICS] {
			seen[l.NAICS] = true
			ls.distinct = append(ls.distinct, l.NAICS)
		}
	}
	return ls
}

// checkCodes refuses a batch that names NAICS codes the set has no factor
// for, naming up to ten of them.
func checkCodes(ctx context.Context, tx pgx.Tx, set string, setID int16, codes []string) error {
	rows, err := tx.Query(ctx, `SELECT c FROM unnest($2::text[]) c
		WHERE NOT EXISTS (SELECT 1 FROM calculator.factors f WHERE f.factor_set_id = $1 AND f.code = c)
		ORDER BY 1 LIMIT 10`, setID, codes)
	if err != nil {
		return fmt.Errorf("query unknown codes: %w", err)
	}
	unknown, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("read unknown codes: %w", err)
	}
	if len(unknown) > 0 {
		return apperr.Invalid("lines.naics_code", "no factor in %s for NAICS codes %v", set, unknown)
	}
	return nil
}

// storeResults stores the lines' results not stored before, in one
// statement. It sets out's suppliers and returns the
// summary dimensions' totals and each upload's share by supplier, of the
// lines it stored. A line's kg CO2e is its factor quantity times the
// factor: for a spend line its amount in the set's base-year dollars
// (amount x base / the line's price index, rounded half away from zero to
// a hundredth of a cent), for an activity line its quantity in the
// factor's unit. The groups also carry CO2e under AR4 and AR6: the
// group's factor quantity times the factor's re-expressed values, which is
// the sum of its lines' (the factor is the same for the whole group).
func storeResults(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, sets setIDs, ls lineArrays, run *int64, out *calculator.Calculated) (totals, []uploadGroup, error) {
	var t totals
	var shares []uploadGroup
	err := db.SkipConflicts(ctx, tx, func(tx pgx.Tx, onConflict string) error {
		t, shares, out.Suppliers = totals{}, nil, nil
		return storeResultsAs(ctx, tx, onConflict, tenant, sets, ls, run, func(dim int16, up int64, g calculator.Group, kg4, kg6 string) {
			switch dim {
			case 0:
				shares = append(shares, uploadGroup{up, g})
			case 1:
				out.Suppliers = append(out.Suppliers, g)
				fallthrough
			default:
				t.add(dim, g, kg4, kg6)
			}
		})
	})
	if err != nil {
		return t, nil, err
	}
	// In key order, as batchTotals reads them: byUpload takes an upload's
	// groups together.
	slices.SortFunc(shares, func(a, b uploadGroup) int {
		return cmp.Or(cmp.Compare(a.upload, b.upload), strings.Compare(a.Key, b.Key))
	})
	slices.SortFunc(out.Suppliers, func(a, b calculator.Group) int { return strings.Compare(a.Key, b.Key) })
	return t, shares, nil
}

// storeResultsAs is storeResults' statement, its insert ending with
// onConflict, each group it returns handed to group.
func storeResultsAs(ctx context.Context, tx pgx.Tx, onConflict string, tenant uuid.UUID, sets setIDs, ls lineArrays, run *int64,
	group func(dim int16, up int64, g calculator.Group, kg4, kg6 string)) error {
	rows, err := tx.Query(ctx, `
		WITH ins AS (
			INSERT INTO calculator.emission_results
				(tenant_id, transaction_id, tx_date, upload_id, supplier_id, naics_code, amount_usd,
				 category, factor_set_id, factor_value, method, kg_co2e, amount_base_usd, price_index, price_index_month,
				 currency, amount, fx_rate, fx_month, quantity, unit, factor_quantity,
				 factor_code, product_id, supplier_country, dq, version, recalculation_id)
			SELECT $1, s.transaction_id, s.tx_date, s.upload_id, s.supplier_id, s.code, s.amount::numeric,
				coalesce(nullif(s.cat, 0), f.category), f.factor_set_id, f.value,
				coalesce(nullif(s.meth, ''), CASE WHEN coalesce(s.fq, '') = '' THEN $3 ELSE $4 END),
				b.q * f.value, CASE WHEN s.sfid IS NULL AND coalesce(s.fq, '') = '' THEN b.q END,
				CASE WHEN s.sfid IS NULL THEN nullif(s.price, '')::numeric END, CASE WHEN s.sfid IS NULL THEN nullif(s.price_month, '')::date END,
				nullif(s.cur, ''), nullif(s.orig, '')::numeric, nullif(s.rate, '')::numeric, nullif(s.rate_month, '')::date,
				nullif(s.qty, '')::numeric, nullif(s.unit, ''), CASE WHEN s.sfid IS NOT NULL THEN b.q ELSE nullif(s.fq, '')::numeric END,
				CASE WHEN s.sfid IS NOT NULL THEN 'sf-' || s.sfid END, nullif(s.prod, ''), nullif(s.country, ''), nullif(s.dq, 0),
				coalesce(s.ver, 1), $24
			FROM unnest($7::text[], $8::date[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::text[], $14::text[],
					$15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::smallint[],
					$25::text[], $26::text[], $27::integer[], $28::bigint[], $29::text[], $30::text[], $31::integer[])
				AS s(transaction_id, tx_date, supplier_id, code, amount, upload_id, price, price_month,
					cur, orig, rate, rate_month, qty, unit, fq, cat, prod, country, dq, sfid, sfq, meth, ver)
			CROSS JOIN LATERAL (SELECT CASE WHEN s.sfid IS NOT NULL THEN s.sfq::numeric
				WHEN coalesce(s.fq, '') = '' THEN round(s.amount::numeric(18, 4) * $6::numeric / s.price::numeric, 4)
				ELSE s.fq::numeric END AS q) b
			JOIN calculator.factors f
			  ON f.factor_set_id = CASE WHEN s.sfid IS NOT NULL THEN $23::smallint WHEN coalesce(s.fq, '') = '' THEN $2::smallint ELSE $5::smallint END
			 AND f.code = CASE WHEN s.sfid IS NOT NULL THEN 'sf-' || s.sfid ELSE s.code END
			`+onConflict+`
			RETURNING upload_id, supplier_id, tx_date, naics_code, category, factor_set_id, amount_usd, kg_co2e,
				coalesce(factor_quantity, amount_base_usd) AS q, coalesce(factor_code, naics_code) AS fcode, method, coalesce(dq, 0) AS dq
		), g AS (
			-- The stored lines grouped once, finer than every total below
			-- (exact sums: numeric), so the groupings read these groups
			-- instead of the lines six times.
			SELECT g.*, g.q * f.value_ar4 AS kg4, g.q * f.value_ar6 AS kg6 FROM (
				SELECT upload_id, supplier_id, date_trunc('month', tx_date)::date AS month, naics_code, category, factor_set_id,
					fcode, method, dq, sum(kg_co2e) AS kg, sum(amount_usd) AS amt, count(*) AS n, sum(q) AS q
				FROM ins GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9) g
			JOIN calculator.factors f ON f.factor_set_id = g.factor_set_id AND f.code = g.fcode
		)
		-- Dimension 0 is (upload, supplier), the caller's share of each
		-- upload; 1 to 4 are the summary dimensions, 5 the inventory's
		-- groups (calculator.InventoryKey).
		SELECT 0, upload_id, supplier_id, `+groupSums+` FROM g GROUP BY upload_id, supplier_id
		UNION ALL
`+summaryDims,
		tenant, sets.spend, calculator.MethodSpendBased, calculator.MethodAverageData, sets.activity, sets.base,
		ls.ids, ls.dates, ls.sups, ls.codes, ls.amounts, ls.uploads, ls.prices, ls.priceMonths,
		ls.curs, ls.originals, ls.rates, ls.rateMonths, ls.qtys, ls.units, ls.factorQtys, ls.cats,
		sets.supplier, run, ls.products, ls.countries, ls.dqs, ls.supplierIDs, ls.supplierQtys, ls.methods, ls.versions)
	if err != nil {
		return fmt.Errorf("store results: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var g calculator.Group
		var dim int16
		var up int64
		var kg4, kg6 string
		if err := rows.Scan(&dim, &up, &g.Key, &g.Kg, &g.Spend, &g.Count, &kg4, &kg6); err != nil {
			return fmt.Errorf("scan stored group: %w", err)
		}
		group(dim, up, g, kg4, kg6)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store results: %w", err)
	}
	return nil
}

// summaryDims total groups g under summary dimensions 1 to 4, the
// inventory's (5), the inventory's by month (6: 'YYYY-MM|' and the
// group's key, kept in inventory_months) and suppliers by method and
// categories by month (11: 'YYYY-MM|method|supplier', 12: 'YYYY-MM|'
// and the category, kept in summary_months with 4), as
// (dim, upload 0, key, kg, amt, n, kg4, kg6) in no order. Each dimension
// is its own hashed grouping, keyed on columns: one sort of every group
// under every key cost a third of a batch's statement.
const summaryDims = `			SELECT 1, 0, supplier_id, ` + groupSums + ` FROM g GROUP BY supplier_id
			UNION ALL SELECT 2, 0, category::text, ` + groupSums + ` FROM g GROUP BY category
			UNION ALL SELECT 3, 0, naics_code, ` + groupSums + ` FROM g GROUP BY naics_code
			UNION ALL SELECT 4, 0, to_char(month, 'YYYY-MM'), ` + groupSums + ` FROM g GROUP BY month
			UNION ALL SELECT 5, 0, category || '|' || factor_set_id || '|' || method || '|' || dq || '|' || fcode, ` + groupSums + `
				FROM g GROUP BY category, factor_set_id, method, dq, fcode
			UNION ALL SELECT 6, 0, to_char(month, 'YYYY-MM') || '|' || category || '|' || factor_set_id || '|' || method || '|' || dq || '|' || fcode,
				` + groupSums + ` FROM g GROUP BY month, category, factor_set_id, method, dq, fcode
			UNION ALL SELECT 11, 0, to_char(month, 'YYYY-MM') || '|' || method || '|' || supplier_id, ` + groupSums + `
				FROM g GROUP BY month, method, supplier_id
			UNION ALL SELECT 12, 0, to_char(month, 'YYYY-MM') || '|' || category, ` + groupSums + ` FROM g GROUP BY month, category`

// groupSums are a grouping's totals of groups g, as text.
const groupSums = `sum(kg)::text, sum(amt)::text, sum(n)::bigint, sum(kg4)::text, sum(kg6)::text`

// addToDay adds the figures of a batch of day excluded.day to a group m
// of a month (inventory_months, summary_months) and moves it to that day;
// when that is a later day than m's, m's figures at the end of its day
// are kept in prev_*, which the statement returns to log them.
const addToDay = `
				kg_co2e = m.kg_co2e + excluded.kg_co2e, spend_usd = m.spend_usd + excluded.spend_usd,
				tx_count = m.tx_count + excluded.tx_count,
				kg_co2e_ar4 = m.kg_co2e_ar4 + excluded.kg_co2e_ar4, kg_co2e_ar6 = m.kg_co2e_ar6 + excluded.kg_co2e_ar6,
				day = greatest(m.day, excluded.day), prev_day = CASE WHEN m.day < excluded.day THEN m.day END,
				prev_kg_co2e = CASE WHEN m.day < excluded.day THEN m.kg_co2e END,
				prev_kg_co2e_ar4 = CASE WHEN m.day < excluded.day THEN m.kg_co2e_ar4 END,
				prev_kg_co2e_ar6 = CASE WHEN m.day < excluded.day THEN m.kg_co2e_ar6 END,
				prev_spend_usd = CASE WHEN m.day < excluded.day THEN m.spend_usd END,
				prev_tx_count = CASE WHEN m.day < excluded.day THEN m.tx_count END`

// addTotals adds a batch's summary totals, in key order: every batch
// locks totals rows in the same order, so batches queue rather than
// deadlock.
func addTotals(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, t totals, day time.Time) error {
	if len(t.keys) == 0 {
		return nil
	}
	// The inventory's groups (dimension 5) also go to the day's log, which
	// inventories as of a day read, by month (6) to inventory_months (and
	// a group's earlier day to its log, when this batch is the first of a
	// day to change it), and the months (4) with suppliers and categories
	// by month (11, 12) to summary_months (logged the same way), in one
	// statement: every batch locks in the same order.
	if _, err := tx.Exec(ctx, `
		WITH a AS (
			-- Summed by key: a recalculation's batch takes a group out and
			-- puts it back.
			SELECT dim, key, sum(kg) AS kg, sum(spend) AS spend, sum(n)::bigint AS n, sum(kg4) AS kg4, sum(kg6) AS kg6
			FROM unnest($2::smallint[], $3::text[], $4::text[]::numeric[], $5::text[]::numeric[], $6::bigint[],
				$7::text[]::numeric[], $8::text[]::numeric[]) AS a(dim, key, kg, spend, n, kg4, kg6)
			GROUP BY dim, key ORDER BY dim, key
		), tot AS (
			INSERT INTO calculator.emission_totals AS t (tenant_id, dim, key, kg_co2e, spend_usd, tx_count, kg_co2e_ar4, kg_co2e_ar6)
			SELECT $1, * FROM a WHERE dim < 6 ORDER BY dim, key
			ON CONFLICT (tenant_id, dim, key) DO UPDATE SET
				kg_co2e = t.kg_co2e + excluded.kg_co2e, spend_usd = t.spend_usd + excluded.spend_usd,
				tx_count = t.tx_count + excluded.tx_count,
				kg_co2e_ar4 = t.kg_co2e_ar4 + excluded.kg_co2e_ar4, kg_co2e_ar6 = t.kg_co2e_ar6 + excluded.kg_co2e_ar6
		), months AS (
			INSERT INTO calculator.inventory_months AS m (tenant_id, month, key, day, kg_co2e, spend_usd, tx_count, kg_co2e_ar4, kg_co2e_ar6)
			SELECT $1, (left(key, 7) || '-01')::date, substr(key, 9), $9, kg, spend, n, kg4, kg6 FROM a WHERE dim = 6 ORDER BY key
			ON CONFLICT (tenant_id, month, key) DO UPDATE SET `+addToDay+`
			RETURNING month, key, prev_day, prev_kg_co2e, prev_spend_usd, prev_tx_count, prev_kg_co2e_ar4, prev_kg_co2e_ar6
		), mlog AS (
			-- A group this batch moved to a new day: its figures at the end
			-- of its last day.
			INSERT INTO calculator.inventory_months_log (tenant_id, month, key, day, kg_co2e, spend_usd, tx_count, kg_co2e_ar4, kg_co2e_ar6)
			SELECT $1, * FROM months WHERE prev_day IS NOT NULL
		), sums AS (
			INSERT INTO calculator.summary_months AS m (tenant_id, dim, month, key, day, kg_co2e, spend_usd, tx_count, kg_co2e_ar4, kg_co2e_ar6)
			SELECT $1, dim % 10, (left(key, 7) || '-01')::date, CASE dim WHEN 4 THEN key ELSE substr(key, 9) END, $9, kg, spend, n, kg4, kg6
			FROM a WHERE dim = 4 OR dim > 10 ORDER BY dim % 10, key
			ON CONFLICT (tenant_id, dim, month, key) DO UPDATE SET `+addToDay+`
			RETURNING dim, month, key, prev_day, prev_kg_co2e, prev_spend_usd, prev_tx_count, prev_kg_co2e_ar4, prev_kg_co2e_ar6
		), slog AS (
			INSERT INTO calculator.summary_months_log (tenant_id, dim, month, key, day, kg_co2e, spend_usd, tx_count, kg_co2e_ar4, kg_co2e_ar6)
			SELECT $1, * FROM sums WHERE prev_day IS NOT NULL
		)
		INSERT INTO calculator.emission_totals_log AS l (tenant_id, day, key, kg_co2e, spend_usd, tx_count, kg_co2e_ar4, kg_co2e_ar6)
		SELECT $1, $9, key, kg, spend, n, coalesce(kg4, kg), coalesce(kg6, kg) FROM a WHERE dim = 5 ORDER BY key
		ON CONFLICT (tenant_id, day, key) DO UPDATE SET
			kg_co2e = l.kg_co2e + excluded.kg_co2e, spend_usd = l.spend_usd + excluded.spend_usd,
			tx_count = l.tx_count + excluded.tx_count,
			kg_co2e_ar4 = l.kg_co2e_ar4 + excluded.kg_co2e_ar4, kg_co2e_ar6 = l.kg_co2e_ar6 + excluded.kg_co2e_ar6`,
		tenant, t.dims, t.keys, t.kgs, t.spends, t.counts, t.kg4s, t.kg6s, day); err != nil {
		return fmt.Errorf("add totals: %w", err)
	}
	return nil
}

// batchTotals is for a retry: it sets out's suppliers to the batch's whole
// totals, including lines stored by the earlier attempt, so the caller's
// totals stay exact, and returns each upload's share. A line is counted
// once, under the first upload the batch names for it.
func batchTotals(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, ls lineArrays, out *calculator.Calculated) ([]uploadGroup, error) {
	rows, err := tx.Query(ctx, `SELECT GROUPING(s.up), coalesce(s.up, 0), r.supplier_id,
			sum(r.kg_co2e)::text, sum(r.amount_usd)::text, count(*)
		FROM (SELECT DISTINCT ON (transaction_id, tx_date) * FROM unnest($2::text[], $3::date[], $4::bigint[])
			WITH ORDINALITY AS s(transaction_id, tx_date, up, i) ORDER BY transaction_id, tx_date, i) s
		JOIN calculator.emission_results r
		  ON r.tenant_id = $1 AND r.transaction_id = s.transaction_id AND r.tx_date = s.tx_date
		GROUP BY GROUPING SETS ((s.up, r.supplier_id), (r.supplier_id)) ORDER BY 1 DESC, 2, 3`, tenant, ls.ids, ls.dates, ls.uploads)
	if err != nil {
		return nil, fmt.Errorf("query batch totals: %w", err)
	}
	out.Suppliers = nil
	var shares []uploadGroup
	var all int16
	var up int64
	var g calculator.Group
	if _, err := pgx.ForEachRow(rows, []any{&all, &up, &g.Key, &g.Kg, &g.Spend, &g.Count}, func() error {
		if all == 1 {
			out.Suppliers = append(out.Suppliers, g)
		} else {
			shares = append(shares, uploadGroup{up, g})
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read batch totals: %w", err)
	}
	return shares, nil
}

func (s *Store) Result(ctx context.Context, tenant uuid.UUID, transactionID string) (calculator.Result, error) {
	var r calculator.Result
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: `
			SELECT ` + resultCols + `
			FROM calculator.emission_results e JOIN calculator.factor_sets s ON s.id = e.factor_set_id` + resultQuantity + `
			WHERE e.tenant_id = $1 AND e.transaction_id = $2
			ORDER BY e.tx_date LIMIT 1`, Args: []any{tenant, transactionID}, Scan: db.OneRow(func(row pgx.Row) error {
		var err error
		r, err = scanResult(row)
		return err
	})})
	return r, db.NotFound(err, "store.Result", calculator.ErrResultNotFound)
}

// totals are a batch's groups per summary dimension, as arrays for unnest.
type totals struct {
	dims                          []int16
	keys, kgs, spends, kg4s, kg6s []string
	counts                        []int64
}

// add adds a group, with its CO2e under AR4 and AR6.
func (t *totals) add(dim int16, g calculator.Group, kg4, kg6 string) {
	t.dims, t.keys, t.kgs, t.spends, t.counts = append(t.dims, dim), append(t.keys, g.Key), append(t.kgs, g.Kg),
		append(t.spends, g.Spend), append(t.counts, g.Count)
	t.kg4s, t.kg6s = append(t.kg4s, kg4), append(t.kg6s, kg6)
}

// uploadGroup is one supplier's lines of one upload.
type uploadGroup struct {
	upload int64
	calculator.Group
}

// byUpload gathers (upload, supplier) groups, sorted by upload, into each
// upload's share.
func byUpload(gs []uploadGroup) ([]calculator.UploadShare, error) {
	var out []calculator.UploadShare
	for _, g := range gs {
		if len(out) == 0 || out[len(out)-1].Upload != g.upload {
			out = append(out, calculator.UploadShare{Upload: g.upload})
		}
		u := &out[len(out)-1]
		u.Suppliers = append(u.Suppliers, g.Group)
		u.Count += g.Count
	}
	for i := range out {
		var err error
		if out[i].Kg, err = sumKg(out[i].Suppliers); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sumKg adds exact decimal kg values.
func sumKg(gs []calculator.Group) (string, error) {
	total := new(big.Rat)
	for _, g := range gs {
		r, ok := new(big.Rat).SetString(g.Kg)
		if !ok {
			return "", fmt.Errorf("kg %q of supplier %s is not a decimal", g.Kg, g.Key)
		}
		total.Add(total, r)
	}
	return total.FloatString(7), nil
}

// Results returns the results of the transactions named; ids never
// calculated are left out. A transaction id stored under two dates answers
// with the earliest, as Result does.
func (s *Store) Results(ctx context.Context, tenant uuid.UUID, ids []string, dates []time.Time) ([]calculator.Result, error) {
	var out []calculator.Result
	st := db.Stmt{Scan: db.Collect(&out, func(row pgx.CollectableRow) (calculator.Result, error) { return scanResult(row) })}
	if dates != nil {
		// The date list prunes the partitions at run time; the pair join
		// keeps each id to its own date.
		st.SQL = `
			SELECT ` + batchResultCols + `
			FROM unnest($2::text[], $3::date[]) AS k(id, d)
			JOIN calculator.emission_results e ON e.tenant_id = $1 AND e.transaction_id = k.id AND e.tx_date = k.d
				AND e.tx_date = ANY($3::date[])
			JOIN calculator.factor_sets s ON s.id = e.factor_set_id` + resultQuantity
		st.Args = []any{tenant, ids, dates}
	} else {
		st.SQL = `
			SELECT DISTINCT ON (e.transaction_id) ` + batchResultCols + `
			FROM calculator.emission_results e JOIN calculator.factor_sets s ON s.id = e.factor_set_id` + resultQuantity + `
			WHERE e.tenant_id = $1 AND e.transaction_id = ANY($2)
			ORDER BY e.transaction_id, e.tx_date`
		st.Args = []any{tenant, ids}
	}
	// A generic plan: the custom plan PostgreSQL would otherwise make on
	// every call costs more than the query (docs/benchmarks.md).
	generic := db.Stmt{SQL: `SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`}
	err := db.InTenantBatch(ctx, s.pool, tenant, generic, st)
	if err != nil {
		return nil, fmt.Errorf("store.Results: %w", err)
	}
	return out, nil
}

// resultCols are what scanResult reads, of a result e joined to its set s.
// The price adjustment is empty on results stored before it.
const resultCols = `e.transaction_id, e.upload_id, e.tx_date, e.supplier_id, e.naics_code, e.amount_usd::text,
	e.category, e.method, s.name, s.version, e.factor_value::text, coalesce('kg CO2e/' || f.unit, s.unit), round(e.kg_co2e, 7)::text, e.calculated_at,
	coalesce(e.amount_base_usd::text, ''), coalesce(e.price_index::text, ''), coalesce(to_char(e.price_index_month, 'YYYY-MM'), ''),
	CASE WHEN e.price_index IS NULL THEN '' ELSE s.price_index_base::text END,
	CASE WHEN e.price_index IS NULL THEN 0 ELSE s.price_year END,
	coalesce(e.currency, ''), coalesce(e.amount::text, ''), coalesce(e.fx_rate::text, ''), coalesce(to_char(e.fx_month, 'YYYY-MM'), ''),
	coalesce(e.quantity::text, ''), coalesce(e.unit, ''), coalesce(e.factor_quantity::text, ''), coalesce(f.unit, ''), s.gas_unit,
	coalesce(round(f.value_ar4 * q.q, 7)::text, ''), coalesce(round(f.value_ar6 * q.q, 7)::text, ''),
	coalesce(e.product_id, ''), coalesce(e.supplier_country, ''), coalesce(e.dq, 0), e.version, f.code, ` + resultGases

// resultGases reads a result's gases: the factor's, times the factor
// quantity (EPA's 18 per line).
const resultGases = `coalesce((SELECT array_agg(g.gas || '=' || (g.value * q.q)::text ORDER BY g.gas) FROM calculator.factor_gases g
		WHERE g.factor_set_id = e.factor_set_id AND g.code = f.code), '{}')`

// batchResultCols are resultCols without the gases: a batch read serves
// pages of transactions and fills the result caches, where 18 gases a line
// would make each result several times larger (GetEmissionResult has them).
var batchResultCols = strings.Replace(resultCols, resultGases, `'{}'::text[]`, 1)

// resultQuantity joins, for resultCols, a result's factor f and factor
// quantity q: what the factor multiplies (results calculated before prices
// were adjusted multiplied the dollars themselves). The code is a CASE, not
// coalesce: under row-level security the planner uses only leakproof
// expressions in an index condition, and it takes coalesce for leaky, so
// it read every factor of the set for each result (4.9 ms for 50 results
// against 1.1 ms).
const resultQuantity = ` JOIN calculator.factors f ON f.factor_set_id = e.factor_set_id
		AND f.code = CASE WHEN e.factor_code IS NULL THEN e.naics_code ELSE e.factor_code END
	CROSS JOIN LATERAL (SELECT coalesce(e.factor_quantity, e.amount_base_usd, e.amount_usd) AS q) q`

func scanResult(row pgx.Row) (calculator.Result, error) {
	var r calculator.Result
	var upload int64
	var gases []string
	err := row.Scan(&r.TransactionID, &upload, &r.Date, &r.SupplierID, &r.NAICS, &r.Amount,
		&r.Category, &r.Method, &r.Set, &r.SetVersion, &r.FactorValue, &r.Unit, &r.Kg, &r.CalculatedAt,
		&r.AmountBase, &r.PriceIndex, &r.PriceMonth, &r.PriceBase, &r.PriceYear, &r.Currency, &r.Original, &r.FXRate, &r.FXMonth,
		&r.Quantity, &r.QtyUnit, &r.FactorQty, &r.ActivityUnit, &r.GasUnit, &r.KgAR4, &r.KgAR6,
		&r.ProductID, &r.SupplierCountry, &r.DQ, &r.Version, &r.FactorCode, &gases)
	r.Upload = "uploads/" + strconv.FormatInt(upload, 10)
	if err != nil {
		return r, fmt.Errorf("scan result: %w", err)
	}
	if r.NAICS != "" && !calculator.IsNAICS(r.NAICS) { // the code is an activity's
		r.Activity, r.NAICS = r.NAICS, ""
	}
	r.Gases = make([]calculator.Gas, len(gases))
	for i, g := range gases {
		r.Gases[i].Gas, r.Gases[i].Value, _ = strings.Cut(g, "=")
	}
	return r, nil
}

// Summarize reads the totals (never the results) of dim. kg CO2e are
// stored exactly and reported to 7 decimals (0.1 g), whatever the factor's
// own precision.
func (s *Store) Summarize(ctx context.Context, tenant uuid.UUID, dim calculator.Dimension, limit int, basis refdata.Basis) (calculator.Summary, error) {
	lim := limitSQL(limit)
	// The groups of the basis asked, or the tenant's: one branch per basis,
	// each ordered by its own column (AR5's through the index), of which
	// only the basis's runs (the others' filters are false once).
	groups := make([]string, 0, 3)
	for _, b := range []struct{ basis, col string }{{"AR5", "kg_co2e"}, {"AR4", "kg_co2e_ar4"}, {"AR6", "kg_co2e_ar6"}} {
		order := b.col + " DESC, key"
		if dim == calculator.ByMonth {
			order = "key"
		}
		groups = append(groups, `(SELECT key, `+b.col+` AS kg, spend_usd, tx_count FROM calculator.emission_totals
			WHERE t.basis = '`+b.basis+`' AND tenant_id = $1 AND dim = $2 ORDER BY `+order+` LIMIT `+lim+`)`)
	}
	// Totals come from the category rows (at most 15).
	q := `
		WITH ` + summaryBasis + `, t AS (
			SELECT b.basis, coalesce(sum(CASE b.basis WHEN 'AR4' THEN e.kg_co2e_ar4 WHEN 'AR6' THEN e.kg_co2e_ar6 ELSE e.kg_co2e END), 0) AS kg,
				coalesce(sum(e.spend_usd), 0) AS spend, coalesce(sum(e.tx_count), 0)::bigint AS n
			FROM b LEFT JOIN calculator.emission_totals e ON e.tenant_id = $1 AND e.dim = 2 GROUP BY b.basis
		), c AS (
			SELECT count(*) AS groups FROM calculator.emission_totals WHERE tenant_id = $1 AND dim = $2
		), m AS (` + monthsSQL + `)
		SELECT t.basis, round(t.kg, 7)::text, t.spend::text, t.n, c.groups, m.first, m.last, g.key, round(g.kg, 7)::text, g.spend_usd::text, g.tx_count,
			coalesce((g.kg / nullif(t.kg, 0))::float8, 0)
		FROM t CROSS JOIN c CROSS JOIN m LEFT JOIN LATERAL (` + strings.Join(groups, " UNION ALL ") + `) g ON true`
	var sum calculator.Summary
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: q, Args: []any{tenant, int(dim), string(basis)}, Scan: scanSummary(dim, &sum)})
	if err != nil {
		return sum, fmt.Errorf("store.Summarize: %w", err)
	}
	return sum, nil
}

// summaryBasis is a summary's basis b: the one asked ($3), or tenant $1's.
var summaryBasis = basisAt("$3")

// basisAt is a summary's basis b: the one asked (param), or tenant $1's.
func basisAt(param string) string {
	return `b AS MATERIALIZED (
	SELECT coalesce(nullif(` + param + `, ''), (SELECT gwp_basis FROM calculator.tenant_settings WHERE tenant_id = $1), 'AR5') AS basis)`
}

// supplierOfKey is the supplier of summary_months' key m.key of
// dimension 1, 'method|supplier': after its first '|', as a method has
// none.
const supplierOfKey = `substr(m.key, strpos(m.key, '|') + 1)`

// SupplierMethods are the methods of suppliers' lines dated in p (every
// line when p is not set) under basis, by supplier and method in no
// order, and the basis read. It reads the suppliers' months
// (summary_months, key 'method|supplier'), every key a supplier could have
// probed in each month with data, so its cost follows suppliers times
// months, not lines. (Matched by equality, the keys are one index scan a
// month; with a range of keys a supplier, PostgreSQL read every
// supplier's rows and filtered them: 0.8-1 s for 100 suppliers at 100k
// lines, against 8-14 ms.)
func (s *Store) SupplierMethods(ctx context.Context, tenant uuid.UUID, suppliers []string, basis refdata.Basis, p calculator.Period) ([]calculator.SupplierMethod, refdata.Basis, error) {
	from, end := p.Bounds()
	src := summarySource(p)
	keys := make([]string, 0, len(suppliers)*len(calculator.Methods))
	for _, id := range suppliers {
		for _, m := range calculator.Methods {
			keys = append(keys, m+"|"+id)
		}
	}
	var rows []calculator.SupplierMethod
	var basisRead string
	// A row of the basis alone when no supplier has lines.
	q := `WITH ` + src.basis + `,
		mo AS (SELECT month FROM ` + src.table + ` t WHERE tenant_id = $1 AND dim = 4 AND month >= $2 AND month < $4 AND tx_count <> 0` + src.filter + `),
		g AS (SELECT m.key,
				round(sum(CASE b.basis WHEN 'AR4' THEN m.kg_co2e_ar4 WHEN 'AR6' THEN m.kg_co2e_ar6 ELSE m.kg_co2e END), 7)::text AS kg,
				sum(m.tx_count)::bigint AS n
			FROM mo CROSS JOIN b
			CROSS JOIN LATERAL (SELECT m.key, m.kg_co2e, m.kg_co2e_ar4, m.kg_co2e_ar6, m.tx_count FROM ` + src.table + ` m
				WHERE m.tenant_id = $1 AND m.dim = 1 AND m.month = mo.month AND m.key = ANY($5::text[])` + src.filter + `
				OFFSET 0) m -- a scan a month, not a join the planner may turn into a scan of them all
			GROUP BY m.key HAVING sum(m.tx_count) <> 0)
		SELECT b.basis, g.key, g.kg, g.n FROM b LEFT JOIN g ON true`
	args := sourceArgs([]any{tenant, from, string(basis), end, keys}, p)
	err := s.summaryBatch(ctx, tenant, p, db.Stmt{SQL: q, Args: args,
		Scan: func(rs pgx.Rows) error {
			for rs.Next() {
				var key, kg *string
				var n *int64
				if err := rs.Scan(&basisRead, &key, &kg, &n); err != nil {
					return fmt.Errorf("scan supplier method: %w", err)
				}
				if key != nil {
					i := strings.IndexByte(*key, '|') // a method has none
					rows = append(rows, calculator.SupplierMethod{Method: (*key)[:i], SupplierID: (*key)[i+1:], Kg: *kg, Count: *n})
				}
			}
			return rs.Err()
		}})
	if err != nil {
		return nil, "", snapshotErr(err, "store.SupplierMethods", p)
	}
	return rows, refdata.Basis(basisRead), nil
}

// source is where a summary of p reads its months: today's (summary_months),
// as they were at the end of day $6 (summaryAsOf) or snapshot $6's copy of
// them, under the basis asked ($3) or else the tenant's or the snapshot's.
type source struct{ table, filter, basis string }

func summarySource(p calculator.Period) source {
	switch {
	case !p.Day.IsZero():
		return source{table: summaryAsOf, basis: summaryBasis}
	case p.Snapshot == 0:
		return source{table: "calculator.summary_months", basis: summaryBasis}
	}
	return source{table: "calculator.snapshot_summary_months", filter: " AND snapshot_id = $6",
		basis: `b AS MATERIALIZED (SELECT coalesce(nullif($3, ''),
			(SELECT gwp_basis FROM calculator.inventory_snapshots WHERE tenant_id = $1 AND id = $6), 'AR5') AS basis)`}
}

// sourceArgs are a summary's args with its source's $6 (p's day or
// snapshot), if any.
func sourceArgs(args []any, p calculator.Period) []any {
	switch {
	case !p.Day.IsZero():
		return append(args, p.Day)
	case p.Snapshot != 0:
		return append(args, p.Snapshot)
	}
	return args
}

// summaryAsOf are summary_months' groups of the months $2 to $4 (the day
// after the last) at the end of day $6, as monthsAsOf reads the
// inventory's: a group as it is if it has not changed since, else its
// latest logged day up to $6.
const summaryAsOf = `(SELECT tenant_id, dim, month, key, kg_co2e, kg_co2e_ar4, kg_co2e_ar6, spend_usd, tx_count
	FROM calculator.summary_months WHERE tenant_id = $1 AND month >= $2 AND month < $4 AND day <= $6
	UNION ALL
	(SELECT DISTINCT ON (l.dim, l.month, l.key) l.tenant_id, l.dim, l.month, l.key, l.kg_co2e, l.kg_co2e_ar4, l.kg_co2e_ar6, l.spend_usd, l.tx_count
	FROM calculator.summary_months m
	JOIN calculator.summary_months_log l ON l.tenant_id = $1 AND l.dim = m.dim AND l.month = m.month AND l.key = m.key AND l.day <= $6
	WHERE m.tenant_id = $1 AND m.month >= $2 AND m.month < $4 AND m.day > $6
	ORDER BY l.dim, l.month, l.key, l.day DESC))`

// errNoSuppliers is what summaryBatch returns for a snapshot recorded
// before snapshots kept their summaries' months.
var errNoSuppliers = errors.New("snapshot without suppliers")

// summaryBatch runs st in tenant's batch, after checking p's snapshot, if
// any, is there and recorded its suppliers, and p's day, if any, is not
// before the tenant's summaries are logged.
func (s *Store) summaryBatch(ctx context.Context, tenant uuid.UUID, p calculator.Period, st db.Stmt) error {
	if !p.Day.IsZero() {
		var start *time.Time
		err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: `SELECT (SELECT day FROM calculator.summary_months_log_start WHERE tenant_id = $1)`,
			Args: []any{tenant}, Scan: db.One(&start)}, st)
		if err == nil && start != nil && p.Day.Before(*start) {
			return apperr.Invalid("as_of_date", "suppliers and categories are logged from %s: %s is before",
				start.Format(time.DateOnly), p.Day.Format(time.DateOnly))
		}
		return err
	}
	if p.Snapshot == 0 {
		return db.InTenantBatch(ctx, s.pool, tenant, st)
	}
	var kept bool
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: `SELECT suppliers FROM calculator.inventory_snapshots WHERE tenant_id = $1 AND id = $2`,
		Args: []any{tenant, p.Snapshot}, Scan: db.One(&kept)}, st)
	if err == nil && !kept {
		return errNoSuppliers
	}
	return err
}

// snapshotErr names what summaryBatch found wrong with p's snapshot;
// other errors are wrapped in op.
func snapshotErr(err error, op string, p calculator.Period) error {
	if errors.Is(err, errNoSuppliers) {
		return apperr.Invalid("snapshot", "snapshot %d was recorded before snapshots kept their suppliers: read it with GetInventory", p.Snapshot)
	}
	return db.NotFound(err, op, calculator.ErrSnapshotNotFound)
}

// SummarizePeriod is Summarize of the lines dated in p. Suppliers (a
// period's Pareto), categories and months are read from their groups by
// month (summary_months), kept beside the totals, so its cost follows
// the keys and months in p, not the lines; NAICS codes, asked rarely and
// costing a tenth of a calculation to keep by month, from the lines. The
// figures are those Summarize reads when p holds every line: kg CO2e
// under AR4 and AR6 are the lines' factor quantities times the factor's
// re-expressed values, summed exactly, which is what the totals add.
func (s *Store) SummarizePeriod(ctx context.Context, tenant uuid.UUID, dim calculator.Dimension, limit int, basis refdata.Basis, p calculator.Period) (calculator.Summary, error) {
	if dim < calculator.BySupplier || dim > calculator.ByMonth {
		return calculator.Summary{}, fmt.Errorf("store.SummarizePeriod: dimension %d", dim)
	}
	lim, order := limitSQL(limit), "kg DESC, key"
	if dim == calculator.ByMonth {
		order = "key"
	}
	// A group every line of which a recalculation moved to another (a
	// category rule changed) is left at no lines: it is not one of p's.
	key := "m.key"
	if dim == calculator.BySupplier { // 'method|supplier'
		key = supplierOfKey
	}
	src := summarySource(p)
	from, end := p.Bounds()
	groups := `SELECT ` + key + ` AS key, sum(CASE b.basis WHEN 'AR4' THEN m.kg_co2e_ar4 WHEN 'AR6' THEN m.kg_co2e_ar6 ELSE m.kg_co2e END) AS kg,
				sum(m.spend_usd) AS spend, sum(m.tx_count)::bigint AS n
			FROM ` + src.table + ` m CROSS JOIN b
			WHERE m.tenant_id = $1 AND m.dim = $5 AND m.month >= $2 AND m.month < $4` + src.filter + `
			GROUP BY 1 HAVING sum(m.tx_count) <> 0`
	args := sourceArgs([]any{tenant, from, string(basis), end, int(dim)}, p)
	if dim == calculator.ByNAICS { // never of a snapshot or a day (Service)
		args = args[:4]
		groups = `SELECT r.naics_code AS key, sum(CASE b.basis
					WHEN 'AR4' THEN coalesce(r.factor_quantity, r.amount_base_usd, r.amount_usd) * f.value_ar4
					WHEN 'AR6' THEN coalesce(r.factor_quantity, r.amount_base_usd, r.amount_usd) * f.value_ar6
					ELSE r.kg_co2e END) AS kg,
				sum(r.amount_usd) AS spend, count(*) AS n
			FROM calculator.emission_results r CROSS JOIN b
			JOIN calculator.factors f ON f.factor_set_id = r.factor_set_id AND f.code = coalesce(r.factor_code, r.naics_code)
			WHERE r.tenant_id = $1 AND r.tx_date >= $2 AND r.tx_date < $4
			GROUP BY 1`
	}
	sum := calculator.Summary{Period: p}
	if err := s.summaryBatch(ctx, tenant, p, db.Stmt{SQL: groupsSummary(src.basis, groups, order, lim), Args: args,
		Scan: scanSummary(dim, &sum)}); err != nil {
		return calculator.Summary{}, snapshotErr(err, "store.SummarizePeriod", p)
	}
	return sum, nil
}

// limitSQL is LIMIT's argument for limit groups, 0 for all.
func limitSQL(limit int) string {
	if limit > 0 {
		return strconv.Itoa(limit)
	}
	return "ALL"
}

// groupsSummary is the statement that reads a summary (scanSummary's rows)
// of groups (key, kg, spend, n) under basis b: their totals, then the
// first lim of them in order.
func groupsSummary(b, groups, order, lim string) string {
	return `
		WITH ` + b + `, g AS (` + groups + `
		), t AS (
			SELECT b.basis, coalesce(sum(g.kg), 0) AS kg, coalesce(sum(g.spend), 0) AS spend, coalesce(sum(g.n), 0)::bigint AS n,
				count(g.key) AS groups
			FROM b LEFT JOIN g ON true GROUP BY b.basis
		)
		SELECT t.basis, round(t.kg, 7)::text, t.spend::text, t.n, t.groups, '', '', g.key, round(g.kg, 7)::text, g.spend::text, g.n,
			coalesce((g.kg / nullif(t.kg, 0))::float8, 0)
		FROM t LEFT JOIN LATERAL (SELECT key, kg, spend, n FROM g ORDER BY ` + order + ` LIMIT ` + lim + `) g ON true`
}

// MonthsAsOf is SummarizePeriod by month of the lines as calculated at the
// end of p.Day (UTC): each month's groups as the months' daily log has
// them (monthsAsOf), so its cost follows the groups, not the lines. A day
// before the tenant's log starts is refused naming as_of_date.
func (s *Store) MonthsAsOf(ctx context.Context, tenant uuid.UUID, limit int, basis refdata.Basis, p calculator.Period) (calculator.Summary, error) {
	day := p.Day
	lim := limitSQL(limit)
	from, to := p.From, p.To
	if !p.Set() {
		from, to = p.Bounds()
	}
	groups := `SELECT to_char(m.month, 'YYYY-MM') AS key,
				sum(CASE b.basis WHEN 'AR4' THEN m.kg_co2e_ar4 WHEN 'AR6' THEN m.kg_co2e_ar6 ELSE m.kg_co2e END) AS kg,
				sum(m.spend_usd) AS spend, sum(m.tx_count)::bigint AS n
			FROM (` + monthsAsOf + `) m CROSS JOIN b GROUP BY m.month HAVING sum(m.tx_count) <> 0`
	sum := calculator.Summary{Period: p}
	var logStart *time.Time
	err := db.InTenantBatch(ctx, s.pool, tenant,
		db.Stmt{SQL: `SELECT (SELECT day FROM calculator.inventory_months_log_start WHERE tenant_id = $1)`, Args: []any{tenant}, Scan: db.One(&logStart)},
		db.Stmt{SQL: groupsSummary(basisAt("$5"), groups, "key", lim), Args: []any{tenant, day, from, to, string(basis)},
			Scan: scanSummary(calculator.ByMonth, &sum)})
	switch {
	case err != nil:
		return calculator.Summary{}, fmt.Errorf("store.MonthsAsOf: %w", err)
	case logStart != nil && day.Before(*logStart):
		return calculator.Summary{}, apperr.Invalid("as_of_date", "months are logged from %s: %s is before", logStart.Format(time.DateOnly), day.Format(time.DateOnly))
	}
	return sum, nil
}

// Months reads the first and last months with lines, from the month
// totals.
func (s *Store) Months(ctx context.Context, tenant uuid.UUID) (first, last string, err error) {
	err = db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: monthsSQL, Args: []any{tenant}, Scan: db.One(&first, &last)})
	if err != nil {
		return "", "", fmt.Errorf("store.Months: %w", err)
	}
	return first, last, nil
}

// monthsSQL is the first and last months with lines of tenant $1.
const monthsSQL = `SELECT coalesce(min(key), '') AS first, coalesce(max(key), '') AS last FROM calculator.emission_totals
	WHERE tenant_id = $1 AND dim = 4 AND tx_count <> 0`

// scanSummary reads a summary's rows into sum: the basis, totals and
// months on every row, then a group, none when there are no groups at all.
func scanSummary(dim calculator.Dimension, sum *calculator.Summary) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var g calculator.Group
			var gk, gkg, gspend *string
			var gn *int64
			var share float64
			if err := rows.Scan(&sum.Basis, &sum.TotalKg, &sum.TotalUSD, &sum.Count, &sum.GroupCount, &sum.FirstMonth, &sum.LastMonth,
				&gk, &gkg, &gspend, &gn, &share); err != nil {
				return fmt.Errorf("scan summary group: %w", err)
			}
			if gk == nil {
				continue
			}
			g.Key, g.Kg, g.Spend, g.Count, g.Share = *gk, *gkg, *gspend, *gn, share
			if dim == calculator.ByCategory {
				if c, err := strconv.Atoi(g.Key); err == nil {
					if name, ok := calculator.CategoryName(c); ok {
						g.Label = name
					}
				}
			}
			sum.Groups = append(sum.Groups, g)
		}
		return rows.Err()
	}
}

var _ calculator.Store = (*Store)(nil)
