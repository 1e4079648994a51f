// Package events lets a service emit a webhook event reliably: the event is
// a River job inserted in the same transaction as the change it reports, so
// it is sent if and only if that change commits, and the job calls
// engagement's PublishEvent until engagement has it. Engagement keeps each
// (tenant, event id) once, so the retries of a job whose answer was lost
// deliver nothing twice.
//
// An emitting service does three things:
//
//	// 1. Register the worker on its River client, and give it the queue:
//	events.AddWorker(workers, engagementv1.NewEngagementServiceClient(conn))
//	cfg.Queues[events.Queue] = river.QueueConfig{MaxWorkers: 2}
//
//	// 2. In the transaction that makes the change:
//	err := events.Enqueue(ctx, jobs, tx, events.Event{Tenant: tenant,
//		ID: fmt.Sprintf("upload-%d-succeeded", id), Type: webhook.UploadSucceeded, Data: data})
//
//	// 3. Dial engagement (ENGAGEMENT_ADDR) with the service token
//	// (service.Dial), and allow the call in its NetworkPolicy.
//
// The id must be stable: the same change gives the same id, a new change a
// new one (receivers drop a webhook-id they have seen).
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/pkg/webhook"
)

// Queue is the River queue publish jobs run in; the emitting service's
// client must work it.
const Queue = "events"

// MaxAttempts is how often a publish is tried: with MaxBackoff between
// attempts, about a month of engagement being away.
const MaxAttempts = 10_000

// MaxBackoff caps the wait between attempts.
const MaxBackoff = 5 * time.Minute

// Event is what a service emits.
type Event struct {
	Tenant uuid.UUID
	// ID is stable for the change reported, e.g. "upload-123-succeeded".
	ID string
	// Type is one of webhook.Types.
	Type string
	// Data is the event's payload, a JSON object; Enqueue marshals it.
	Data any
}

// PublishArgs is the publish job.
type PublishArgs struct {
	Tenant uuid.UUID       `json:"tenant"`
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data"`
}

// Kind names the job for River.
func (PublishArgs) Kind() string { return "vcci.events.publish" }

// InsertOpts puts the job on Queue with MaxAttempts.
func (PublishArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: MaxAttempts}
}

// Enqueue inserts the jobs that publish es, in tx, with one insert: call
// it in the transaction that makes the changes they report.
func Enqueue(ctx context.Context, jobs *river.Client[pgx.Tx], tx pgx.Tx, es ...Event) error {
	if len(es) == 0 {
		return nil
	}
	ps := make([]river.InsertManyParams, len(es))
	for i, e := range es {
		args, err := argsOf(e)
		if err != nil {
			return err
		}
		ps[i] = river.InsertManyParams{Args: args}
	}
	if _, err := jobs.InsertManyTx(ctx, tx, ps); err != nil {
		return fmt.Errorf("events.Enqueue: %w", err)
	}
	return nil
}

func argsOf(e Event) (PublishArgs, error) {
	if e.ID == "" || !webhook.KnownType(e.Type) || e.Type == webhook.EndpointDisabled {
		return PublishArgs{}, fmt.Errorf("events.Enqueue: event %q of type %q: want an id and one of %v", e.ID, e.Type, webhook.Types)
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		return PublishArgs{}, fmt.Errorf("events.Enqueue: data: %w", err)
	}
	return PublishArgs{Tenant: e.Tenant, ID: e.ID, Type: e.Type, Data: data}, nil
}

// Worker publishes events to engagement.
type Worker struct {
	river.WorkerDefaults[PublishArgs]
	engagement engagementv1.EngagementServiceClient
}

// AddWorker registers the publish worker, calling engagement, on workers.
func AddWorker(workers *river.Workers, engagement engagementv1.EngagementServiceClient) error {
	if err := river.AddWorkerSafely(workers, &Worker{engagement: engagement}); err != nil {
		return fmt.Errorf("events.AddWorker: %w", err)
	}
	return nil
}

// Timeout bounds one call.
func (*Worker) Timeout(*river.Job[PublishArgs]) time.Duration { return 30 * time.Second }

// NextRetry backs off exponentially to MaxBackoff: engagement away for a
// while gets its events soon after it is back.
func (*Worker) NextRetry(job *river.Job[PublishArgs]) time.Time {
	d := MaxBackoff
	if job.Attempt < 9 {
		d = min(time.Second<<job.Attempt, MaxBackoff)
	}
	return time.Now().Add(d)
}

// Work calls PublishEvent as the tenant; an event engagement refuses as
// invalid is cancelled, as no retry would change the answer.
func (w *Worker) Work(ctx context.Context, job *river.Job[PublishArgs]) error {
	a := job.Args
	_, err := w.engagement.PublishEvent(tenancy.AsService(ctx, a.Tenant, ""),
		&engagementv1.PublishEventRequest{EventId: a.ID, Type: a.Type, Data: string(a.Data)})
	if status.Code(err) == codes.InvalidArgument {
		return river.JobCancel(fmt.Errorf("event %s refused: %w", a.ID, err)) //nolint:wrapcheck // River's own signal
	}
	if err != nil {
		return fmt.Errorf("publish event %s: %w", a.ID, err)
	}
	return nil
}
