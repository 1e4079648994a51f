package reporting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/refdata"
)

// Kind is what a report contains (values match the contract's ReportKind).
type Kind int32

const (
	KindGHGInventory Kind = iota + 1
	KindCDP
	KindESRSE16
	KindSB253
	KindHotspotPack
)

// slug names a kind in file names.
func (k Kind) slug() string {
	switch k {
	case KindGHGInventory:
		return "ghg-inventory"
	case KindCDP:
		return "cdp"
	case KindESRSE16:
		return "esrs-e1-6"
	case KindSB253:
		return "sb-253"
	case KindHotspotPack:
		return "hotspot-pack"
	}
	return ""
}

// Format is the file a report is rendered as (values match the contract's
// ReportFormat).
type Format int32

const (
	FormatPDF Format = iota + 1
	FormatXLSX
	FormatCSV
	FormatJSON
)

// formats are each format's file extension and media type.
var formats = map[Format]struct{ ext, contentType string }{
	FormatPDF:  {"pdf", "application/pdf"},
	FormatXLSX: {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
	FormatCSV:  {"zip", "application/zip"}, // a CSV file per table
	FormatJSON: {"json", "application/json"},
}

// State is where a report's job is.
type State string

const (
	Queued    State = "queued"
	Running   State = "running"
	Succeeded State = "succeeded"
	Failed    State = "failed"
)

// Exclusion is a Scope 3 category left out of a report, and why.
type Exclusion struct {
	Category int32  `json:"category"`
	Reason   string `json:"reason"`
}

// Report is a report: what was asked for and, once its job ran, its file.
type Report struct {
	ID          int64
	Kind        Kind
	PeriodStart time.Time // a date, UTC
	PeriodEnd   time.Time // a date, UTC, inclusive
	// Snapshot is the inventory snapshot's id; 0: the inventory as it
	// stands when the job runs.
	Snapshot int64
	// AsOf is a day (00:00 UTC) the report reads the inventory as
	// calculated at the end of; zero: as it stands when the job runs.
	AsOf         time.Time
	GWPBasis     refdata.Basis // "": the tenant's setting
	Format       Format
	Organization string
	Exclusions   []Exclusion

	State      State
	Progress   int32
	Error      string
	File       FileInfo
	CreateTime time.Time
	FinishTime time.Time // zero until it ends
	// ExpireTime is when the report is deleted, REPORT_RETENTION after it
	// ends; zero until it ends, or when reports are kept.
	ExpireTime time.Time
}

// FileInfo describes a built report's file.
type FileInfo struct {
	Name        string
	ContentType string
	Size        int64
	SHA256      string // hex
}

// Checker validates a request against the tenant's data (a period with no
// data, a snapshot that does not exist): it returns an *apperr.Error
// naming the field ("report.period_start").
type Checker interface {
	Check(ctx context.Context, tenant uuid.UUID, r Report) error
}

// Producer builds and renders a report's file. It may call SetProgress
// with ctx as it goes. An *apperr.Error's message is what the user sees
// when the last attempt fails; any other error shows as "internal error".
type Producer interface {
	Produce(ctx context.Context, tenant uuid.UUID, r Report) (body []byte, err error)
}

// ReportStore keeps reports and their files.
type ReportStore interface {
	// CreateReport stores r queued and its job in one transaction.
	CreateReport(ctx context.Context, tenant uuid.UUID, r Report) (Report, error)
	Report(ctx context.Context, tenant uuid.UUID, id int64) (Report, error)
	// Reports lists reports newest first, those before id after (0: from
	// the newest).
	Reports(ctx context.Context, tenant uuid.UUID, limit int, after int64) ([]Report, error)
	// StartReport marks a queued or running report running; an ended one
	// is returned as it is.
	StartReport(ctx context.Context, tenant uuid.UUID, id int64) (Report, error)
	SetReportProgress(ctx context.Context, tenant uuid.UUID, id int64, percent int32) error
	// FinishReport ends a report not ended yet: with its file, or failed
	// with errText.
	FinishReport(ctx context.Context, tenant uuid.UUID, id int64, f FileInfo, body []byte, errText string) (Report, error)
	// ReportFile returns a report with its file's bytes.
	ReportFile(ctx context.Context, tenant uuid.UUID, id int64) (Report, []byte, error)
	// DeleteReport deletes a report and its file.
	DeleteReport(ctx context.Context, tenant uuid.UUID, id int64) error
}

// Sentinels of reports.
var (
	ErrReportNotFound = apperr.New(apperr.NotFound, "report not found")
	ErrReportNotReady = apperr.New(apperr.FailedPrecondition, "the report has no file: it is not SUCCEEDED")
)

// ReportQueue is the River queue reports are built on.
const ReportQueue = "reports"

// ReportArgs are a report job's arguments.
type ReportArgs struct {
	Tenant uuid.UUID `json:"tenant"`
	ID     int64     `json:"id"`
}

// Kind is the job's kind in River.
func (ReportArgs) Kind() string { return "reporting.report" }

// InsertOpts puts the job on ReportQueue.
func (ReportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: ReportQueue, MaxAttempts: 3}
}

