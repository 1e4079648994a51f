package main

import (
	"context"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	calculator "github.com/vcci-dev/vcci/services/calculator/server"
	engagement "github.com/vcci-dev/vcci/services/engagement/server"
	intake "github.com/vcci-dev/vcci/services/intake/server"
	reporting "github.com/vcci-dev/vcci/services/reporting/server"
)

// rlsExempt are the tables that may go without a forced row-level-security
// policy, each with the reason; a pattern names a table as path.Match does.
// Every entry must still match a table.
var rlsExempt = map[string]string{
	"*.schema_migrations":     "which migrations ran: no tenant's data",
	"river.*":                 "River's job queue: a job's arguments are an upload id, its tenant id and a traceparent, and workers read them before they know the tenant",
	"calculator_river.*":      "the calculator's River queue: a recalculation job's arguments are its id and tenant id, read before the worker knows the tenant",
	"reporting_river.*":       "reporting's River queue: a report job's arguments are its id and tenant id, read before the worker knows the tenant",
	"engagement_river.*":      "engagement's River queue: a delivery job's arguments are its id and tenant id, read before the worker knows the tenant",
	"iam.tenants":             "the tenant registry itself, no tenant's data; only the platform reads it (vcci_app has no grant)",
	"iam.api_keys":            "read by key hash before any tenant is known (tenancy.Authenticate); holds hashes only, and vcci_app has no grant",
	"iam.service_secret":      "the platform's secret, no tenant's; vcci_app has no grant",
	"iam.service_credentials": "the platform's service tokens, no tenant's; vcci_app has no grant",
	"intake.supplier_totals":  "no policy, so that pages of suppliers by totals walk its indexes (intake migration 0005, TestSupplierPagesWalkTheTotalsIndex); every read joins suppliers, whose policy holds",
}

// TestEveryTenantTableForcesRowLevelSecurity migrates every schema as a
// deployment's role would (owner of the tables, not a superuser), creates
// partitions, and lists every table: each must have row-level security
// enabled and forced and a policy, unless rlsExempt says why not. A
// partition is reached through its parent, whose policy then applies (its
// own do not), so it must grant nothing to anyone but its owner.
func TestEveryTenantTableForcesRowLevelSecurity(t *testing.T) {
	ctx := context.Background()
	url := testsupport.NewOwnedDatabase(t, "rls", calculator.Migrate, intake.Migrate, engagement.Migrate, reporting.Migrate)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	now := time.Now()
	for _, table := range []string{"intake.transactions", "calculator.emission_results"} {
		if err := db.NewPartitions(pool).Ensure(ctx, table, now, now.AddDate(0, 3, 0)); err != nil {
			t.Fatal(err)
		}
	}

	type table struct {
		name                     string
		partitionOf              string // the root, for a partition
		enabled, forced, policed bool
		foreignGrants            []string // grantees of a partition other than its owner
		appReads                 bool     // vcci_app may SELECT
	}
	rows, err := pool.Query(ctx, `
		SELECT format('%s.%s', n.nspname, c.relname), coalesce(pg_partition_root(c.oid)::text, ''),
			c.relrowsecurity, c.relforcerowsecurity, EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid),
			ARRAY(SELECT a.grantee::regrole::text FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner),
			has_table_privilege($1, c.oid, 'SELECT')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1`, db.AppRole)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var tb table
		var root string
		err := r.Scan(&tb.name, &root, &tb.enabled, &tb.forced, &tb.policed, &tb.foreignGrants, &tb.appReads)
		if root != tb.name {
			tb.partitionOf = root
		}
		return tb, err
	})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	exempt := func(name string) bool {
		for p := range rlsExempt {
			if ok, _ := path.Match(p, name); ok {
				used[p] = true
				return true
			}
		}
		return false
	}
	var forced, partitions int
	for _, tb := range tables {
		switch {
		case exempt(tb.name):
			if strings.HasPrefix(tb.name, "iam.") && tb.appReads {
				t.Errorf("%s is exempt as unreadable by %s, but %s may read it", tb.name, db.AppRole, db.AppRole)
			}
		case tb.partitionOf != "":
			partitions++
			if len(tb.foreignGrants) > 0 {
				t.Errorf("partition %s of %s grants to %v: its parent's policy does not hold there", tb.name, tb.partitionOf, tb.foreignGrants)
			}
		case !tb.enabled || !tb.forced || !tb.policed:
			t.Errorf("%s: row-level security enabled %v, forced %v, a policy %v; want all three, or an entry in rlsExempt", tb.name, tb.enabled, tb.forced, tb.policed)
		default:
			forced++
		}
	}
	var stale []string
	for p := range rlsExempt {
		if !used[p] {
			stale = append(stale, p)
		}
	}
	slices.Sort(stale)
	if len(stale) > 0 {
		t.Errorf("rlsExempt entries that match no table: %v", stale)
	}
	// The schemas as they stand: intake's 13 tenant tables, the
	// calculator's 18, engagement's 7, reporting's 1 and iam's audit log;
	// two quarters of two tables.
	if forced != 42 || partitions != 4 {
		t.Errorf("%d tables with forced policies and %d partitions, want 42 and 4", forced, partitions)
	}
}
