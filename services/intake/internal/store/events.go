package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/pkg/events"
	"github.com/vcci-dev/vcci/pkg/webhook"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

// UploadEvent is the data of upload.succeeded and upload.failed.
type UploadEvent struct {
	Upload        string `json:"upload"`
	FileName      string `json:"file_name"`
	State         string `json:"state"`
	RowsAccepted  int64  `json:"rows_accepted"`
	RowsRejected  int64  `json:"rows_rejected"`
	KgCO2e        string `json:"kg_co2e"`
	FailureReason string `json:"failure_reason,omitempty"`
}

// QueueOutcome queues, in tx, the event of the upload's outcome as tx
// sees it: upload.succeeded or upload.failed, nothing while it is
// unfinished. Its id names the attempt a failure ended, so that a retried
// upload that fails again is a new event.
func (s *Store) QueueOutcome(ctx context.Context, tx pgx.Tx, u intake.Upload) error {
	return s.QueueOutcomes(ctx, tx, []intake.Upload{u})
}

// QueueOutcomes is QueueOutcome for several uploads of one tenant, read
// in one statement and queued in another.
func (s *Store) QueueOutcomes(ctx context.Context, tx pgx.Tx, us []intake.Upload) error {
	ids := make([]int64, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	rows, err := tx.Query(ctx, `SELECT id, state, filename, rows_accepted, rows_rejected, coalesce(kg_co2e, 0)::text, failure_reason, attempts
		FROM intake.uploads WHERE id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return fmt.Errorf("store.QueueOutcomes: %w", err)
	}
	var evs []events.Event
	var id int64
	var state intake.State
	var attempts int
	var e UploadEvent
	if _, err := pgx.ForEachRow(rows, []any{&id, &state, &e.FileName, &e.RowsAccepted, &e.RowsRejected, &e.KgCO2e, &e.FailureReason, &attempts}, func() error {
		e.Upload = fmt.Sprintf("uploads/%d", id)
		ev := events.Event{Tenant: us[0].Tenant}
		switch state {
		case intake.Succeeded:
			e.State, ev.ID, ev.Type = "SUCCEEDED", fmt.Sprintf("upload-%d-succeeded", id), webhook.UploadSucceeded
		case intake.Failed:
			e.State, ev.ID, ev.Type = "FAILED", fmt.Sprintf("upload-%d-attempt-%d-failed", id, attempts), webhook.UploadFailed
		default:
			return nil
		}
		ev.Data = e
		evs = append(evs, ev)
		return nil
	}); err != nil {
		return fmt.Errorf("store.QueueOutcomes: %w", err)
	}
	if err := events.Enqueue(ctx, s.jobs, tx, evs...); err != nil {
		return fmt.Errorf("store.QueueOutcomes: %w", err)
	}
	return nil
}