// Limits on a request.
const (
	MaxOrganization = 200
	MaxReason       = 500
)

// Reports creates reports and builds their files.
type Reports struct {
	store   ReportStore
	check   Checker
	produce Producer
}

// NewReports returns the reports kept in store, checked by check and built
// by produce.
func NewReports(store ReportStore, check Checker, produce Producer) *Reports {
	return &Reports{store: store, check: check, produce: produce}
}

// Validate checks what a request can be checked for without the tenant's
// data; field names are the contract's ("report.kind").
func Validate(r Report) error {
	if r.Kind.slug() == "" {
		return apperr.Invalid("report.kind", "must be one of the REPORT_KIND_ values, got %d", r.Kind)
	}
	if _, ok := formats[r.Format]; !ok {
		return apperr.Invalid("report.format", "must be one of the REPORT_FORMAT_ values, got %d", r.Format)
	}
	if r.PeriodEnd.Before(r.PeriodStart) {
		return apperr.Invalid("report.period_end", "%s is before period_start %s", r.PeriodEnd.Format(time.DateOnly), r.PeriodStart.Format(time.DateOnly))
	}
	if err := validateAsOf(r, time.Now()); err != nil {
		return err
	}
	if len([]rune(r.Organization)) > MaxOrganization {
		return apperr.Invalid("report.organization", "is longer than %d characters", MaxOrganization)
	}
	seen := map[int32]bool{}
	for i, e := range r.Exclusions {
		if e.Category < 1 || e.Category > 15 {
			return apperr.Invalid(fmt.Sprintf("report.exclusions[%d].category", i), "%d is not a Scope 3 category (1 to 15)", e.Category)
		}
		if seen[e.Category] {
			return apperr.Invalid(fmt.Sprintf("report.exclusions[%d].category", i), "category %d is excluded twice", e.Category)
		}
		seen[e.Category] = true
		if strings.TrimSpace(e.Reason) == "" {
			return apperr.Invalid(fmt.Sprintf("report.exclusions[%d].reason", i), "is required: an exclusion must be justified")
		}
		if len([]rune(e.Reason)) > MaxReason {
			return apperr.Invalid(fmt.Sprintf("report.exclusions[%d].reason", i), "is longer than %d characters", MaxReason)
		}
	}
	return nil
}

// validateAsOf refuses an as-of day with a snapshot or that has not ended
// at now.
func validateAsOf(r Report, now time.Time) error {
	switch {
	case r.AsOf.IsZero():
		return nil
	case r.Snapshot != 0:
		return apperr.Invalid("report.as_of_date", "give a snapshot or a day, not both")
	case !r.AsOf.Before(now.UTC().Truncate(24 * time.Hour)):
		return apperr.Invalid("report.as_of_date", "%s has not ended (UTC): a report is as of a past day, or of now without one",
			r.AsOf.Format(time.DateOnly))
	}
	return nil
}

// CreateReport validates r, checks it against the tenant's data and
// queues it.
func (s *Reports) CreateReport(ctx context.Context, tenant uuid.UUID, r Report) (Report, error) {
	if err := Validate(r); err != nil {
		return Report{}, err
	}
	if err := s.check.Check(ctx, tenant, r); err != nil {
		return Report{}, err
	}
	return s.store.CreateReport(ctx, tenant, r)
}

// Report returns one report.
func (s *Reports) Report(ctx context.Context, tenant uuid.UUID, id int64) (Report, error) {
	return s.store.Report(ctx, tenant, id)
}

// Delete deletes a report and its file, whatever its state: its links
// stop working, and its job, if still to run, finds nothing to build.
func (s *Reports) Delete(ctx context.Context, tenant uuid.UUID, id int64) error {
	return s.store.DeleteReport(ctx, tenant, id)
}

