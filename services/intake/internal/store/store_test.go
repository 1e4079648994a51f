package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/intake/internal/directory"
	dirstore "github.com/vcci-dev/vcci/services/intake/internal/directory/store"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

type env struct {
	pool   *pgxpool.Pool
	st     *store.Store
	svc    *intake.Service
	dir    *directory.Service // reads back what the pipeline stored
	worker *intake.Worker
	calc   *intaketest.Calc
	a, b   uuid.UUID
}

// paths are the two ways Validate stores an upload.
var paths = intaketest.Paths()

func setup(t *testing.T) env { return setupPath(t, store.SmallUpload) }

func setupPath(t *testing.T, small int64) env {
	t.Helper()
	p := intaketest.NewPipeline(t, small)
	return env{pool: p.Pool, st: p.Store, svc: p.Svc, dir: directory.New(dirstore.New(p.Pool)), worker: p.Worker, calc: p.Calc, a: p.A, b: p.B}
}

// newWorker is a worker on e's store and fake calculator.
func newWorker(e env, o intake.WorkerOptions) *intake.Worker {
	return intaketest.NewWorker(e.st, e.calc, o)
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
		t.Run(p.Name, func(t *testing.T) { checkUploadFlow(t, setupPath(t, p.Small)) })
	}
}

func checkUploadFlow(t *testing.T, e env) {
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
	sups, err := e.dir.Suppliers(ctx, e.a, []string{"S1", "S2", "nope"})
	if err != nil || len(sups) != 2 || sups[0].Name != "Acme Steel Ltd" || sups[1].Name != "Beta, Inc" {
		t.Fatalf("suppliers = %+v, %v", sups, err)
	}
	var stored int
	var total string
	if err := e.pool.QueryRow(ctx, `SELECT count(*), sum(amount_usd)::text FROM intake.transactions WHERE upload_id = $1`, u.ID).Scan(&stored, &total); err != nil {
		t.Fatal(err)
	}
	if stored != 4 || total != "131.2501" {
		t.Fatalf("stored %d rows, total %s", stored, total)
	}

	// Same content again: the same upload, nothing stored twice.
	again, err := e.svc.Receive(ctx, e.a, intake.NewUpload{Filename: "copy.csv"}, strings.NewReader(file))
	if err != nil || again.ID != u.ID {
		t.Fatalf("resend = %+v, %v; want upload %d", again, err, u.ID)
	}
	// Same idempotency key and content: the first upload; other content:
	// refused, naming the key and the upload.
	k1, err := e.svc.Receive(ctx, e.a, intake.NewUpload{IdempotencyKey: "k1"}, strings.NewReader(strings.Replace(file, "T1,", "T10,", 1)))
	if err != nil {
		t.Fatal(err)
	}
	k2, err := e.svc.Receive(ctx, e.a, intake.NewUpload{IdempotencyKey: "k1"}, strings.NewReader(strings.Replace(file, "T1,", "T10,", 1)))
	if err != nil || k2.ID != k1.ID {
		t.Fatalf("same key and body = %d, want %d (%v)", k2.ID, k1.ID, err)
	}
	_, err = e.svc.Receive(ctx, e.a, intake.NewUpload{IdempotencyKey: "k1"}, strings.NewReader(strings.Replace(file, "T1,", "T11,", 1)))
	if want := fmt.Sprintf(`Idempotency-Key "k1" was used for a different body (uploads/%d)`, k1.ID); err == nil ||
		err.Error() != want || apperr.KindOf(err) != apperr.FailedPrecondition {
		t.Fatalf("same key, other body: %v, want %q", err, want)
	}
	drain(t, e)
	// T10's file repeats T2, T3, T5 of the first upload: those are rejected
	// as already stored, T10 is accepted.
	k, _ := e.svc.Get(ctx, e.a, k1.ID)
	if k.Accepted != 1 || k.Rejected != 4 {
		t.Fatalf("second upload = %+v", k)
	}
	page, err := e.svc.Errors(ctx, e.a, k1.ID, 0, 100)
	errs, total2 := page.Errors, page.Total
	if err != nil || total2 != 4 || errs[0].Row != 3 || !strings.Contains(errs[0].Reason, fmt.Sprintf("already stored by uploads/%d", u.ID)) {
		t.Fatalf("errors = %+v, %v", errs, err)
	}
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.transactions`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
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

	// Running totals live in a row of their own: an upload that changes
	// nothing about a supplier but its totals leaves the supplier's row (and
	// its indexes) as it was. Every supplier has its totals row.
	var before string
	if err := e.pool.QueryRow(ctx, `SELECT xmin::text FROM intake.suppliers WHERE supplier_id = 'S2'`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(
		"transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n"+
			"T30,2024-03-01,S2,\"Beta, Inc\",541511,9.75,USD,x\n")); err != nil {
		t.Fatal(err)
	}
	drain(t, e)
	var after, spend string
	var count int64
	if err := e.pool.QueryRow(ctx, `SELECT s.xmin::text, t.spend_usd::text, t.tx_count FROM intake.suppliers s
		JOIN intake.supplier_totals t USING (tenant_id, supplier_id) WHERE supplier_id = 'S2'`).Scan(&after, &spend, &count); err != nil {
		t.Fatal(err)
	}
	if after != before || spend != "60.0000" || count != 2 {
		t.Fatalf("S2 after a totals-only upload: row version %s (was %s), spend %s, count %d; want the same version, 60.0000, 2", after, before, spend, count)
	}
	var orphans int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.suppliers s LEFT JOIN intake.supplier_totals t USING (tenant_id, supplier_id) WHERE t.supplier_id IS NULL`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Fatalf("%d suppliers without a totals row", orphans)
	}

	// Tenant b sees nothing of a's.
	if _, err := e.svc.Get(ctx, e.b, u.ID); !errors.Is(err, intake.ErrUploadNotFound) {
		t.Fatalf("b reading a's upload: %v", err)
	}
	if sups, _ := e.dir.Suppliers(ctx, e.b, []string{"S1"}); len(sups) != 0 {
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
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.uploads`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d uploads stored for a rejected file", n)
	}
	// Over the size limit (1 MiB here): rejected, nothing stored.
	big := "transaction_id,date\n" + strings.Repeat("x,2024-01-01\n", 100_000)
	if _, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(big)); apperr.KindOf(err) != apperr.InvalidArgument {
		t.Fatalf("oversized: err = %v", err)
	}
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.upload_chunks`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d chunks left behind", n)
	}
}

