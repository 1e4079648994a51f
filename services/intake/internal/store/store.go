// Package store is intake's PostgreSQL persistence.
package store

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/riverdb"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

//go:embed migrations/*.sql
var migrations embed.FS

// TransactionsTable is the partitioned transactions table.
const TransactionsTable = "intake.transactions"

// ChunkSize is how much of an upload one stored chunk holds.
const ChunkSize = 1 << 20

// RiverSchema holds River's tables, apart from intake's.
const RiverSchema = "river"

// Migrate creates or updates the intake schema and River's.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := db.Migrate(ctx, pool, "intake", migrations); err != nil {
		return err
	}
	// Jobs are inserted and completed in the transactions that store and
	// finish their uploads, which run as the application's role; upkeep
	// reads them to find the uploads River gave up on (FailAbandoned).
	return riverdb.Migrate(ctx, pool, RiverSchema, `GRANT USAGE ON SCHEMA `+RiverSchema+` TO `+db.AppRole+`, `+db.MaintenanceRole+`;
		GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA `+RiverSchema+` TO `+db.AppRole+`;
		GRANT USAGE ON ALL SEQUENCES IN SCHEMA `+RiverSchema+` TO `+db.AppRole+`;
		GRANT SELECT ON `+RiverSchema+`.river_job TO `+db.MaintenanceRole)
}

// Store implements intake.Store.
type Store struct {
	pool  *pgxpool.Pool
	small int64 // uploads up to this size are validated in memory
	// chunkBufs are ChunkSize buffers for Receive, reused: a fresh
	// megabyte per upload, most of them a few hundred bytes, is most of a
	// small upload's cost in allocation and GC.
	chunkBufs   sync.Pool
	recv        receiver
	partitions  *db.Partitions
	jobs        *river.Client[pgx.Tx] // inserts only
	maxAttempts int
	spoolDir    string // where bodies over a chunk wait for their transaction; "" is os.TempDir
}

// WithSpoolDir sets the directory bodies larger than one chunk are written
// to before they are stored (default os.TempDir()).
func (s *Store) WithSpoolDir(dir string) *Store {
	s.spoolDir = dir
	return s
}

// DefaultMaxAttempts is how many times an upload's job runs before it
// fails, unless WithMaxAttempts says otherwise.
const DefaultMaxAttempts = 5

// New returns a Store.
func New(pool *pgxpool.Pool) *Store {
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: RiverSchema})
	if err != nil {
		panic(fmt.Sprintf("store.New: river: %v", err)) // a fixed, valid config
	}
	return &Store{pool: pool, small: SmallUpload, jobs: jobs, maxAttempts: DefaultMaxAttempts, partitions: db.NewPartitions(pool),
		chunkBufs: sync.Pool{New: func() any { b := make([]byte, ChunkSize); return &b }}}
}

// KeepPartitionsAhead creates the transactions' partitions ahead of time,
// daily, until ctx ends.
func (s *Store) KeepPartitionsAhead(ctx context.Context, onErr func(error)) {
	s.partitions.KeepAhead(ctx, onErr, TransactionsTable)
}

// WithMaxAttempts sets how many times each new upload's job runs before
// the upload fails.
func (s *Store) WithMaxAttempts(n int) *Store {
	s.maxAttempts = n
	return s
}

const uploadCols = `id, tenant_id, filename, coalesce(idempotency_key, ''), coalesce(sha256, ''::bytea), size_bytes, state,
	rows_read, rows_accepted, rows_rejected, rows_calculated, coalesce(kg_co2e::text, ''), failure_reason, attempts,
	coalesce(min_date, '0001-01-01'), coalesce(max_date, '0001-01-01'), created_at, updated_at, coalesce(completed_at, '0001-01-01'), trace_parent,
	column_mapping, mapping, ignored_columns`

func scanUpload(row pgx.Row) (intake.Upload, error) {
	var u intake.Upload
	err := row.Scan(&u.ID, &u.Tenant, &u.Filename, &u.IdempotencyKey, &u.SHA256, &u.Size, &u.State,
		&u.Read, &u.Accepted, &u.Rejected, &u.Calculated, &u.Kg, &u.FailureReason, &u.Attempts,
		&u.MinDate, &u.MaxDate, &u.CreatedAt, &u.UpdatedAt, &u.CompletedAt, &u.TraceParent,
		&u.ColumnMapping, &u.Mapping, &u.Ignored)
	if err != nil {
		return u, fmt.Errorf("scan upload: %w", err)
	}
	return u, nil
}

var errDuplicate = errors.New("duplicate upload")

// colTransactionID is the CSV column a row error names when the row's
// transaction id is held by another upload.
const colTransactionID = "transaction_id"

