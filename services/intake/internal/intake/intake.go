// Package intake takes spend files in: it stores each upload durably before
// acknowledging it, then validates, stores and calculates its rows in the
// background, with progress, retries and per-row errors.
package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/decimal"
	"github.com/vcci-dev/vcci/pkg/telemetry"
)

// Sentinels.
var (
	ErrUploadNotFound = apperr.New(apperr.NotFound, "upload not found")
	ErrTooLarge       = apperr.New(apperr.InvalidArgument, "upload is larger than the limit")
	ErrNotFailed      = apperr.New(apperr.FailedPrecondition, "only a failed upload can be retried")
	// ErrSuperseded fails the writes of an attempt that a later attempt
	// took over (River rescued its job while it still ran).
	ErrSuperseded = errors.New("a later attempt has taken the upload over")
	// ErrCalculatorUnavailable wraps a calculator call's error when the
	// calculator could not be reached: the upload waits for it without
	// spending an attempt (WorkerOptions.CalculatorWait).
	ErrCalculatorUnavailable = errors.New("the calculator is unavailable")
)

// KeyReused is the error for an idempotency key sent again with a body other
// than the one it was first sent with, which uploads/id holds.
func KeyReused(key string, id int64) error {
	return &apperr.Error{Kind: apperr.FailedPrecondition,
		Msg:    fmt.Sprintf("Idempotency-Key %q was used for a different body (uploads/%d)", key, id),
		Reason: apperr.ReasonIdempotencyKeyReused, Metadata: map[string]string{"idempotency_key": key, "upload": fmt.Sprintf("uploads/%d", id)}}
}

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
	// ColumnMapping names the mapping the header is read through ("" for
	// none), and Mapping is the copy of it the upload keeps.
	ColumnMapping string
	Mapping       map[string]string
	// Ignored are the header's columns validation left unread.
	Ignored []string
}

// NewUpload is what a client sends.
type NewUpload struct {
	Filename, IdempotencyKey string
	// ContentType is the media type the client declared, if any: only
	// checked against the content (SniffUpload), not kept.
	ContentType string
	// ColumnMapping is "columnMappings/{mapping}" or empty; Receive looks
	// the mapping up into Mapping.
	ColumnMapping string
	Mapping       map[string]string
	TraceParent   string // set by Receive
}

// Validated is what validation stored.
type Validated struct {
	Read, Accepted, Rejected int64
	MinDate, MaxDate         time.Time
	// Rows are the stored rows when the store held them in memory (a
	// small upload), so that calculating them needs no read back; nil
	// otherwise.
	Rows []Row
	// Ignored are the header's columns no column took.
	Ignored []string
	// Refused is set when the header did not name the required columns;
	// the upload is then recorded as failed, with the header's errors.
	Refused *HeaderError
}

// Store is the persistence intake needs: the uploads the Service keeps,
// and the Worker's steps through them.
type Store interface {
	UploadStore
	WorkStore
}

// UploadStore keeps uploads for the Service.
type UploadStore interface {
	MappingStore
	RuleStore
	// Receive stores the content of r as a new upload, and queues its job,
	// in one transaction and returns it; an existing upload with the same
	// idempotency key or content is returned instead (created false). A key
	// sent with another body than its upload's is KeyReused.
	Receive(ctx context.Context, tenant uuid.UUID, nu NewUpload, r io.Reader) (Upload, bool, error)
	Upload(ctx context.Context, tenant uuid.UUID, id int64) (Upload, error)
	Uploads(ctx context.Context, tenant uuid.UUID, beforeID int64, limit int) ([]Upload, error)
	Errors(ctx context.Context, tenant uuid.UUID, upload int64, afterSeq int64, limit int) (ErrorPage, error)
	// Retry queues a failed upload again, to resume from the state it
	// failed in, with a new job in the same transaction.
	Retry(ctx context.Context, tenant uuid.UUID, id int64) (Upload, error)
	// AdjustSupplierTotals adds each supplier's change of kg CO2e to its
	// total, once per id; false when id was applied before.
	AdjustSupplierTotals(ctx context.Context, tenant uuid.UUID, id string, totals []SupplierTotal) (bool, error)
}

