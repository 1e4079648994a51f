// Package intaketest has the stand-ins intake's tests share: a calculator
// and a factor library that answer without the calculator service, and a
// way to run the upload worker until it is idle.
package intaketest

import (
	"bytes"
	"context"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/xuri/excelize/v2"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"

	"github.com/vcci-dev/vcci/pkg/events"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

// Codes is a factor library that knows every code but 999999: 48xxxx is
// upstream transport (category 4), the rest purchased goods (1).
type Codes struct{}

// Categories answers as the calculator's BatchGetFactors would.
func (Codes) Categories(_ context.Context, cs []string) (map[string]int16, error) {
	out := map[string]int16{}
	for _, c := range cs {
		switch {
		case c == "999999":
		case strings.HasPrefix(c, "48"):
			out[c] = 4
		default:
			out[c] = 1
		}
	}
	return out, nil
}

// Calc stands in for the calculator service: kg = amount * 2, by upload
// and supplier, and it can be told to fail. Like the calculator, it stores
// a line once (Stored counts them) and answers with the totals of every
// line it is sent.
type Calc struct {
	Mu     sync.Mutex
	Fail   error
	Calls  int
	Seen   map[string]bool
	Stored int
	// Before, if set, runs before each call, outside the lock, with the
	// upload the call is for: a test holds a call there.
	Before func(upload int64)
	// Keep, if set, keeps the rows of every call in Rows, in the order
	// sent.
	Keep bool
	Rows []intake.Row
}

// NewCalc returns a Calc that has seen nothing.
func NewCalc() *Calc { return &Calc{Seen: map[string]bool{}} }

func (f *Calc) Calculate(_ context.Context, upload int64, rows []intake.Row) (intake.Calculated, error) {
	f.Mu.Lock()
	f.Calls++
	before := f.Before
	f.Mu.Unlock()
	if before != nil {
		before(upload)
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if f.Fail != nil {
		return intake.Calculated{}, f.Fail
	}
	if f.Keep {
		f.Rows = append(f.Rows, rows...)
	}
	type tot struct {
		kg, spend big.Rat
		n         int64
	}
	type up struct {
		kg    big.Rat
		n     int64
		by    map[string]*tot
		order []string
	}
	ups := map[int64]*up{}
	var order []int64
	for _, r := range rows {
		id := r.Upload
		if id == 0 {
			id = upload
		}
		u := ups[id]
		if u == nil {
			u = &up{by: map[string]*tot{}}
			ups[id] = u
			order = append(order, id)
		}
		a, _ := new(big.Rat).SetString(r.AmountUSD)
		kg := new(big.Rat).Mul(a, big.NewRat(2, 1))
		u.kg.Add(&u.kg, kg)
		u.n++
		t := u.by[r.SupplierID]
		if t == nil {
			t = &tot{}
			u.by[r.SupplierID] = t
			u.order = append(u.order, r.SupplierID)
		}
		t.kg.Add(&t.kg, kg)
		t.spend.Add(&t.spend, a)
		t.n++
		if !f.Seen[r.TransactionID] {
			f.Seen[r.TransactionID] = true
			f.Stored++
		}
	}
	var out intake.Calculated
	for _, id := range order {
		u := ups[id]
		ut := intake.UploadTotal{Upload: id, Count: u.n, Kg: u.kg.FloatString(7)}
		for _, sid := range u.order {
			t := u.by[sid]
			ut.Suppliers = append(ut.Suppliers, intake.SupplierTotal{ID: sid, Kg: t.kg.FloatString(7), Spend: t.spend.FloatString(4), Count: t.n})
		}
		out.Uploads = append(out.Uploads, ut)
	}
	return out, nil
}

// Path is one of the two ways the store keeps an upload's rows: in memory
// with array parameters, or through COPY into a staging table. Small is
// the largest upload that takes the first (store.WithSmallUpload).
type Path struct {
	Name  string
	Small int64
}

// Paths are both ways, for the tests that run on each.
func Paths() []Path { return []Path{{"in-memory", store.SmallUpload}, {"copy", 0}} }

// Pipeline is intake's upload pipeline on a database of its own, with two
// tenants: a store whose jobs run twice at most, a service that takes files
// of up to 1 MiB, and a worker of two-row batches on a fake calculator.
type Pipeline struct {
	Pool   *pgxpool.Pool
	Store  *store.Store
	Svc    *intake.Service
	Worker *intake.Worker
	Calc   *Calc
	A, B   uuid.UUID
}

// NewPipeline returns a Pipeline whose store validates uploads of up to
// small bytes in memory.
func NewPipeline(t testing.TB, small int64) Pipeline {
	t.Helper()
	return pipelineOn(t, testsupport.NewPool(t, "intake", store.Migrate), small)
}

// NewOwnedPipeline is NewPipeline on a database its pool owns and is not
// a superuser of (testsupport.NewOwnedPool): the tenant policies bind it,
// as they bind a deployment's.
func NewOwnedPipeline(t testing.TB, small int64) Pipeline {
	t.Helper()
	return pipelineOn(t, testsupport.NewOwnedPool(t, "intake", store.Migrate), small)
}

func pipelineOn(t testing.TB, pool *pgxpool.Pool, small int64) Pipeline {
	t.Helper()
	a, b := testsupport.Tenant(t, pool, "a"), testsupport.Tenant(t, pool, "b")
	st := store.New(pool).WithSmallUpload(small).WithMaxAttempts(2)
	calc := NewCalc()
	return Pipeline{Pool: pool, Store: st, Svc: intake.New(st, 1<<20), Worker: NewWorker(st, calc, intake.WorkerOptions{Batch: 2}),
		Calc: calc, A: a, B: b}
}

// NewWorker returns a worker on st that calculates with calc, checks codes
// against Codes, and logs and traces nowhere.
func NewWorker(st intake.Store, calc intake.Calculator, o intake.WorkerOptions) *intake.Worker {
	return intake.NewWorker(slog.New(slog.DiscardHandler), noop.NewTracerProvider(), st,
		func(uuid.UUID) intake.Calculator { return calc },
		func(uuid.UUID) intake.CodeChecker { return Codes{} }, o)
}

// Client returns a started River client that works uploads with w, polling
// often and retrying at once; it is stopped at the end of the test.
func Client(t testing.TB, pool *pgxpool.Pool, w *intake.Worker, o store.ClientOptions) *river.Client[pgx.Tx] {
	t.Helper()
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.TP == nil {
		o.TP = noop.NewTracerProvider()
	}
	if o.FetchPoll == 0 {
		o.FetchPoll = 10 * time.Millisecond
	}
	if o.RetryPolicy == nil {
		o.RetryPolicy = retryNow{}
	}
	o.TestOnly = true
	if o.CompactEvery == 0 {
		o.CompactEvery = -1 // tests compact when they choose
	}
	c, err := store.NewClient(pool, w, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Stop(t, c) })
	return c
}

// Stop stops c, letting its jobs finish.
func Stop(t testing.TB, c *river.Client[pgx.Tx]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		t.Errorf("stop river client: %v", err)
	}
}

