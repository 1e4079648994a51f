package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/trace"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/events"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	"github.com/vcci-dev/vcci/pkg/riverdb"
	"github.com/vcci-dev/vcci/pkg/webhook"
	"github.com/vcci-dev/vcci/services/calculator/internal/calculator"
)

// RiverSchema holds the calculator's River tables, apart from intake's:
// each service migrates and works its own queue.
const RiverSchema = "calculator_river"

// migrateRiver creates or updates River's tables in RiverSchema and lets
// the application's role insert jobs in its transactions.
func migrateRiver(ctx context.Context, pool *pgxpool.Pool) error {
	return riverdb.MigrateApp(ctx, pool, RiverSchema)
}

// ClientOptions configure the River client that works recalculations.
type ClientOptions struct {
	Log *slog.Logger
	TP  trace.TracerProvider
	// Workers is how many recalculations one client works at once
	// (default 2).
	Workers int
	// FetchPoll is how often an idle queue looks for jobs (default
	// River's).
	FetchPoll   time.Duration
	RetryPolicy river.ClientRetryPolicy
	TestOnly    bool
	// Engagement receives the recalculation.done events (nil: they wait
	// in their queue for a client that has it).
	Engagement engagementv1.EngagementServiceClient
}

// NewClient returns the River client that works recalculations with w;
// Start it.
func NewClient(pool *pgxpool.Pool, w *calculator.RecalcWorker, o ClientOptions) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return nil, fmt.Errorf("store.NewClient: %w", err)
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	queues := map[string]river.QueueConfig{calculator.RecalcQueue: {MaxWorkers: o.Workers}}
	if o.Engagement != nil {
		if err := events.AddWorker(workers, o.Engagement); err != nil {
			return nil, fmt.Errorf("store.NewClient: %w", err)
		}
		queues[events.Queue] = river.QueueConfig{MaxWorkers: 2}
	}
	c, err := riverdb.NewClient(pool, RiverSchema, workers, queues,
		riverdb.Options{Log: o.Log, TP: o.TP, FetchPoll: o.FetchPoll, RetryPolicy: o.RetryPolicy, TestOnly: o.TestOnly})
	if err != nil {
		return nil, fmt.Errorf("store.NewClient: %w", err)
	}
	return c, nil
}

// recalcCols read a recalculation r with its set's name. The change and
// its significance are exact: kg are rounded only when shown.
const recalcCols = `r.id, r.reason, r.supplier_id, coalesce(s.name, ''), r.year, r.base_year, r.state, r.line_count, r.lines_done, r.lines_changed,
	round(r.kg_before, 7)::text, round(r.kg_after, 7)::text,
	CASE WHEN r.state = 'succeeded' AND r.kg_before <> 0 THEN round((r.kg_after - r.kg_before) / r.kg_before * 100, 2)::text ELSE '' END,
	coalesce(r.base_year AND r.state = 'succeeded' AND r.kg_before <> 0 AND abs((r.kg_after - r.kg_before) / r.kg_before * 100) >= r.threshold, false),
	coalesce(r.threshold::text, ''), r.create_time, r.finish_time, r.error, r.attempts, r.cursor_date, coalesce(r.cursor_id, '')`

func scanRecalc(row pgx.Row) (calculator.Recalculation, error) {
	var r calculator.Recalculation
	var finish, cursor *time.Time
	var cursorID string
	if err := row.Scan(&r.ID, &r.Reason, &r.SupplierID, &r.FactorSet, &r.Year, &r.BaseYear, &r.State, &r.LineCount, &r.LinesDone, &r.LinesChanged,
		&r.KgBefore, &r.KgAfter, &r.ChangePercent, &r.Significant, &r.Threshold, &r.CreateTime, &finish, &r.Error, &r.Attempts,
		&cursor, &cursorID); err != nil {
		return r, fmt.Errorf("scan recalculation: %w", err)
	}
	if finish != nil {
		r.FinishTime = *finish
	}
	if cursor != nil {
		r.Cursor = &calculator.RecalcCursor{Date: *cursor, ID: cursorID}
	}
	return r, nil
}