// Receive stores r's content in chunks, in one transaction with the upload
// row, so an acknowledged upload is whole and one that failed to be stored
// leaves nothing behind. (A small file is acknowledged after the commit
// that stored it with others; a caller gone by then leaves a whole upload,
// which sending the file again finds by its content.)
func (s *Store) Receive(ctx context.Context, tenant uuid.UUID, nu intake.NewUpload, r io.Reader) (intake.Upload, bool, error) {
	keyed, found, err := s.byIdempotencyKey(ctx, tenant, nu.IdempotencyKey)
	if err != nil {
		return keyed, false, err
	}
	bp := s.chunkBufs.Get().(*[]byte)
	defer s.chunkBufs.Put(bp)
	buf := *bp
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return intake.Upload{}, false, fmt.Errorf("store.Receive: %w", err)
	}
	if err := intake.SniffUpload(nu, buf[:min(n, 64<<10)]); err != nil {
		return intake.Upload{}, false, fmt.Errorf("store.Receive: %w", err)
	}
	if found {
		// A repeat with the key: the body is hashed as it streams by, and
		// stored only in the first upload.
		h := sha256.New()
		h.Write(buf[:n])
		if n == ChunkSize {
			if _, err := io.CopyBuffer(h, r, buf); err != nil {
				return intake.Upload{}, false, fmt.Errorf("store.Receive: %w", err)
			}
		}
		return keyed, false, sameBody(keyed, nu.IdempotencyKey, h.Sum(nil))
	}
	if n < ChunkSize {
		// The whole file is in hand: the upload and its one chunk go in
		// one statement, with the tenant's other files arriving meanwhile
		// (receive.go).
		h := sha256.Sum256(buf[:n])
		return s.storeSmall(ctx, tenant, nu, buf[:n], h[:])
	}
	body, err := s.spool(buf, r)
	if err != nil {
		return intake.Upload{}, false, fmt.Errorf("store.Receive: %w", err)
	}
	defer func() { _ = body.f.Close() }() // spool removed the file's name already
	u, err := s.storeChunked(ctx, tenant, nu, body, buf)
	return s.receivedChunked(ctx, tenant, nu, u, body.sum, err)
}

// spooled is an upload's body in a temporary file, read from its start.
type spooled struct {
	f    *os.File
	sum  []byte // SHA-256 of the body
	size int64
}

// spool writes a body larger than one chunk, its first chunk in buf and
// the rest in r, to a temporary file, hashing it: the transaction that
// stores it then waits on no client, however slowly the body arrives. The
// file is unlinked at once (the open handle keeps it), so nothing is left
// behind whatever happens to the process.
func (s *Store) spool(buf []byte, r io.Reader) (spooled, error) {
	f, err := os.CreateTemp(s.spoolDir, "vcci-upload-*")
	if err != nil {
		return spooled{}, fmt.Errorf("spool the body: %w", err)
	}
	fail := func(what string, err error) (spooled, error) {
		_ = f.Close()
		return spooled{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := os.Remove(f.Name()); err != nil {
		return fail("spool the body", err)
	}
	h := sha256.New()
	w := io.MultiWriter(f, h)
	if _, err := w.Write(buf); err != nil {
		return fail("spool the body", err)
	}
	n, err := io.CopyBuffer(w, r, buf)
	if err != nil {
		return fail("read the body", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail("spool the body", err)
	}
	return spooled{f: f, sum: h.Sum(nil), size: int64(len(buf)) + n}, nil
}

// storeChunked stores an upload larger than one chunk from its spooled
// body, in ChunkSize pieces read with buf.
func (s *Store) storeChunked(ctx context.Context, tenant uuid.UUID, nu intake.NewUpload, body spooled, buf []byte) (u intake.Upload, err error) {
	var key any
	if nu.IdempotencyKey != "" {
		key = nu.IdempotencyKey
	}
	err = db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO intake.uploads (tenant_id, filename, idempotency_key, state, trace_parent, column_mapping, mapping)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, tenant, nu.Filename, key, intake.Queued, nu.TraceParent,
			nu.ColumnMapping, nu.Mapping).Scan(&id); err != nil {
			return fmt.Errorf("insert upload: %w", err)
		}
		for seq := 0; ; seq++ {
			n, err := io.ReadFull(body.f, buf)
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read spooled chunk %d: %w", seq, err)
			}
			if n == 0 {
				break
			}
			if _, err := tx.Exec(ctx, `INSERT INTO intake.upload_chunks (tenant_id, upload_id, seq, data) VALUES ($1, $2, $3, $4)`,
				tenant, id, seq, buf[:n]); err != nil {
				return fmt.Errorf("insert chunk %d: %w", seq, err)
			}
		}
		_, err := tx.Exec(ctx, `UPDATE intake.uploads SET sha256 = $2, size_bytes = $3 WHERE id = $1`, id, body.sum, body.size)
		if db.IsUniqueViolation(err) {
			return errDuplicate
		}
		if err != nil {
			return fmt.Errorf("set upload hash: %w", err)
		}
		if u, err = scanUpload(tx.QueryRow(ctx, `SELECT `+uploadCols+` FROM intake.uploads WHERE id = $1`, id)); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, u)
	})
	return u, err
}

// receivedChunked answers Receive for a chunked upload that storeChunked
// stored, or found stored already by its content or its key.
func (s *Store) receivedChunked(ctx context.Context, tenant uuid.UUID, nu intake.NewUpload, u intake.Upload, sum []byte, err error) (intake.Upload, bool, error) {
	switch {
	case errors.Is(err, errDuplicate):
		u, err := s.byContent(ctx, tenant, sum, nu.ColumnMapping)
		return u, false, err
	case db.IsUniqueViolation(err) && nu.IdempotencyKey != "": // a concurrent twin won
		u, err := s.byKey(ctx, tenant, "idempotency_key", nu.IdempotencyKey)
		if err != nil {
			return u, false, err
		}
		return u, false, sameBody(u, nu.IdempotencyKey, sum)
	case err != nil:
		return u, false, fmt.Errorf("store.Receive: %w", err)
	}
	return u, true, nil
}

// sameBody checks that a body whose hash is sum may be answered with u, the
// upload made with key: a key names one body. An upload stored without a
// hash (none is: Receive sets it in the transaction that stores the file)
// would match any body.
func sameBody(u intake.Upload, key string, sum []byte) error {
	if len(u.SHA256) == 0 || bytes.Equal(u.SHA256, sum) {
		return nil
	}
	return intake.KeyReused(key, u.ID)
}

