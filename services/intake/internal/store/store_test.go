package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/dbtest"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := tenancy.Migrate(ctx, pool); err != nil {
		return err
	}
	return store.Migrate(ctx, pool)
}

type codes struct{}

type env struct {
	pool   *pgxpool.Pool
	st     *store.Store
	svc    *intake.Service
	worker *intake.Worker
	calc   *intaketest.Calc
	a, b   uuid.UUID
}

// paths are the two ways Validate stores an upload: small ones in memory
// with array parameters, large ones through COPY into a staging table.
var paths = []struct {
	name  string
	small int64
}{{"in-memory", store.SmallUpload}, {"copy", 0}}

func setup(t *testing.T) env { return setupPath(t, store.SmallUpload) }

func setupPath(t *testing.T, small int64) env {
	t.Helper()
	pool := dbtest.NewPool(t, "intake", migrate)
	ctx := context.Background()
	a, _ := tenancy.EnsureTenant(ctx, pool, "a")
	b, _ := tenancy.EnsureTenant(ctx, pool, "b")
	st := store.New(pool).WithSmallUpload(small)
	calc := intaketest.NewCalc()
	w := intake.NewWorker(slog.New(slog.NewTextHandler(io.Discard, nil)), noop.NewTracerProvider(), st,
		func(uuid.UUID) intake.Calculator { return calc },
		func(uuid.UUID) intake.CodeChecker { return intaketest.Codes{} },
		intake.WorkerOptions{Batch: 2, MaxAttempts: 2})
	return env{pool, st, intake.New(st, 1<<20, nil), w, calc, a, b}
}

func drain(t *testing.T, e env) { intaketest.Drain(t, e.pool, e.worker) }

const file = `transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description
T1,2024-01-05,S1,Acme Steel,331110,100.00,USD,coil
T2,2024-04-05,S2,"Beta, Inc",541511,50.25,USD,dev
T3,2024-04-06,S1,Acme Steel Ltd,331110,-20.00,USD,credit note
T4,2024-04-07,S3,Gamma,999999,5.00,USD,unknown code
T5,2023-11-30,S3,Gamma,541511,1.0001,USD,old quarter
`

func TestUploadFlow(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) { testUploadFlow(t, setupPath(t, p.small)) })
	}
}

