package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/intake/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

// spend is a file of n lines of supplier S1, amounts 1 to n: its kg (the
// fake calculator's 2 x amount) is n(n+1).
func spend(n int) string {
	var b strings.Builder
	b.WriteString(header)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "K%d,2024-02-01,S1,Acme,331110,%d.00,USD,x\n", i, i)
	}
	return b.String()
}

// jobState is the state of the River job of an upload.
func jobState(t *testing.T, e env, upload int64) string {
	t.Helper()
	var state string
	if err := e.pool.QueryRow(context.Background(), `SELECT state::text FROM `+store.RiverSchema+`.river_job
		WHERE (args->>'upload')::bigint = $1 ORDER BY id DESC LIMIT 1`, upload).Scan(&state); err != nil {
		t.Fatal(err)
	}
	return state
}

// A worker killed inside a calculation leaves its job running; a new
// client rescues it and the upload resumes from its stored rows: every row
// is stored once, here and at the calculator, and counted once in the
// supplier's totals.
func TestAKilledWorkerIsResumedAndStoresEveryRowOnce(t *testing.T) {
	ctx := context.Background()
	e := setupPath(t, 0) // rows read back from the table, Batch (2) at a time
	const lines = 20
	u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(spend(lines)))
	if err != nil {
		t.Fatal(err)
	}
	// It is not River's leader: a killed leader's term would hold the
	// next one back until it lapsed, and this one cannot truly die.
	first, wake := killMidCalculation(t, e, u, lines, store.ClientOptions{NotLeader: true})
	defer wake()

	// The new client takes an attempt older than a second for dead (River
	// waits out the worker's Timeout too).
	time.Sleep(1100 * time.Millisecond)
	intaketest.Client(t, e.pool, newWorker(e, intake.WorkerOptions{Batch: 2, Timeout: time.Second}), store.ClientOptions{RescueAfter: time.Second})
	got := intaketest.WaitState(t, e.svc, e.a, u.ID, intake.Succeeded, 30*time.Second)
	if want := strconv.Itoa(lines * (lines + 1)); got.Calculated != lines || got.Kg != want+".0000000" || got.Attempts != 2 {
		t.Fatalf("resumed upload = %+v, want %d rows, kg %s, 2 attempts", got, lines, want)
	}
	var stored int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.transactions WHERE upload_id = $1`, u.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	e.calc.Mu.Lock()
	calculated := e.calc.Stored
	e.calc.Mu.Unlock()
	if stored != lines || calculated != lines {
		t.Fatalf("rows stored %d, at the calculator %d; want %d each", stored, calculated, lines)
	}
	if s, _ := e.dir.Suppliers(ctx, e.a, []string{"S1"}); len(s) != 1 || s[0].Count != lines || s[0].Spend != fmt.Sprintf("%d.0000", lines*(lines+1)/2) {
		t.Fatalf("S1 = %+v, want %d lines counted once", s, lines)
	}
	if s := jobState(t, e, u.ID); s != "completed" {
		t.Fatalf("job %s, want completed", s)
	}
	// The first attempt, woken at last, changes nothing.
	wake()
	intaketest.Stop(t, first)
	if g, _ := e.svc.Get(ctx, e.a, u.ID); g.State != intake.Succeeded || g.Calculated != lines || g.Attempts != 2 {
		t.Fatalf("after the first attempt woke: %+v", g)
	}
	if s, _ := e.dir.Suppliers(ctx, e.a, []string{"S1"}); len(s) != 1 || s[0].Count != lines {
		t.Fatalf("S1 after the first attempt woke = %+v", s)
	}
}

// When River gives up on an upload it fails with the reason; RetryUpload
// over gRPC resumes it from the calculation (the rows stay stored, nothing
// is validated again) and it succeeds with every row once.
func TestAFailedUploadIsRetriedOverGRPC(t *testing.T) {
	ctx := context.Background()
	e := setup(t) // two attempts
	client := intaketest.Serve(t, grpcapi.New(e.svc, nil, nil), e.a)
	e.calc.Fail = errors.New("calculator unavailable")
	u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	intaketest.Client(t, e.pool, e.worker, store.ClientOptions{})
	failed := intaketest.WaitState(t, e.svc, e.a, u.ID, intake.Failed, 20*time.Second)
	if failed.Attempts != 2 || failed.Accepted != 4 || !strings.Contains(failed.FailureReason, "gave up after 2 attempts") ||
		!strings.Contains(failed.FailureReason, "calculator unavailable") {
		t.Fatalf("after River gave up: %+v", failed)
	}
	for deadline := time.Now().Add(5 * time.Second); jobState(t, e, u.ID) != "discarded"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("job %s, want discarded", jobState(t, e, u.ID))
		}
	}

	e.calc.Mu.Lock()
	e.calc.Fail = nil
	e.calc.Mu.Unlock()
	name := fmt.Sprintf("uploads/%d", u.ID)
	retried, err := client.RetryUpload(ctx, &intakev1.RetryUploadRequest{Name: name})
	if err != nil || retried.GetState() != intakev1.UploadState_UPLOAD_STATE_CALCULATING || retried.GetFailureReason() != "" {
		t.Fatalf("RetryUpload = %v, %v; want it calculating again", retried, err)
	}
	got := intaketest.WaitState(t, e.svc, e.a, u.ID, intake.Succeeded, 20*time.Second)
	if got.Read != 5 || got.Accepted != 4 || got.Rejected != 1 || got.Calculated != 4 || got.Kg != "262.5002000" || got.Attempts != 3 {
		t.Fatalf("after the retry: %+v", got)
	}
	var stored int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM intake.transactions WHERE upload_id = $1`, u.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 4 || e.calc.Stored != 4 {
		t.Fatalf("rows stored %d, at the calculator %d; want 4 each", stored, e.calc.Stored)
	}
	if s, _ := e.dir.Suppliers(ctx, e.a, []string{"S1"}); len(s) != 1 || s[0].Count != 2 {
		t.Fatalf("S1 = %+v, want its 2 lines counted once", s)
	}

	for _, c := range []struct {
		name string
		code grpccodes.Code
		msg  string
	}{
		{name, grpccodes.FailedPrecondition, "only a failed upload can be retried"},
		{"uploads/999999", grpccodes.NotFound, "upload not found"},
		{"uploads/x", grpccodes.InvalidArgument, "name"},
	} {
		_, err := client.RetryUpload(ctx, &intakev1.RetryUploadRequest{Name: c.name})
		if s := status.Convert(err); s.Code() != c.code || !strings.Contains(s.Message(), c.msg) {
			t.Errorf("RetryUpload(%s) = %v, want %v %q", c.name, err, c.code, c.msg)
		}
	}
}

