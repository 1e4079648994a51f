// Package intake takes spend files in: it stores each upload durably before
// acknowledging it, then validates, stores and calculates its rows in the
// background, with progress, retries and per-row errors.
package intake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"time"

	"github.com/google/uuid"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/telemetry"
)

// Sentinels.
var (
	ErrUploadNotFound = apperr.New(apperr.NotFound, "upload not found")
	ErrTooLarge       = apperr.New(apperr.InvalidArgument, "upload is larger than the limit")
)

// State is an upload's processing state (values match the contract's enum).
type State int16

const (
	Queued State = iota + 1
	Validating
	Calculating
	Succeeded
	Failed
)

// Upload is a stored spend file and its progress.
type Upload struct {
	ID                                   int64
	Tenant                               uuid.UUID
	Filename, IdempotencyKey             string
	SHA256                               []byte
	Size                                 int64
	State                                State
	Read, Accepted, Rejected, Calculated int64
	Kg                                   string
	FailureReason                        string
	ErrorSamples                         []RowError
	Attempts                             int
	MinDate, MaxDate                     time.Time
	CreatedAt, UpdatedAt                 time.Time
	CompletedAt                          time.Time
	TraceParent                          string
}

// NewUpload is what a client sends.
type NewUpload struct {
	Filename, IdempotencyKey string
	TraceParent              string // set by Receive
}

// Supplier is a supplier named in spend data, with the totals of its
// calculated lines.
type Supplier struct {
	ID, Name             string
	CreatedAt, UpdatedAt time.Time
	Country              string
	NAICSCodes           []string
	Spend, Kg, Intensity string // exact decimals; Intensity empty when spend is 0
	Count                int64
}

// Validated is what validation stored.
type Validated struct {
	Read, Accepted, Rejected int64
	MinDate, MaxDate         time.Time
	// Rows are the stored rows when the store held them in memory (a
	// small upload), so that calculating them needs no read back; nil
	// otherwise.
	Rows []Row
	// Refused is set when the header did not name the required columns;
	// the upload is then recorded as failed, with the header's errors.
	Refused *HeaderError
}

// Store is the persistence intake needs.
type Store interface {
	// Receive stores the content of r as a new upload in one transaction and
	// returns it; an existing upload with the same idempotency key or content
	// is returned instead (created false).
	Receive(ctx context.Context, tenant uuid.UUID, nu NewUpload, r io.Reader) (Upload, bool, error)
	Upload(ctx context.Context, tenant uuid.UUID, id int64) (Upload, error)
	Uploads(ctx context.Context, tenant uuid.UUID, beforeID int64, limit int) ([]Upload, error)
	Errors(ctx context.Context, tenant uuid.UUID, upload int64, afterSeq int64, limit int) ([]RowError, int64, int64, error)
	Suppliers(ctx context.Context, tenant uuid.UUID, ids []string) ([]Supplier, error)

	// Claim leases the next upload that needs work.
	Claim(ctx context.Context, lease time.Duration) (Upload, bool, error)
	// ClaimMore leases up to n more queued uploads of first's tenant, none
	// claimed before and none larger than maxSize bytes, in id order, to
	// be processed together with first.
	ClaimMore(ctx context.Context, first Upload, lease time.Duration, n int, maxSize int64) ([]Upload, error)
	// Validate runs v over the upload's content and stores its accepted rows,
	// its errors and the new state, all in one transaction.
	Validate(ctx context.Context, u Upload, open func(io.Reader) (*Validator, error)) (Validated, error)
	// ValidateSmall does what Validate does for several small uploads of
	// one tenant (each one chunk), in id order, in one transaction: a
	// transaction that two of them carry is stored by the first. A refused
	// header fails its upload only (Validated.Refused).
	ValidateSmall(ctx context.Context, us []Upload, open func(io.Reader) (*Validator, error)) ([]Validated, error)
	// Accepted streams the upload's stored rows.
	Accepted(ctx context.Context, u Upload, each func([]Row) error, batch int) error
	Progress(ctx context.Context, id int64, state State, read, calculated int64, lease time.Duration) error
	Finish(ctx context.Context, id int64, state State, calculated int64, kg, reason string) error
	// Complete marks calculating uploads of one tenant succeeded and adds
	// their totals to their suppliers, once per upload; it returns how
	// many this call completed.
	Complete(ctx context.Context, tenant uuid.UUID, cs []Completion) (int, error)
	Retry(ctx context.Context, id int64, after time.Duration, reason string) error
}