// byIdempotencyKey finds the upload made with key, if key is set.
func (s *Store) byIdempotencyKey(ctx context.Context, tenant uuid.UUID, key string) (intake.Upload, bool, error) {
	if key == "" {
		return intake.Upload{}, false, nil
	}
	u, err := s.byKey(ctx, tenant, "idempotency_key", key)
	switch {
	case err == nil:
		return u, true, nil
	case errors.Is(err, intake.ErrUploadNotFound):
		return intake.Upload{}, false, nil
	}
	return intake.Upload{}, false, err
}

func (s *Store) byKey(ctx context.Context, tenant uuid.UUID, col string, v any) (intake.Upload, error) {
	return s.uploadWhere(ctx, tenant, col+` = $2`, v)
}

// byContent finds the upload of this content read through this mapping
// ("" for none): the same file through another mapping is another upload.
func (s *Store) byContent(ctx context.Context, tenant uuid.UUID, sum []byte, mapping string) (intake.Upload, error) {
	return s.uploadWhere(ctx, tenant, `sha256 = $2 AND column_mapping = $3`, sum, mapping)
}

// uploadWhere finds the tenant's upload that cond, on args from $2, holds.
func (s *Store) uploadWhere(ctx context.Context, tenant uuid.UUID, cond string, args ...any) (intake.Upload, error) {
	var u intake.Upload
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var err error
		u, err = scanUpload(tx.QueryRow(ctx, `SELECT `+uploadCols+` FROM intake.uploads WHERE tenant_id = $1 AND `+cond,
			append([]any{tenant}, args...)...))
		return err
	})
	if err := db.NotFound(err, "store.byKey", intake.ErrUploadNotFound); err != nil {
		return u, err
	}
	return s.withSamples(ctx, u)
}

// Upload returns an upload with its first errors.
func (s *Store) Upload(ctx context.Context, tenant uuid.UUID, id int64) (intake.Upload, error) {
	var u intake.Upload
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var err error
		u, err = scanUpload(tx.QueryRow(ctx, `SELECT `+uploadCols+` FROM intake.uploads WHERE id = $1`, id))
		return err
	})
	if err := db.NotFound(err, "store.Upload", intake.ErrUploadNotFound); err != nil {
		return u, err
	}
	return s.withSamples(ctx, u)
}

func (s *Store) withSamples(ctx context.Context, u intake.Upload) (intake.Upload, error) {
	if u.Rejected == 0 && u.State != intake.Failed {
		return u, nil
	}
	page, err := s.Errors(ctx, u.Tenant, u.ID, 0, 20)
	u.ErrorSamples = page.Errors
	return u, err
}

func (s *Store) Uploads(ctx context.Context, tenant uuid.UUID, beforeID int64, limit int) ([]intake.Upload, error) {
	var out []intake.Upload
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+uploadCols+` FROM intake.uploads
			WHERE tenant_id = $1 AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3`, tenant, beforeID, limit)
		if err != nil {
			return fmt.Errorf("query uploads: %w", err)
		}
		if out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (intake.Upload, error) { return scanUpload(r) }); err != nil {
			return fmt.Errorf("read uploads: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store.Uploads: %w", err)
	}
	return out, nil
}

