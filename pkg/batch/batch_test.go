package batch

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestConcurrentLoadsShareOneCall(t *testing.T) {
	var calls atomic.Int32
	var got []int
	l := New(func(_ context.Context, keys []int) (map[int]string, error) {
		calls.Add(1)
		got = append(got, keys...)
		out := map[int]string{}
		for _, k := range keys {
			if k != 13 {
				out[k] = string(rune('a' + k))
			}
		}
		return out, nil
	}, Options{Wait: 20 * time.Millisecond})
	var wg sync.WaitGroup
	results := make([]string, 20)
	oks := make([]bool, 20)
	for i := range 20 {
		wg.Go(func() {
			v, ok, err := l.Load(context.Background(), i%15) // keys 0..14, some twice
			if err != nil {
				t.Error(err)
			}
			results[i], oks[i] = v, ok
		})
	}
	wg.Wait()
	if calls.Load() != 1 || len(got) != 15 {
		t.Fatalf("calls = %d with %d keys, want 1 call with 15 distinct keys", calls.Load(), len(got))
	}
	if results[3] != "d" || !oks[3] || oks[13] || results[18] != "d" {
		t.Fatalf("results = %v %v", results, oks)
	}
	// Remembered for the loader's life: no second call.
	if v, ok, _ := l.Load(context.Background(), 3); v != "d" || !ok || calls.Load() != 1 {
		t.Fatalf("memo: %q %v calls %d", v, ok, calls.Load())
	}
}

func TestMaxBatchSplits(t *testing.T) {
	var sizes []int
	var mu sync.Mutex
	l := New(func(_ context.Context, keys []int) (map[int]int, error) {
		mu.Lock()
		sizes = append(sizes, len(keys))
		mu.Unlock()
		out := map[int]int{}
		for _, k := range keys {
			out[k] = k * 2
		}
		return out, nil
	}, Options{MaxBatch: 10, Wait: 5 * time.Millisecond})
	keys := make([]int, 25)
	for i := range keys {
		keys[i] = i
	}
	m, err := l.LoadMany(context.Background(), keys)
	if err != nil || len(m) != 25 || m[24] != 48 {
		t.Fatalf("LoadMany = %v, %v", m, err)
	}
	if len(sizes) != 3 || sizes[0]+sizes[1]+sizes[2] != 25 {
		t.Fatalf("batch sizes = %v, want 3 batches of at most 10", sizes)
	}
	for _, s := range sizes {
		if s > 10 {
			t.Fatalf("batch of %d over the max", s)
		}
	}
}

// One caller giving up must not fail the others in the same batch.
func TestCancelledCallerDoesNotFailBatch(t *testing.T) {
	release := make(chan struct{})
	var batchErr error
	l := New(func(ctx context.Context, _ []string) (map[string]int, error) {
		<-release
		batchErr = ctx.Err()
		return map[string]int{"a": 1, "b": 2}, nil
	}, Options{Wait: 5 * time.Millisecond})
	ctxA, cancelA := context.WithCancel(context.Background())
	errA := make(chan error, 1)
	go func() { _, _, err := l.Load(ctxA, "a"); errA <- err }()
	resB := make(chan int, 1)
	go func() { v, _, _ := l.Load(context.Background(), "b"); resB <- v }()
	time.Sleep(20 * time.Millisecond) // both are in the batch, which is running
	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", err)
	}
	close(release)
	if v := <-resB; v != 2 {
		t.Fatalf("other caller got %d, want 2", v)
	}
	if batchErr != nil {
		t.Fatalf("the batch saw its context cancelled: %v", batchErr)
	}
}

func TestErrorsAreNotRemembered(t *testing.T) {
	var calls atomic.Int32
	l := New(func(context.Context, []int) (map[int]int, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("unavailable")
		}
		return map[int]int{1: 10}, nil
	}, Options{})
	if _, _, err := l.Load(context.Background(), 1); err == nil {
		t.Fatal("want the first call's error")
	}
	if v, ok, err := l.Load(context.Background(), 1); err != nil || !ok || v != 10 {
		t.Fatalf("retry = %d %v %v", v, ok, err)
	}
}

// The keys of one LoadMany go out together even when the round's wait is
// over before they are all queued.
func TestLoadManyIsOneRoundWhateverTheWait(t *testing.T) {
	var calls [][]int
	var mu sync.Mutex
	l := New(func(_ context.Context, keys []int) (map[int]int, error) {
		mu.Lock()
		calls = append(calls, keys)
		mu.Unlock()
		out := map[int]int{}
		for _, k := range keys {
			out[k] = k * 2
		}
		return out, nil
	}, Options{Wait: time.Nanosecond, MaxBatch: 200_000})
	keys := make([]int, 200_000) // queueing them outlasts the wait many times
	for i := range keys {
		keys[i] = i
	}
	got, err := l.LoadMany(context.Background(), keys)
	if err != nil || len(got) != 200_000 || got[199_999] != 399_998 {
		t.Fatalf("LoadMany = %d values, %v", len(got), err)
	}
	if len(calls) != 1 || len(calls[0]) != 200_000 {
		t.Fatalf("%d calls for one LoadMany", len(calls))
	}
}
