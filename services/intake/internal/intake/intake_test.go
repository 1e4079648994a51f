package intake

import (
	"testing"
	"time"
)

func TestShownWaitsForTheCachesToSettle(t *testing.T) {
	done := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	const settle = 2 * time.Second
	for _, c := range []struct {
		state  State
		after  time.Duration // read this long after completion
		settle time.Duration
		want   State
	}{
		{Succeeded, 0, settle, Calculating},
		{Succeeded, settle - time.Millisecond, settle, Calculating},
		{Succeeded, settle, settle, Succeeded},
		{Succeeded, time.Hour, settle, Succeeded},
		{Succeeded, 0, 0, Succeeded}, // caches invalidated at once
		// Only success waits: a failure changed no cached answer, and
		// the states before it have no completion time.
		{Failed, 0, settle, Failed},
		{Calculating, 0, settle, Calculating},
		{Queued, 0, settle, Queued},
	} {
		u := Upload{State: c.state, CompletedAt: done, ReadAt: done.Add(c.after)}
		if got := u.Shown(c.settle); got != c.want {
			t.Errorf("%v read %v after completion, settle %v: shown %v, want %v", c.state, c.after, c.settle, got, c.want)
		}
	}
}