func TestHeaderErrorFailsUpload(t *testing.T) {
	for _, p := range paths {
		t.Run(p.Name, func(t *testing.T) {
			ctx := context.Background()
			e := setupPath(t, p.Small)
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
	// River holds the retry back (backoff); let it run now and recover.
	e.calc.Mu.Lock()
	e.calc.Fail = nil
	e.calc.Mu.Unlock()
	intaketest.RetryNow(t, e.pool)
	drain(t, e)
	got, _ = e.svc.Get(ctx, e.a, u.ID)
	if got.State != intake.Succeeded || got.Calculated != 4 || got.Kg != "262.5002000" || got.Attempts != 2 {
		t.Fatalf("after retry: %+v", got)
	}
}

// An upload waits for a calculator that cannot be reached without
// spending its attempts, looking again every WaitEvery, up to
// CalculatorWait; then its attempts count as for any failure.
func TestAnUnavailableCalculatorIsWaitedFor(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	e.calc.Fail = fmt.Errorf("%w: connection refused", intake.ErrCalculatorUnavailable)
	w := newWorker(e, intake.WorkerOptions{CalculatorWait: 2 * time.Hour, WaitEvery: time.Hour})
	u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	job := func() (state string, attempt, snoozes, errs int, in time.Duration) {
		t.Helper()
		var secs int
		if err := e.pool.QueryRow(ctx, `SELECT state, attempt, coalesce((metadata->>'snoozes')::int, 0), coalesce(array_length(errors, 1), 0),
			extract(epoch FROM scheduled_at - now())::int FROM `+store.RiverSchema+`.river_job WHERE args->>'upload' = $1`,
			strconv.FormatInt(u.ID, 10)).Scan(&state, &attempt, &snoozes, &errs, &secs); err != nil {
			t.Fatal(err)
		}
		return state, attempt, snoozes, errs, time.Duration(secs) * time.Second
	}
	for snooze := 1; snooze <= 2; snooze++ {
		intaketest.Drain(t, e.pool, w)
		got, _ := e.svc.Get(ctx, e.a, u.ID)
		state, attempt, snoozes, errs, in := job()
		if got.State != intake.Calculating || got.Accepted != 4 || state != "scheduled" || attempt != 0 || snoozes != snooze || errs != 0 || in < 50*time.Minute {
			t.Fatalf("wait %d: upload %v, %d accepted; job %s, attempt %d, %d snoozes, %d errors, due in %v; want a job snoozed for an hour, no attempt spent",
				snooze, got.State, got.Accepted, state, attempt, snoozes, errs, in)
		}
		intaketest.RetryNow(t, e.pool)
	}
	// Two hours waited: this failure spends the first attempt.
	intaketest.Drain(t, e.pool, w)
	got, _ := e.svc.Get(ctx, e.a, u.ID)
	if state, attempt, snoozes, errs, _ := job(); got.State != intake.Calculating || state != "retryable" || attempt != 1 || snoozes != 2 || errs != 1 ||
		!strings.Contains(got.FailureReason, "the calculator is unavailable: connection refused") {
		t.Fatalf("after the wait: upload %+v; job %s, attempt %d, %d snoozes, %d errors", got, state, attempt, snoozes, errs)
	}
	e.calc.Mu.Lock()
	e.calc.Fail = nil
	e.calc.Mu.Unlock()
	intaketest.RetryNow(t, e.pool)
	intaketest.Drain(t, e.pool, w)
	got, _ = e.svc.Get(ctx, e.a, u.ID)
	if state, attempt, _, _, _ := job(); got.State != intake.Succeeded || got.Calculated != 4 || got.Kg != "262.5002000" || state != "completed" || attempt != 2 {
		t.Fatalf("after the calculator came back: upload %+v; job %s, attempt %d", got, state, attempt)
	}
}

const header = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n"

// Small uploads of a tenant are each validated, stored and calculated on
// their own, in order; a transaction an earlier one stored is rejected.
func TestSmallUploadsOfATenantAreEachProcessedOnce(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	w := e.worker
	receive := func(tenant uuid.UUID, body string) intake.Upload {
		t.Helper()
		u, err := e.svc.Receive(ctx, tenant, intake.NewUpload{}, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	earlier := receive(e.a, header+"T40,2024-03-01,S4,Delta,541511,4.00,USD,x\n")
	intaketest.Drain(t, e.pool, w)
	callsBefore := e.calc.Calls

	u1 := receive(e.a, header+"T1,2024-01-05,S1,Acme,331110,100.00,USD,x\nT2,2024-02-05,S2,Beta,541511,10.00,USD,x\n")
	u2 := receive(e.a, "transaction_id,date\nT9,2024-01-01\n") // refused header
	// T1 repeats u1's.
	u3 := receive(e.a, header+"T1,2024-01-05,S1,Acme,331110,7.00,USD,x\nT5,2024-06-01,S1,Acme Corp,331110,1.00,USD,x\nT3,2024-06-02,S3,Gamma,999999,1.00,USD,x\n")
	u4 := receive(e.a, header+"T40,2024-03-01,S4,Delta,541511,4.00,USD,again\nT41,2024-03-02,S4,Delta,541511,0.50,USD,x\n")
	large := receive(e.a, header+"L1,2024-01-01,S1,Acme,331110,1.00,USD,"+strings.Repeat("x", 1024)+"\n")
	other := receive(e.b, header+"B1,2024-01-01,S1,Other,331110,3.00,USD,x\n")
	intaketest.Drain(t, e.pool, w)

	// One call for each upload with rows to calculate (Batch is 2 rows).
	if calls := e.calc.Calls - callsBefore; calls != 5 {
		t.Fatalf("calculator calls = %d, want 5 (u1, u3, u4, the large upload, b's upload)", calls)
	}
	get := func(tenant uuid.UUID, u intake.Upload) intake.Upload {
		t.Helper()
		got, err := e.svc.Get(ctx, tenant, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Attempts != 1 {
			t.Fatalf("uploads/%d took %d attempts", u.ID, got.Attempts)
		}
		return got
	}
	if g := get(e.a, u1); g.State != intake.Succeeded || g.Accepted != 2 || g.Calculated != 2 || g.Kg != "220.0000000" {
		t.Fatalf("u1 = %+v", g)
	}
	if g := get(e.a, u2); g.State != intake.Failed || !strings.Contains(g.FailureReason, "header") || len(g.ErrorSamples) == 0 {
		t.Fatalf("u2 = %+v", g)
	}
	g3 := get(e.a, u3)
	if g3.State != intake.Succeeded || g3.Read != 3 || g3.Accepted != 1 || g3.Rejected != 2 || g3.Calculated != 1 || g3.Kg != "2.0000000" {
		t.Fatalf("u3 = %+v", g3)
	}
	if e := g3.ErrorSamples; len(e) != 2 || e[0].Row != 2 || e[0].Reason != fmt.Sprintf("transaction already stored by uploads/%d", u1.ID) || e[1].Row != 4 || e[1].Column != "naics_code" {
		t.Fatalf("u3 errors = %+v", e)
	}
	g4 := get(e.a, u4)
	if g4.State != intake.Succeeded || g4.Accepted != 1 || g4.Kg != "1.0000000" ||
		len(g4.ErrorSamples) != 1 || g4.ErrorSamples[0].Reason != fmt.Sprintf("transaction already stored by uploads/%d", earlier.ID) {
		t.Fatalf("u4 = %+v", g4)
	}
	if g := get(e.a, large); g.State != intake.Succeeded || g.Kg != "2.0000000" {
		t.Fatalf("large = %+v", g)
	}
	if g := get(e.b, other); g.State != intake.Succeeded || g.Kg != "6.0000000" {
		t.Fatalf("b's upload = %+v", g)
	}
	// Each row is stored once, under its own upload; suppliers carry the
	// totals of every upload, and the last name in upload order.
	rows, err := e.pool.Query(ctx, `SELECT upload_id || ':' || transaction_id || ':' || tx_date FROM intake.transactions
		WHERE tenant_id = $1 ORDER BY upload_id, row_number`, e.a)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
	want := []string{
		fmt.Sprintf("%d:T40:2024-03-01", earlier.ID),
		fmt.Sprintf("%d:T1:2024-01-05", u1.ID), fmt.Sprintf("%d:T2:2024-02-05", u1.ID),
		fmt.Sprintf("%d:T5:2024-06-01", u3.ID), fmt.Sprintf("%d:T41:2024-03-02", u4.ID),
		fmt.Sprintf("%d:L1:2024-01-01", large.ID),
	}
	if err != nil || !slices.Equal(stored, want) {
		t.Fatalf("stored = %v, %v; want %v", stored, err, want)
	}
	sups, err := e.dir.Suppliers(ctx, e.a, []string{"S1", "S4"})
	if err != nil || len(sups) != 2 {
		t.Fatalf("suppliers = %+v, %v", sups, err)
	}
	if s := sups[0]; s.Name != "Acme" || s.Count != 3 || s.Kg != "204.0000000" || s.Spend != "102.0000" {
		t.Fatalf("S1 = %+v", s) // u1's T1, u3's T5, the large file's L1
	}
	if s := sups[1]; s.Count != 2 || s.Kg != "9.0000000" {
		t.Fatalf("S4 = %+v", s)
	}
}

func TestFailedCalculationsRetryEachUploadOnce(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	e.calc.Fail = errors.New("calculator unavailable")
	us := make([]intake.Upload, 0, 3)
	for i := range cap(us) {
		u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(fmt.Sprintf(header+"R%d,2024-01-05,S1,Acme,331110,%d.00,USD,x\n", i, i+1)))
		if err != nil {
			t.Fatal(err)
		}
		us = append(us, u)
	}
	drain(t, e)
	if e.calc.Calls != 3 {
		t.Fatalf("calculator calls = %d, want 3 (one per upload)", e.calc.Calls)
	}
	for _, u := range us {
		// Stored, waiting out the backoff: accepted data is never dropped.
		if g, _ := e.svc.Get(ctx, e.a, u.ID); g.State != intake.Calculating || g.Accepted != 1 || !strings.Contains(g.FailureReason, "calculator unavailable") {
			t.Fatalf("after the failed attempt: %+v", g)
		}
	}
	e.calc.Mu.Lock()
	e.calc.Fail = nil
	e.calc.Mu.Unlock()
	intaketest.RetryNow(t, e.pool)
	drain(t, e)
	if e.calc.Calls != 6 {
		t.Fatalf("calculator calls = %d, want 3 + 3", e.calc.Calls)
	}
	for i, u := range us {
		g, _ := e.svc.Get(ctx, e.a, u.ID)
		if want := fmt.Sprintf("%d.0000000", 2*(i+1)); g.State != intake.Succeeded || g.Attempts != 2 || g.Kg != want {
			t.Fatalf("after the retry: %+v, want kg %s", g, want)
		}
	}
	if s, _ := e.dir.Suppliers(ctx, e.a, []string{"S1"}); len(s) != 1 || s[0].Count != 3 || s[0].Kg != "12.0000000" {
		t.Fatalf("S1 = %+v, want 3 lines, 12 kg (each upload counted once)", s)
	}
}

// Concurrent small files of a tenant are stored by one statement; each
// caller still gets its own upload, duplicates of content or of key get the
// upload that has it, and every stored upload has its chunk.
func TestConcurrentSmallReceivesAreStoredTogether(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	release := make(chan struct{})
	e.st.HoldReceives(release)
	type result struct {
		name  string
		u     intake.Upload
		isNew bool
		err   error
	}
	const distinct = 30
	results := make(chan result, distinct+5)
	send := func(name, key, content string) {
		u, isNew, err := e.st.Receive(ctx, e.a, intake.NewUpload{Filename: name, IdempotencyKey: key}, strings.NewReader(content))
		results <- result{name, u, isNew, err}
	}
	// key-a.csv first in the queue, so first in the statement.
	go send("key-a.csv", "k", strings.Replace(file, "T1,", "KA,", 1))
	for deadline := time.Now().Add(5 * time.Second); e.st.QueuedReceives() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("key-a.csv not queued")
		}
	}
	for i := range distinct {
		go send(fmt.Sprintf("f%d.csv", i), "", strings.Replace(file, "T1,", fmt.Sprintf("X%d,", i), 1))
	}
	go send("twin-a.csv", "", file) // the same content twice
	go send("twin-b.csv", "", file)
	go send("key-b.csv", "k", strings.Replace(file, "T1,", "KA,", 1)) // the same key and body again
	go send("key-c.csv", "k", strings.Replace(file, "T1,", "KC,", 1)) // and with another body
	for deadline := time.Now().Add(5 * time.Second); e.st.QueuedReceives() < distinct+5; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d files queued", e.st.QueuedReceives())
		}
	}
	close(release)
	got := map[string]result{}
	for range distinct + 5 {
		r := <-results
		if r.err != nil && r.name != "key-c.csv" {
			t.Fatalf("%s: %v", r.name, r.err)
		}
		got[r.name] = r
	}
	if n := e.st.ReceiveBatches(); n != 1 {
		t.Fatalf("%d statements for %d files, want 1", n, distinct+5)
	}
	// The first of the key's files in the batch has it; another body with
	// it is refused.
	if c, a := got["key-c.csv"], got["key-a.csv"].u; c.err == nil ||
		c.err.Error() != fmt.Sprintf(`Idempotency-Key "k" was used for a different body (uploads/%d)`, a.ID) {
		t.Fatalf("key-c.csv: %+v, want the key refused naming uploads/%d", c, a.ID)
	}
	ids := map[int64]bool{}
	for i := range distinct {
		r := got[fmt.Sprintf("f%d.csv", i)]
		if !r.isNew || r.u.ID == 0 || r.u.Filename != fmt.Sprintf("f%d.csv", i) || r.u.State != intake.Queued || ids[r.u.ID] {
			t.Fatalf("f%d: %+v", i, r)
		}
		ids[r.u.ID] = true
	}
	for _, pair := range [][2]string{{"twin-a.csv", "twin-b.csv"}, {"key-a.csv", "key-b.csv"}} {
		a, b := got[pair[0]], got[pair[1]]
		if a.u.ID != b.u.ID || a.isNew == b.isNew || a.u.ID == 0 || ids[a.u.ID] {
			t.Fatalf("%s %+v and %s %+v: want one new upload both get", pair[0], a, pair[1], b)
		}
		ids[a.u.ID] = true
	}
	var uploads, chunks int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.uploads WHERE tenant_id = $1`, e.a).Scan(&uploads); err != nil {
		t.Fatal(err)
	}
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.upload_chunks c JOIN intake.uploads u ON u.id = c.upload_id
		WHERE u.tenant_id = $1 AND c.seq = 0 AND length(c.data) = u.size_bytes`, e.a).Scan(&chunks); err != nil {
		t.Fatal(err)
	}
	if uploads != distinct+2 || chunks != uploads {
		t.Fatalf("%d uploads, %d whole chunks; want %d each", uploads, chunks, distinct+2)
	}
	// Each stored upload has its one job, inserted in the same commit.
	var jobs int
	if err := e.pool.QueryRow(ctx, `SELECT count(DISTINCT (args->>'upload')::bigint) FROM `+store.RiverSchema+`.river_job
		WHERE (args->>'upload')::bigint IN (SELECT id FROM intake.uploads WHERE tenant_id = $1)`, e.a).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	var total int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM `+store.RiverSchema+`.river_job`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if jobs != uploads || total != uploads {
		t.Fatalf("%d jobs for %d of the uploads, want one for each of %d", total, jobs, uploads)
	}

	// Every file is worked through to the end.
	drain(t, e)
	var done int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.uploads WHERE tenant_id = $1 AND state = $2`, e.a, intake.Succeeded).Scan(&done); err != nil {
		t.Fatal(err)
	}
	if done != uploads {
		t.Fatalf("%d of %d uploads succeeded", done, uploads)
	}
}

