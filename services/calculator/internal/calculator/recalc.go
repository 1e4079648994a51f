package calculator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/vcci-dev/vcci/pkg/apperr"
)

// Recalculation states.
const (
	RecalcQueued    = "queued"
	RecalcRunning   = "running"
	RecalcSucceeded = "succeeded"
	RecalcFailed    = "failed"
)

// Recalculation is a job recalculating stored lines under the tenant's
// current settings and factors; each changed line gets a new version and
// its old one goes to the history.
type Recalculation struct {
	ID     int64
	Reason string
	// The scope; none set: every line.
	SupplierID, FactorSet string
	Year                  int16
	BaseYear              bool
	State                 string
	LineCount, LinesDone  int64
	LinesChanged          int64
	// Exact kg CO2e (AR5) of the lines done, before and after; the change
	// in percent of before (2 decimals, "" until succeeded) and, for a
	// base year, whether it reaches Threshold (percent).
	KgBefore, KgAfter, ChangePercent string
	Significant                      bool
	Threshold                        string
	CreateTime, FinishTime           time.Time
	Error                            string
	Attempts                         int32
	// Cursor is the last line done; nil before the first batch.
	Cursor *RecalcCursor
}

// StoredLine is a stored result rebuilt as the line it was calculated
// from, with what the result said.
type StoredLine struct {
	Line
	Version                            int32
	Method, Set, FactorCode, FactorVal string
	Kg                                 string // exact
	DQ                                 int32
}

// RecalcProgress is what one batch of a recalculation did: where it ended,
// how many lines it read and their exact kg before and after.
type RecalcProgress struct {
	From          *RecalcCursor // where the batch began; nil: the start
	CursorDate    time.Time
	CursorID      string
	Done          int64
	Before, After []string
}

// ResultVersion is one version of a result, as a change shows it.
type ResultVersion struct {
	Version                                    int32
	Method, Set, SetVersion, Code, FactorValue string
	Kg                                         string
	DQ                                         int32
}

// RecalcChange is one line a recalculation changed.
type RecalcChange struct {
	TransactionID, SupplierID string
	Date                      time.Time
	Before, After             ResultVersion
	Delta                     string // after.Kg - before.Kg
}

// RecalcChangePage is a page of changes; Next resumes after its last.
type RecalcChangePage struct {
	Changes []RecalcChange
	Next    *RecalcCursor
}

// RecalcCursor is a line's place in a recalculation's order.
type RecalcCursor struct {
	Date time.Time
	ID   string
}

// RecalculationStore is the persistence recalculations need.
type RecalculationStore interface {
	// CreateRecalculation stores r queued, with its job, in one
	// transaction; ErrSetNotFound for a FactorSet that is not there.
	CreateRecalculation(ctx context.Context, tenant uuid.UUID, r Recalculation) (Recalculation, error)
	Recalculation(ctx context.Context, tenant uuid.UUID, id int64) (Recalculation, error)
	// Recalculations reads a page, newest first, after id (0: from the
	// newest).
	Recalculations(ctx context.Context, tenant uuid.UUID, limit int, after int64) ([]Recalculation, error)
	// StartRecalculation marks r running on its attempt-th attempt.
	StartRecalculation(ctx context.Context, tenant uuid.UUID, id int64, attempt int) (Recalculation, error)
	// RecalculationLines reads the next page of current results in r's
	// scope after its cursor, in (transaction, date) order: the key order.
	RecalculationLines(ctx context.Context, tenant uuid.UUID, r Recalculation, limit int) ([]StoredLine, error)
	// Recalculate replaces the changed lines' results with new versions
	// (their old ones to the history) and records the batch's progress,
	// in one transaction; ErrConflict when a line changed meanwhile.
	Recalculate(ctx context.Context, tenant uuid.UUID, id int64, changed []Line, p RecalcProgress) error
	// FinishRecalculation marks r succeeded, or failed with errText.
	FinishRecalculation(ctx context.Context, tenant uuid.UUID, id int64, errText string) (Recalculation, error)
	RecalculationChanges(ctx context.Context, tenant uuid.UUID, id int64, limit int, after *RecalcCursor) (RecalcChangePage, error)
	// SupplierAdjustments reads what recalculations' batches changed in
	// suppliers' emissions and intake has not been sent, every
	// recalculation's; MarkAdjustmentSent records one sent.
	SupplierAdjustments(ctx context.Context, tenant uuid.UUID) ([]Adjustment, error)
	MarkAdjustmentSent(ctx context.Context, tenant uuid.UUID, id, batch int64) error
}

