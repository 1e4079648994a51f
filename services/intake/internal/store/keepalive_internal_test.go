package store

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// Validate's heartbeat beats while the rows are stored and never after
// stop, which may be called twice (explicitly, then deferred).
func TestKeepAliveBeatsUntilStopped(t *testing.T) {
	var beats atomic.Int64
	stop := keepAlive(context.Background(), time.Millisecond, func() { beats.Add(1) })
	deadline := time.Now().Add(5 * time.Second)
	for beats.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d beats in 5 s at 1 ms", beats.Load())
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	n := beats.Load()
	time.Sleep(20 * time.Millisecond)
	stop()
	if got := beats.Load(); got != n {
		t.Fatalf("%d beats after stop", got-n)
	}
}