// Caches are told of new totals after they are committed and before the
// upload is seen to succeed: a cache refilled before the notice may hold
// the old totals, and a client that sees the success must not read them.
func TestCachesLetGoOfTotalsBeforeTheUploadSucceeds(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	type seen struct {
		state intake.State
		count int64
	}
	var notices []seen
	e.worker = newWorker(e, intake.WorkerOptions{Batch: 2, Changed: func(ctx context.Context, tenant uuid.UUID, _ []string) {
		u, err := e.svc.List(ctx, tenant, 0, 10)
		if err != nil || len(u) != 1 {
			t.Errorf("uploads at a notice: %v, %v", u, err)
			return
		}
		var n int64
		sups, err := e.dir.Suppliers(ctx, tenant, []string{"S1"})
		if err == nil && len(sups) == 1 {
			n = sups[0].Count
		}
		notices = append(notices, seen{u[0].State, n})
	}})
	u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(header+"R1,2024-01-05,S1,Acme,331110,1.00,USD,x\nR2,2024-01-06,S1,Acme,331110,2.00,USD,x\n"))
	if err != nil {
		t.Fatal(err)
	}
	drain(t, e)
	if g, _ := e.svc.Get(ctx, e.a, u.ID); g.State != intake.Succeeded {
		t.Fatalf("upload = %+v", g)
	}
	// The notice after the totals: both lines counted, still calculating.
	want := seen{intake.Calculating, 2}
	if !slices.Contains(notices, want) {
		t.Fatalf("notices = %+v, want one with %+v", notices, want)
	}
}