func testUploadFlow(t *testing.T, e env) {
	ctx := context.Background()
	u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{Filename: "q1.csv"}, strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if u.State != intake.Queued || u.Size != int64(len(file)) || len(u.SHA256) != 32 {
		t.Fatalf("received = %+v", u)
	}
	drain(t, e)

	got, err := e.svc.Get(ctx, e.a, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	// kg = 2 x (100 + 50.25 - 20 + 1.0001)
	if got.State != intake.Succeeded || got.Read != 5 || got.Accepted != 4 || got.Rejected != 1 || got.Calculated != 4 || got.Kg != "262.5002000" {
		t.Fatalf("upload = %+v", got)
	}
	if len(got.ErrorSamples) != 1 || got.ErrorSamples[0].Row != 5 || got.ErrorSamples[0].Column != "naics_code" {
		t.Fatalf("errors = %+v", got.ErrorSamples)
	}
	if len(e.calc.Seen) != 4 || e.calc.Seen["T4"] {
		t.Fatalf("calculator saw %v", e.calc.Seen)
	}
	// The latest name in the file wins.
	sups, err := e.svc.Suppliers(ctx, e.a, []string{"S1", "S2", "nope"})
	if err != nil || len(sups) != 2 || sups[0].Name != "Acme Steel Ltd" || sups[1].Name != "Beta, Inc" {
		t.Fatalf("suppliers = %+v, %v", sups, err)
	}
	var stored int
	var total string
	e.pool.QueryRow(ctx, `SELECT count(*), sum(amount_usd)::text FROM intake.transactions WHERE upload_id = $1`, u.ID).Scan(&stored, &total)
	if stored != 4 || total != "131.2501" {
		t.Fatalf("stored %d rows, total %s", stored, total)
	}

	// Same content again: the same upload, nothing stored twice.
	again, err := e.svc.Receive(ctx, e.a, intake.NewUpload{Filename: "copy.csv"}, strings.NewReader(file))
	if err != nil || again.ID != u.ID {
		t.Fatalf("resend = %+v, %v; want upload %d", again, err, u.ID)
	}
	// Same idempotency key, other content: the first upload.
	k1, err := e.svc.Receive(ctx, e.a, intake.NewUpload{IdempotencyKey: "k1"}, strings.NewReader(strings.Replace(file, "T1,", "T10,", 1)))
	if err != nil {
		t.Fatal(err)
	}
	k2, err := e.svc.Receive(ctx, e.a, intake.NewUpload{IdempotencyKey: "k1"}, strings.NewReader(strings.Replace(file, "T1,", "T11,", 1)))
	if err != nil || k2.ID != k1.ID {
		t.Fatalf("same key = %d, want %d (%v)", k2.ID, k1.ID, err)
	}
	drain(t, e)
	// T10's file repeats T2, T3, T5 of the first upload: those are rejected
	// as already stored, T10 is accepted.
	k, _ := e.svc.Get(ctx, e.a, k1.ID)
	if k.Accepted != 1 || k.Rejected != 4 {
		t.Fatalf("second upload = %+v", k)
	}
	errs, _, total2, err := e.svc.Errors(ctx, e.a, k1.ID, 0, 100)
	if err != nil || total2 != 4 || errs[0].Row != 3 || !strings.Contains(errs[0].Reason, fmt.Sprintf("already stored by uploads/%d", u.ID)) {
		t.Fatalf("errors = %+v, %v", errs, err)
	}
	e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.transactions`).Scan(&stored)
	if stored != 5 {
		t.Fatalf("transactions = %d, want 5", stored)
	}

	// Suppliers gather their NAICS codes across uploads; the last country
	// given wins, and a row without one keeps it.
	c, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(
		"transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description,supplier_country\n"+
			"T20,2024-02-01,S1,Acme Steel Ltd,541511,1.00,USD,x,FR\n"+
			"T21,2024-02-02,S1,Acme Steel Ltd,331110,1.00,USD,x,DE\n"+
			"T22,2024-02-03,S1,Acme Steel Ltd,331110,1.00,USD,x,\n"))
	if err != nil {
		t.Fatal(err)
	}
	drain(t, e)
	if got, _ := e.svc.Get(ctx, e.a, c.ID); got.State != intake.Succeeded || got.Accepted != 3 {
		t.Fatalf("third upload = %+v", got)
	}
	rows, err := e.pool.Query(ctx, `SELECT supplier_id || ':' || country || ':' || array_to_string(naics_codes, '+') FROM intake.suppliers ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	sup, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if want := []string{"S1:DE:331110+541511", "S2::541511", "S3::541511"}; err != nil || !slices.Equal(sup, want) {
		t.Fatalf("suppliers = %v, %v; want %v", sup, err, want)
	}

	// Tenant b sees nothing of a's.
	if _, err := e.svc.Get(ctx, e.b, u.ID); !errors.Is(err, intake.ErrUploadNotFound) {
		t.Fatalf("b reading a's upload: %v", err)
	}
	if sups, _ := e.svc.Suppliers(ctx, e.b, []string{"S1"}); len(sups) != 0 {
		t.Fatalf("b sees a's suppliers: %+v", sups)
	}
	if list, _ := e.svc.List(ctx, e.b, 0, 10); len(list) != 0 {
		t.Fatalf("b lists a's uploads: %+v", list)
	}
}

func TestNotCSVIsRejectedWhole(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	_, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader("\x89PNG\r\n\x1a\n\x00\x00\x00"))
	if apperr.KindOf(err) != apperr.InvalidArgument {
		t.Fatalf("err = %v, want InvalidArgument", err)
	}
	var n int
	e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.uploads`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d uploads stored for a rejected file", n)
	}
	// Over the size limit (1 MiB here): rejected, nothing stored.
	big := "transaction_id,date\n" + strings.Repeat("x,2024-01-01\n", 100_000)
	if _, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(big)); apperr.KindOf(err) != apperr.InvalidArgument {
		t.Fatalf("oversized: err = %v", err)
	}
	e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.upload_chunks`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d chunks left behind", n)
	}
}

func TestHeaderErrorFailsUpload(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			ctx := context.Background()
			e := setupPath(t, p.small)
			u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader("transaction_id,date,supplier_id\nT1,2024-01-01,S1\n"))
			if err != nil {
				t.Fatal(err)
			}
			drain(t, e)
			got, _ := e.svc.Get(ctx, e.a, u.ID)
			if got.State != intake.Failed || !strings.Contains(got.FailureReason, "header") || len(got.ErrorSamples) != 5 || got.ErrorSamples[0].Row != 1 {
				t.Fatalf("upload = %+v", got)
			}
		})
	}
}

func TestCalculatorFailureIsRetriedThenFails(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	e.calc.Fail = errors.New("calculator unavailable")
	u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	drain(t, e)
	got, _ := e.svc.Get(ctx, e.a, u.ID)
	// Rows stay stored after a calculation failure: accepted data is never dropped.
	if got.State != intake.Calculating || got.Accepted != 4 || got.Rejected != 1 || !strings.Contains(got.FailureReason, "calculator unavailable") {
		t.Fatalf("after first failure: %+v", got)
	}
	// The lease holds the retry back (backoff); let it lapse and recover.
	e.calc.Mu.Lock()
	e.calc.Fail = nil
	e.calc.Mu.Unlock()
	e.pool.Exec(ctx, `UPDATE intake.uploads SET lease_until = now() - interval '1 second' WHERE id = $1`, u.ID)
	drain(t, e)
	got, _ = e.svc.Get(ctx, e.a, u.ID)
	if got.State != intake.Succeeded || got.Calculated != 4 || got.Kg != "262.5002000" || got.Attempts != 2 {
		t.Fatalf("after retry: %+v", got)
	}
}
