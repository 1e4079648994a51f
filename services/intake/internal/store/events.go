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
	var state intake.State
	var attempts int
	e := UploadEvent{Upload: fmt.Sprintf("uploads/%d", u.ID)}
	if err := tx.QueryRow(ctx, `SELECT state, filename, rows_accepted, rows_rejected, coalesce(kg_co2e, 0)::text, failure_reason, attempts
		FROM intake.uploads WHERE id = $1`, u.ID).Scan(&state, &e.FileName, &e.RowsAccepted, &e.RowsRejected, &e.KgCO2e, &e.FailureReason, &attempts); err != nil {
		return fmt.Errorf("store.QueueOutcome: %w", err)
	}
	ev := events.Event{Tenant: u.Tenant}
	switch state {
	case intake.Succeeded:
		e.State, ev.ID, ev.Type = "SUCCEEDED", fmt.Sprintf("upload-%d-succeeded", u.ID), webhook.UploadSucceeded
	case intake.Failed:
		e.State, ev.ID, ev.Type = "FAILED", fmt.Sprintf("upload-%d-attempt-%d-failed", u.ID, attempts), webhook.UploadFailed
	default:
		return nil
	}
	ev.Data = e
	if err := events.Enqueue(ctx, s.jobs, tx, ev); err != nil {
		return fmt.Errorf("store.QueueOutcome: %w", err)
	}
	return nil
}
