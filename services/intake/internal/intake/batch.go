package intake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/trace"
)

// BatchBytes is the largest upload that is worked together with other
// small uploads of its tenant (about 600 rows): a full batch stays inside
// one calculation call.
const BatchBytes = 64 << 10

// DefaultBatchUploads is WorkerOptions.BatchUploads' default.
const DefaultBatchUploads = 8

// batchesAtOnce is how many batches of a tenant a replica runs at once:
// while one waits on the totals' locks or the calculator, the other
// validates and stores.
const batchesAtOnce = 2

// Small uploads of one tenant whose jobs run at the same time are worked
// together: one transaction validates and stores them, one calculator call
// calculates them, one statement adds their totals and one transaction
// completes them and their jobs. Each job still owns its upload (its
// attempt fences the writes) and answers River with its upload's outcome.
// Nothing waits for company: a job whose tenant has fewer than
// batchesAtOnce batches running starts one at once, and the jobs that
// start while they run make the next. Every calculation of a tenant
// updates the same totals rows, so many at once only queued on their
// locks.

// member is a job waiting in its tenant's batch.
type member struct {
	ctx  context.Context
	log  *slog.Logger
	job  *river.Job[UploadArgs]
	u    Upload
	end  EndTx      // the job's end, to work alone
	done chan error // the job's outcome, or errAlone
}

// errAlone tells a member that its batch failed as a whole: it works its
// upload alone, from the state the batch left it in.
var errAlone = errors.New("intake: work the upload alone")

// tenantBatch is a tenant's jobs waiting for the next batch, and how many
// batches are running.
type tenantBatch struct {
	waiting []*member
	running int
}

// batches are the Worker's batches by tenant.
type batches struct {
	mu  sync.Mutex
	by  map[uuid.UUID]*tenantBatch
	max int
}

// batchable reports whether u, as Begin returned it from a job of queue,
// can be worked with others: a small file of the small uploads' queue on
// its first attempt, not yet validated (an upload that failed once goes
// alone, so that it cannot fail a batch twice).
func (w *Worker) batchable(queue string, u Upload) bool {
	return w.batches.max > 1 && queue == QueueSmall && u.Size > 0 && u.Size <= BatchBytes && u.Attempts == 1 &&
		(u.State == Queued || u.State == Validating)
}

// together works u in its tenant's next batch and returns its outcome.
func (w *Worker) together(ctx context.Context, log *slog.Logger, job *river.Job[UploadArgs], u Upload, end EndTx) error {
	m := &member{ctx: ctx, log: log, job: job, u: u, end: end, done: make(chan error, 1)}
	b := &w.batches
	b.mu.Lock()
	tb := b.by[u.Tenant]
	if tb == nil {
		tb = &tenantBatch{}
		b.by[u.Tenant] = tb
	}
	tb.waiting = append(tb.waiting, m)
	if tb.running < batchesAtOnce {
		tb.running++
		go w.drain(u.Tenant, tb) //nolint:contextcheck // a batch runs in its members' contexts (workBatch)
	}
	b.mu.Unlock()
	err := <-m.done
	if !errors.Is(err, errAlone) {
		return err
	}
	// Read back what the batch left: its attempt has not changed, so
	// the upload is still this job's unless a newer attempt took it.
	cur, err := w.store.Upload(ctx, u.Tenant, u.ID)
	if err != nil {
		return err
	}
	if cur.Attempts != u.Attempts {
		return ErrSuperseded
	}
	return w.run(ctx, log, cur, end)
}

// drain works the tenant's waiting jobs, a batch at a time, until none is
// left.
func (w *Worker) drain(tenant uuid.UUID, tb *tenantBatch) {
	b := &w.batches
	for {
		b.mu.Lock()
		ms := tb.waiting
		if len(ms) > b.max {
			ms = ms[:b.max]
		}
		tb.waiting = tb.waiting[len(ms):]
		if len(ms) == 0 {
			tb.running--
			if tb.running == 0 {
				delete(b.by, tenant)
			}
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		safely(ms, func() {
			if len(ms) == 1 {
				m := ms[0]
				m.done <- w.run(m.ctx, m.log, m.u, m.end)
				return
			}
			w.workBatch(ms)
		})
	}
}

// safely runs work, and if it panics answers the members it had not with
// the panic: River recovers a job's own panic, not one in drain.
func safely(ms []*member, work func()) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("intake: working uploads panicked: %v", r)
			for _, m := range ms {
				select {
				case m.done <- err:
				default: // answered already
				}
			}
		}
	}()
	work()
}