func (s *Store) Errors(ctx context.Context, tenant uuid.UUID, upload, afterSeq int64, limit int) (intake.ErrorPage, error) {
	var out []intake.RowError
	var last, total int64
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM intake.upload_errors WHERE upload_id = $1`, upload).Scan(&total); err != nil {
			return fmt.Errorf("count row errors: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT seq, row_number, column_name, reason, value FROM intake.upload_errors
			WHERE upload_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, upload, afterSeq, limit)
		if err != nil {
			return fmt.Errorf("query row errors: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var e intake.RowError
			if err := rows.Scan(&last, &e.Row, &e.Column, &e.Reason, &e.Value); err != nil {
				return fmt.Errorf("scan row error: %w", err)
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return intake.ErrorPage{}, fmt.Errorf("store.Errors: %w", err)
	}
	return intake.ErrorPage{Errors: out, Last: last, Total: total}, nil
}

// chunks reads an upload's content back, a chunk at a time, on its own
// connection (the validating transaction's is busy with COPY).
type chunks struct {
	ctx    context.Context
	pool   *pgxpool.Pool
	tenant uuid.UUID
	id     int64
	seq    int
	// last is the seq of the last chunk the upload's size implies; -1 when
	// unknown, and reading goes on until a chunk is missing.
	last int
	cur  []byte // the unread rest of the current chunk
	done bool
}

func newChunks(ctx context.Context, pool *pgxpool.Pool, u intake.Upload) *chunks {
	last := -1
	if u.Size > 0 {
		last = int((u.Size - 1) / ChunkSize)
	}
	return &chunks{ctx: ctx, pool: pool, tenant: u.Tenant, id: u.ID, last: last}
}

func (c *chunks) Read(p []byte) (int, error) {
	for {
		if len(c.cur) > 0 {
			n := copy(p, c.cur)
			c.cur = c.cur[n:]
			return n, nil
		}
		if c.done || (c.last >= 0 && c.seq > c.last) {
			return 0, io.EOF
		}
		var data []byte
		err := db.InTenantBatch(c.ctx, c.pool, c.tenant, db.Stmt{SQL: `SELECT data FROM intake.upload_chunks WHERE upload_id = $1 AND seq = $2`,
			Args: []any{c.id, c.seq}, Scan: db.One(&data)})
		if errors.Is(err, pgx.ErrNoRows) {
			c.done = true
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("store: reading upload %d chunk %d: %w", c.id, c.seq, err)
		}
		c.seq++
		c.cur = data
	}
}

// rowSource feeds a Validator's accepted rows to COPY.
type rowSource struct {
	v   *intake.Validator
	row intake.Row
}

func (r *rowSource) Next() bool {
	var ok bool
	r.row, ok = r.v.Next()
	return ok
}

func (r *rowSource) Values() ([]any, error) {
	x := &r.row
	var usd any // NULL for USD: the amount itself
	if x.Currency != "USD" {
		usd = x.AmountUSD
	}
	// NULL where the line gives none (the validator keeps a quantity and
	// unit only on activity and product lines).
	return []any{x.Line, x.TransactionID, x.Date, x.SupplierID, x.SupplierName, x.NAICS, x.Amount, x.Currency, usd, x.Description, x.Category, x.Country,
		orNull(x.Activity), orNull(x.Quantity), orNull(x.Unit), x.CategorySource(), orNull(x.ProductID)}, nil
}

// orNull is s, or NULL for "".
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (r *rowSource) Err() error { return r.v.Err() }

// Validate stores the upload's accepted rows, its suppliers and its errors,
// and moves it to Calculating (or Failed for a bad header), in one
// transaction: a crash half-way leaves nothing and the retry starts clean.
// When that finishes the upload, end runs in the same transaction.
// Uploads up to the small limit are held in memory and written with array
// parameters; larger ones are streamed through COPY into a staging table.
func (s *Store) Validate(ctx context.Context, u intake.Upload, open func(io.Reader) (*intake.Validator, error), end intake.EndTx) (intake.Validated, error) {
	if u.Size > 0 && u.Size <= s.small {
		vs, err := s.ValidateSmall(ctx, []intake.Upload{u}, func(_ intake.Upload, r io.Reader) (*intake.Validator, error) { return open(r) }, end.Ends())
		if err != nil {
			return intake.Validated{}, err
		}
		if vs[0].Refused != nil {
			return vs[0], vs[0].Refused
		}
		return vs[0], nil
	}
	var out intake.Validated
	var headerErr *intake.HeaderError
	err := db.InTenant(ctx, s.pool, u.Tenant, func(tx pgx.Tx) error {
		// The COPY lasts as long as the file takes to parse, and the insert
		// from the stage grows with it: the attempt's deadline
		// (UPLOAD_TIMEOUT) bounds them, not the pool's timeouts.
		if err := db.UntilDeadline(ctx, tx); err != nil {
			return err
		}
		if err := fence(ctx, tx, u); err != nil {
			return err
		}
		v, err := open(newChunks(ctx, s.pool, u))
		if errors.As(err, &headerErr) {
			b := &pgx.Batch{}
			queueRefused(b, u, headerErr)
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return fmt.Errorf("record refused header: %w", err)
			}
			return end(ctx, tx)
		}
		if err != nil {
			return err
		}
		defer v.Close()
		if out, err = s.storeStaged(ctx, tx, u, v); err != nil {
			return err
		}
		if finished(out) {
			return end(ctx, tx)
		}
		return nil
	})
	if err == nil && headerErr != nil {
		return out, headerErr
	}
	if err != nil {
		return out, fmt.Errorf("store.Validate: %w", err)
	}
	return out, nil
}

// fence fails the transaction of an attempt that a later one has taken
// over: River rescued the job of an attempt it thought stuck, and the new
// attempt owns the upload (Begin counted it). Of several uploads, one
// taken over fails them all.
func fence(ctx context.Context, tx pgx.Tx, us ...intake.Upload) error {
	ids, attempts := make([]int64, len(us)), make([]int64, len(us))
	for i, u := range us {
		ids[i], attempts[i] = u.ID, int64(u.Attempts)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM intake.uploads u JOIN unnest($1::bigint[], $2::bigint[]) AS k(id, attempts)
		ON u.id = k.id AND u.attempts = k.attempts`, ids, attempts).Scan(&current); err != nil {
		return fmt.Errorf("fence uploads/%d: %w", us[0].ID, err)
	}
	if current < len(us) {
		return intake.ErrSuperseded
	}
	return nil
}

// finished reports whether validation finished the upload: nothing was
// accepted, or the header was refused.
func finished(v intake.Validated) bool { return v.Accepted == 0 || v.Refused != nil }

// storeStaged is Validate's body for a large upload.
func (s *Store) storeStaged(ctx context.Context, tx pgx.Tx, u intake.Upload, v *intake.Validator) (intake.Validated, error) {
	var out intake.Validated
	if err := stageRows(ctx, tx, v); err != nil {
		return out, err
	}
	errs := v.Errors
	out = intake.Validated{Read: v.Read, Accepted: v.Accepted, Rejected: v.Rejected, MinDate: v.MinDate, MaxDate: v.MaxDate, Ignored: v.Ignored}
	reject := func(e intake.RowError) {
		if len(errs) < intake.MaxErrorsKept {
			errs = append(errs, e)
		}
		out.Accepted--
		out.Rejected++
	}
	if v.DuplicatesUnchecked() {
		if err := rejectStagedDuplicates(ctx, tx, reject); err != nil {
			return out, err
		}
	}
	if out.Accepted > 0 {
		if err := s.partitions.Ensure(ctx, TransactionsTable, v.MinDate, v.MaxDate); err != nil {
			return out, err
		}
		if _, err := tx.Exec(ctx, `ANALYZE tx_stage`); err != nil {
			return out, fmt.Errorf("analyze stage: %w", err)
		}
		if err := claimStagedIDs(ctx, tx, u, out.Accepted, reject); err != nil {
			return out, err
		}
		if err := insertStaged(ctx, tx, u); err != nil {
			return out, err
		}
	}
	b := &pgx.Batch{}
	queueValidated(b, u.Tenant, []validated{{u, out, errs}})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return out, fmt.Errorf("record validation: %w", err)
	}
	return out, nil
}