// Completion is a calculated upload's outcome.
type Completion struct {
	Upload     int64
	Calculated int64
	Kg         string
	Totals     []SupplierTotal // by supplier
}

// Calculator calculates a batch of rows, of upload or of the uploads the
// rows name (Row.Upload), and returns each upload's kg CO2e, in all and by
// supplier.
type Calculator interface {
	Calculate(ctx context.Context, upload int64, rows []Row) (Calculated, error)
}

// Calculated is one calculated batch, by upload.
type Calculated struct {
	Uploads []UploadTotal
}

// UploadTotal is one upload's rows in a batch: how many, their kg CO2e
// (exact decimal) and their totals by supplier.
type UploadTotal struct {
	Upload    int64
	Count     int64
	Kg        string
	Suppliers []SupplierTotal
}

// SupplierTotal is one supplier's share of some lines, as exact decimals.
type SupplierTotal struct {
	ID, Spend, Kg string
	Count         int64
}

// Service is intake's API-facing logic.
type Service struct {
	store   Store
	maxSize int64
	kick    func()
}

// New returns a Service; kick wakes a local worker after an upload lands.
func New(store Store, maxSize int64, kick func()) *Service {
	return &Service{store: store, maxSize: maxSize, kick: kick}
}

// Receive stores an upload from r and queues it.
func (s *Service) Receive(ctx context.Context, tenant uuid.UUID, nu NewUpload, r io.Reader) (Upload, error) {
	if len(nu.IdempotencyKey) > 256 {
		return Upload{}, apperr.Invalid("idempotency_key", "longer than 256 bytes")
	}
	if nu.Filename == "" {
		nu.Filename = "upload.csv"
	}
	if len(nu.Filename) > 256 {
		nu.Filename = nu.Filename[:256]
	}
	carrier := propagation.MapCarrier{}
	telemetry.Propagator().Inject(ctx, carrier)
	nu.TraceParent = carrier.Get("traceparent")
	u, created, err := s.store.Receive(ctx, tenant, nu, &limited{r: r, left: s.maxSize, max: s.maxSize})
	if err != nil {
		return Upload{}, err
	}
	if created && s.kick != nil {
		s.kick()
	}
	return u, nil
}

// limited fails a read past max bytes.
type limited struct {
	r         io.Reader
	left, max int64
}

func (l *limited) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, apperr.Invalid("file", "larger than the %d-byte upload limit", l.max)
	}
	return n, err
}

// Get returns an upload.
func (s *Service) Get(ctx context.Context, tenant uuid.UUID, id int64) (Upload, error) {
	return s.store.Upload(ctx, tenant, id)
}

// List returns uploads with ids below beforeID (0: from the newest).
func (s *Service) List(ctx context.Context, tenant uuid.UUID, beforeID int64, limit int) ([]Upload, error) {
	return s.store.Uploads(ctx, tenant, beforeID, limit)
}

// Errors lists an upload's row errors after seq; it returns the errors, the
// seq of the last one, and the total count.
func (s *Service) Errors(ctx context.Context, tenant uuid.UUID, upload, afterSeq int64, limit int) ([]RowError, int64, int64, error) {
	if _, err := s.store.Upload(ctx, tenant, upload); err != nil {
		return nil, 0, 0, err
	}
	return s.store.Errors(ctx, tenant, upload, afterSeq, limit)
}

