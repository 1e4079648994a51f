package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
)

// Group commit of small uploads. A file that fits one chunk is stored by a
// single statement; under load many arrive at once, each paying for its own
// transaction, statement and commit. Concurrent ones of a tenant are
// written together instead: each caller queues its file and waits, one
// flusher per tenant writes everything queued in one statement, inserts
// their jobs, and commits once, and tells every caller what became of its
// file. A caller is
// answered only after the commit that stored its file, so an acknowledged
// upload is whole and queued; a failed statement stores nothing of its
// batch, and every caller in it gets the error.
const (
	receiveBatchMax   = 128     // files per statement
	receiveBatchBytes = 8 << 20 // and bytes of content
	receiveTimeout    = 30 * time.Second
)

// receipt is one small file waiting to be stored.
type receipt struct {
	ctx   context.Context
	nu    intake.NewUpload
	data  []byte
	sum   []byte
	done  chan struct{}
	u     intake.Upload
	isNew bool // stored by this receipt (else its content or key was there)
	err   error
}

// receiver holds the tenants' queues. A tenant is in queues while its
// flusher runs.
type receiver struct {
	mu      sync.Mutex
	queues  map[uuid.UUID][]*receipt
	batches atomic.Int64 // statements sent, for tests
	hold    chan struct{}
}

// receiveSmall stores one small file with whatever else of the tenant is
// queued, and reports the upload and whether this call created it.
func (s *Store) receiveSmall(ctx context.Context, tenant uuid.UUID, rc *receipt) (intake.Upload, bool, error) {
	rc.ctx, rc.done = ctx, make(chan struct{})
	r := &s.recv
	r.mu.Lock()
	if r.queues == nil {
		r.queues = map[uuid.UUID][]*receipt{}
	}
	q, running := r.queues[tenant]
	r.queues[tenant] = append(q, rc)
	r.mu.Unlock()
	if !running {
		// The flusher serves every caller queued: each batch runs with its
		// first caller's values on no caller's cancellation (storeReceipts).
		go s.flushReceipts(tenant) //nolint:contextcheck // detached from any one caller on purpose
	}
	// The caller waits even if it goes away: its file may be committed,
	// and it is answered (or not) only once that is settled.
	<-rc.done
	return rc.u, rc.isNew, rc.err
}

// flushReceipts stores the tenant's queue, a batch at a time, until it is
// empty.
func (s *Store) flushReceipts(tenant uuid.UUID) {
	r := &s.recv
	if r.hold != nil {
		<-r.hold
	}
	for {
		r.mu.Lock()
		q := r.queues[tenant]
		if len(q) == 0 {
			delete(r.queues, tenant)
			r.mu.Unlock()
			return
		}
		n, size := 0, 0
		for n < len(q) && n < receiveBatchMax && (n == 0 || size+len(q[n].data) <= receiveBatchBytes) {
			size += len(q[n].data)
			n++
		}
		batch := q[:n:n]
		r.queues[tenant] = q[n:]
		r.mu.Unlock()
		r.batches.Add(1)
		s.storeReceipts(tenant, batch)
	}
}