// workBatch works several small uploads of one tenant together and
// answers each member. If a step fails for the batch as a whole, every
// member not yet answered works its upload alone.
func (w *Worker) workBatch(ms []*member) {
	// The batch runs in the first job's trace, for as long as an attempt
	// may, and stops when the job of a member not yet answered is stopped
	// (that member then snoozes as it would alone; River stops an answered
	// member's job as its Work returns).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ms[0].ctx), w.timeout)
	defer cancel()
	links, stops := make([]trace.Link, len(ms)), make([]func() bool, len(ms))
	for i, m := range ms {
		stops[i] = context.AfterFunc(m.ctx, cancel)
		links[i] = trace.LinkFromContext(m.ctx)
	}
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	ctx, span := w.tracer.Start(ctx, "intake.ProcessUploadBatch", trace.WithLinks(links...))
	defer span.End()
	answered := make([]bool, len(ms))
	answer := func(i int, err error) {
		stops[i]()
		ms[i].done <- err
		answered[i] = true
	}
	defer func() {
		for i := range ms {
			if !answered[i] {
				answer(i, errAlone)
			}
		}
	}()
	if err := w.steps(ctx, ms, answer); err != nil {
		w.log.WarnContext(ctx, "a batch of uploads failed; each goes alone", "uploads", len(ms), "error", err.Error())
	}
}

// end is the end of batch uploads us, of members ms: the uploads a
// transaction finishes get their events, and their jobs are recorded as
// done, in it.
func (w *Worker) end(us []Upload, ms []*member) EndsTx {
	return func(ctx context.Context, tx pgx.Tx, done []int) error {
		fin := make([]Upload, len(done))
		for j, i := range done {
			fin[j] = us[i]
		}
		if err := w.store.QueueOutcomes(ctx, tx, fin); err != nil {
			return err
		}
		for _, i := range done {
			if err := completeJob(ctx, tx, ms[i].job); err != nil {
				return err
			}
		}
		return nil
	}
}

// steps are workBatch's steps; answer(i, err) answers member i.
func (w *Worker) steps(ctx context.Context, ms []*member, answer func(int, error)) error {
	start := time.Now()
	tenant := ms[0].u.Tenant
	rules, err := LoadRules(ctx, w.store, tenant)
	if err != nil {
		return err
	}
	us := make([]Upload, len(ms))
	for i, m := range ms {
		us[i] = m.u
	}
	vs, err := w.store.ValidateSmall(ctx, us, func(u Upload, r io.Reader) (*Validator, error) {
		return w.opener(ctx, u, rules, nil)(r)
	}, w.end(us, ms))
	if err != nil {
		return err
	}
	// Those validation finished are answered; the rest are calculated.
	var calc []int
	var rows []Row
	for i, v := range vs {
		w.metrics.Validated(v)
		if v.Refused != nil || v.Accepted == 0 {
			answer(i, nil)
			continue
		}
		calc = append(calc, i)
		rows = append(rows, v.Rows...)
		us[i].State, us[i].MinDate, us[i].MaxDate, us[i].Accepted = Calculating, v.MinDate, v.MaxDate, v.Accepted
	}
	if len(calc) == 0 {
		return nil
	}
	w.notify(ctx, tenant, supplierIDs(rows))
	sums, err := w.send(ctx, tenant, us[calc[0]].ID, func(each func([]Row) error) error {
		for start := 0; start < len(rows); start += w.batch {
			if err := each(rows[start:min(start+w.batch, len(rows))]); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		return err
	}
	cus, cs, cms := make([]Upload, len(calc)), make([]Completion, len(calc)), make([]*member, len(calc))
	var changed []string
	for j, i := range calc {
		c, sups, err := completion(sums, us[i].ID)
		if err != nil {
			return err
		}
		cus[j], cs[j], cms[j] = us[i], c, ms[i]
		changed = append(changed, sups...)
	}
	errs, err := w.store.CompleteBatch(ctx, cus, cs, func(ctx context.Context) { w.notify(ctx, tenant, changed) }, w.end(cus, cms))
	if err != nil {
		return err
	}
	for j, i := range calc {
		answer(i, errs[j])
	}
	w.log.InfoContext(ctx, "uploads calculated together", "tenant", tenant.String(), "uploads", len(ms), "rows", len(rows),
		"seconds", time.Since(start).Seconds())
	return nil
}