// stageRows copies the validator's accepted rows into a temporary table,
// tx_stage, dropped at commit.
func stageRows(ctx context.Context, tx pgx.Tx, v *intake.Validator) error {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE tx_stage (line bigint, transaction_id text, tx_date date,
		supplier_id text, supplier_name text, naics_code text, amount text, currency text, amount_usd text, description text,
		category smallint, country text, activity text, quantity text, unit text, category_source text, product_id text) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("create stage: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"tx_stage"},
		[]string{"line", "transaction_id", "tx_date", "supplier_id", "supplier_name", "naics_code", "amount", "currency", "amount_usd", "description", "category", "country",
			"activity", "quantity", "unit", "category_source", "product_id"},
		&rowSource{v: v}); err != nil {
		return fmt.Errorf("stage rows: %w", err)
	}
	return v.Err()
}

// claimStagedIDs claims the accepted staged rows' transaction ids for u. A
// transaction id another upload holds is rejected, whatever its date: the
// row leaves the stage and goes to reject. The ids are claimed first: a
// concurrent upload's claim of the same id makes this insert wait for its
// commit, the claim then skips the id (db.SkipConflicts' second insert),
// and the next statement sees which upload holds it.
func claimStagedIDs(ctx context.Context, tx pgx.Tx, u intake.Upload, accepted int64, reject func(intake.RowError)) error {
	var claimed int64
	if err := db.SkipConflicts(ctx, tx, func(tx pgx.Tx, onConflict string) error {
		tag, err := tx.Exec(ctx, `INSERT INTO intake.transaction_ids (tenant_id, transaction_id, upload_id)
			SELECT $1, transaction_id, $2 FROM tx_stage ORDER BY transaction_id `+onConflict, u.Tenant, u.ID)
		if err != nil {
			return fmt.Errorf("claim transaction ids: %w", err)
		}
		claimed = tag.RowsAffected()
		return nil
	}); err != nil {
		return err
	}
	if claimed >= accepted {
		return nil
	}
	dups, err := tx.Query(ctx, `
		DELETE FROM tx_stage s USING intake.transaction_ids t
		WHERE t.tenant_id = $1 AND t.transaction_id = s.transaction_id AND t.upload_id <> $2
		RETURNING s.line, s.transaction_id, t.upload_id`, u.Tenant, u.ID)
	if err != nil {
		return fmt.Errorf("unstage held transaction ids: %w", err)
	}
	var e intake.RowError
	var other int64
	if _, err := pgx.ForEachRow(dups, []any{&e.Row, &e.Value, &other}, func() error {
		e.Column, e.Reason = colTransactionID, fmt.Sprintf("transaction already stored by uploads/%d", other)
		reject(e)
		return nil
	}); err != nil {
		return fmt.Errorf("read held transaction ids: %w", err)
	}
	return nil
}

// insertStaged moves the staged rows into the transactions and upserts
// their suppliers.
func insertStaged(ctx context.Context, tx pgx.Tx, u intake.Upload) error {
	// In date order, the rows fill one quarter's partition (and its
	// indexes) at a time and the date index grows at its end, which is
	// faster than file order (docs/benchmarks.md).
	if _, err := tx.Exec(ctx, `
		INSERT INTO intake.transactions (tenant_id, transaction_id, tx_date, upload_id, row_number, supplier_id,
			naics_code, amount_usd, currency, amount, description, category, activity, quantity, unit, category_source, product_id)
		SELECT $1, transaction_id, tx_date, $2, line, supplier_id, naics_code, coalesce(amount_usd, amount)::numeric(18, 4), currency,
			CASE WHEN amount_usd IS NOT NULL THEN amount::numeric(18, 4) END, description, category, activity, quantity::numeric, unit,
			nullif(category_source, 'factor'), product_id
		FROM tx_stage ORDER BY tx_date, transaction_id`, u.Tenant, u.ID); err != nil {
		return fmt.Errorf("insert transactions: %w", err)
	}
	// One sort of the stage by supplier, each supplier's few rows
	// ordered apart (three joined DISTINCT ONs sorted it three times).
	// Key order: concurrent uploads lock shared suppliers in the same
	// order.
	if _, err := tx.Exec(ctx, `
		INSERT INTO intake.suppliers AS s (tenant_id, supplier_id, name, country, naics_codes)
		SELECT $1, supplier_id, (array_agg(supplier_name ORDER BY line DESC))[1],
			coalesce((array_agg(country ORDER BY line DESC) FILTER (WHERE country <> ''))[1], ''),
			coalesce(array_agg(DISTINCT naics_code ORDER BY naics_code) FILTER (WHERE naics_code <> ''), '{}')
		FROM tx_stage GROUP BY supplier_id
		ORDER BY supplier_id`+supplierUpsert, u.Tenant); err != nil {
		return fmt.Errorf("upsert suppliers: %w", err)
	}
	return nil
}

// rejectStagedDuplicates rejects the staged rows whose transaction id an
// earlier line of the file holds, for a file longer than the validator
// could check in memory.
func rejectStagedDuplicates(ctx context.Context, tx pgx.Tx, reject func(intake.RowError)) error {
	dups, err := tx.Query(ctx, `
		DELETE FROM tx_stage s USING (
			SELECT line, min(line) OVER (PARTITION BY transaction_id) AS first FROM tx_stage) d
		WHERE s.line = d.line AND d.line <> d.first
		RETURNING s.line, s.transaction_id, d.first`)
	if err != nil {
		return fmt.Errorf("find duplicate ids in the stage: %w", err)
	}
	var e intake.RowError
	var first int64
	if _, err := pgx.ForEachRow(dups, []any{&e.Row, &e.Value, &first}, func() error {
		e.Column, e.Reason = colTransactionID, intake.DuplicateReason(first)
		reject(e)
		return nil
	}); err != nil {
		return fmt.Errorf("find duplicate ids in the stage: %w", err)
	}
	return nil
}