// TestIdempotencyKeyNamesOneBody: a key sent again with the same body gets
// its upload back, with another body it is refused and nothing is stored;
// for a file of one chunk and for one of several.
func TestIdempotencyKeyNamesOneBody(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	var big strings.Builder
	big.WriteString(header)
	for i := 0; big.Len() <= store.ChunkSize+store.ChunkSize/4; i++ {
		fmt.Fprintf(&big, "B%06d,2024-01-05,S1,Acme,331110,1.00,USD,line\n", i)
	}
	// The store, not the service: the pipeline's service takes 1 MiB at most.
	receiveKeyed := func(tenant uuid.UUID, key, body string) (intake.Upload, error) {
		u, _, err := e.st.Receive(ctx, tenant, intake.NewUpload{Filename: key + ".csv", IdempotencyKey: key}, strings.NewReader(body))
		return u, err
	}
	for name, body := range map[string]string{"small": file, "large": big.String()} {
		t.Run(name, func(t *testing.T) {
			first, err := receiveKeyed(e.a, name, body)
			if err != nil {
				t.Fatal(err)
			}
			again, err := receiveKeyed(e.a, name, body)
			if err != nil || again.ID != first.ID {
				t.Fatalf("same key and body: %+v, %v; want uploads/%d", again, err, first.ID)
			}
			var before, after int
			if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.uploads`).Scan(&before); err != nil {
				t.Fatal(err)
			}
			other := strings.Replace(body, ",USD,", ",USD,changed ", 1)
			_, err = receiveKeyed(e.a, name, other)
			want := fmt.Sprintf(`Idempotency-Key %q was used for a different body (uploads/%d)`, name, first.ID)
			if err == nil || err.Error() != want || apperr.KindOf(err) != apperr.FailedPrecondition {
				t.Fatalf("same key, other body: %v, want %q", err, want)
			}
			if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.uploads`).Scan(&after); err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Fatalf("%d uploads after the refused one, want %d", after, before)
			}
			// Another tenant's key of the same name is its own.
			if u, err := receiveKeyed(e.b, name, other); err != nil || u.ID == first.ID {
				t.Fatalf("tenant b, same key: %+v, %v", u, err)
			}
		})
	}
}