// Suppliers resolves supplier ids; unknown ones are left out.
func (s *Service) Suppliers(ctx context.Context, tenant uuid.UUID, ids []string) ([]Supplier, error) {
	if len(ids) > 1000 {
		return nil, apperr.Invalid("names", "at most 1000 names, got %d", len(ids))
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return s.store.Suppliers(ctx, tenant, ids)
}

// Worker processes queued uploads.
type Worker struct {
	log          *slog.Logger
	tracer       trace.Tracer
	store        Store
	calc         func(tenant uuid.UUID) Calculator
	codes        func(tenant uuid.UUID) CodeChecker
	batch        int
	inFlight     int
	lease        time.Duration
	maxAttempt   int
	batchUploads int
	batchBytes   int64
	linger       time.Duration
	wake         chan struct{}
	changed      func(context.Context, uuid.UUID, []string)
}

// WorkerOptions tune a Worker.
type WorkerOptions struct {
	Batch       int           // rows per calculation call; default 20,000
	InFlight    int           // calculation calls at once; default 2
	Lease       time.Duration // how long a claim holds without progress; default 60s
	MaxAttempts int           // default 5
	// BatchUploads is how many queued small uploads of one tenant are
	// validated, stored and calculated together, in one transaction each
	// way (default 64; 1 processes every upload alone). Ten rows cost
	// little; the statements, commits and calls around them cost the same
	// for one upload as for sixty-four.
	BatchUploads int
	// BatchBytes is the largest upload that joins a batch (default 64 KiB,
	// about 600 rows: a full batch stays well inside one calculation call).
	BatchBytes int64
	// Linger is how long the worker lets small uploads gather before it
	// claims them, once it has caught up with the queue (default 0: at
	// once). Each batch invalidates the tenant's cached reads once, so
	// under a stream of small uploads the linger bounds how often reads
	// start cold, at the price of that much delay before an upload is
	// processed.
	Linger time.Duration
	// Changed is told, after the commit, that a tenant's suppliers or
	// totals changed (to invalidate caches): those of the suppliers named,
	// or, with nil, of any of them.
	Changed func(ctx context.Context, tenant uuid.UUID, suppliers []string)
}

// NewWorker returns a Worker. calc and codes give per-tenant clients (they
// carry the tenant's credentials to the calculator).
func NewWorker(log *slog.Logger, tp trace.TracerProvider, store Store, calc func(uuid.UUID) Calculator, codes func(uuid.UUID) CodeChecker, o WorkerOptions) *Worker {
	if o.Batch <= 0 {
		o.Batch = 20_000
	}
	if o.InFlight <= 0 {
		o.InFlight = 2
	}
	if o.Lease <= 0 {
		o.Lease = 60 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.BatchUploads <= 0 {
		o.BatchUploads = 64
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 64 << 10
	}
	return &Worker{log: log, tracer: tp.Tracer("vcci/intake"), store: store, calc: calc, codes: codes, batch: o.Batch, inFlight: o.InFlight,
		lease: o.Lease, maxAttempt: o.MaxAttempts, batchUploads: o.BatchUploads, batchBytes: o.BatchBytes, linger: o.Linger,
		wake: make(chan struct{}, 1), changed: o.Changed}
}

// Kick wakes the worker now rather than at its next poll.
func (w *Worker) Kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run claims and processes uploads until ctx ends, polling every interval.
func (w *Worker) Run(ctx context.Context, interval time.Duration) {
	for {
		for ctx.Err() == nil {
			u, ok, err := w.store.Claim(ctx, w.lease)
			if err != nil {
				if ctx.Err() == nil {
					w.log.ErrorContext(ctx, "claim upload", "error", err.Error())
				}
				break
			}
			if !ok {
				break
			}
			us := w.claimBatch(ctx, u)
			if len(us) > 1 {
				w.processBatch(ctx, us)
			} else {
				w.process(ctx, u)
			}
			if w.batchable(u) && len(us) < w.batchUploads {
				w.sleep(ctx, w.linger) // caught up: let the next ones gather
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
			w.sleep(ctx, w.linger)
		case <-time.After(interval):
		}
	}
}

func (w *Worker) sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// batchable reports whether u, as claimed, can be processed with others:
// only first attempts of small files batch, so an upload that failed once
// is retried alone.
func (w *Worker) batchable(u Upload) bool {
	return w.batchUploads > 1 && u.State == Validating && u.Attempts == 1 && u.Size > 0 && u.Size <= w.batchBytes
}

// claimBatch returns u with the queued small uploads of its tenant that can
// be processed with it.
func (w *Worker) claimBatch(ctx context.Context, u Upload) []Upload {
	if !w.batchable(u) {
		return []Upload{u}
	}
	more, err := w.store.ClaimMore(ctx, u, w.lease, w.batchUploads-1, w.batchBytes)
	if err != nil {
		w.log.WarnContext(ctx, "claim a batch of uploads", "error", err.Error())
	}
	return append([]Upload{u}, more...)
}

// process runs the phase the upload is in; a failure is retried with
// backoff until MaxAttempts, then the upload fails with the reason.
func (w *Worker) process(ctx context.Context, u Upload) {
	// Continue the trace of the request that sent the file, so one trace
	// shows the upload from the gateway to the last calculated row.
	ctx = telemetry.Propagator().Extract(ctx, propagation.MapCarrier{"traceparent": u.TraceParent})
	ctx, span := w.tracer.Start(ctx, "intake.ProcessUpload", trace.WithAttributes(
		attribute.Int64("vcci.upload_id", u.ID), attribute.Int("vcci.attempt", u.Attempts)))
	defer span.End()
	log := w.log.With("upload", u.ID, "tenant", u.Tenant.String(), "attempt", u.Attempts)
	err := w.run(ctx, log, u)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	w.settle(ctx, log, u, err)
}

// settle schedules the retry of a failed attempt, or fails the upload for
// good after MaxAttempts.
func (w *Worker) settle(ctx context.Context, log *slog.Logger, u Upload, err error) {
	if err == nil || ctx.Err() != nil {
		return // on shutdown the lease lapses and another worker resumes
	}
	var he *HeaderError
	if errors.As(err, &he) {
		return // already recorded as the upload's failure
	}
	if u.Attempts >= w.maxAttempt {
		log.ErrorContext(ctx, "upload failed", "upload", u.ID, "error", err.Error())
		if ferr := w.store.Finish(context.WithoutCancel(ctx), u.ID, Failed, 0, "", fmt.Sprintf("gave up after %d attempts: %v", u.Attempts, err)); ferr != nil {
			log.ErrorContext(ctx, "mark failed", "upload", u.ID, "error", ferr.Error())
		}
		return
	}
	backoff := time.Duration(u.Attempts*u.Attempts) * time.Second
	log.WarnContext(ctx, "upload attempt failed; will retry", "upload", u.ID, "error", err.Error(), "backoff", backoff.String())
	if rerr := w.store.Retry(context.WithoutCancel(ctx), u.ID, backoff, err.Error()); rerr != nil {
		log.ErrorContext(ctx, "schedule retry", "upload", u.ID, "error", rerr.Error())
	}
}

// opener opens a Validator over an upload's content, checking codes
// against the tenant's factors; progress, if set, hears rows read.
func (w *Worker) opener(ctx context.Context, tenant uuid.UUID, progress func(int64)) func(io.Reader) (*Validator, error) {
	codes := w.codes(tenant)
	return func(r io.Reader) (*Validator, error) { return NewValidator(ctx, r, codes, progress) }
}

func (w *Worker) run(ctx context.Context, log *slog.Logger, u Upload) (err error) {
	rows := func(each func([]Row) error) error { return w.store.Accepted(ctx, u, each, w.batch) }
	switch u.State {
	case Queued, Validating:
		start := time.Now()
		v, err := w.store.Validate(ctx, u, w.opener(ctx, u.Tenant, func(read int64) {
			// Progress is best effort; a missed update is harmless.
			w.store.Progress(ctx, u.ID, Validating, read, 0, w.lease)
		}))
		if err != nil {
			return err
		}
		log.InfoContext(ctx, "upload validated", "read", v.Read, "accepted", v.Accepted, "rejected", v.Rejected, "seconds", time.Since(start).Seconds())
		if v.Accepted == 0 {
			return nil // validation recorded it as done
		}
		// Caches hear once of the stored rows and, if the calculation
		// succeeds, their totals.
		var changed []string // nil: a large upload's rows are not at hand
		if v.Rows != nil {
			rows = func(each func([]Row) error) error { return each(v.Rows) }
			changed = supplierIDs(v.Rows)
		}
		defer w.notify(ctx, u.Tenant, changed)
		u.State, u.MinDate, u.MaxDate, u.Accepted = Calculating, v.MinDate, v.MaxDate, v.Accepted
	case Calculating:
		defer func() {
			if err == nil {
				w.notify(ctx, u.Tenant, nil)
			}
		}()
	default:
		return nil
	}
	return w.calculate(ctx, log, []Upload{u}, rows)
}

// processBatch validates, stores and calculates several small uploads of
// one tenant together. If the batch cannot be stored, nothing of it was,
// and each upload goes through alone, so that one bad upload does not hold
// back the others; if its calculation fails, each upload retries alone
// from its stored rows.
func (w *Worker) processBatch(ctx context.Context, us []Upload) {
	// One span for the batch, linked to the trace of each upload's request.
	links := make([]trace.Link, len(us))
	for i, u := range us {
		uctx := telemetry.Propagator().Extract(ctx, propagation.MapCarrier{"traceparent": u.TraceParent})
		links[i] = trace.LinkFromContext(uctx, attribute.Int64("vcci.upload_id", u.ID))
	}
	tenant := us[0].Tenant
	ctx, span := w.tracer.Start(ctx, "intake.ProcessUploads", trace.WithLinks(links...),
		trace.WithAttributes(attribute.Int("vcci.uploads", len(us))))
	defer span.End()
	log := w.log.With("tenant", tenant.String(), "uploads", len(us), "first", us[0].ID)
	start := time.Now()
	vs, err := w.store.ValidateSmall(ctx, us, w.opener(ctx, tenant, nil))
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		span.RecordError(err)
		log.WarnContext(ctx, "storing a batch of uploads failed; each goes alone", "error", err.Error())
		for _, u := range us {
			w.process(ctx, u)
		}
		return
	}
	var calc []Upload
	var rows []Row
	var read, rejected int64
	for i, v := range vs {
		read, rejected = read+v.Read, rejected+v.Rejected
		if v.Refused != nil || v.Accepted == 0 {
			continue
		}
		u := us[i]
		u.State, u.MinDate, u.MaxDate, u.Accepted = Calculating, v.MinDate, v.MaxDate, v.Accepted
		calc = append(calc, u)
		rows = append(rows, v.Rows...)
	}
	log.InfoContext(ctx, "uploads validated", "read", read, "accepted", len(rows), "rejected", rejected, "seconds", time.Since(start).Seconds())
	if len(calc) == 0 {
		return
	}
	// Caches hear once of the stored rows and, if the calculation
	// succeeds, their totals.
	defer w.notify(ctx, tenant, supplierIDs(rows))
	err = w.calculate(ctx, log, calc, func(each func([]Row) error) error {
		for start := 0; start < len(rows); start += w.batch {
			if err := each(rows[start:min(start+w.batch, len(rows))]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		for _, u := range calc {
			w.settle(ctx, log, u, err)
		}
	}
}

// calculate sends rows, in batches, to the calculator, InFlight batches at
// a time, and completes us, the uploads the rows belong to (a row with
// Upload 0 belongs to us[0]). The calculator skips rows it has seen, so a
// resumed upload starts over safely.
func (w *Worker) calculate(ctx context.Context, log *slog.Logger, us []Upload, rows func(each func([]Row) error) error) error {
	start := time.Now()
	first := us[0]
	calc := w.calc(first.Tenant)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type done struct {
		n int
		c Calculated
	}
	results := make(chan done, w.inFlight)
	sem := make(chan struct{}, w.inFlight)
	sums := make(map[int64]*uploadSum, len(us))
	var calculated int64
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for d := range results {
			if err := addUploads(sums, d.c.Uploads); err != nil {
				cancel(err)
				continue
			}
			calculated += int64(d.n)
			if len(us) == 1 && calculated < first.Accepted {
				// Complete records the last batch; progress is for the
				// batches before it (and is best effort).
				w.store.Progress(ctx, first.ID, Calculating, 0, calculated, w.lease)
			}
		}
	}()
	errc := make(chan error, 1)
	err := rows(func(rows []Row) error {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		go func() {
			defer func() { <-sem }()
			c, err := calc.Calculate(ctx, first.ID, rows)
			if err != nil {
				select {
				case errc <- err:
				default:
				}
				cancel(err)
				return
			}
			results <- done{len(rows), c}
		}()
		return nil
	})
	for i := 0; i < cap(sem); i++ { // wait for the batches in flight
		sem <- struct{}{}
	}
	close(results)
	<-collected
	select {
	case firstErr := <-errc:
		return fmt.Errorf("calculating: %w", firstErr)
	default:
	}
	if err != nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	cs := make([]Completion, len(us))
	for i, u := range us {
		s := sums[u.ID]
		if s == nil {
			return fmt.Errorf("calculating: the calculator returned nothing for uploads/%d", u.ID)
		}
		c := Completion{Upload: u.ID, Calculated: s.count, Kg: s.kg.FloatString(7), Totals: make([]SupplierTotal, 0, len(s.suppliers))}
		for id, t := range s.suppliers {
			c.Totals = append(c.Totals, SupplierTotal{ID: id, Spend: t.spend.FloatString(4), Kg: t.kg.FloatString(7), Count: t.count})
		}
		cs[i] = c
	}
	// Caches hear of the change before the uploads are seen to succeed, so
	// that one further off (the REST gateway's, told through Redis) has let
	// go of the old answers by the time a client that saw the success asks
	// again; the caller's notification after Complete drops whatever was
	// filled in between.
	changed := []string{}
	for _, c := range cs {
		for _, t := range c.Totals {
			changed = append(changed, t.ID)
		}
	}
	w.notify(ctx, first.Tenant, changed)
	n, err := w.store.Complete(ctx, first.Tenant, cs)
	log.InfoContext(ctx, "uploads calculated", "uploads", len(us), "completed", n, "rows", calculated, "seconds", time.Since(start).Seconds())
	return err
}

func (w *Worker) notify(ctx context.Context, tenant uuid.UUID, suppliers []string) {
	if w.changed != nil {
		w.changed(ctx, tenant, suppliers)
	}
}

// supplierIDs are the distinct suppliers of rows, never nil.
func supplierIDs(rows []Row) []string {
	seen := make(map[string]bool)
	out := []string{}
	for _, r := range rows {
		if !seen[r.SupplierID] {
			seen[r.SupplierID] = true
			out = append(out, r.SupplierID)
		}
	}
	return out
}

// uploadSum is one upload's calculated rows so far.
type uploadSum struct {
	kg        big.Rat
	count     int64
	suppliers map[string]*supplierSum
}

type supplierSum struct {
	spend, kg big.Rat
	count     int64
}

// addUploads adds a calculated batch's uploads into sums.
func addUploads(sums map[int64]*uploadSum, us []UploadTotal) error {
	for _, u := range us {
		s := sums[u.Upload]
		if s == nil {
			s = &uploadSum{suppliers: map[string]*supplierSum{}}
			sums[u.Upload] = s
		}
		kg, ok := new(big.Rat).SetString(u.Kg)
		if !ok {
			return fmt.Errorf("calculator returned kg %q for uploads/%d", u.Kg, u.Upload)
		}
		s.kg.Add(&s.kg, kg)
		s.count += u.Count
		if err := addTotals(s.suppliers, u.Suppliers); err != nil {
			return err
		}
	}
	return nil
}

func addTotals(into map[string]*supplierSum, ts []SupplierTotal) error {
	for _, t := range ts {
		s := into[t.ID]
		if s == nil {
			s = &supplierSum{}
			into[t.ID] = s
		}
		kg, ok1 := new(big.Rat).SetString(t.Kg)
		spend, ok2 := new(big.Rat).SetString(t.Spend)
		if !ok1 || !ok2 {
			return fmt.Errorf("calculator returned supplier %s totals kg %q spend %q", t.ID, t.Kg, t.Spend)
		}
		s.kg.Add(&s.kg, kg)
		s.spend.Add(&s.spend, spend)
		s.count += t.Count
	}
	return nil
}