// A small upload sent while a large one is being worked finishes at once:
// each has its queue and its workers.
func TestASmallUploadIsNotHeldUpByALargeOne(t *testing.T) {
	ctx := context.Background()
	e := setupPath(t, 1<<10) // files over 1 KiB are large
	large, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(spend(100)))
	if err != nil {
		t.Fatal(err)
	}
	held, release := make(chan struct{}), make(chan struct{})
	var once, holding sync.Once
	defer once.Do(func() { close(release) })
	e.calc.Before = func(upload int64) {
		if upload == large.ID {
			// Two batches in flight may both get here first.
			holding.Do(func() { close(held) })
			<-release
		}
	}
	intaketest.Client(t, e.pool, e.worker, store.ClientOptions{SmallWorkers: 1, LargeWorkers: 1})
	<-held
	small, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(header+"Q1,2024-03-01,S2,Beta,541511,5.00,USD,x\n"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if got := intaketest.WaitState(t, e.svc, e.a, small.ID, intake.Succeeded, 5*time.Second); got.Kg != "10.0000000" {
		t.Fatalf("small upload = %+v", got)
	}
	t.Logf("small upload done %v after it was sent, the large one still calculating", time.Since(start))
	if g, _ := e.svc.Get(ctx, e.a, large.ID); g.State != intake.Calculating {
		t.Fatalf("large upload = %+v, want it still calculating", g)
	}
	var queues string
	if err := e.pool.QueryRow(ctx, `SELECT string_agg(queue, ',' ORDER BY (args->>'upload')::bigint) FROM `+store.RiverSchema+`.river_job
		WHERE kind = $1`, intake.UploadArgs{}.Kind()).Scan(&queues); err != nil {
		t.Fatal(err)
	}
	if queues != intake.QueueLarge+","+intake.QueueSmall {
		t.Fatalf("queues = %s", queues)
	}
	once.Do(func() { close(release) })
	if got := intaketest.WaitState(t, e.svc, e.a, large.ID, intake.Succeeded, 20*time.Second); got.Calculated != 100 {
		t.Fatalf("large upload = %+v", got)
	}
}

