package events_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vcci-dev/vcci/pkg/events"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	"github.com/vcci-dev/vcci/pkg/riverdb"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/pkg/webhook"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

const schema = "events_test_river"

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return riverdb.Migrate(ctx, pool, schema, `SELECT 1`)
}

// engagement refuses the first call as unavailable, then records events.
type engagement struct {
	engagementv1.UnimplementedEngagementServiceServer
	mu    sync.Mutex
	calls int
	got   []*engagementv1.PublishEventRequest
}

func (e *engagement) PublishEvent(_ context.Context, req *engagementv1.PublishEventRequest) (*engagementv1.PublishEventResponse, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls++
	if e.calls == 1 {
		return nil, status.Error(codes.Unavailable, "starting")
	}
	e.got = append(e.got, req)
	return &engagementv1.PublishEventResponse{Published: true}, nil
}

func (e *engagement) published() []*engagementv1.PublishEventRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*engagementv1.PublishEventRequest(nil), e.got...)
}

func jobs(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM `+schema+`.river_job`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// An event is queued with its transaction, and not for one rolled back;
// the worker publishes it through engagement's refusal.
func TestEnqueueIsTransactionalAndRetriedUntilPublished(t *testing.T) {
	ctx := context.Background()
	pool := testsupport.NewPool(t, "events", migrate)
	inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	tenant := uuid.New()
	ev := events.Event{Tenant: tenant, ID: "upload-1-succeeded", Type: webhook.UploadSucceeded, Data: map[string]any{"upload": "uploads/1", "rows_accepted": 4}}

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := events.Enqueue(ctx, inserter, tx, ev); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := jobs(t, pool); n != 0 {
		t.Fatalf("%d jobs after a rollback, want none", n)
	}
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return events.Enqueue(ctx, inserter, tx, ev) }); err != nil {
		t.Fatal(err)
	}
	if n := jobs(t, pool); n != 1 {
		t.Fatalf("%d jobs after a commit, want 1", n)
	}

	fake := &engagement{}
	s := grpc.NewServer()
	engagementv1.RegisterEngagementServiceServer(s, fake)
	workers := river.NewWorkers()
	if err := events.AddWorker(workers, engagementv1.NewEngagementServiceClient(testsupport.Dial(t, testsupport.Serve(t, s)))); err != nil {
		t.Fatal(err)
	}
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: schema, Workers: workers, TestOnly: true,
		Queues: map[string]river.QueueConfig{events.Queue: {MaxWorkers: 1}}, FetchPollInterval: 50 * time.Millisecond, FetchCooldown: 50 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	testsupport.WaitFor(t, "the event published", 20*time.Second, func() bool { return len(fake.published()) == 1 })
	got := fake.published()[0]
	var data struct {
		Upload       string `json:"upload"`
		RowsAccepted int    `json:"rows_accepted"`
	}
	// River keeps the arguments as jsonb: the same JSON, not the same bytes.
	if err := json.Unmarshal([]byte(got.GetData()), &data); err != nil || got.GetEventId() != ev.ID || got.GetType() != ev.Type ||
		data.Upload != "uploads/1" || data.RowsAccepted != 4 {
		t.Fatalf("published %v", got)
	}
}

func TestEnqueueRefusesAnUnknownType(t *testing.T) {
	for _, ev := range []events.Event{{ID: "x", Type: "upload.deleted"}, {ID: "", Type: webhook.ReportReady}, {ID: "x", Type: webhook.EndpointDisabled}} {
		if err := events.Enqueue(context.Background(), nil, nil, ev); err == nil {
			t.Errorf("Enqueue(%+v) = nil, want an error", ev)
		}
	}
}