// validated is one upload's validation, to record.
type validated struct {
	u    intake.Upload
	out  intake.Validated
	errs []intake.RowError
}

// queueValidated queues the end of validations: the uploads' row errors,
// in row order, in place of any an earlier attempt recorded (a header
// failure is committed; other attempts roll back with theirs), and their
// counts and next state: calculating, or done when nothing was accepted.
func queueValidated(b *pgx.Batch, tenant uuid.UUID, vs []validated) {
	n := len(vs)
	ids, reads, accepted, rejected := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	states := make([]int16, n)
	mins, maxs := make([]time.Time, n), make([]time.Time, n)
	// One array literal of text per upload: PostgreSQL has no array of
	// arrays of different lengths.
	ignored := make([]string, n)
	for i := range vs {
		v := &vs[i]
		slices.SortStableFunc(v.errs, func(a, b intake.RowError) int { return cmp.Compare(a.Row, b.Row) })
		states[i] = int16(intake.Calculating)
		if v.out.Accepted == 0 {
			states[i] = int16(intake.Succeeded)
		}
		ids[i], reads[i], accepted[i], rejected[i], mins[i], maxs[i] = v.u.ID, v.out.Read, v.out.Accepted, v.out.Rejected, v.out.MinDate, v.out.MaxDate
		ignored[i] = textArray(v.out.Ignored)
	}
	b.Queue(`DELETE FROM intake.upload_errors WHERE upload_id = ANY($1)`, ids)
	queueErrors(b, tenant, vs)
	// A zero date is "no accepted row".
	b.Queue(`UPDATE intake.uploads u SET state = d.state, rows_read = d.rd, rows_accepted = d.acc, rows_rejected = d.rej,
			min_date = nullif(d.mn, '0001-01-01'), max_date = nullif(d.mx, '0001-01-01'), updated_at = now(),
			kg_co2e = CASE WHEN d.state = $1 THEN 0 ELSE u.kg_co2e END,
			completed_at = CASE WHEN d.state = $1 THEN now() ELSE u.completed_at END,
			ignored_columns = d.ign::text[]
		FROM unnest($2::bigint[], $3::smallint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::date[], $8::date[], $9::text[])
			AS d(id, state, rd, acc, rej, mn, mx, ign)
		WHERE u.id = d.id`, intake.Succeeded, ids, states, reads, accepted, rejected, mins, maxs, ignored)
}

// textArray is ss as a PostgreSQL array literal of text.
func textArray(ss []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, x := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(x))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// queueErrors queues the insert of the uploads' row errors, numbered from
// 1 per upload. COPY is refused on tables under row-level security, so they
// go in as arrays, in slices of 10,000.
func queueErrors(b *pgx.Batch, tenant uuid.UUID, vs []validated) {
	var ups, seqs, rows []int64
	var cols, reasons, values []string
	flush := func() {
		if len(ups) == 0 {
			return
		}
		b.Queue(`INSERT INTO intake.upload_errors (tenant_id, upload_id, seq, row_number, column_name, reason, value)
			SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[])`,
			tenant, ups, seqs, rows, cols, reasons, values)
		ups, seqs, rows, cols, reasons, values = nil, nil, nil, nil, nil, nil
	}
	for _, v := range vs {
		for i, e := range v.errs {
			ups, seqs, rows = append(ups, v.u.ID), append(seqs, int64(i+1)), append(rows, e.Row)
			cols, reasons, values = append(cols, e.Column), append(reasons, e.Reason), append(values, e.Value)
			if len(ups) == 10_000 {
				flush()
			}
		}
	}
	flush()
}

// queueRefused queues the record of a header that does not name the
// required columns as the upload's failure.
func queueRefused(b *pgx.Batch, u intake.Upload, he *intake.HeaderError) {
	b.Queue(`DELETE FROM intake.upload_errors WHERE upload_id = $1`, u.ID)
	queueErrors(b, u.Tenant, []validated{{u: u, errs: he.Errors}})
	b.Queue(`UPDATE intake.uploads SET state = $2, failure_reason = $3, rows_rejected = 0,
		completed_at = now(), updated_at = now() WHERE id = $1`,
		u.ID, intake.Failed, "the header does not name the required columns: "+he.Error())
}