// retryNow retries a failed attempt at once.
type retryNow struct{}

func (retryNow) NextRetry(*rivertype.JobRow) time.Time { return time.Now() }

// retryLater retries a failed attempt in an hour.
type retryLater struct{}

func (retryLater) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(time.Hour) }

// Drain works uploads until no job is running or due: a failed attempt
// waits an hour for its retry (RetryNow makes it due), so that a slow
// machine never has the retry run inside the same Drain.
func Drain(t testing.TB, pool *pgxpool.Pool, w *intake.Worker) {
	t.Helper()
	// One worker a queue: uploads are worked in order, as tests expect.
	c := Client(t, pool, w, store.ClientOptions{SmallWorkers: 1, LargeWorkers: 1, RetryPolicy: retryLater{}})
	WaitIdle(t, pool)
	Stop(t, c)
}

// WaitIdle waits until no upload job is running or due.
func WaitIdle(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	testsupport.WaitFor(t, "no upload job to be running or due", 20*time.Second, func() bool {
		var pending int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM `+store.RiverSchema+`.river_job
			WHERE queue <> $1 AND (state = 'running' OR (state IN ('available', 'pending') AND scheduled_at <= now()))`, events.Queue).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		return pending == 0
	})
}

// WaitState polls the upload until it is in state, and returns it.
func WaitState(t testing.TB, svc *intake.Service, tenant uuid.UUID, id int64, state intake.State, within time.Duration) intake.Upload {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		u, err := svc.Get(context.Background(), tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		if u.State == state {
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("uploads/%d still %v after %v, want %v: %+v", id, u.State, within, state, u)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Serve serves api over an in-memory gRPC connection as tenant, with the
// services' mapping of errors to status codes, and returns a client.
func Serve(t testing.TB, api intakev1.IntakeServiceServer, tenant uuid.UUID) intakev1.IntakeServiceClient {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		resp, err := h(tenancy.WithTenant(ctx, tenant, "test-key"), req)
		if err != nil {
			return nil, grpcserver.ToStatus(ctx, log, info.FullMethod, err)
		}
		return resp, nil
	}))
	intakev1.RegisterIntakeServiceServer(srv, api)
	return intakev1.NewIntakeServiceClient(testsupport.ServeInMemory(t, srv))
}

// RetryNow makes every upload job waiting out a backoff due now.
func RetryNow(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `UPDATE `+store.RiverSchema+`.river_job SET state = 'available', scheduled_at = now()
		WHERE state IN ('available', 'retryable', 'scheduled')`); err != nil {
		t.Fatal(err)
	}
}

// XLSX is a workbook of one sheet, "Spend", whose rows are rows (row 1
// first; a nil row is left blank). A time.Time cell is a date cell: Excel
// keeps it as a date serial with a date format. format, if set, is the
// number format of every cell below the header, as a user may give one.
func XLSX(t testing.TB, format string, rows ...[]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer func() { _ = f.Close() }()
	const sheet = "Spend"
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		t.Fatal(err)
	}
	for i, row := range rows {
		if row == nil {
			continue
		}
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.SetSheetRow(sheet, cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	if format != "" && len(rows) > 1 {
		style, err := f.NewStyle(&excelize.Style{CustomNumFmt: &format})
		if err != nil {
			t.Fatal(err)
		}
		last, _ := excelize.CoordinatesToCellName(len(rows[0]), len(rows))
		if err := f.SetCellStyle(sheet, "A2", last, style); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