// Sniff looks at a file's first 64 KiB only: past them, a NUL byte (which
// PostgreSQL refuses in text) rejects its row; stored, it failed the upload.
func TestNULPastTheSniffedHeadRejectsItsRow(t *testing.T) {
	for _, p := range paths {
		t.Run(p.Name, func(t *testing.T) {
			e := setupPath(t, p.Small)
			var b strings.Builder
			b.WriteString("transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n")
			rows := 0
			for ; b.Len() <= 64<<10; rows++ {
				fmt.Fprintf(&b, "T%05d,2024-01-05,S1,Acme Steel,331110,10.00,USD,steel coil for the plant\n", rows)
			}
			b.WriteString("X1,2024-01-05,S1,Acme Steel,331110,10.00,USD,bin\x00ary\n")
			b.WriteString("X2,2024-01-05,S1,Acme Steel,\x00\x00\x00\x00\x00\x00,10.00,USD,zeros\n")
			ctx := context.Background()
			u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{Filename: "nul.csv"}, strings.NewReader(b.String()))
			if err != nil {
				t.Fatal(err)
			}
			drain(t, e)
			got, err := e.svc.Get(ctx, e.a, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != intake.Succeeded || got.Accepted != int64(rows) || got.Rejected != 2 || len(got.ErrorSamples) != 2 {
				t.Fatalf("upload of %d good rows and 2 with NUL = %+v", rows, got)
			}
			want := []intake.RowError{
				{Row: int64(rows + 2), Column: "description", Reason: "contains a NUL byte (0x00) at byte 4 of the field", Value: "bin\ufffdary"},
				{Row: int64(rows + 3), Column: "naics_code", Reason: "contains a NUL byte (0x00) at byte 1 of the field", Value: strings.Repeat("\ufffd", 6)},
			}
			if !slices.Equal(got.ErrorSamples, want) {
				t.Fatalf("errors = %+v, want %+v", got.ErrorSamples, want)
			}
		})
	}
}