// WorkStore records a Worker's attempts at an upload.
type WorkStore interface {
	// RuleLister gives the category rules an upload is validated with.
	RuleLister
	// Begin counts a new attempt at an unfinished upload and returns it;
	// its Attempts fences the writes below against an older attempt still
	// running. ok is false when the upload is finished, or is not
	// tenant's.
	Begin(ctx context.Context, tenant uuid.UUID, id int64) (u Upload, ok bool, err error)
	// Validate runs v over the upload's content and stores its accepted rows,
	// its errors and the new state, all in one transaction; if that finishes
	// the upload (nothing to calculate, or a refused header), end runs in it.
	Validate(ctx context.Context, u Upload, open func(io.Reader) (*Validator, error), end EndTx) (Validated, error)
	// ValidateSmall is Validate for several small uploads of one tenant,
	// each opened with its own open, in one transaction; each upload that
	// validation finishes is handed to end in it.
	ValidateSmall(ctx context.Context, us []Upload, open func(Upload, io.Reader) (*Validator, error), end EndsTx) ([]Validated, error)
	// Upload reads an upload as it is, without counting an attempt.
	Upload(ctx context.Context, tenant uuid.UUID, id int64) (Upload, error)
	// Accepted streams the upload's stored rows.
	Accepted(ctx context.Context, u Upload, each func([]Row) error, batch int) error
	// Progress records rows read or calculated so far (best effort).
	Progress(ctx context.Context, u Upload, read, calculated int64) error
	// CompleteBatch adds the calculating uploads' totals (us[i]'s cs[i])
	// to their suppliers, once, in one statement, and commits them; calls
	// added; then marks those still owned succeeded and hands them to end,
	// in one transaction. It returns, by upload, nil or ErrSuperseded.
	CompleteBatch(ctx context.Context, us []Upload, cs []Completion, added func(context.Context), end EndsTx) ([]error, error)
	// AttemptFailed records why an attempt failed; after the last one the
	// upload fails, remembering the state a retry resumes from.
	AttemptFailed(ctx context.Context, u Upload, reason string, last bool) error
	// QueueOutcomes queues, in tx, the webhook events of the uploads'
	// outcomes (succeeded or failed), of those tx has finished.
	QueueOutcomes(ctx context.Context, tx pgx.Tx, us []Upload) error
}

// EndTx runs in the transaction that finishes an upload, so that its job is
// recorded as done in the same commit.
type EndTx func(ctx context.Context, tx pgx.Tx) error

// EndsTx runs in the transaction that finishes uploads of a batch: done
// are their indexes in the batch.
type EndsTx func(ctx context.Context, tx pgx.Tx, done []int) error

// Ends is e as the EndsTx of a batch of its one upload.
func (e EndTx) Ends() EndsTx {
	return func(ctx context.Context, tx pgx.Tx, _ []int) error { return e(ctx, tx) }
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
	store   UploadStore
	maxSize int64
	changed func(ctx context.Context, tenant uuid.UUID, suppliers []string)
}

// New returns a Service.
func New(store UploadStore, maxSize int64) *Service {
	return &Service{store: store, maxSize: maxSize}
}

// WithChanged has s call changed after it changes suppliers' totals, as
// the Worker's Changed: caches let go of what they held of them.
func (s *Service) WithChanged(changed func(ctx context.Context, tenant uuid.UUID, suppliers []string)) *Service {
	s.changed = changed
	return s
}

// MaxAdjusted bounds the suppliers of one adjustment.
const MaxAdjusted = 50_000

var adjustmentRe = regexp.MustCompile(`^[A-Za-z0-9/_.-]{1,200}$`)

// AdjustSupplierTotals applies a recalculation's changes to suppliers'
// totals, once per id.
func (s *Service) AdjustSupplierTotals(ctx context.Context, tenant uuid.UUID, id string, totals []SupplierTotal) (bool, error) {
	if !adjustmentRe.MatchString(id) {
		return false, apperr.Invalid("adjustment_id", "%q is not an adjustment id: 1 to 200 letters, digits and / _ . -", id)
	}
	if len(totals) > MaxAdjusted {
		return false, apperr.Invalid("suppliers", "at most %d, got %d", MaxAdjusted, len(totals))
	}
	ids := make([]string, len(totals))
	for i, t := range totals {
		if t.ID == "" || strings.ContainsRune(t.ID, 0) {
			return false, apperr.Invalid(fmt.Sprintf("suppliers[%d].key", i), "a supplier id, without NUL bytes")
		}
		if _, _, err := decimal.Parse(t.Kg); err != nil {
			return false, apperr.Invalid(fmt.Sprintf("suppliers[%d].kg_co2e", i), "%q is not a decimal", t.Kg)
		}
		ids[i] = t.ID
	}
	applied, err := s.store.AdjustSupplierTotals(ctx, tenant, id, totals)
	if applied && s.changed != nil {
		s.changed(ctx, tenant, ids)
	}
	return applied, err
}

