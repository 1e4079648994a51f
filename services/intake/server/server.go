// Package server wires the intake service; main and in-process launchers
// call Run.
package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vcci-dev/vcci/pkg/batch"
	"github.com/vcci-dev/vcci/pkg/cache"
	"github.com/vcci-dev/vcci/pkg/db"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/pagetoken"
	"github.com/vcci-dev/vcci/pkg/service"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/intake/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

// FactorSet is the factor set uploads are checked against.
const FactorSet = "epa-supply-chain-v1.3.0"

// Migrate creates or updates intake's schema.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error { return store.Migrate(ctx, pool) }

// Run serves intake and runs its upload workers until ctx ends.
func Run(ctx context.Context, env service.Env) error {
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	// An upload's transaction may wait on a second connection (its chunks,
	// its partitions, its progress): each worker gets two on top of the
	// API's, so that busy workers cannot take every connection and wait
	// on each other.
	pool, auth, err := service.OpenDB(ctx, env, int32(16+2*(cfg.SmallWorkers+cfg.LargeWorkers)), Migrate)
	if err != nil {
		return err
	}
	defer pool.Close()
	token, err := tenancy.ServiceToken(ctx, pool)
	if err != nil {
		return err
	}
	cc, err := service.DialPeer(ctx, env, pool, "calculator")
	if err != nil {
		return err
	}
	defer cc.Close()
	calc := calculatorv1.NewCalculatorServiceClient(cc)

	rdb, closeRedis, err := service.RedisClient(ctx, env)
	if err != nil {
		return err
	}
	defer closeRedis()
	tokenKey, err := tenancy.DeriveKey(ctx, pool, "page-token")
	if err != nil {
		return err
	}
	srv := service.NewServer(env, pool, auth)
	// Reads (a supplier, a page of suppliers or of transactions) are cached
	// per tenant; uploads, once validated and once calculated, invalidate
	// them on every replica. An entry is up to about 12 KB (a page of 50
	// transactions), and entries of invalidated versions stay until evicted:
	// at 20,000 entries, under the design's load (uploads every 20 ms),
	// intake's heap held 150 MB of them and its collector took a third of
	// its CPU (docs/benchmarks.md). 2,000 hold what is read between uploads.
	suppliers := cache.New(cache.Options[[]byte]{Name: "intake-reads", Redis: rdb, Log: env.Log,
		LocalSize: 2_000, LocalTTL: 30 * time.Second, RedisTTL: 10 * time.Minute,
		Marshal: func(b []byte) ([]byte, error) { return b, nil }, Unmarshal: func(b []byte) ([]byte, error) { return b, nil },
		Metrics: cache.NewMetrics(srv.Registry)})
	defer suppliers.Close()

	st := store.New(pool).WithMaxAttempts(cfg.MaxAttempts)
	worker := intake.NewWorker(env.Log, env.TP, st,
		func(t uuid.UUID) intake.Calculator { return calculatorClient{calc, t, token} },
		func(t uuid.UUID) intake.CodeChecker { return newCodeChecker(calc, t, token) },
		intake.WorkerOptions{Timeout: cfg.UploadTimeout, Changed: func(ctx context.Context, t uuid.UUID, changed []string) {
			for _, scope := range grpcapi.ChangedScopes(t, changed) {
				suppliers.Invalidate(ctx, scope)
			}
		}})
	jobs, err := store.NewClient(pool, worker, store.ClientOptions{Log: env.Log.With("component", "river"), TP: env.TP,
		SmallWorkers: cfg.SmallWorkers, LargeWorkers: cfg.LargeWorkers})
	if err != nil {
		return err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	go db.KeepPartitionsAhead(bg, pool, func(err error) { env.Log.Error("partitions", "error", err.Error()) }, store.TransactionsTable)
	// Running totals and the uploads' progress are updated in place by
	// every upload, and compaction rewrites the transaction counters: keep
	// them vacuumed whatever autovacuum does.
	go db.KeepVacuumed(bg, pool, db.VacuumOptions{Every: 5 * time.Second}, func(err error) { env.Log.Error("vacuum", "error", err.Error()) },
		"intake.uploads", "intake.supplier_totals", "intake.transaction_days", "intake.transaction_suppliers", "intake.transaction_codes")
	go st.KeepFailingAbandoned(bg, time.Minute, func(err error) { env.Log.Error("fail abandoned uploads", "error", err.Error()) })
	if err := jobs.Start(bg); err != nil {
		return err
	}

	results := newResultMemo(resultMemoSize)
	intakev1.RegisterIntakeServiceServer(srv.GRPC, grpcapi.New(intake.New(st, cfg.MaxUploadBytes), grpcapi.Read{
		Store: st, Tokens: pagetoken.New(tokenKey), Cache: suppliers,
		Results: func(ctx context.Context, t uuid.UUID, ids, dates []string) (map[string]*calculatorv1.EmissionResult, error) {
			return results.results(ctx, t, ids, dates, func(ctx context.Context, ids, dates []string) (map[string]*calculatorv1.EmissionResult, error) {
				return emissionResults(ctx, calc, t, token, ids, dates)
			})
		},
	}))
	err = srv.Run(ctx, env.GRPC, env.Metrics, env.Cfg.ShutdownTimeout)
	// Jobs stop after the server, given the shutdown timeout to finish; an
	// interrupted one resumes at the next start (Worker.Work snoozes it).
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), env.Cfg.ShutdownTimeout)
	defer cancel()
	if serr := jobs.Stop(sctx); serr != nil {
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer ccancel()
		if cerr := jobs.StopAndCancel(cctx); cerr != nil {
			env.Log.Error("stop upload jobs", "error", cerr.Error())
		}
	}
	stop()
	return err
}