// storeReceipts writes a batch in one statement. A file whose content or
// idempotency key the tenant already has (in the table, or earlier in the
// batch) is not inserted: ON CONFLICT DO NOTHING leaves it out, and the
// caller looks up the upload that has it.
func (s *Store) storeReceipts(tenant uuid.UUID, batch []*receipt) {
	// The batch is every caller's: it runs with the first one's values
	// (its trace) but on no caller's cancellation.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), receiveTimeout)
	defer cancel()
	names, traces := make([]string, len(batch)), make([]string, len(batch))
	mappingNames, mappings := make([]string, len(batch)), make([][]byte, len(batch))
	keys := make([]*string, len(batch))
	sums, datas := make([][]byte, len(batch)), make([][]byte, len(batch))
	sizes := make([]int64, len(batch))
	for i, rc := range batch {
		names[i], traces[i], sums[i], datas[i], sizes[i] = rc.nu.Filename, rc.nu.TraceParent, rc.sum, rc.data, int64(len(rc.data))
		if rc.nu.IdempotencyKey != "" {
			keys[i] = &rc.nu.IdempotencyKey
		}
		mappingNames[i] = rc.nu.ColumnMapping
		if rc.nu.Mapping != nil {
			var err error
			if mappings[i], err = json.Marshal(rc.nu.Mapping); err != nil {
				failReceipts(batch, fmt.Errorf("encode column mapping: %w", err))
				return
			}
		}
	}
	stored := map[string]intake.Upload{}
	// The uploads' jobs go in with them, in the same transaction.
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		clear(stored) // a retried transaction starts over
		rows, err := tx.Query(ctx, `WITH n AS (
				SELECT filename, ikey, trace, sha, size, data, mname, mapping, i
				FROM unnest($2::text[], $3::text[], $4::text[], $5::bytea[], $6::bigint[], $7::bytea[], $9::text[], $10::text[])
					WITH ORDINALITY AS n(filename, ikey, trace, sha, size, data, mname, mapping, i)
			), u AS (
				INSERT INTO intake.uploads (tenant_id, filename, idempotency_key, state, trace_parent, sha256, size_bytes, column_mapping, mapping)
				SELECT $1, filename, ikey, $8, trace, sha, size, mname, mapping::jsonb FROM n ORDER BY i
				ON CONFLICT DO NOTHING
				RETURNING *
			), c AS (
				INSERT INTO intake.upload_chunks (tenant_id, upload_id, seq, data)
				SELECT u.tenant_id, u.id, 0, f.data
				FROM u JOIN (SELECT DISTINCT ON (sha) sha, data FROM n ORDER BY sha, i) f ON f.sha = u.sha256
			)
			SELECT `+uploadCols+` FROM u`, tenant, names, keys, traces, sums, sizes, datas, intake.Queued, mappingNames, jsonTexts(mappings))
		if err != nil {
			return fmt.Errorf("insert uploads: %w", err)
		}
		us, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (intake.Upload, error) { return scanUpload(r) })
		if err != nil {
			return fmt.Errorf("read inserted uploads: %w", err)
		}
		if len(us) == 0 {
			return nil
		}
		for _, u := range us {
			stored[contentKey(u.SHA256, u.ColumnMapping)] = u
		}
		return s.enqueue(ctx, tx, us...)
	})
	for _, rc := range batch {
		if err != nil {
			rc.err = err
		} else if u, ok := stored[contentKey(rc.sum, rc.nu.ColumnMapping)]; ok {
			// Of several identical files in the batch, the first is new.
			delete(stored, contentKey(rc.sum, rc.nu.ColumnMapping))
			rc.u, rc.isNew = u, true
		}
		close(rc.done)
	}
}

// storeSmall stores a file that fits one chunk, grouped with concurrent
// ones of the tenant.
func (s *Store) storeSmall(ctx context.Context, tenant uuid.UUID, nu intake.NewUpload, data, sum []byte) (intake.Upload, bool, error) {
	u, isNew, err := s.receiveSmall(ctx, tenant, &receipt{nu: nu, data: data, sum: sum})
	if err != nil {
		return intake.Upload{}, false, fmt.Errorf("store.Receive: %w", err)
	}
	if isNew {
		return u, true, nil
	}
	// Not inserted: a concurrent twin with the same idempotency key won,
	// or the tenant already has this content.
	if u, found, err := s.byIdempotencyKey(ctx, tenant, nu.IdempotencyKey); found || err != nil {
		if err != nil {
			return u, false, err
		}
		return u, false, sameBody(u, nu.IdempotencyKey, sum)
	}
	u, err = s.byContent(ctx, tenant, sum, nu.ColumnMapping)
	return u, false, err
}

// contentKey is what makes an upload a repeat: its content and the mapping
// it is read through.
func contentKey(sum []byte, mapping string) string { return string(sum) + "\x00" + mapping }

// jsonTexts are JSON documents as text, nil (SQL NULL) for none.
func jsonTexts(docs [][]byte) []*string {
	out := make([]*string, len(docs))
	for i, d := range docs {
		if d != nil {
			s := string(d)
			out[i] = &s
		}
	}
	return out
}

// failReceipts answers every caller of a batch that could not be sent.
func failReceipts(batch []*receipt, err error) {
	for _, rc := range batch {
		rc.err = err
		close(rc.done)
	}
}
