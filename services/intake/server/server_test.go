package server

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// stopper records when it was asked to stop and whether its context still
// had time.
type stopper struct{ called chan time.Time }

func (s stopper) StopAndCancel(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok || ctx.Err() != nil {
		panic("StopAndCancel without a live deadline")
	}
	s.called <- time.Now()
	return nil
}

// A stop hands the running uploads back as soon as it begins, while the
// server still drains its requests, not after it.
func TestJobsAreHandedBackWhenTheStopBegins(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(cancel context.CancelFunc, served chan struct{})
	}{
		{"signal", func(cancel context.CancelFunc, _ chan struct{}) { cancel() }},
		{"server ended on its own", func(_ context.CancelFunc, served chan struct{}) { close(served) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			served := make(chan struct{})
			s := stopper{called: make(chan time.Time, 1)}
			done := handBackJobs(ctx, served, s, time.Minute, slog.New(slog.DiscardHandler))
			select {
			case <-s.called:
				t.Fatal("jobs stopped before the stop began")
			case <-time.After(50 * time.Millisecond):
			}
			began := time.Now()
			tc.stop(cancel, served)
			select {
			case at := <-s.called:
				if d := at.Sub(began); d > time.Second {
					t.Errorf("jobs stopped %s after the stop began", d)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("jobs not stopped 5s after the stop began")
			}
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("handBackJobs did not finish")
			}
		})
	}
}