// An upload whose job River gave up on behind the worker's back (discarded
// by the rescuer, cancelled by an operator) is failed, and can be retried.
func TestAnUploadWhoseJobWasAbandonedFails(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	var us [3]intake.Upload
	for i := range us {
		u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(fmt.Sprintf(header+"Z%d,2024-05-01,S1,Acme,331110,1.00,USD,x\n", i)))
		if err != nil {
			t.Fatal(err)
		}
		us[i] = u
	}
	// The first as the rescuer leaves it after a worker died on the last
	// attempt (the upload stays validating); the second cancelled; the
	// third still queued.
	if _, err := e.pool.Exec(ctx, `UPDATE intake.uploads SET state = $2, attempts = 2 WHERE id = $1`, us[0].ID, intake.Validating); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE `+store.RiverSchema+`.river_job SET state = 'discarded', attempt = 2, finalized_at = now(),
		errors = ARRAY['{"attempt": 2, "error": "Stuck job rescued by JobRescuer"}'::jsonb] WHERE (args->>'upload')::bigint = $1`, us[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `UPDATE `+store.RiverSchema+`.river_job SET state = 'cancelled', finalized_at = now()
		WHERE (args->>'upload')::bigint = $1`, us[1].ID); err != nil {
		t.Fatal(err)
	}
	if n, err := e.st.FailAbandoned(ctx); err != nil || n != 2 {
		t.Fatalf("FailAbandoned = %d, %v; want 2", n, err)
	}
	for i, want := range []string{"gave up after 2 attempts: Stuck job rescued by JobRescuer", "its job was cancelled"} {
		if g, _ := e.svc.Get(ctx, e.a, us[i].ID); g.State != intake.Failed || g.FailureReason != want {
			t.Fatalf("uploads/%d = %+v, want failed: %s", us[i].ID, g, want)
		}
	}
	if g, _ := e.svc.Get(ctx, e.a, us[2].ID); g.State != intake.Queued {
		t.Fatalf("queued upload = %+v", g)
	}
	// Retried, the first resumes validating under a new job, which the
	// next pass leaves alone.
	if g, err := e.svc.Retry(ctx, e.a, us[0].ID); err != nil || g.State != intake.Validating {
		t.Fatalf("retry = %+v, %v", g, err)
	}
	if n, err := e.st.FailAbandoned(ctx); err != nil || n != 0 {
		t.Fatalf("FailAbandoned after the retry = %d, %v; want 0", n, err)
	}
	if _, err := e.svc.Retry(ctx, e.a, us[1].ID); err != nil {
		t.Fatal(err)
	}
	intaketest.Drain(t, e.pool, e.worker)
	for _, u := range us {
		if g, _ := e.svc.Get(ctx, e.a, u.ID); g.State != intake.Succeeded || g.Kg != "2.0000000" {
			t.Fatalf("uploads/%d = %+v, want succeeded", u.ID, g)
		}
	}
}

// killMidCalculation starts a client with o on e's worker and kills it in
// the third calculation call of u (of lines rows): the call hangs, deaf to
// its context, as in a process that stopped, and the job stays running.
// wake lets the hung call return.
func killMidCalculation(t *testing.T, e env, u intake.Upload, lines int64, o store.ClientOptions) (first *river.Client[pgx.Tx], wake func()) {
	t.Helper()
	ctx := context.Background()
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	wake = func() { once.Do(func() { close(release) }) }
	var calls atomic.Int32
	e.calc.Before = func(int64) {
		if calls.Add(1) == 3 {
			close(held)
			<-release
		}
	}
	first = intaketest.Client(t, e.pool, e.worker, o)
	select {
	case <-held:
	case <-time.After(20 * time.Second):
		wake()
		t.Fatal("the calculation never reached its third call")
	}
	testsupport.WaitFor(t, "calculation progress to be recorded", 5*time.Second, func() bool {
		g, _ := e.svc.Get(ctx, e.a, u.ID)
		return g.Calculated > 0
	})
	stop, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := first.StopAndCancel(stop); !errors.Is(err, context.DeadlineExceeded) {
		wake()
		t.Fatalf("hard stop = %v, want the job still running", err)
	}
	if s := jobState(t, e, u.ID); s != "running" {
		wake()
		t.Fatalf("job %s after the worker died, want running", s)
	}
	if g, _ := e.svc.Get(ctx, e.a, u.ID); g.State != intake.Calculating || g.Calculated == 0 || g.Calculated >= lines {
		wake()
		t.Fatalf("killed mid-calculation: %+v", g)
	}
	return first, wake
}

// A replica that restarts under its worker id takes back at once the job
// it was running when it died; another id takes nothing. No rescue timeout
// is waited out (RescueAfter stays at the worker's timeout plus a minute).
func TestARestartedReplicaTakesBackItsJobAtOnce(t *testing.T) {
	ctx := context.Background()
	e := setupPath(t, 0)
	const lines = 20
	u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{}, strings.NewReader(spend(lines)))
	if err != nil {
		t.Fatal(err)
	}
	first, wake := killMidCalculation(t, e, u, lines, store.ClientOptions{NotLeader: true, ID: "intake-test-1"})
	defer wake()
	if n, err := store.ReclaimOwnJobs(ctx, e.pool, "intake-test-2"); err != nil || n != 0 {
		t.Fatalf("another replica took back %d jobs, %v; want 0", n, err)
	}
	if s := jobState(t, e, u.ID); s != "running" {
		t.Fatalf("job %s, want still running", s)
	}
	if n, err := store.ReclaimOwnJobs(ctx, e.pool, "intake-test-1"); err != nil || n != 1 {
		t.Fatalf("the restarted replica took back %d jobs, %v; want 1", n, err)
	}
	start := time.Now()
	intaketest.Client(t, e.pool, newWorker(e, intake.WorkerOptions{Batch: 2}), store.ClientOptions{NotLeader: true, ID: "intake-test-1b"})
	got := intaketest.WaitState(t, e.svc, e.a, u.ID, intake.Succeeded, 30*time.Second)
	if want := strconv.Itoa(lines * (lines + 1)); got.Calculated != lines || got.Kg != want+".0000000" || got.Attempts != 2 {
		t.Fatalf("resumed upload = %+v, want %d rows, kg %s, 2 attempts", got, lines, want)
	}
	t.Logf("finished %v after the restart", time.Since(start).Round(time.Millisecond))
	wake()
	intaketest.Stop(t, first)
}
