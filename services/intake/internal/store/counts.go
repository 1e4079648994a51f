package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/vcci-dev/vcci/pkg/db"
)

// QueueMaintenance is the River queue of intake's periodic upkeep.
const QueueMaintenance = "maintenance"

// DefaultCompactEvery is how often the transaction counters are compacted.
const DefaultCompactEvery = 5 * time.Second

// counters are the tables the transactions trigger appends to (migrations
// 0007 and 0010), with the columns that make a key.
func counters() []struct{ table, key string } {
	return []struct{ table, key string }{
		{"transaction_days", "tenant_id, tx_date"},
		{"transaction_suppliers", "tenant_id, supplier_id"},
		{"transaction_codes", "tenant_id, naics_code, category, month"},
	}
}

// CompactCounts folds the rows of each counter key that has deltas into
// one, their sum, and returns how many rows it removed. It reads only those
// keys (through the partial index on deltas), so its cost follows the
// uploads since the last run, not the table. Each table is folded in one
// statement: readers see its rows before or after, with the same sums.
// Rows appended meanwhile are not in the statement's snapshot and stay.
// It folds every tenant's keys at once, as db.MaintenanceRole (migration
// 0011 lets that role see all the counters' rows).
func CompactCounts(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	var removed int64
	for _, c := range counters() {
		var same []string
		for k := range strings.SplitSeq(c.key, ", ") {
			same = append(same, "d."+k+" = k."+k)
		}
		var n int64
		err := db.AsMaintenance(ctx, pool, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, fmt.Sprintf(`
				WITH k AS (SELECT DISTINCT %[2]s FROM intake.%[1]s WHERE delta),
				gone AS (DELETE FROM intake.%[1]s d USING k WHERE %[3]s RETURNING d.*),
				kept AS (INSERT INTO intake.%[1]s (%[2]s, n) SELECT %[2]s, sum(n) FROM gone GROUP BY %[2]s RETURNING 1)
				SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM kept)`, c.table, c.key, strings.Join(same, " AND "))).Scan(&n)
		})
		if err != nil {
			return removed, fmt.Errorf("store.CompactCounts: %s: %w", c.table, err)
		}
		removed += n
	}
	return removed, nil
}

// CompactArgs is the periodic job that runs CompactCounts.
type CompactArgs struct{}

// Kind names the job in River.
func (CompactArgs) Kind() string { return "intake_compact_counts" }

type compactor struct {
	river.WorkerDefaults[CompactArgs]
	pool *pgxpool.Pool
}

func (c *compactor) Work(ctx context.Context, _ *river.Job[CompactArgs]) error {
	_, err := CompactCounts(ctx, c.pool)
	return err
}