// List returns a page of reports, newest first.
func (s *Reports) List(ctx context.Context, tenant uuid.UUID, limit int, after int64) ([]Report, error) {
	return s.store.Reports(ctx, tenant, limit, after)
}

// File returns a succeeded report and its file; ErrReportNotReady for
// one not succeeded.
func (s *Reports) File(ctx context.Context, tenant uuid.UUID, id int64) (Report, []byte, error) {
	r, body, err := s.store.ReportFile(ctx, tenant, id)
	if err != nil {
		return r, nil, err
	}
	if r.State != Succeeded {
		return r, nil, ErrReportNotReady
	}
	return r, body, nil
}

// FileName is the name a report's file is downloaded as:
// "ghg-inventory-2025-01-01-2025-12-31-42.pdf", or as of a day
// "ghg-inventory-2025-01-01-2025-12-31-as-of-2026-03-31-42.pdf".
func FileName(r Report) string {
	asOf := ""
	if !r.AsOf.IsZero() {
		asOf = "-as-of-" + r.AsOf.Format(time.DateOnly)
	}
	return fmt.Sprintf("%s-%s-%s%s-%d.%s", r.Kind.slug(), r.PeriodStart.Format(time.DateOnly), r.PeriodEnd.Format(time.DateOnly), asOf, r.ID,
		formats[r.Format].ext)
}

type progressKey struct{}

// SetProgress records how far a report's job is, 0 to 100, when ctx is a
// job's (Producer.Produce's); elsewhere it does nothing. A failure to
// record it is not the report's: it is dropped.
func SetProgress(ctx context.Context, percent int32) {
	if f, ok := ctx.Value(progressKey{}).(func(int32)); ok {
		f(min(max(percent, 0), 99)) // 100 is set with the file
	}
}

// Build runs report id's job: it marks it running, produces its file and
// stores it. A report already ended is left as it is.
func (s *Reports) Build(ctx context.Context, tenant uuid.UUID, id int64) (Report, error) {
	r, err := s.store.StartReport(ctx, tenant, id)
	if err != nil || r.State == Succeeded || r.State == Failed {
		return r, err
	}
	pctx := context.WithValue(ctx, progressKey{}, func(p int32) {
		_ = s.store.SetReportProgress(ctx, tenant, id, p) // best effort: the job's outcome does not depend on it
	})
	body, err := s.produce.Produce(pctx, tenant, r)
	if err != nil {
		return r, fmt.Errorf("produce: %w", err)
	}
	sum := sha256.Sum256(body)
	f := FileInfo{Name: FileName(r), ContentType: formats[r.Format].contentType, Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}
	return s.store.FinishReport(ctx, tenant, id, f, body, "")
}

// ReportWorker works report jobs.
type ReportWorker struct {
	river.WorkerDefaults[ReportArgs]
	reports *Reports
}

// NewReportWorker returns the worker of reports' jobs.
func NewReportWorker(reports *Reports) *ReportWorker { return &ReportWorker{reports: reports} }

// Timeout bounds one attempt.
func (*ReportWorker) Timeout(*river.Job[ReportArgs]) time.Duration { return 10 * time.Minute }

// Work builds the report; the last attempt's error fails it.
func (w *ReportWorker) Work(ctx context.Context, job *river.Job[ReportArgs]) error {
	_, err := w.reports.Build(ctx, job.Args.Tenant, job.Args.ID)
	if errors.Is(err, ErrReportNotFound) {
		return nil // deleted before it was built
	}
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		// Stopped with its client: handed back without spending an attempt.
		return river.JobSnooze(time.Second) //nolint:wrapcheck // River's own signal, read by River
	}
	if err != nil && job.Attempt >= job.MaxAttempts {
		// The user sees what the domain said, never a driver's text: the
		// job's log has that.
		msg := "internal error"
		if ae, ok := errors.AsType[*apperr.Error](err); ok {
			msg = ae.Msg
		}
		if _, ferr := w.reports.store.FinishReport(context.WithoutCancel(ctx), job.Args.Tenant, job.Args.ID, FileInfo{}, nil, msg); ferr != nil {
			return fmt.Errorf("report %d: %w (and marking it failed: %w)", job.Args.ID, err, ferr)
		}
	}
	if err != nil {
		return fmt.Errorf("report %d: %w", job.Args.ID, err)
	}
	return nil
}
