// Package batch is a DataLoader: concurrent single lookups made within a short
// window are coalesced into one batched call (one RPC or one query).
//
// A Loader is meant to live for one request (it remembers what it fetched, so
// it must not outlive the data's freshness or the caller's tenant). The batch
// runs on a context detached from every caller's cancellation, with its own
// timeout: one caller giving up returns that caller at once and does not fail
// the others waiting on the same batch.
package batch

import (
	"context"
	"sync"
	"time"
)

// Fetch resolves keys in one call. Keys it leaves out of the map are "not
// found" (Load reports ok=false), not an error.
type Fetch[K comparable, V any] func(ctx context.Context, keys []K) (map[K]V, error)

// Options tune a Loader; zero values take the defaults.
type Options struct {
	MaxBatch int           // keys per call; default 1000
	Wait     time.Duration // how long the first key waits for company; default 1ms
	Timeout  time.Duration // the batch call's own deadline; default 10s
}

// Loader coalesces lookups of K into batches.
type Loader[K comparable, V any] struct {
	fetch Fetch[K, V]
	opts  Options

	mu      sync.Mutex
	pending *round[K, V]
	done    map[K]result[V] // memo of finished lookups, for the loader's life
	calls   int
}

type result[V any] struct {
	v   V
	ok  bool
	err error
}

type round[K comparable, V any] struct {
	keys  []K
	index map[K]struct{}
	ctx   context.Context
	done  chan struct{}
	res   map[K]V
	err   error
}

// New returns a Loader calling fetch.
func New[K comparable, V any](fetch Fetch[K, V], opts Options) *Loader[K, V] {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1000
	}
	if opts.Wait <= 0 {
		opts.Wait = time.Millisecond
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	return &Loader[K, V]{fetch: fetch, opts: opts, done: make(map[K]result[V])}
}

// Calls returns how many batched calls the loader has made.
func (l *Loader[K, V]) Calls() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

// Load returns the value of key; ok is false when the fetch did not return it.
func (l *Loader[K, V]) Load(ctx context.Context, key K) (v V, ok bool, err error) {
	r, memo := l.enqueue(ctx, key)
	if r == nil {
		return memo.v, memo.ok, memo.err
	}
	select {
	case <-r.done:
		if r.err != nil {
			return v, false, r.err
		}
		v, ok = r.res[key]
		return v, ok, nil
	case <-ctx.Done():
		return v, false, ctx.Err()
	}
}

// LoadMany returns the found values of keys; missing keys are left out.
// Keys of one call join rounds together (up to MaxBatch a round): a round's
// timer cannot send it half-way through them.
func (l *Loader[K, V]) LoadMany(ctx context.Context, keys []K) (map[K]V, error) {
	out := make(map[K]V, len(keys))
	rounds := make(map[*round[K, V]][]K)
	l.mu.Lock()
	type queued struct {
		r    *round[K, V]
		memo result[V]
	}
	qs := make([]queued, len(keys))
	for i, k := range keys {
		qs[i].r, qs[i].memo = l.enqueueLocked(ctx, k)
	}
	l.mu.Unlock()
	for i, k := range keys {
		r, memo := qs[i].r, qs[i].memo
		if r == nil {
			if memo.err != nil {
				return nil, memo.err
			}
			if memo.ok {
				out[k] = memo.v
			}
			continue
		}
		rounds[r] = append(rounds[r], k)
	}
	for r, ks := range rounds {
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if r.err != nil {
			return nil, r.err
		}
		for _, k := range ks {
			if v, ok := r.res[k]; ok {
				out[k] = v
			}
		}
	}
	return out, nil
}

// enqueue adds key to the pending round (starting one if needed) and returns
// it, or returns nil and the remembered result when key was fetched before.
func (l *Loader[K, V]) enqueue(ctx context.Context, key K) (*round[K, V], result[V]) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.enqueueLocked(ctx, key)
}

// enqueueLocked is enqueue with l.mu held.
func (l *Loader[K, V]) enqueueLocked(ctx context.Context, key K) (*round[K, V], result[V]) {
	if res, ok := l.done[key]; ok {
		return nil, res
	}
	r := l.pending
	if r == nil {
		// Keep the first caller's values (tenant, API key, trace) but not its
		// cancellation: the round belongs to every caller in it.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.opts.Timeout)
		r = &round[K, V]{index: make(map[K]struct{}), ctx: bctx, done: make(chan struct{})}
		l.pending = r
		time.AfterFunc(l.opts.Wait, func() { l.dispatch(r, cancel) })
		// cancel is called by dispatch when the round finishes.
	}
	if _, dup := r.index[key]; !dup {
		r.index[key] = struct{}{}
		r.keys = append(r.keys, key)
		if len(r.keys) >= l.opts.MaxBatch {
			l.pending = nil // full: later keys start a new round; the timer sends this one
		}
	}
	return r, result[V]{}
}

func (l *Loader[K, V]) dispatch(r *round[K, V], cancel context.CancelFunc) {
	defer cancel()
	l.mu.Lock()
	if l.pending == r {
		l.pending = nil
	}
	l.calls++
	l.mu.Unlock()

	res, err := l.fetch(r.ctx, r.keys)
	r.res, r.err = res, err

	l.mu.Lock()
	if err == nil { // errors are not remembered: a later Load may retry
		for _, k := range r.keys {
			v, ok := res[k]
			l.done[k] = result[V]{v: v, ok: ok}
		}
	}
	l.mu.Unlock()
	close(r.done)
}