// A body that arrives slowly holds no transaction open: it is spooled to
// a file as it comes, and stored once it is whole.
func TestASlowBodyHoldsNoTransactionOpen(t *testing.T) {
	e := setupPath(t, 0)
	ctx := context.Background()
	var first, rest strings.Builder
	first.WriteString(header)
	for i := 0; first.Len() < 2*store.ChunkSize; i++ {
		fmt.Fprintf(&first, "SLOW%07d,2024-01-05,S1,Acme,331110,1.00,USD,a row of the slow body\n", i)
	}
	rest.WriteString("SLOWLAST,2024-01-05,S1,Acme,331110,1.00,USD,the last row\n")
	pr, pw := io.Pipe()
	t.Cleanup(func() { _ = pw.CloseWithError(io.ErrClosedPipe) }) // a failed test lets Receive go
	type received struct {
		u   intake.Upload
		err error
	}
	done := make(chan received, 1)
	go func() {
		u, _, err := e.st.Receive(ctx, e.a, intake.NewUpload{Filename: "slow.csv"}, pr)
		_ = pr.CloseWithError(err) // a writer left waiting fails instead
		done <- received{u, err}
	}()
	if _, err := io.WriteString(pw, first.String()); err != nil {
		t.Fatal(err, (<-done).err)
	}
	// Two chunks are in, the client pauses: no session of this database
	// but the test's own is in a transaction.
	time.Sleep(300 * time.Millisecond)
	var open int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()`).Scan(&open); err != nil {
		t.Fatal(err)
	}
	if open != 0 {
		t.Fatalf("%d transactions open while the client pauses, want 0", open)
	}
	if _, err := io.WriteString(pw, rest.String()); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if want := int64(first.Len() + rest.Len()); r.u.Size != want {
		t.Fatalf("stored %d bytes, want %d", r.u.Size, want)
	}
	var stored []byte
	if err := e.pool.QueryRow(ctx, `SELECT string_agg(data, ''::bytea ORDER BY seq) FROM intake.upload_chunks WHERE upload_id = $1`,
		r.u.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if string(stored) != first.String()+rest.String() {
		t.Fatalf("stored body differs from the one sent (%d bytes stored)", len(stored))
	}
}

// Lines in other currencies are stored with their own amount and in
// dollars at their month's rate (EUR 2024-06 0.9291, GBP 2024-06 0.7864),
// on both ways an upload is stored, and read back with both.
func TestCurrencyUploadStoresBothAmounts(t *testing.T) {
	const fx = `transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description
E1,2024-06-14,S1,Acme,331110,100,EUR,coil
E2,2024-06-20,S1,Acme,331110,-250.50,gbp,credit
E3,2024-06-21,S2,Beta,541511,10,USD,dev
E4,2026-07-01,S2,Beta,541511,10,EUR,no rate yet
`
	for _, p := range paths {
		t.Run(p.Name, func(t *testing.T) {
			ctx := context.Background()
			e := setupPath(t, p.Small)
			u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{Filename: "fx.csv"}, strings.NewReader(fx))
			if err != nil {
				t.Fatal(err)
			}
			drain(t, e)
			got, err := e.svc.Get(ctx, e.a, u.ID)
			// kg = 2 x (107.6310 - 318.5402 + 10), the fake calculator's factor on dollars
			if err != nil || got.State != intake.Succeeded || got.Accepted != 3 || got.Kg != "-401.8184000" {
				t.Fatalf("upload = %+v, %v", got, err)
			}
			if s := got.ErrorSamples; len(s) != 1 || s[0].Row != 5 || s[0].Column != "currency" ||
				s[0].Reason != "no FX rate for EUR in 2026-07: the series covers 1999-01 to 2026-06" {
				t.Fatalf("errors = %+v", s)
			}
			page, err := e.dir.ListTransactions(ctx, e.a, directory.TransactionQuery{Order: "date", Page: directory.Page{Limit: 10}})
			if err != nil || len(page.Transactions) != 3 {
				t.Fatalf("transactions = %+v, %v", page, err)
			}
			for i, want := range [][3]string{{"107.6310", "EUR", "100.0000"}, {"-318.5402", "GBP", "-250.5000"}, {"10.0000", "USD", "10.0000"}} {
				if tx := page.Transactions[i]; tx.Amount != want[0] || tx.Currency != want[1] || tx.Original != want[2] {
					t.Errorf("transaction %d = %+v, want %v", i, tx, want)
				}
			}
			var nulls int
			if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.transactions WHERE amount IS NULL`).Scan(&nulls); err != nil || nulls != 1 {
				t.Fatalf("USD rows with a second amount: %d of 1 left NULL (%v)", nulls, err)
			}
		})
	}
}