// recalcScope is the condition on results e of a recalculation's scope:
// $2 supplier, $3 set name, $4 year ("" and 0: any). A generic plan
// evaluates make_date whatever $4 is: year 0 is not a date, so it is
// given 1 (and not used).
const recalcScope = `e.tenant_id = $1 AND ($2::text = '' OR e.supplier_id = $2::text)
	AND ($3::text = '' OR e.factor_set_id = (SELECT id FROM ` + visibleSets + ` v WHERE v.name = $3::text))
	AND ($4::integer = 0 OR e.tx_date >= make_date(greatest($4::integer, 1), 1, 1) AND e.tx_date < make_date(greatest($4::integer, 1) + 1, 1, 1))`

// CreateRecalculation stores the recalculation and its job in one
// transaction: a job is never queued without its row, nor a row left
// without its job.
func (s *Store) CreateRecalculation(ctx context.Context, tenant uuid.UUID, r calculator.Recalculation) (calculator.Recalculation, error) {
	var out calculator.Recalculation
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		id, err := s.insertRecalc(ctx, tx, tenant, r)
		if err != nil {
			return err
		}
		out, err = readRecalc(ctx, tx, id)
		return err
	})
	if errors.Is(err, calculator.ErrSetNotFound) {
		return out, calculator.ErrSetNotFound
	}
	if err != nil {
		return out, fmt.Errorf("store.CreateRecalculation: %w", err)
	}
	return out, nil
}

