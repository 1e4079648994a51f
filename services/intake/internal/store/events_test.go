package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/vcci-dev/vcci/pkg/events"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

// fakeEngagement records the events published to it.
type fakeEngagement struct {
	engagementv1.UnimplementedEngagementServiceServer
	mu        sync.Mutex
	published []*engagementv1.PublishEventRequest
}

func (f *fakeEngagement) PublishEvent(_ context.Context, req *engagementv1.PublishEventRequest) (*engagementv1.PublishEventResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published = append(f.published, req)
	return &engagementv1.PublishEventResponse{Published: true}, nil
}

func (f *fakeEngagement) events() []*engagementv1.PublishEventRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*engagementv1.PublishEventRequest(nil), f.published...)
}

func startEngagement(t *testing.T) (*fakeEngagement, engagementv1.EngagementServiceClient) {
	f := &fakeEngagement{}
	s := grpc.NewServer()
	engagementv1.RegisterEngagementServiceServer(s, f)
	return f, engagementv1.NewEngagementServiceClient(testsupport.Dial(t, testsupport.Serve(t, s)))
}

// eventJob is the args of the publish job with the event id, if any.
func eventJob(t *testing.T, e env, id string) (events.PublishArgs, string, bool) {
	t.Helper()
	var args []byte
	var state string
	err := e.pool.QueryRow(context.Background(), `SELECT args, state::text FROM `+store.RiverSchema+`.river_job
		WHERE kind = $1 AND args->>'id' = $2`, events.PublishArgs{}.Kind(), id).Scan(&args, &state)
	if err != nil {
		return events.PublishArgs{}, "", false
	}
	var a events.PublishArgs
	if err := json.Unmarshal(args, &a); err != nil {
		t.Fatal(err)
	}
	return a, state, true
}

// An upload that succeeds queues upload.succeeded in the transaction that
// marks it so; a client with engagement publishes it.
func TestASucceededUploadQueuesItsEvent(t *testing.T) {
	ctx := context.Background()
	e := setup(t)
	u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{Filename: "spend.csv"}, strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	drain(t, e) // a client without engagement: the event waits in its queue
	got := intaketest.WaitState(t, e.svc, e.a, u.ID, intake.Succeeded, 20*time.Second)
	id := fmt.Sprintf("upload-%d-succeeded", u.ID)
	args, state, ok := eventJob(t, e, id)
	if !ok || state != "available" || args.Tenant != e.a || args.Type != "upload.succeeded" {
		t.Fatalf("event job %+v %s %v", args, state, ok)
	}
	var data store.UploadEvent
	if err := json.Unmarshal(args.Data, &data); err != nil {
		t.Fatal(err)
	}
	want := store.UploadEvent{Upload: fmt.Sprintf("uploads/%d", u.ID), FileName: "spend.csv", State: "SUCCEEDED",
		RowsAccepted: 4, RowsRejected: 1, KgCO2e: got.Kg}
	if data != want || got.Kg != "262.5002000" {
		t.Fatalf("event data %+v, want %+v", data, want)
	}

	fake, client := startEngagement(t)
	intaketest.Client(t, e.pool, e.worker, store.ClientOptions{Engagement: client})
	testsupport.WaitFor(t, "the event published", 20*time.Second, func() bool {
		_, state, _ := eventJob(t, e, id)
		return state == "completed"
	})
	pub := fake.events()
	if len(pub) != 1 || pub[0].GetEventId() != id || pub[0].GetType() != "upload.succeeded" || pub[0].GetData() != string(args.Data) {
		t.Fatalf("published %v", pub)
	}
}

// An upload whose last attempt fails queues upload.failed with it, named
// by the attempt, so that a retried upload that fails again is a new event.
func TestAFailedUploadQueuesItsEvent(t *testing.T) {
	ctx := context.Background()
	e := setup(t) // two attempts
	e.calc.Fail = errors.New("calculator unavailable")
	u, err := e.svc.Receive(ctx, e.a, intake.NewUpload{Filename: "spend.csv"}, strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	fake, client := startEngagement(t)
	intaketest.Client(t, e.pool, e.worker, store.ClientOptions{Engagement: client})
	intaketest.WaitState(t, e.svc, e.a, u.ID, intake.Failed, 20*time.Second)
	id := fmt.Sprintf("upload-%d-attempt-2-failed", u.ID)
	testsupport.WaitFor(t, "the event published", 20*time.Second, func() bool { return len(fake.events()) == 1 })
	pub := fake.events()[0]
	var data store.UploadEvent
	if err := json.Unmarshal([]byte(pub.GetData()), &data); err != nil {
		t.Fatal(err)
	}
	if pub.GetEventId() != id || pub.GetType() != "upload.failed" || data.State != "FAILED" || data.RowsAccepted != 4 ||
		!strings.Contains(data.FailureReason, "calculator unavailable") {
		t.Fatalf("published %v", pub)
	}
	if _, _, ok := eventJob(t, e, fmt.Sprintf("upload-%d-succeeded", u.ID)); ok {
		t.Fatal("a failed upload queued upload.succeeded")
	}
}