// Accepted streams the upload's rows in batches.
func (s *Store) Accepted(ctx context.Context, u intake.Upload, each func([]intake.Row) error, batch int) error {
	err := db.InTenant(ctx, s.pool, u.Tenant, func(tx pgx.Tx) error {
		// The read lasts until the last batch is calculated: the attempt's
		// deadline bounds it, not the pool's timeouts.
		if err := db.UntilDeadline(ctx, tx); err != nil {
			return err
		}
		// By supplier: a batch then names a few hundred suppliers instead of
		// nearly all of them, so the calculator's per-supplier rollup and
		// totals rows are each written by about one batch, and the two
		// batches in flight seldom wait for each other's row locks. The first
		// batch also spans every date, so the result partitions are made
		// before any batch is in flight.
		// The country is the supplier's as stored (the latest an upload
		// gave), not the line's: lines do not keep one.
		rows, err := tx.Query(ctx, `SELECT t.row_number, t.transaction_id, t.tx_date, t.supplier_id, t.naics_code,
				t.amount_usd::text, t.currency, coalesce(t.amount, t.amount_usd)::text, t.category,
				coalesce(t.activity, ''), coalesce(t.quantity::text, ''), coalesce(t.unit, ''),
				coalesce(t.product_id, ''), coalesce(s.country, '')
			FROM intake.transactions t
			LEFT JOIN intake.suppliers s ON s.tenant_id = t.tenant_id AND s.supplier_id = t.supplier_id
			WHERE t.tenant_id = $1 AND t.upload_id = $2 AND t.tx_date BETWEEN $3 AND $4
			ORDER BY t.supplier_id`,
			u.Tenant, u.ID, u.MinDate, u.MaxDate)
		if err != nil {
			return fmt.Errorf("query accepted rows: %w", err)
		}
		defer rows.Close()
		size := batch
		if u.Accepted > 0 && u.Accepted < int64(batch) {
			size = int(u.Accepted) // a small upload is one small batch
		}
		buf := make([]intake.Row, 0, size)
		for rows.Next() {
			var r intake.Row
			if err := rows.Scan(&r.Line, &r.TransactionID, &r.Date, &r.SupplierID, &r.NAICS, &r.AmountUSD, &r.Currency, &r.Amount, &r.Category,
				&r.Activity, &r.Quantity, &r.Unit, &r.ProductID, &r.Country); err != nil {
				return fmt.Errorf("scan accepted row: %w", err)
			}
			buf = append(buf, r)
			if len(buf) == batch {
				if err := each(buf); err != nil {
					return err
				}
				buf = make([]intake.Row, 0, batch)
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(buf) > 0 {
			return each(buf)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store.Accepted: %w", err)
	}
	return nil
}

// Begin counts an attempt at an unfinished upload, moving a queued one to
// validating, and returns it. Like every statement of the worker's, it runs
// scoped to the upload's tenant, named by the job.
func (s *Store) Begin(ctx context.Context, tenant uuid.UUID, id int64) (intake.Upload, bool, error) {
	var u intake.Upload
	err := db.InTenantBatch(ctx, s.pool, tenant, db.Stmt{SQL: `
		UPDATE intake.uploads SET state = CASE WHEN state = $2 THEN $3 ELSE state END,
			attempts = attempts + 1, updated_at = now(), failure_reason = ''
		WHERE id = $1 AND state IN ($2, $3, $4)
		RETURNING ` + uploadCols, Args: []any{id, intake.Queued, intake.Validating, intake.Calculating},
		Scan: db.OneRow(func(r pgx.Row) (err error) { u, err = scanUpload(r); return err })})
	if errors.Is(err, pgx.ErrNoRows) {
		return u, false, nil
	}
	if err != nil {
		return u, false, fmt.Errorf("store.Begin: %w", err)
	}
	return u, true, nil
}

// Progress records how far the attempt got, if it still owns the upload.
func (s *Store) Progress(ctx context.Context, u intake.Upload, read, calculated int64) error {
	err := db.InTenantBatch(ctx, s.pool, u.Tenant, db.Stmt{SQL: `UPDATE intake.uploads SET rows_read = greatest(rows_read, $2), rows_calculated = $3,
		updated_at = now() WHERE id = $1 AND state = $4 AND attempts = $5`,
		Args: []any{u.ID, read, calculated, u.State, u.Attempts}})
	if err != nil {
		return fmt.Errorf("store.Progress: %w", err)
	}
	return nil
}

// AttemptFailed records why the attempt failed, if it still owns the
// upload; after the last attempt the upload fails, and remembers the state
// it failed in for Retry.
func (s *Store) AttemptFailed(ctx context.Context, u intake.Upload, reason string, last bool) error {
	if !last {
		reason = "last attempt: " + reason
	}
	const update = `UPDATE intake.uploads SET failure_reason = $3, updated_at = now(),
			resume_state = CASE WHEN $4 THEN state END,
			state = CASE WHEN $4 THEN $5 ELSE state END,
			completed_at = CASE WHEN $4 THEN now() ELSE completed_at END
		WHERE id = $1 AND attempts = $2 AND state IN ($6, $7, $8)`
	args := []any{u.ID, u.Attempts, reason, last, intake.Failed, intake.Queued, intake.Validating, intake.Calculating}
	var err error
	if !last {
		err = db.InTenantBatch(ctx, s.pool, u.Tenant, db.Stmt{SQL: update, Args: args})
	} else {
		// The upload fails: its upload.failed event commits with it.
		err = db.InTenant(ctx, s.pool, u.Tenant, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, update, args...)
			if err != nil || tag.RowsAffected() == 0 {
				return err //nolint:wrapcheck // wrapped below
			}
			return s.QueueOutcome(ctx, tx, u)
		})
	}
	if err != nil {
		return fmt.Errorf("store.AttemptFailed: %w", err)
	}
	return nil
}

// Retry queues a failed upload again, from the state it failed in, with a
// new job in the same transaction.
func (s *Store) Retry(ctx context.Context, tenant uuid.UUID, id int64) (intake.Upload, error) {
	var u intake.Upload
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var err error
		u, err = scanUpload(tx.QueryRow(ctx, `UPDATE intake.uploads SET state = coalesce(resume_state, $2), resume_state = NULL,
				failure_reason = '', completed_at = NULL, updated_at = now()
			WHERE id = $1 AND state = $3
			RETURNING `+uploadCols, id, intake.Queued, intake.Failed))
		if errors.Is(err, pgx.ErrNoRows) {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM intake.uploads WHERE id = $1)`, id).Scan(&exists); err != nil {
				return fmt.Errorf("look up upload: %w", err)
			}
			if exists {
				return intake.ErrNotFailed
			}
			return intake.ErrUploadNotFound
		}
		if err != nil {
			return err
		}
		return s.enqueue(ctx, tx, u)
	})
	switch {
	case errors.Is(err, intake.ErrNotFailed), errors.Is(err, intake.ErrUploadNotFound):
		return u, err
	case err != nil:
		return u, fmt.Errorf("store.Retry: %w", err)
	}
	return u, nil
}

// analyzeAfterLoad vacuums and analyzes the tables a large upload filled,
// beside the next requests, not before them.
func (s *Store) analyzeAfterLoad(ctx context.Context) {
	// Autovacuum never analyzes a partitioned parent, and the planner
	// needs fresh statistics after a bulk load to pick the keyset indexes.
	// The vacuum marks the new heap pages all-visible, so that a supplier's
	// page of transactions is read from its covering index alone (where
	// autovacuum is off, nothing else would). Its deadline, not the pool's
	// statement timeout, bounds it.
	go func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		defer cancel()
		conn, release, err := db.Unbounded(actx, s.pool)
		if err != nil {
			return
		}
		defer release()
		// Best effort: autovacuum comes later where it is on.
		_, _ = conn.Exec(actx, `VACUUM (ANALYZE) intake.transactions`, pgx.QueryExecModeSimpleProtocol)
		_, _ = conn.Exec(actx, `ANALYZE intake.suppliers, intake.supplier_totals`)
	}()
}

// AnalyzeAfter is the upload size (rows) after which the tables are
// vacuumed and analyzed.
const AnalyzeAfter = 100_000

// CompleteBatch completes calculating uploads of one tenant, us[i] with
// cs[i]: one statement adds their totals to their suppliers, each
// supplier's summed and in key order (concurrent batches lock suppliers in
// one order), and commits; added is called (caches let go of the old
// totals); then one transaction marks those still owned succeeded and
// hands them to end. Only the attempt that owns an upload writes;
// totals_added keeps an attempt that resumes after the first commit from
// adding the totals again. It returns, by upload, nil or
// intake.ErrSuperseded. After a large upload the tables are analyzed.
func (s *Store) CompleteBatch(ctx context.Context, us []intake.Upload, cs []intake.Completion, added func(context.Context), end intake.EndsTx) ([]error, error) {
	tenant := us[0].Tenant
	n := len(us)
	cs = cs[:n]
	ids, attempts, counts, kgs := make([]int64, n), make([]int64, n), make([]int64, n), make([]string, n)
	var ups, tcounts []int64
	var sups, spends, tkgs []string
	for i, c := range cs {
		u := us[i]
		ids[i], attempts[i], counts[i], kgs[i] = u.ID, int64(u.Attempts), c.Calculated, c.Kg
		for _, t := range c.Totals {
			ups, sups, spends, tkgs, tcounts = append(ups, u.ID), append(sups, t.ID), append(spends, t.Spend), append(tkgs, t.Kg), append(tcounts, t.Count)
		}
	}
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			WITH k AS (
				SELECT id, attempts, calculated, kg FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[]) AS k(id, attempts, calculated, kg)
			), owned AS (
				SELECT u.id, u.totals_added FROM intake.uploads u JOIN k ON k.id = u.id AND k.attempts = u.attempts
				WHERE u.state = $6 ORDER BY u.id FOR UPDATE OF u
			), done AS (
				-- The count and kg are set by every owning attempt: a resumed
				-- one's progress overwrote the count the first one set.
				UPDATE intake.uploads u SET rows_calculated = k.calculated, kg_co2e = k.kg::numeric, totals_added = true, updated_at = now()
				FROM owned JOIN k ON k.id = owned.id WHERE u.id = owned.id
				RETURNING owned.id, owned.totals_added AS before
			)
			INSERT INTO intake.supplier_totals AS s (tenant_id, supplier_id, spend_usd, kg_co2e, tx_count)
			SELECT $1, t.id, sum(t.spend), sum(t.kg), sum(t.n)
			FROM unnest($7::bigint[], $8::text[], $9::text[]::numeric[], $10::text[]::numeric[], $11::bigint[]) AS t(up, id, spend, kg, n)
			JOIN done ON done.id = t.up AND NOT done.before
			GROUP BY t.id ORDER BY t.id
			ON CONFLICT (tenant_id, supplier_id) DO UPDATE SET
				spend_usd = s.spend_usd + excluded.spend_usd,
				kg_co2e = s.kg_co2e + excluded.kg_co2e,
				tx_count = s.tx_count + excluded.tx_count,
				updated_at = now()`,
			tenant, ids, attempts, counts, kgs, intake.Calculating, ups, sups, spends, tkgs, tcounts)
		if err != nil {
			return fmt.Errorf("add supplier totals: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store.CompleteBatch: %w", err)
	}
	added(ctx)
	errs := make([]error, n)
	err = db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE intake.uploads u SET state = $2, failure_reason = '', completed_at = now(), updated_at = now()
			FROM unnest($1::bigint[], $4::bigint[]) AS k(id, attempts)
			WHERE u.id = k.id AND u.attempts = k.attempts AND u.state = $3 RETURNING u.id`, ids, intake.Succeeded, intake.Calculating, attempts)
		if err != nil {
			return fmt.Errorf("mark succeeded: %w", err)
		}
		marked, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("mark succeeded: %w", err)
		}
		var done []int
		for i, u := range us {
			errs[i] = intake.ErrSuperseded
			if slices.Contains(marked, u.ID) {
				errs[i] = nil
				done = append(done, i)
			}
		}
		if len(done) == 0 {
			return nil
		}
		return end(ctx, tx, done)
	})
	if err != nil {
		return nil, fmt.Errorf("store.CompleteBatch: %w", err)
	}
	if slices.ContainsFunc(cs, func(c intake.Completion) bool { return c.Calculated >= AnalyzeAfter }) {
		s.analyzeAfterLoad(ctx)
	}
	return errs, nil
}

var _ intake.Store = (*Store)(nil)