// insertRecalc stores r queued and its job in tx.
func (s *Store) insertRecalc(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, r calculator.Recalculation) (int64, error) {
	var set *int16
	if r.FactorSet != "" {
		var id int16
		if err := db.NotFound(tx.QueryRow(ctx, `SELECT id FROM `+visibleSets+` s WHERE name = $1`, r.FactorSet).Scan(&id),
			"look up set", calculator.ErrSetNotFound); err != nil {
			return 0, err
		}
		set = &id
	}
	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO calculator.recalculations (tenant_id, reason, supplier_id, factor_set_id, year, base_year, threshold, line_count)
		SELECT $1, $5, $2::text, $6::smallint, $4::integer, $7, nullif($8, '')::numeric, count(*) FROM calculator.emission_results e WHERE `+recalcScope+`
		RETURNING id`, tenant, r.SupplierID, r.FactorSet, r.Year, r.Reason, set, r.BaseYear, r.Threshold).Scan(&id); err != nil {
		return 0, fmt.Errorf("insert recalculation: %w", err)
	}
	if _, err := s.jobs.InsertTx(ctx, tx, calculator.RecalcArgs{Tenant: tenant, ID: id}, nil); err != nil {
		return 0, fmt.Errorf("queue recalculation: %w", err)
	}
	return id, nil
}

func readRecalc(ctx context.Context, tx pgx.Tx, id int64) (calculator.Recalculation, error) {
	r, err := scanRecalc(tx.QueryRow(ctx, `SELECT `+recalcCols+` FROM calculator.recalculations r
		LEFT JOIN calculator.factor_sets s ON s.id = r.factor_set_id WHERE r.id = $1`, id))
	return r, db.NotFound(err, "read recalculation", calculator.ErrRecalculationNotFound)
}

func (s *Store) Recalculation(ctx context.Context, tenant uuid.UUID, id int64) (calculator.Recalculation, error) {
	var out calculator.Recalculation
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var err error
		out, err = readRecalc(ctx, tx, id)
		return err
	})
	if errors.Is(err, calculator.ErrRecalculationNotFound) {
		return out, calculator.ErrRecalculationNotFound
	}
	if err != nil {
		return out, fmt.Errorf("store.Recalculation: %w", err)
	}
	return out, nil
}

func (s *Store) Recalculations(ctx context.Context, tenant uuid.UUID, limit int, after int64) ([]calculator.Recalculation, error) {
	var out []calculator.Recalculation
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: `SELECT ` + recalcCols + ` FROM calculator.recalculations r
		LEFT JOIN calculator.factor_sets s ON s.id = r.factor_set_id
		WHERE r.tenant_id = $1 AND ($2 = 0 OR r.id < $2) ORDER BY r.id DESC LIMIT $3`, Args: []any{tenant, after, limit},
		Scan: db.Collect(&out, func(row pgx.CollectableRow) (calculator.Recalculation, error) { return scanRecalc(row) })})
	if err != nil {
		return nil, fmt.Errorf("store.Recalculations: %w", err)
	}
	return out, nil
}

// StartRecalculation marks a queued or running recalculation running and
// records the attempt; an ended one is returned as it is.
func (s *Store) StartRecalculation(ctx context.Context, tenant uuid.UUID, id int64, attempt int) (calculator.Recalculation, error) {
	return s.updateRecalc(ctx, tenant, id, "store.StartRecalculation", `UPDATE calculator.recalculations SET state = 'running', attempts = $2
		WHERE id = $1 AND state IN ('queued', 'running')`, attempt, nil)
}

// FinishRecalculation ends a recalculation not ended yet.
func (s *Store) FinishRecalculation(ctx context.Context, tenant uuid.UUID, id int64, errText string) (calculator.Recalculation, error) {
	return s.updateRecalc(ctx, tenant, id, "store.FinishRecalculation", `UPDATE calculator.recalculations
		SET state = CASE WHEN $2 = '' THEN 'succeeded' ELSE 'failed' END, error = $2, finish_time = now()
		WHERE id = $1 AND state IN ('queued', 'running')`, errText, func(tx pgx.Tx, r calculator.Recalculation) error {
		// Told once, with the end: the webhooks' recalculation.done.
		return events.Enqueue(ctx, s.jobs, tx, events.Event{Tenant: tenant, ID: fmt.Sprintf("recalculation-%d-done", id),
			Type: webhook.RecalculationDone, Data: map[string]any{"recalculation": fmt.Sprintf("recalculations/%d", id), "state": strings.ToUpper(r.State),
				"error": r.Error, "lines_done": r.LinesDone, "lines_changed": r.LinesChanged, "kg_co2e_before": r.KgBefore,
				"kg_co2e_after": r.KgAfter, "change_percent": r.ChangePercent, "significant": r.Significant}})
	})
}

// updateRecalc runs update (id $1, arg $2) and reads the recalculation;
// when the update changed it, then (if any) runs in the same transaction.
func (s *Store) updateRecalc(ctx context.Context, tenant uuid.UUID, id int64, op, update string, arg any,
	then func(pgx.Tx, calculator.Recalculation) error,
) (calculator.Recalculation, error) {
	var out calculator.Recalculation
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, update, id, arg)
		if err != nil {
			return fmt.Errorf("update: %w", err)
		}
		if out, err = readRecalc(ctx, tx, id); err != nil || then == nil || tag.RowsAffected() == 0 {
			return err
		}
		return then(tx, out)
	})
	if errors.Is(err, calculator.ErrRecalculationNotFound) {
		return out, calculator.ErrRecalculationNotFound
	}
	if err != nil {
		return out, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// RecalculationLines reads the next page of current results in scope, as
// the lines they were calculated from. naics_code holds the line's own
// code, a NAICS code or an activity; a line not in dollars is rebuilt in
// its currency, to be converted again.
func (s *Store) RecalculationLines(ctx context.Context, tenant uuid.UUID, r calculator.Recalculation, limit int) ([]calculator.StoredLine, error) {
	// Two statements, not one with "no cursor OR after it": the OR would
	// keep the cursor out of the index scan, and every page would read and
	// sort the scope's remaining lines.
	after, args := ``, []any{tenant, r.SupplierID, r.FactorSet, r.Year, limit}
	if r.Cursor != nil {
		after, args = ` AND (e.tenant_id, e.transaction_id, e.tx_date) > ($1, $6, $7::date)`, append(args, r.Cursor.ID, r.Cursor.Date)
	}
	var out []calculator.StoredLine
	// The page walks the key's index on every partition, merged, and stops
	// at the limit. The planner underestimates how many lines follow the
	// cursor (11 for 12,512) and would rather read them all through a
	// bitmap and sort them, every page: quadratic in the lines.
	walk := db.Stmt{SQL: `SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true)`}
	err := db.InTenantBatch(ctx, s.pool, tenant, walk, db.Stmt{SQL: `
		SELECT e.transaction_id, e.tx_date, e.supplier_id, e.upload_id, e.naics_code, e.amount_usd::text, coalesce(e.currency, ''),
			coalesce(e.amount::text, ''), coalesce(e.quantity::text, ''), coalesce(e.unit, ''), e.category, coalesce(e.product_id, ''),
			coalesce(e.supplier_country, ''), e.version, e.method, s.name, coalesce(e.factor_code, e.naics_code), e.factor_value::text,
			e.kg_co2e::text, coalesce(e.dq, 0)
		FROM calculator.emission_results e JOIN calculator.factor_sets s ON s.id = e.factor_set_id
		WHERE ` + recalcScope + after + `
		ORDER BY e.transaction_id, e.tx_date LIMIT $5`, Args: args, Scan: db.Collect(&out, scanStoredLine)})
	if err != nil {
		return nil, fmt.Errorf("store.RecalculationLines: %w", err)
	}
	return out, nil
}

func scanStoredLine(row pgx.CollectableRow) (calculator.StoredLine, error) {
	var sl calculator.StoredLine
	l := &sl.Line
	var code, amountUSD, amount string
	if err := row.Scan(&l.TransactionID, &l.Date, &l.SupplierID, &l.Upload, &code, &amountUSD, &l.Currency, &amount, &l.Quantity, &l.Unit,
		&l.Category, &l.ProductID, &l.SupplierCountry, &sl.Version, &sl.Method, &sl.Set, &sl.FactorCode, &sl.FactorVal, &sl.Kg, &sl.DQ); err != nil {
		return sl, fmt.Errorf("scan stored line: %w", err)
	}
	if calculator.IsNAICS(code) {
		l.NAICS = code
	} else {
		l.Activity = code
	}
	switch {
	case l.Currency != "":
		l.Original = amount
	case l.Activity != "" && isZero(amountUSD):
		l.Amount = "0" // no spend given, as Calculate records it
	default:
		l.Amount = amountUSD
	}
	return sl, nil
}

func isZero(s string) bool {
	r, ok := new(big.Rat).SetString(s)
	return ok && r.Sign() == 0
}

// Recalculate replaces the changed lines' results and records the batch's
// progress, in one transaction: the old versions go to the history and
// out of the totals, the new ones are stored as Calculate stores lines,
// and the cursor moves past the batch. Locks are taken in Calculate's
// order: totals, then the day's log.
func (s *Store) Recalculate(ctx context.Context, tenant uuid.UUID, id int64, changed []calculator.Line, p calculator.RecalcProgress) error {
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		if len(changed) > 0 {
			t, err := supersede(ctx, tx, tenant, id, changed, s.Now())
			if err != nil {
				return err
			}
			var out calculator.Calculated
			added, err := storeLines(ctx, tx, tenant, changed, &id, &out)
			if err != nil {
				return err
			}
			var n int64
			for _, g := range out.Suppliers {
				n += g.Count
			}
			if n != int64(len(changed)) {
				return calculator.ErrConflict // a version of the line was stored meanwhile
			}
			t.merge(added.totals)
			if err := addTotals(ctx, tx, tenant, t, s.day()); err != nil {
				return err
			}
			// Each supplier's change, for intake (SupplierAdjustments), under
			// the batch's number: the lines done before it.
			if _, err := tx.Exec(ctx, `INSERT INTO calculator.supplier_adjustments (tenant_id, recalculation_id, batch, supplier_id, kg_co2e)
				SELECT $1, $2, (SELECT lines_done FROM calculator.recalculations WHERE id = $2), key, sum(kg)
				FROM unnest($3::smallint[], $4::text[], $5::text[]::numeric[]) AS t(dim, key, kg)
				WHERE dim = 1 GROUP BY key HAVING sum(kg) <> 0`, tenant, id, t.dims, t.keys, t.kgs); err != nil {
				return fmt.Errorf("record supplier adjustments: %w", err)
			}
		}
		var from *time.Time
		var fromID string
		if p.From != nil {
			from, fromID = &p.From.Date, p.From.ID
		}
		tag, err := tx.Exec(ctx, `UPDATE calculator.recalculations SET cursor_date = $2, cursor_id = $3,
				lines_done = lines_done + $4, lines_changed = lines_changed + $5,
				kg_before = kg_before + (SELECT coalesce(sum(k::numeric), 0) FROM unnest($6::text[]) k),
				kg_after = kg_after + (SELECT coalesce(sum(k::numeric), 0) FROM unnest($7::text[]) k)
			WHERE id = $1 AND state = 'running' AND cursor_date IS NOT DISTINCT FROM $8::date AND coalesce(cursor_id, '') = $9`,
			id, p.CursorDate, p.CursorID, p.Done, len(changed), p.Before, p.After, from, fromID)
		if err != nil {
			return fmt.Errorf("record progress: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return calculator.ErrConflict // another attempt moved the cursor
		}
		return nil
	})
	switch {
	case db.IsRetryable(err), errors.Is(err, calculator.ErrConflict):
		return calculator.ErrConflict
	case err != nil:
		return fmt.Errorf("store.Recalculate: %w", err)
	}
	return nil
}

// supersede moves the current versions of lines (each one before its
// Version) to the history, superseded by run at now, in one statement,
// and returns their totals, negated, to take out of the totals.
// ErrConflict when a line is not at the version expected.
func supersede(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, run int64, lines []calculator.Line, now time.Time) (totals, error) {
	ids, dates, versions := make([]string, len(lines)), make([]time.Time, len(lines)), make([]int32, len(lines))
	for i, l := range lines {
		ids[i], dates[i], versions[i] = l.TransactionID, l.Date, l.Version-1
	}
	var t totals
	// The plan that does not look at the arrays: it finds each line
	// through the key's index. Planned for the batch's arrays, on
	// statistics a large upload left stale (32 rows a partition for
	// 250,000), it chose to scan the tenant's results against the array,
	// each batch: minutes a batch at 1M lines.
	if _, err := tx.Exec(ctx, `SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`); err != nil {
		return t, fmt.Errorf("supersede: %w", err)
	}
	rows, err := tx.Query(ctx, `
		WITH del AS (
			DELETE FROM calculator.emission_results e
			USING unnest($2::text[], $3::date[], $4::integer[]) AS d(id, dt, ver)
			WHERE e.tenant_id = $1 AND e.transaction_id = d.id AND e.tx_date = d.dt AND e.version = d.ver
				AND e.tx_date = ANY($3::date[])
			RETURNING e.*
		), hist AS (
			INSERT INTO calculator.emission_result_history SELECT del.*, $5::timestamptz, $6::bigint FROM del
		), g AS (
			-- Grouped as storeResults groups what it stores, negated.
			SELECT g.*, g.q * f.value_ar4 AS kg4, g.q * f.value_ar6 AS kg6 FROM (
				SELECT supplier_id, date_trunc('month', tx_date)::date AS month, naics_code, category, factor_set_id,
					coalesce(factor_code, naics_code) AS fcode, method, coalesce(dq, 0) AS dq,
					-sum(kg_co2e) AS kg, -sum(amount_usd) AS amt, -count(*) AS n,
					-sum(coalesce(factor_quantity, amount_base_usd, amount_usd)) AS q
				FROM del GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) g
			JOIN calculator.factors f ON f.factor_set_id = g.factor_set_id AND f.code = g.fcode
		)