// calculatorClient calculates rows through the calculator, as the tenant.
type calculatorClient struct {
	c      calculatorv1.CalculatorServiceClient
	tenant uuid.UUID
	token  string
}

func (c calculatorClient) Calculate(ctx context.Context, upload int64, rows []intake.Row) (intake.Calculated, error) {
	req := &calculatorv1.CalculateEmissionsRequest{Upload: "uploads/" + strconv.FormatInt(upload, 10), Lines: make([]*calculatorv1.SpendLine, len(rows))}
	var last int64
	var lastName string
	for i, r := range rows {
		req.Lines[i] = &calculatorv1.SpendLine{TransactionId: r.TransactionID, Date: r.Date.Format(time.DateOnly),
			SupplierId: r.SupplierID, NaicsCode: r.NAICS, AmountUsd: r.Amount}
		if r.Upload != 0 && r.Upload != upload { // a batch of uploads
			if r.Upload != last {
				last, lastName = r.Upload, "uploads/"+strconv.FormatInt(r.Upload, 10)
			}
			req.Lines[i].Upload = lastName
		}
	}
	ctx = tenancy.AsService(ctx, c.tenant, c.token)
	// A batch that lost a write conflict or met a restarting calculator is
	// sent again at once (the calculator skips what it stored); only a
	// lasting failure fails the upload's attempt.
	for attempt := 1; ; attempt++ {
		resp, err := c.c.CalculateEmissions(ctx, req)
		if err == nil {
			return calculatedByUpload(resp)
		}
		if code := status.Code(err); attempt == 5 || (code != codes.Aborted && code != codes.Unavailable) {
			return intake.Calculated{}, err
		}
		select {
		case <-ctx.Done():
			return intake.Calculated{}, ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
		}
	}
}

// calculatedByUpload reads a calculation's share of each upload.
func calculatedByUpload(resp *calculatorv1.CalculateEmissionsResponse) (intake.Calculated, error) {
	out := intake.Calculated{Uploads: make([]intake.UploadTotal, len(resp.GetUploads()))}
	for i, u := range resp.GetUploads() {
		id, ok := strings.CutPrefix(u.GetUpload(), "uploads/")
		n, err := strconv.ParseInt(id, 10, 64)
		if !ok || err != nil {
			return intake.Calculated{}, fmt.Errorf("calculator answered for upload %q", u.GetUpload())
		}
		t := intake.UploadTotal{Upload: n, Count: u.GetLineCount(), Kg: u.GetKgCo2E(), Suppliers: make([]intake.SupplierTotal, len(u.GetSuppliers()))}
		for j, s := range u.GetSuppliers() {
			t.Suppliers[j] = intake.SupplierTotal{ID: s.GetKey(), Spend: s.GetSpendUsd(), Kg: s.GetKgCo2E(), Count: s.GetTransactionCount()}
		}
		out.Uploads[i] = t
	}
	return out, nil
}

// emissionResults reads results from the calculator as the platform (a
// user's one read is not charged twice to their rate limit).
func emissionResults(ctx context.Context, c calculatorv1.CalculatorServiceClient, tenant uuid.UUID, token string, ids, dates []string) (map[string]*calculatorv1.EmissionResult, error) {
	out := make(map[string]*calculatorv1.EmissionResult, len(ids))
	for start := 0; start < len(ids); start += 1000 {
		part := ids[start:min(start+1000, len(ids))]
		names := make([]string, len(part))
		for i, id := range part {
			names[i] = "emissionResults/" + id
		}
		resp, err := c.BatchGetEmissionResults(tenancy.AsService(ctx, tenant, token), &calculatorv1.BatchGetEmissionResultsRequest{
			Names: names, TransactionDates: dates[start:min(start+1000, len(dates))]})
		if err != nil {
			return nil, err
		}
		for _, r := range resp.GetResults() {
			out[strings.TrimPrefix(r.GetName(), "emissionResults/")] = r
		}
	}
	return out, nil
}

// codeChecker answers which NAICS codes have a factor, and their category,
// through a DataLoader so concurrent checks of one upload share one
// BatchGetFactors call. Codes found are remembered for good (known): a
// published factor set is never changed, a new version is a new set.
type codeChecker struct {
	loader *batch.Loader[string, int16]
	known  *sync.Map // code -> category, for codes that have a factor
}

// knownCodes is every tenant's codeChecker memory: FactorSet is public.
var knownCodes sync.Map

func newCodeChecker(c calculatorv1.CalculatorServiceClient, tenant uuid.UUID, token string) codeChecker {
	return codeChecker{batch.New(func(ctx context.Context, codes []string) (map[string]int16, error) {
		names := make([]string, len(codes))
		for i, code := range codes {
			names[i] = "factorSets/" + FactorSet + "/factors/" + code
		}
		resp, err := c.BatchGetFactors(tenancy.AsService(ctx, tenant, token), &calculatorv1.BatchGetFactorsRequest{Names: names})
		if err != nil {
			return nil, err
		}
		out := make(map[string]int16, len(resp.GetFactors()))
		for _, f := range resp.GetFactors() {
			out[f.GetCode()] = int16(f.GetCategory())
		}
		return out, nil
	}, batch.Options{MaxBatch: 1000}), &knownCodes}
}

func (c codeChecker) Categories(ctx context.Context, codes []string) (map[string]int16, error) {
	out := make(map[string]int16, len(codes))
	var ask []string
	for _, code := range codes {
		if cat, ok := c.known.Load(code); ok {
			out[code] = cat.(int16)
		} else {
			ask = append(ask, code)
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	got, err := c.loader.LoadMany(ctx, ask)
	if err != nil {
		return nil, err
	}
	for code, cat := range got {
		out[code] = cat
		if cat != 0 {
			c.known.Store(code, cat)
		}
	}
	return out, nil
}