// Adjustment is what one batch of a recalculation changed in suppliers'
// emissions (Group.Kg, the change).
type Adjustment struct {
	Recalculation, Batch int64
	Suppliers            []Group
}

// SupplierTotals is intake's record of suppliers' emissions, which a
// recalculation brings to its results.
type SupplierTotals interface {
	// AdjustSupplierTotals applies the changes once per id.
	AdjustSupplierTotals(ctx context.Context, tenant uuid.UUID, id string, suppliers []Group) error
}

// WithSupplierTotals has recalculations send what they change in
// suppliers' emissions to totals, and succeed only once it has them.
func (s *Service) WithSupplierTotals(totals SupplierTotals) *Service {
	s.totals = totals
	return s
}

// sendAdjustments sends the tenant's adjustments intake has not had, in
// order, each marked sent once intake has it. Every recalculation's: one
// that failed while intake was away is caught up by the next.
func (s *Service) sendAdjustments(ctx context.Context, tenant uuid.UUID) error {
	if s.totals == nil {
		return nil
	}
	as, err := s.store.SupplierAdjustments(ctx, tenant)
	if err != nil {
		return err
	}
	for _, a := range as {
		id := fmt.Sprintf("recalculations/%d/batches/%d", a.Recalculation, a.Batch)
		if err := s.totals.AdjustSupplierTotals(ctx, tenant, id, a.Suppliers); err != nil {
			return fmt.Errorf("supplier totals: %w", err)
		}
		if err := s.store.MarkAdjustmentSent(ctx, tenant, a.Recalculation, a.Batch); err != nil {
			return err
		}
	}
	return nil
}

// RecalcQueue is the River queue recalculations run on.
const RecalcQueue = "recalculations"

// RecalcBatch is how many lines a recalculation reads, computes and
// stores per transaction. A batch's totals touch about as many rows
// whatever its size (suppliers, codes, inventory groups): measured on
// 300,000 lines, their upserts took 6.9 s in batches of 5,000, 1.5 s in
// batches of 20,000.
const RecalcBatch = 20_000

// RecalcArgs are a recalculation job's arguments.
type RecalcArgs struct {
	Tenant uuid.UUID `json:"tenant"`
	ID     int64     `json:"id"`
}

// Kind is the job's kind in River.
func (RecalcArgs) Kind() string { return "calculator.recalculate" }

// InsertOpts puts the job on RecalcQueue.
func (RecalcArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: RecalcQueue, MaxAttempts: 5}
}

// MaxReason is the longest reason a recalculation takes, in characters.
const MaxReason = 500

// CreateRecalculation validates r's reason and scope and queues it.
func (s *Service) CreateRecalculation(ctx context.Context, tenant uuid.UUID, r Recalculation) (Recalculation, error) {
	switch {
	case strings.TrimSpace(r.Reason) == "":
		return Recalculation{}, apperr.Invalid("recalculation.reason", "required")
	case utf8.RuneCountInString(r.Reason) > MaxReason:
		return Recalculation{}, apperr.Invalid("recalculation.reason", "at most %d characters", MaxReason)
	case strings.ContainsRune(r.Reason, 0):
		return Recalculation{}, apperr.Invalid("recalculation.reason", "contains a NUL byte")
	case strings.ContainsRune(r.SupplierID, 0):
		return Recalculation{}, apperr.Invalid("recalculation.supplier_id", "contains a NUL byte")
	case r.Year != 0 && (r.Year < 1990 || r.Year > 2100):
		return Recalculation{}, apperr.Invalid("recalculation.year", "%d is outside 1990..2100", r.Year)
	}
	r.BaseYear, r.Threshold = false, ""
	out, err := s.store.CreateRecalculation(ctx, tenant, r)
	if errors.Is(err, ErrSetNotFound) {
		return out, apperr.Invalid("recalculation.factor_set", "factorSets/%s is not a factor set", r.FactorSet)
	}
	return out, err
}