// Receive stores an upload from r and queues its job.
func (s *Service) Receive(ctx context.Context, tenant uuid.UUID, nu NewUpload, r io.Reader) (Upload, error) {
	if len(nu.IdempotencyKey) > 256 {
		return Upload{}, apperr.Invalid("idempotency_key", "longer than 256 bytes")
	}
	if strings.IndexByte(nu.IdempotencyKey, 0) >= 0 || !utf8.ValidString(nu.IdempotencyKey) {
		return Upload{}, apperr.Invalid("idempotency_key", "must be UTF-8 text without NUL bytes")
	}
	br, head := peek(&limited{r: r, left: s.maxSize, max: s.maxSize})
	if nu.Filename == "" {
		nu.Filename = defaultFilename(DetectFormat(head))
	}
	if err := s.resolveMapping(ctx, tenant, &nu); err != nil {
		return Upload{}, err
	}
	// The name is only shown back: what is kept is text PostgreSQL can
	// hold, cut at a rune boundary.
	nu.Filename = clean(nu.Filename, 256)
	carrier := propagation.MapCarrier{}
	telemetry.Propagator().Inject(ctx, carrier)
	nu.TraceParent = carrier.Get("traceparent")
	u, _, err := s.store.Receive(ctx, tenant, nu, br)
	if err != nil {
		return Upload{}, err
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
	return n, err //nolint:wrapcheck // a Reader returns io.EOF as it is: readers compare it with ==
}

// Get returns an upload.
func (s *Service) Get(ctx context.Context, tenant uuid.UUID, id int64) (Upload, error) {
	return s.store.Upload(ctx, tenant, id)
}

// List returns uploads with ids below beforeID (0: from the newest).
func (s *Service) List(ctx context.Context, tenant uuid.UUID, beforeID int64, limit int) ([]Upload, error) {
	return s.store.Uploads(ctx, tenant, beforeID, limit)
}

// Errors lists an upload's row errors after seq.
func (s *Service) Errors(ctx context.Context, tenant uuid.UUID, upload, afterSeq int64, limit int) (ErrorPage, error) {
	if _, err := s.store.Upload(ctx, tenant, upload); err != nil {
		return ErrorPage{}, err
	}
	return s.store.Errors(ctx, tenant, upload, afterSeq, limit)
}

// Retry queues a failed upload again; it resumes from the state it failed
// in (a calculation that failed is not validated again).
func (s *Service) Retry(ctx context.Context, tenant uuid.UUID, id int64) (Upload, error) {
	return s.store.Retry(ctx, tenant, id)
}

// UploadArgs is the River job that processes one upload.
type UploadArgs struct {
	Upload int64     `json:"upload"`
	Tenant uuid.UUID `json:"tenant"`
	// TraceParent is the W3C traceparent of the request that sent the
	// file: the job's spans continue that trace.
	TraceParent string `json:"trace_parent,omitempty"`
}

// Kind names the job type in River.
func (UploadArgs) Kind() string { return "intake.upload" }

// River queues, each with its own workers, so that a file of a million
// lines does not hold up files of ten.
const (
	QueueSmall = "uploads_small"
	QueueLarge = "uploads_large"
)

// DefaultTimeout bounds one attempt at an upload unless WorkerOptions say
// otherwise: long enough for the largest file.
const DefaultTimeout = 10 * time.Minute

// DefaultCalculatorWait is how long an upload waits for an unavailable
// calculator before its attempts count, and DefaultWaitEvery how often it
// looks again meanwhile.
const (
	DefaultCalculatorWait = 10 * time.Minute
	DefaultWaitEvery      = 2 * time.Second
)

// Worker processes uploads, one River job each.
type Worker struct {
	river.WorkerDefaults[UploadArgs]
	log      *slog.Logger
	tracer   trace.Tracer
	store    WorkStore
	calc     func(tenant uuid.UUID) Calculator
	codes    func(tenant uuid.UUID) CodeChecker
	batch    int
	inFlight int
	timeout  time.Duration
	changed  func(context.Context, uuid.UUID, []string)
	metrics  *Metrics
	maxIDs   int
	// waits bounds the snoozes of a job waiting for the calculator.
	waits     int
	waitEvery time.Duration
	batches   batches
}

// WorkerOptions tune a Worker.
type WorkerOptions struct {
	Batch    int // rows per calculation call; default 20,000
	InFlight int // calculation calls at once; default 2
	// Timeout bounds one attempt (default DefaultTimeout), in place of
	// River's one-minute default that would cut a large file short.
	Timeout time.Duration
	// Changed is told, after the commit, that a tenant's suppliers or
	// totals changed (to invalidate caches): those of the suppliers named,
	// or, with nil, of any of them.
	Changed func(ctx context.Context, tenant uuid.UUID, suppliers []string)
	// Metrics counts failed jobs and validated rows; nil counts nothing.
	Metrics *Metrics
	// MaxIDsInMemory bounds the ids a validation remembers (default
	// MaxIDsInMemory); tests lower it to reach the store's check.
	MaxIDsInMemory int
	// CalculatorWait is how long an upload whose calculator is unavailable
	// waits for it, looking again every WaitEvery, before a failure spends
	// one of its attempts (defaults DefaultCalculatorWait and
	// DefaultWaitEvery; a negative wait, none): River's backoff between
	// attempts (up to attempt^4 s) would keep the upload waiting long after
	// the calculator is back.
	CalculatorWait, WaitEvery time.Duration
	// BatchUploads bounds the small uploads of a tenant worked together
	// (default 8). Half the small uploads' workers lets the next batch
	// gather while one runs: a batch holds its jobs' workers.
	BatchUploads int
}

// NewWorker returns a Worker. calc and codes give per-tenant clients (they
// carry the tenant's credentials to the calculator).
func NewWorker(log *slog.Logger, tp trace.TracerProvider, store WorkStore, calc func(uuid.UUID) Calculator, checker func(uuid.UUID) CodeChecker, o WorkerOptions) *Worker {
	if o.Batch <= 0 {
		o.Batch = 20_000
	}
	if o.InFlight <= 0 {
		o.InFlight = 2
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxIDsInMemory <= 0 {
		o.MaxIDsInMemory = MaxIDsInMemory
	}
	if o.CalculatorWait == 0 {
		o.CalculatorWait = DefaultCalculatorWait
	}
	if o.WaitEvery <= 0 {
		o.WaitEvery = DefaultWaitEvery
	}
	if o.BatchUploads <= 0 {
		o.BatchUploads = DefaultBatchUploads
	}
	return &Worker{log: log, tracer: tp.Tracer("vcci/intake"), store: store, calc: calc, codes: checker, batch: o.Batch, inFlight: o.InFlight,
		timeout: o.Timeout, changed: o.Changed, metrics: o.Metrics, maxIDs: o.MaxIDsInMemory,
		waits: int(max(o.CalculatorWait, 0) / o.WaitEvery), waitEvery: o.WaitEvery,
		batches: batches{by: map[uuid.UUID]*tenantBatch{}, max: o.BatchUploads}}
}

// Timeout is how long River lets one attempt run.
func (w *Worker) Timeout(*river.Job[UploadArgs]) time.Duration { return w.timeout }

// Work runs one attempt at an upload, from the state it is in. River
// retries a failed attempt with backoff up to the job's MaxAttempts; after
// the last one the upload fails with the reason.
func (w *Worker) Work(ctx context.Context, job *river.Job[UploadArgs]) error {
	u, ok, err := w.store.Begin(ctx, job.Args.Tenant, job.Args.Upload)
	if err != nil || !ok {
		return err // not ok: the upload is finished
	}
	// The trace of the request that sent the file is in ctx (ContinueTrace).
	ctx, span := w.tracer.Start(ctx, "intake.ProcessUpload", trace.WithAttributes(
		attribute.Int64("vcci.upload_id", u.ID), attribute.Int("vcci.attempt", job.Attempt)))
	defer span.End()
	log := w.log.With("upload", u.ID, "tenant", u.Tenant.String(), "attempt", job.Attempt)
	end := func(ctx context.Context, tx pgx.Tx) error {
		// The outcome's event commits with the outcome, or not at all.
		if err := w.store.QueueOutcomes(ctx, tx, []Upload{u}); err != nil {
			return err
		}
		return completeJob(ctx, tx, job)
	}
	if w.batchable(job.Queue, u) {
		err = w.together(ctx, log, job, u, end)
	} else {
		err = w.run(ctx, log, u, end)
	}
	var he *HeaderError
	if err == nil || errors.As(err, &he) {
		return nil // a refused header is the upload's outcome, recorded with it
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		// The client is stopping: the job resumes at the next start
		// without spending an attempt.
		log.InfoContext(ctx, "upload interrupted", "error", err.Error())
		return river.JobSnooze(0) //nolint:wrapcheck // River's instruction to snooze the job, not a failure
	case errors.Is(err, ErrSuperseded):
		log.WarnContext(ctx, "upload attempt superseded", "error", err.Error())
		return err
	case errors.Is(err, ErrCalculatorUnavailable) && snoozes(job.Metadata) < w.waits:
		// The upload looks again soon, its attempt not spent; the next
		// run's Begin fences this one off as any new attempt does.
		log.WarnContext(ctx, "upload waits for the calculator", "error", err.Error(), "again_in", w.waitEvery.String())
		return river.JobSnooze(w.waitEvery) //nolint:wrapcheck // River's instruction to snooze the job, not a failure
	}
	last := job.Attempt >= job.MaxAttempts
	reason := err.Error()
	if last {
		reason = fmt.Sprintf("gave up after %d attempts: %v", job.Attempt, err)
		log.ErrorContext(ctx, "upload failed", "error", err.Error())
		w.metrics.JobsFailed(FailedAttempts, 1)
	} else {
		log.WarnContext(ctx, "upload attempt failed; River will retry it", "error", err.Error())
	}
	if ferr := w.store.AttemptFailed(context.WithoutCancel(ctx), u, reason, last); ferr != nil {
		log.ErrorContext(ctx, "record the failed attempt", "error", ferr.Error())
	}
	return err
}

// completeJob records job as done in tx, the transaction that finishes its
// upload.
func completeJob(ctx context.Context, tx pgx.Tx, job *river.Job[UploadArgs]) error {
	_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
	if errors.Is(err, rivertype.ErrNotFound) {
		return nil // a superseded attempt settled the job; the upload's fence decided
	}
	return err
}

// snoozes is how often River snoozed the job (its metadata's count): the
// waits for the calculator and the rare snooze of a client stopping.
func snoozes(metadata []byte) int {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	if json.Unmarshal(metadata, &m) != nil {
		return 0
	}
	return m.Snoozes
}

// opener opens a Validator over an upload's content, checking codes
// against the tenant's factors; progress, if set, hears rows read.
func (w *Worker) opener(ctx context.Context, u Upload, rules *Rules, progress func(int64)) func(io.Reader) (*Validator, error) {
	checker := w.codes(u.Tenant)
	return func(r io.Reader) (*Validator, error) {
		return NewValidator(ctx, r, checker, progress, WithMaxIDsInMemory(w.maxIDs), WithMapping(u.Mapping), WithRules(rules))
	}
}

// run takes u on from its stored state: a calculation that failed is
// resumed from the stored rows, not validated again.
func (w *Worker) run(ctx context.Context, log *slog.Logger, u Upload, end EndTx) (err error) {
	rows := func(each func([]Row) error) error { return w.store.Accepted(ctx, u, each, w.batch) }
	switch u.State {
	case Queued, Validating:
		start := time.Now()
		// The rules as they are now decide the upload's categories; a later
		// change of them leaves its stored lines as they are.
		rules, err := LoadRules(ctx, w.store, u.Tenant)
		if err != nil {
			return err
		}
		v, err := w.store.Validate(ctx, u, w.opener(ctx, u, rules, func(read int64) {
			// Progress is best effort; a missed update is harmless.
			if err := w.store.Progress(ctx, u, read, 0); err != nil {
				log.DebugContext(ctx, "record progress", "error", err.Error())
			}
		}), end)
		if err != nil {
			return err
		}
		w.metrics.Validated(v)
		log.InfoContext(ctx, "upload validated", "read", v.Read, "accepted", v.Accepted, "rejected", v.Rejected, "seconds", time.Since(start).Seconds())
		if v.Accepted == 0 {
			return nil // validation recorded it as done
		}
		// Caches hear of the stored rows now; Complete tells them of the
		// totals before the upload is seen to succeed.
		var changed []string // nil: a large upload's rows are not at hand
		if v.Rows != nil {
			rows = func(each func([]Row) error) error { return each(v.Rows) }
			changed = supplierIDs(v.Rows)
		}
		w.notify(ctx, u.Tenant, changed)
		u.State, u.MinDate, u.MaxDate, u.Accepted = Calculating, v.MinDate, v.MaxDate, v.Accepted
	case Calculating:
	default:
		return nil
	}
	return w.calculate(ctx, log, u, rows, end)
}

// calculate sends rows, in batches, to the calculator, InFlight batches at
// a time, and completes u. The calculator skips rows it has stored, so a
// resumed upload starts over safely.
func (w *Worker) calculate(ctx context.Context, log *slog.Logger, u Upload, rows func(each func([]Row) error) error, end EndTx) error {
	start := time.Now()
	sums, err := w.send(ctx, u.Tenant, u.ID, rows, func(ctx context.Context, calculated int64) {
		if calculated < u.Accepted {
			// Complete records the last batch; progress is for the
			// batches before it (and is best effort).
			if err := w.store.Progress(ctx, u, 0, calculated); err != nil {
				log.DebugContext(ctx, "record progress", "error", err.Error())
			}
		}
	})
	if err != nil {
		return err
	}
	c, changed, err := completion(sums, u.ID)
	if err != nil {
		return err
	}
	// Caches let go of the old totals after they are committed and before
	// the upload is seen to succeed, so that a client that sees it succeed
	// reads them back from any cache.
	errs, err := w.store.CompleteBatch(ctx, []Upload{u}, []Completion{c}, func(ctx context.Context) { w.notify(ctx, u.Tenant, changed) }, end.Ends())
	if err == nil {
		err = errs[0]
	}
	log.InfoContext(ctx, "upload calculated", "rows", c.Calculated, "seconds", time.Since(start).Seconds())
	return err
}

// send sends rows, in batches, to the tenant's calculator, InFlight
// batches at a time, for upload (a row may name another: Row.Upload), and
// returns what it calculated by upload; progress, if set, hears the rows
// calculated so far after each batch.
func (w *Worker) send(ctx context.Context, tenant uuid.UUID, upload int64, rows func(each func([]Row) error) error,
	progress func(context.Context, int64)) (map[int64]*uploadSum, error) {
	calc := w.calc(tenant)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type done struct {
		n int
		c Calculated
	}
	results := make(chan done, w.inFlight)
	sem := make(chan struct{}, w.inFlight)
	sums := make(map[int64]*uploadSum, 1)
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
			if progress != nil {
				progress(ctx, calculated)
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
			c, err := calc.Calculate(ctx, upload, rows)
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
	for range cap(sem) { // wait for the batches in flight
		sem <- struct{}{}
	}
	close(results)
	<-collected
	select {
	case firstErr := <-errc:
		return nil, fmt.Errorf("calculating: %w", firstErr)
	default:
	}
	if err != nil {
		return nil, err
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return nil, fmt.Errorf("calculating: %w", cause)
	}
	return sums, nil
}

// completion is upload's Completion from sums, and its suppliers.
func completion(sums map[int64]*uploadSum, upload int64) (Completion, []string, error) {
	s := sums[upload]
	if s == nil {
		return Completion{}, nil, fmt.Errorf("calculating: the calculator returned nothing for uploads/%d", upload)
	}
	c := Completion{Upload: upload, Calculated: s.count, Kg: s.kg.FloatString(7), Totals: make([]SupplierTotal, 0, len(s.suppliers))}
	changed := make([]string, 0, len(s.suppliers))
	for id, t := range s.suppliers {
		c.Totals = append(c.Totals, SupplierTotal{ID: id, Spend: t.spend.FloatString(4), Kg: t.kg.FloatString(7), Count: t.count})
		changed = append(changed, id)
	}
	return c, changed, nil
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

// ContinueTrace is River middleware that works an upload's job in the trace
// of the request that sent the file. Placed before otelriver's middleware,
// River's own span for the job joins that trace too.
type ContinueTrace struct{ river.MiddlewareDefaults }

func (*ContinueTrace) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	var args UploadArgs
	if job.Kind == args.Kind() && json.Unmarshal(job.EncodedArgs, &args) == nil && args.TraceParent != "" {
		ctx = telemetry.Propagator().Extract(ctx, propagation.MapCarrier{"traceparent": args.TraceParent})
	}
	return doInner(ctx)
}