`+summaryDims, tenant, ids, dates, versions, now, run)
	if err != nil {
		return t, fmt.Errorf("supersede: %w", err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var g calculator.Group
		var dim int16
		var kg4, kg6 string
		if err := rows.Scan(&dim, nil, &g.Key, &g.Kg, &g.Spend, &g.Count, &kg4, &kg6); err != nil {
			return t, fmt.Errorf("scan superseded group: %w", err)
		}
		if dim == 1 {
			n -= g.Count
		}
		t.add(dim, g, kg4, kg6)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return t, fmt.Errorf("supersede: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('plan_cache_mode', 'auto', true)`); err != nil {
		return t, fmt.Errorf("supersede: %w", err)
	}
	if n != int64(len(lines)) {
		return t, calculator.ErrConflict
	}
	return t, nil
}

// merge appends o's groups; addTotals sums a key's.
func (t *totals) merge(o totals) {
	t.dims, t.keys, t.kgs, t.spends, t.counts = append(t.dims, o.dims...), append(t.keys, o.keys...), append(t.kgs, o.kgs...),
		append(t.spends, o.spends...), append(t.counts, o.counts...)
	t.kg4s, t.kg6s = append(t.kg4s, o.kg4s...), append(t.kg6s, o.kg6s...)
}

// RecalculationChanges reads the lines a recalculation changed, each
// version it replaced with the one it stored (current, or since replaced
// in turn), in (date, transaction) order.
func (s *Store) RecalculationChanges(ctx context.Context, tenant uuid.UUID, id int64, limit int, after *calculator.RecalcCursor) (calculator.RecalcChangePage, error) {
	var page calculator.RecalcChangePage
	var afterDate *time.Time
	var afterID string
	if after != nil {
		afterDate, afterID = &after.Date, after.ID
	}
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: `
		SELECT h.transaction_id, h.tx_date, h.supplier_id,
			h.version, h.method, hs.name, hs.version, coalesce(h.factor_code, h.naics_code), h.factor_value::text, round(h.kg_co2e, 7)::text, coalesce(h.dq, 0),
			a.version, a.method, s.name, s.version, a.code, a.fv, round(a.kg, 7)::text, a.dq,
			round(a.kg - h.kg_co2e, 7)::text
		FROM calculator.emission_result_history h
		JOIN calculator.factor_sets hs ON hs.id = h.factor_set_id
		CROSS JOIN LATERAL (
			(SELECT e.version, e.method, e.factor_set_id, coalesce(e.factor_code, e.naics_code) AS code, e.factor_value::text AS fv,
				e.kg_co2e AS kg, coalesce(e.dq, 0) AS dq
			FROM calculator.emission_results e
			WHERE e.tenant_id = h.tenant_id AND e.transaction_id = h.transaction_id AND e.tx_date = h.tx_date AND e.version = h.version + 1)
			UNION ALL
			(SELECT n.version, n.method, n.factor_set_id, coalesce(n.factor_code, n.naics_code), n.factor_value::text, n.kg_co2e, coalesce(n.dq, 0)
			FROM calculator.emission_result_history n
			WHERE n.tenant_id = h.tenant_id AND n.transaction_id = h.transaction_id AND n.tx_date = h.tx_date AND n.version = h.version + 1)
			LIMIT 1) a
		JOIN calculator.factor_sets s ON s.id = a.factor_set_id
		WHERE h.tenant_id = $1 AND h.superseded_by = $2 AND ($3::date IS NULL OR (h.tx_date, h.transaction_id) > ($3::date, $4))
		ORDER BY h.tx_date, h.transaction_id LIMIT $5`, Args: []any{tenant, id, afterDate, afterID, limit + 1},
		Scan: db.Collect(&page.Changes, func(row pgx.CollectableRow) (calculator.RecalcChange, error) {
			var c calculator.RecalcChange
			b, a := &c.Before, &c.After
			err := row.Scan(&c.TransactionID, &c.Date, &c.SupplierID,
				&b.Version, &b.Method, &b.Set, &b.SetVersion, &b.Code, &b.FactorValue, &b.Kg, &b.DQ,
				&a.Version, &a.Method, &a.Set, &a.SetVersion, &a.Code, &a.FactorValue, &a.Kg, &a.DQ, &c.Delta)
			if err != nil {
				return c, fmt.Errorf("scan change: %w", err)
			}
			return c, nil
		})})
	if err != nil {
		return page, fmt.Errorf("store.RecalculationChanges: %w", err)
	}
	if len(page.Changes) > limit {
		page.Changes = page.Changes[:limit]
		last := page.Changes[limit-1]
		page.Next = &calculator.RecalcCursor{Date: last.Date, ID: last.TransactionID}
	}
	return page, nil
}