// RecalculateBaseYear queues a recalculation of the tenant's base year,
// recording its significance threshold.
func (s *Service) RecalculateBaseYear(ctx context.Context, tenant uuid.UUID, reason string) (Recalculation, error) {
	st, err := s.Settings(ctx, tenant)
	if err != nil {
		return Recalculation{}, err
	}
	if st.BaseYear == 0 {
		return Recalculation{}, apperr.New(apperr.FailedPrecondition, "no base year: set calculationSettings.base_year first")
	}
	switch {
	case strings.TrimSpace(reason) == "":
		return Recalculation{}, apperr.Invalid("reason", "required")
	case utf8.RuneCountInString(reason) > MaxReason:
		return Recalculation{}, apperr.Invalid("reason", "at most %d characters", MaxReason)
	case strings.ContainsRune(reason, 0):
		return Recalculation{}, apperr.Invalid("reason", "contains a NUL byte")
	}
	return s.store.CreateRecalculation(ctx, tenant, Recalculation{Reason: reason, Year: st.BaseYear, BaseYear: true,
		Threshold: cmp.Or(st.Threshold, DefaultThreshold)})
}

// DefaultThreshold is the significance threshold, in percent, of a tenant
// that set none.
const DefaultThreshold = "5"

// Recalculation reads one recalculation.
func (s *Service) Recalculation(ctx context.Context, tenant uuid.UUID, id int64) (Recalculation, error) {
	return s.store.Recalculation(ctx, tenant, id)
}

// Recalculations reads a page of recalculations, newest first.
func (s *Service) Recalculations(ctx context.Context, tenant uuid.UUID, limit int, after int64) ([]Recalculation, error) {
	return s.store.Recalculations(ctx, tenant, limit, after)
}

// Changes reads a page of the lines a recalculation changed.
func (s *Service) Changes(ctx context.Context, tenant uuid.UUID, id int64, limit int, after *RecalcCursor) (RecalcChangePage, error) {
	if _, err := s.store.Recalculation(ctx, tenant, id); err != nil {
		return RecalcChangePage{}, err
	}
	return s.store.RecalculationChanges(ctx, tenant, id, limit, after)
}

