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
	// Validate runs v over the upload's content and stores its accepted rows,
	// its errors and the new state, all in one transaction.
	Validate(ctx context.Context, u Upload, open func(io.Reader) (*Validator, error)) (Validated, error)
	// Accepted streams the upload's stored rows.
	Accepted(ctx context.Context, u Upload, each func([]Row) error, batch int) error
	Progress(ctx context.Context, id int64, state State, read, calculated int64, lease time.Duration) error
	Finish(ctx context.Context, id int64, state State, calculated int64, kg, reason string) error
	// Complete marks a calculating upload succeeded and adds totals to its
	// suppliers, once; it reports whether this call did it.
	Complete(ctx context.Context, u Upload, calculated int64, kg string, totals []SupplierTotal) (bool, error)
	Retry(ctx context.Context, id int64, after time.Duration, reason string) error
}

// Calculator calculates a batch of rows and returns its kg CO2e, in all and
// by supplier.
type Calculator interface {
	Calculate(ctx context.Context, upload int64, rows []Row) (Calculated, error)
}

// Calculated is one calculated batch.
type Calculated struct {
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
	log        *slog.Logger
	tracer     trace.Tracer
	store      Store
	calc       func(tenant uuid.UUID) Calculator
	codes      func(tenant uuid.UUID) CodeChecker
	batch      int
	inFlight   int
	lease      time.Duration
	maxAttempt int
	wake       chan struct{}
	changed    func(context.Context, uuid.UUID)
}

// WorkerOptions tune a Worker.
type WorkerOptions struct {
	Batch       int           // rows per calculation call; default 20,000
	InFlight    int           // calculation calls at once; default 2
	Lease       time.Duration // how long a claim holds without progress; default 60s
	MaxAttempts int           // default 5
	// Changed is told, after the commit, that a tenant's suppliers or
	// totals changed (to invalidate caches).
	Changed func(ctx context.Context, tenant uuid.UUID)
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
	return &Worker{log: log, tracer: tp.Tracer("vcci/intake"), store: store, calc: calc, codes: codes, batch: o.Batch, inFlight: o.InFlight,
		lease: o.Lease, maxAttempt: o.MaxAttempts, wake: make(chan struct{}, 1), changed: o.Changed}
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
			w.process(ctx, u)
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-time.After(interval):
		}
	}
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
	if err == nil || ctx.Err() != nil {
		return // on shutdown the lease lapses and another worker resumes
	}
	var he *HeaderError
	if errors.As(err, &he) {
		return // already recorded as the upload's failure
	}
	if u.Attempts >= w.maxAttempt {
		log.ErrorContext(ctx, "upload failed", "error", err.Error())
		if ferr := w.store.Finish(context.WithoutCancel(ctx), u.ID, Failed, 0, "", fmt.Sprintf("gave up after %d attempts: %v", u.Attempts, err)); ferr != nil {
			log.ErrorContext(ctx, "mark failed", "error", ferr.Error())
		}
		return
	}
	backoff := time.Duration(u.Attempts*u.Attempts) * time.Second
	log.WarnContext(ctx, "upload attempt failed; will retry", "error", err.Error(), "backoff", backoff.String())
	if rerr := w.store.Retry(context.WithoutCancel(ctx), u.ID, backoff, err.Error()); rerr != nil {
		log.ErrorContext(ctx, "schedule retry", "error", rerr.Error())
	}
}

func (w *Worker) run(ctx context.Context, log *slog.Logger, u Upload) error {
	if u.State == Queued || u.State == Validating {
		start := time.Now()
		codes := w.codes(u.Tenant)
		v, err := w.store.Validate(ctx, u, func(r io.Reader) (*Validator, error) {
			return NewValidator(ctx, r, codes, func(read int64) {
				// Progress is best effort; a missed update is harmless.
				w.store.Progress(ctx, u.ID, Validating, read, 0, w.lease)
			})
		})
		if err != nil {
			return err
		}
		log.InfoContext(ctx, "upload validated", "read", v.Read, "accepted", v.Accepted, "rejected", v.Rejected, "seconds", time.Since(start).Seconds())
		if v.Accepted > 0 {
			w.notify(ctx, u.Tenant)
		}
		if v.Accepted == 0 {
			return w.store.Finish(ctx, u.ID, Succeeded, 0, "0", "")
		}
		u.State, u.MinDate, u.MaxDate, u.Accepted = Calculating, v.MinDate, v.MaxDate, v.Accepted
		if v.Rows != nil {
			return w.calculate(ctx, log, u, func(each func([]Row) error) error { return each(v.Rows) })
		}
	}
	if u.State != Calculating {
		return nil
	}
	return w.calculate(ctx, log, u, func(each func([]Row) error) error { return w.store.Accepted(ctx, u, each, w.batch) })
}

// calculate sends the upload's rows, as batches from rows, to the
// calculator, InFlight batches at a time. The calculator skips rows it has
// seen, so a resumed upload starts over safely.
func (w *Worker) calculate(ctx context.Context, log *slog.Logger, u Upload, rows func(each func([]Row) error) error) error {
	start := time.Now()
	calc := w.calc(u.Tenant)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type done struct {
		n int
		c Calculated
	}
	results := make(chan done, w.inFlight)
	sem := make(chan struct{}, w.inFlight)
	total := new(big.Rat)
	bySupplier := map[string]*supplierSum{}
	var calculated int64
	collected := make(chan struct{})
	var firstErr error
	go func() {
		defer close(collected)
		for d := range results {
			r, ok := new(big.Rat).SetString(d.c.Kg)
			if !ok {
				cancel(fmt.Errorf("calculator returned kg %q", d.c.Kg))
				continue
			}
			total.Add(total, r)
			if err := addTotals(bySupplier, d.c.Suppliers); err != nil {
				cancel(err)
				continue
			}
			calculated += int64(d.n)
			if calculated < u.Accepted {
				// Complete records the last batch; progress is for the
				// batches before it (and is best effort).
				w.store.Progress(ctx, u.ID, Calculating, 0, calculated, w.lease)
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
			c, err := calc.Calculate(ctx, u.ID, rows)
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
	case firstErr = <-errc:
	default:
	}
	if firstErr != nil {
		return fmt.Errorf("calculating: %w", firstErr)
	}
	if err != nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	kg := total.FloatString(7)
	log.InfoContext(ctx, "upload calculated", "rows", calculated, "kg_co2e", kg, "seconds", time.Since(start).Seconds())
	totals := make([]SupplierTotal, 0, len(bySupplier))
	for id, s := range bySupplier {
		totals = append(totals, SupplierTotal{ID: id, Spend: s.spend.FloatString(4), Kg: s.kg.FloatString(7), Count: s.count})
	}
	completed, err := w.store.Complete(ctx, u, calculated, kg, totals)
	if completed {
		w.notify(ctx, u.Tenant)
	}
	return err
}

func (w *Worker) notify(ctx context.Context, tenant uuid.UUID) {
	if w.changed != nil {
		w.changed(ctx, tenant)
	}
}

type supplierSum struct {
	spend, kg big.Rat
	count     int64
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