// SupplierAdjustments reads the tenant's adjustments not sent yet, of
// every recalculation, by recalculation and batch.
func (s *Store) SupplierAdjustments(ctx context.Context, tenant uuid.UUID) ([]calculator.Adjustment, error) {
	var out []calculator.Adjustment
	var run, batch int64
	var g calculator.Group
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: `SELECT recalculation_id, batch, supplier_id, kg_co2e::text
		FROM calculator.supplier_adjustments WHERE tenant_id = $1 AND NOT sent ORDER BY 1, 2, 3`, Args: []any{tenant},
		Scan: func(rows pgx.Rows) error {
			_, err := pgx.ForEachRow(rows, []any{&run, &batch, &g.Key, &g.Kg}, func() error {
				if n := len(out); n == 0 || out[n-1].Recalculation != run || out[n-1].Batch != batch {
					out = append(out, calculator.Adjustment{Recalculation: run, Batch: batch})
				}
				a := &out[len(out)-1]
				a.Suppliers = append(a.Suppliers, g)
				return nil
			})
			if err != nil {
				return fmt.Errorf("read adjustments: %w", err)
			}
			return nil
		}})
	if err != nil {
		return nil, fmt.Errorf("store.SupplierAdjustments: %w", err)
	}
	return out, nil
}

// MarkAdjustmentSent records that intake has a batch's adjustment.
func (s *Store) MarkAdjustmentSent(ctx context.Context, tenant uuid.UUID, id, batch int64) error {
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE calculator.supplier_adjustments SET sent = true
			WHERE tenant_id = $1 AND recalculation_id = $2 AND batch = $3`, tenant, id, batch)
		if err != nil {
			return fmt.Errorf("mark sent: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store.MarkAdjustmentSent: %w", err)
	}
	return nil
}