// RunRecalculation works recalculation id from its cursor to the end, one
// transaction a batch, so a crash resumes where the last batch committed.
func (s *Service) RunRecalculation(ctx context.Context, tenant uuid.UUID, id int64, attempt, batch int) (Recalculation, error) {
	r, err := s.store.StartRecalculation(ctx, tenant, id, attempt)
	if err != nil || r.State == RecalcSucceeded || r.State == RecalcFailed {
		return r, err // a job run again after its end does nothing
	}
	// What an earlier attempt committed but could not send.
	if err := s.sendAdjustments(ctx, tenant); err != nil {
		return r, err
	}
	// The next batch is read and calculated while this one is written: the
	// two take different cores (this process, PostgreSQL), and a batch's
	// lines all lie after the one before's, so neither waits for the other.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan recomputed, 1)
	go s.recomputeAhead(ctx, tenant, r, batch, batches)
	for b := range batches {
		if b.err != nil {
			return r, b.err
		}
		b.p.From = r.Cursor
		if err := s.store.Recalculate(ctx, tenant, id, b.changed, b.p); err != nil {
			return r, err
		}
		if len(b.changed) > 0 && s.cache != nil {
			s.cache.Invalidate(ctx, tenant)
		}
		if len(b.changed) > 0 {
			if err := s.sendAdjustments(ctx, tenant); err != nil {
				return r, err
			}
		}
		r.LinesDone += b.p.Done
		r.LinesChanged += int64(len(b.changed))
		r.Cursor = &RecalcCursor{Date: b.p.CursorDate, ID: b.p.CursorID}
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	return s.store.FinishRecalculation(ctx, tenant, id, "")
}

// recomputed is one batch read and calculated again, or why it could not
// be.
type recomputed struct {
	p       RecalcProgress
	changed []Line
	err     error
}

// recomputeAhead reads and calculates r's batches from its cursor on, in
// order, until the scope's end (the channel closed) or an error (sent
// last).
func (s *Service) recomputeAhead(ctx context.Context, tenant uuid.UUID, r Recalculation, batch int, out chan<- recomputed) {
	defer close(out)
	for {
		stored, err := s.store.RecalculationLines(ctx, tenant, r, batch)
		if err == nil && len(stored) == 0 {
			return
		}
		var b recomputed
		if err == nil {
			b.p, b.changed, err = s.recomputeBatch(ctx, tenant, stored)
		}
		b.err = err
		select {
		case out <- b:
		case <-ctx.Done():
			return
		}
		if err != nil || len(stored) < batch {
			return
		}
		r.Cursor = &RecalcCursor{Date: b.p.CursorDate, ID: b.p.CursorID}
	}
}

// recomputeBatch calculates stored lines again, under the tenant's
// current settings and supplier figures, as Calculate would, and returns
// the batch's progress and the lines whose result would change.
func (s *Service) recomputeBatch(ctx context.Context, tenant uuid.UUID, stored []StoredLine) (RecalcProgress, []Line, error) {
	lines := make([]Line, len(stored))
	for i := range stored {
		lines[i] = stored[i].Line
	}
	rs, kgs, err := s.computeLines(ctx, tenant, lines)
	if err != nil {
		return RecalcProgress{}, nil, inTransaction(err, stored)
	}
	last := stored[len(stored)-1]
	p := RecalcProgress{CursorDate: last.Date, CursorID: last.TransactionID, Done: int64(len(stored)),
		Before: make([]string, len(stored)), After: make([]string, len(stored))}
	var changed []Line
	for i, old := range stored {
		r, kg := rs[i], kgs[i].text()
		p.Before[i], p.After[i] = old.Kg, old.Kg
		if old.Method == r.Method && old.Set == r.Set && old.FactorCode == r.FactorCode && old.DQ == r.DQ &&
			sameDecimal(old.FactorVal, r.FactorValue) && sameDecimal(old.Kg, kg) {
			continue
		}
		p.After[i] = kg
		l := lines[i]
		l.Version = old.Version + 1
		changed = append(changed, l)
	}
	return p, changed, nil
}

// inTransaction names the transaction a line's error is about: its
// place in a batch means nothing to the user.
func inTransaction(err error, stored []StoredLine) error {
	var ae *apperr.Error
	var i int
	if !errors.As(err, &ae) || len(ae.Violations) == 0 {
		return err
	}
	v := ae.Violations[0]
	if n, _ := fmt.Sscanf(v.Field, "lines[%d]", &i); n != 1 || i < 0 || i >= len(stored) {
		return err
	}
	_, field, _ := strings.Cut(v.Field, "].")
	l := stored[i]
	return apperr.New(ae.Kind, fmt.Sprintf("transaction %s of %s: %s: %s", l.TransactionID, l.Date.Format(time.DateOnly), field, v.Description))
}

// sameDecimal compares two decimals' values, whatever their scales.
func sameDecimal(a, b string) bool {
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(b)
	return ok1 && ok2 && x.Cmp(y) == 0
}

// RecalcWorker works recalculation jobs.
type RecalcWorker struct {
	river.WorkerDefaults[RecalcArgs]
	svc   *Service
	batch int
}

// NewRecalcWorker returns the worker of svc's recalculations, batch lines
// a transaction (0: RecalcBatch).
func NewRecalcWorker(svc *Service, batch int) *RecalcWorker {
	return &RecalcWorker{svc: svc, batch: cmp.Or(batch, RecalcBatch)}
}

// Timeout bounds one attempt: a large recalculation resumes at its
// cursor on the next.
func (*RecalcWorker) Timeout(*river.Job[RecalcArgs]) time.Duration { return time.Hour }

// Work runs the recalculation; the last attempt's error fails it.
func (w *RecalcWorker) Work(ctx context.Context, job *river.Job[RecalcArgs]) error {
	_, err := w.svc.RunRecalculation(ctx, job.Args.Tenant, job.Args.ID, job.Attempt, w.batch)
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		// Stopped with its client: handed back without spending an
		// attempt, it resumes at its cursor.
		return river.JobSnooze(time.Second) //nolint:wrapcheck // River's own signal, read by River
	}
	if err != nil && job.Attempt >= job.MaxAttempts {
		// The user sees what the domain said (a line's bad code), never a
		// driver's text: the job's log has that.
		msg := "internal error"
		if ae, ok := errors.AsType[*apperr.Error](err); ok {
			msg = ae.Msg
		}
		if _, ferr := w.svc.store.FinishRecalculation(context.WithoutCancel(ctx), job.Args.Tenant, job.Args.ID, msg); ferr != nil {
			return fmt.Errorf("recalculation %d: %w (and marking it failed: %w)", job.Args.ID, err, ferr)
		}
	}
	if err != nil {
		return fmt.Errorf("recalculation %d: %w", job.Args.ID, err)
	}
	return nil
}
