package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/trace"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/pkg/riverdb"
	"github.com/vcci-dev/vcci/pkg/secretbox"
	"github.com/vcci-dev/vcci/services/engagement/internal/engagement"
)

// RiverSchema holds engagement's River tables: its deliveries queue apart
// from the other services' jobs.
const RiverSchema = "engagement_river"

// ErrTooManyEndpoints refuses an endpoint past the tenant's limit.
var ErrTooManyEndpoints = apperr.New(apperr.FailedPrecondition, "the tenant has the most webhook endpoints allowed: delete one first")

func migrateRiver(ctx context.Context, pool *pgxpool.Pool) error {
	return riverdb.MigrateApp(ctx, pool, RiverSchema)
}

// ClientOptions configure the River client that works deliveries.
type ClientOptions struct {
	Log *slog.Logger
	TP  trace.TracerProvider
	// Workers is how many deliveries one client sends at once (default 10:
	// they mostly wait on receivers).
	Workers int
	// FetchPoll is how often an idle queue looks for jobs (default River's).
	FetchPoll time.Duration
	// RetryPolicy defaults to engagement.RetrySchedule.
	RetryPolicy river.ClientRetryPolicy
	TestOnly    bool
}

// NewClient returns the River client that works deliveries with w; Start it.
func NewClient(pool *pgxpool.Pool, w *engagement.DeliveryWorker, o ClientOptions) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return nil, fmt.Errorf("store.NewClient: %w", err)
	}
	if o.Workers <= 0 {
		o.Workers = 10
	}
	if o.RetryPolicy == nil {
		o.RetryPolicy = engagement.RetryPolicy{Schedule: engagement.RetrySchedule}
	}
	c, err := riverdb.NewClient(pool, RiverSchema, workers, map[string]river.QueueConfig{engagement.DeliverQueue: {MaxWorkers: o.Workers}},
		riverdb.Options{Log: o.Log, TP: o.TP, FetchPoll: o.FetchPoll, RetryPolicy: o.RetryPolicy, TestOnly: o.TestOnly})
	if err != nil {
		return nil, fmt.Errorf("store.NewClient: %w", err)
	}
	return c, nil
}

const endpointCols = `id, url, events, description, enabled, disabled_reason, disabled_at, created_at`

func scanEndpoint(row pgx.Row) (engagement.Endpoint, error) {
	var e engagement.Endpoint
	var disabled *time.Time
	if err := row.Scan(&e.ID, &e.URL, &e.Events, &e.Description, &e.Enabled, &e.DisabledReason, &disabled, &e.CreatedAt); err != nil {
		return e, err //nolint:wrapcheck // callers wrap, and translate no rows
	}
	if disabled != nil {
		e.DisabledAt = *disabled
	}
	return e, nil
}

func (s *Store) CreateEndpoint(ctx context.Context, tenant uuid.UUID, e engagement.Endpoint, limit int) (engagement.Endpoint, error) {
	var out engagement.Endpoint
	stored, err := s.seal(e.Secret, tenant)
	if err != nil {
		return out, fmt.Errorf("store.CreateEndpoint: %w", err)
	}
	err = db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		// Serializes the tenant's creations, so that the limit holds.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('engagement.webhook_endpoints'), hashtext($1::text))`, tenant); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM engagement.webhook_endpoints WHERE tenant_id = $1`, tenant).Scan(&n); err != nil {
			return fmt.Errorf("count endpoints: %w", err)
		}
		if n >= limit {
			return ErrTooManyEndpoints
		}
		var err error
		out, err = scanEndpoint(tx.QueryRow(ctx, `INSERT INTO engagement.webhook_endpoints (tenant_id, url, events, description, secret)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+endpointCols, tenant, e.URL, e.Events, e.Description, stored))
		if err != nil {
			return fmt.Errorf("insert endpoint: %w", err)
		}
		return nil
	})
	if errors.Is(err, ErrTooManyEndpoints) {
		return out, ErrTooManyEndpoints
	}
	if err != nil {
		return out, fmt.Errorf("store.CreateEndpoint: %w", err)
	}
	out.Secret = e.Secret
	return out, nil
}

func (s *Store) Endpoint(ctx context.Context, tenant uuid.UUID, id int64) (engagement.Endpoint, error) {
	var out engagement.Endpoint
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var err error
		out, err = scanEndpoint(tx.QueryRow(ctx, `SELECT `+endpointCols+` FROM engagement.webhook_endpoints WHERE id = $1`, id))
		return db.NotFound(err, "read endpoint", engagement.ErrEndpointNotFound)
	})
	if errors.Is(err, engagement.ErrEndpointNotFound) {
		return out, engagement.ErrEndpointNotFound
	}
	if err != nil {
		return out, fmt.Errorf("store.Endpoint: %w", err)
	}
	return out, nil
}

func (s *Store) Endpoints(ctx context.Context, tenant uuid.UUID, after engagement.Cursor, limit int) ([]engagement.Endpoint, error) {
	var out []engagement.Endpoint
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var err error
		out, err = newestFirst(ctx, tx,
			`SELECT `+endpointCols+` FROM engagement.webhook_endpoints WHERE tenant_id = $1
				ORDER BY created_at DESC, id DESC LIMIT $2`,
			`SELECT `+endpointCols+` FROM engagement.webhook_endpoints WHERE tenant_id = $1
				AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4`,
			tenant, after, limit, scanEndpoint)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store.Endpoints: %w", err)
	}
	return out, nil
}

func (s *Store) DeleteEndpoint(ctx context.Context, tenant uuid.UUID, id int64) error {
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM engagement.webhook_endpoints WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("delete endpoint: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return engagement.ErrEndpointNotFound
		}
		return nil
	})
	if errors.Is(err, engagement.ErrEndpointNotFound) {
		return engagement.ErrEndpointNotFound
	}
	if err != nil {
		return fmt.Errorf("store.DeleteEndpoint: %w", err)
	}
	return nil
}

// EnableEndpoint enables a disabled endpoint and forgets its failures, so
// that a new failing day counts from its next failure; an enabled one is
// left as it is (its failing day runs on).
func (s *Store) EnableEndpoint(ctx context.Context, tenant uuid.UUID, id int64) (engagement.Endpoint, error) {
	var out engagement.Endpoint
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var err error
		out, err = scanEndpoint(tx.QueryRow(ctx, `UPDATE engagement.webhook_endpoints
			SET enabled = true, disabled_reason = '', disabled_at = NULL, failing_since = CASE WHEN enabled THEN failing_since END
			WHERE id = $1 RETURNING `+endpointCols, id))
		return db.NotFound(err, "enable endpoint", engagement.ErrEndpointNotFound)
	})
	if errors.Is(err, engagement.ErrEndpointNotFound) {
		return out, engagement.ErrEndpointNotFound
	}
	if err != nil {
		return out, fmt.Errorf("store.EnableEndpoint: %w", err)
	}
	return out, nil
}

// newestFirst reads a page of rows newest first: with first ($1 key, $2
// limit) when there is no cursor, else with next ($1 key, $2 and $3 the
// cursor, $4 limit).
func newestFirst[T any](ctx context.Context, tx pgx.Tx, first, next string, key any, after engagement.Cursor, limit int,
	scan func(pgx.Row) (T, error),
) ([]T, error) {
	var rows pgx.Rows
	var err error
	if after.ID == 0 {
		rows, err = tx.Query(ctx, first, key, limit)
	} else {
		rows, err = tx.Query(ctx, next, key, after.CreatedAt, after.ID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("read rows: %w", err)
	}
	return out, nil
}

const deliveryCols = `id, endpoint_id, event_id, event_type, state, status_code, latency_ms, attempts, last_error, created_at, updated_at`

func scanDelivery(row pgx.Row) (engagement.Delivery, error) {
	var d engagement.Delivery
	err := row.Scan(&d.ID, &d.EndpointID, &d.EventID, &d.EventType, &d.State, &d.StatusCode, &d.LatencyMs, &d.Attempts, &d.LastError, &d.CreatedAt, &d.UpdatedAt)
	return d, err //nolint:wrapcheck // callers wrap
}

func (s *Store) Deliveries(ctx context.Context, tenant uuid.UUID, endpoint int64, after engagement.Cursor, limit int) ([]engagement.Delivery, error) {
	var out []engagement.Delivery
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var err error
		out, err = newestFirst(ctx, tx,
			`SELECT `+deliveryCols+` FROM engagement.webhook_deliveries WHERE endpoint_id = $1
				ORDER BY created_at DESC, id DESC LIMIT $2`,
			`SELECT `+deliveryCols+` FROM engagement.webhook_deliveries WHERE endpoint_id = $1
				AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4`,
			endpoint, after, limit, scanDelivery)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store.Deliveries: %w", err)
	}
	return out, nil
}

// queue inserts deliveries of event to the endpoints ids and their jobs in
// tx.
func (s *Store) queue(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, event, typ string, endpoints []int64) ([]int64, error) {
	rows, err := tx.Query(ctx, `INSERT INTO engagement.webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, state)
		SELECT $1, e, $2, $3, $4 FROM unnest($5::bigint[]) AS e ORDER BY e RETURNING id`, tenant, event, typ, engagement.Pending, endpoints)
	if err != nil {
		return nil, fmt.Errorf("insert deliveries: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("insert deliveries: %w", err)
	}
	if len(ids) == 0 {
		return ids, nil
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: engagement.DeliverArgs{Tenant: tenant, Delivery: id}}
	}
	if _, err := s.jobs.InsertManyTx(ctx, tx, params); err != nil {
		return nil, fmt.Errorf("queue deliveries: %w", err)
	}
	return ids, nil
}

func (s *Store) Publish(ctx context.Context, tenant uuid.UUID, e engagement.Event, body []byte, all bool) (bool, int, error) {
	var published bool
	var n int
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var err error
		published, n, err = s.publishTx(ctx, tx, tenant, e, body, all)
		return err
	})
	if err != nil {
		return false, 0, fmt.Errorf("store.Publish: %w", err)
	}
	return published, n, nil
}

func (s *Store) publishTx(ctx context.Context, tx pgx.Tx, tenant uuid.UUID, e engagement.Event, body []byte, all bool) (bool, int, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO engagement.webhook_events (tenant_id, id, type, body) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, id) DO NOTHING`, tenant, e.ID, e.Type, string(body))
	if err != nil {
		return false, 0, fmt.Errorf("insert event: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return false, 0, nil
	}
	rows, err := tx.Query(ctx, `SELECT id FROM engagement.webhook_endpoints WHERE tenant_id = $1 AND enabled AND ($2 OR $3 = ANY(events))`,
		tenant, all, e.Type)
	if err != nil {
		return false, 0, fmt.Errorf("select endpoints: %w", err)
	}
	endpoints, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return false, 0, fmt.Errorf("select endpoints: %w", err)
	}
	ids, err := s.queue(ctx, tx, tenant, e.ID, e.Type, endpoints)
	return true, len(ids), err
}

func (s *Store) Redeliver(ctx context.Context, tenant uuid.UUID, delivery int64) (engagement.Delivery, error) {
	var out engagement.Delivery
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var endpoint int64
		var event, typ string
		var enabled bool
		err := tx.QueryRow(ctx, `SELECT d.endpoint_id, d.event_id, d.event_type, e.enabled FROM engagement.webhook_deliveries d
			JOIN engagement.webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1 FOR SHARE OF e`, delivery).Scan(&endpoint, &event, &typ, &enabled)
		if err := db.NotFound(err, "read delivery", engagement.ErrDeliveryNotFound); err != nil {
			return err
		}
		if !enabled {
			return engagement.ErrEndpointDisabled
		}
		ids, err := s.queue(ctx, tx, tenant, event, typ, []int64{endpoint})
		if err != nil {
			return err
		}
		out, err = scanDelivery(tx.QueryRow(ctx, `SELECT `+deliveryCols+` FROM engagement.webhook_deliveries WHERE id = $1`, ids[0]))
		if err != nil {
			return fmt.Errorf("read delivery: %w", err)
		}
		return nil
	})
	if errors.Is(err, engagement.ErrDeliveryNotFound) || errors.Is(err, engagement.ErrEndpointDisabled) {
		return out, err
	}
	if err != nil {
		return out, fmt.Errorf("store.Redeliver: %w", err)
	}
	return out, nil
}

func (s *Store) Send(ctx context.Context, tenant uuid.UUID, delivery int64) (engagement.Send, error) {
	var out engagement.Send
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		var state engagement.DeliveryState
		var enabled bool
		var body string
		err := tx.QueryRow(ctx, `SELECT d.endpoint_id, e.url, e.secret, e.enabled, d.state, d.event_id, v.body
			FROM engagement.webhook_deliveries d
			JOIN engagement.webhook_endpoints e ON e.id = d.endpoint_id
			JOIN engagement.webhook_events v ON v.tenant_id = d.tenant_id AND v.id = d.event_id
			WHERE d.id = $1`, delivery).Scan(&out.EndpointID, &out.URL, &out.Secret, &enabled, &state, &out.EventID, &body)
		out.Body, out.Skip = []byte(body), !enabled || state != engagement.Pending
		if err != nil {
			return db.NotFound(err, "read delivery", engagement.ErrDeliveryNotFound)
		}
		if s.box != nil {
			out.Secret, err = s.box.Open(out.Secret, tenant.String())
		}
		return err
	})
	if errors.Is(err, engagement.ErrDeliveryNotFound) {
		return out, engagement.ErrDeliveryNotFound
	}
	if err != nil {
		return out, fmt.Errorf("store.Send: %w", err)
	}
	return out, nil
}

func (s *Store) RecordAttempt(ctx context.Context, tenant uuid.UUID, delivery int64, a engagement.Attempt) (time.Time, error) {
	var since *time.Time
	state := engagement.Delivered
	switch {
	case a.Error != "" && a.Last:
		state = engagement.Failed
	case a.Error != "":
		state = engagement.Pending
	}
	ms := a.Latency.Milliseconds()
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		// Only a pending delivery is updated: one skipped meanwhile (its
		// endpoint disabled) stays skipped.
		var endpoint int64
		var attempt int32
		err := tx.QueryRow(ctx, `UPDATE engagement.webhook_deliveries SET attempts = attempts + 1, status_code = $2, latency_ms = $3,
				last_error = CASE WHEN $4 = '' THEN last_error ELSE $4 END, state = $5, updated_at = $6
			WHERE id = $1 AND state = $7 RETURNING endpoint_id, attempts`,
			delivery, a.StatusCode, ms, a.Error, state, a.At, engagement.Pending).Scan(&endpoint, &attempt)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("update delivery: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO engagement.webhook_attempts (tenant_id, delivery_id, attempt, at, status_code, latency_ms, error)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, tenant, delivery, attempt, a.At, a.StatusCode, ms, a.Error); err != nil {
			return fmt.Errorf("insert attempt: %w", err)
		}
		if err := tx.QueryRow(ctx, `UPDATE engagement.webhook_endpoints
			SET failing_since = CASE WHEN $2 THEN NULL ELSE coalesce(failing_since, $3) END
			WHERE id = $1 RETURNING failing_since`, endpoint, a.Error == "", a.At).Scan(&since); err != nil {
			return fmt.Errorf("update endpoint: %w", err)
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("store.RecordAttempt: %w", err)
	}
	if since == nil {
		return time.Time{}, nil
	}
	return *since, nil
}

func (s *Store) DisableEndpoint(ctx context.Context, tenant uuid.UUID, id int64, reason string, at time.Time, notice engagement.Event, body []byte) (bool, error) {
	var disabled bool
	err := db.InTenant(ctx, s.pool, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE engagement.webhook_endpoints SET enabled = false, disabled_reason = $2, disabled_at = $3
			WHERE id = $1 AND enabled`, id, reason, at)
		if err != nil {
			return fmt.Errorf("disable endpoint: %w", err)
		}
		if disabled = tag.RowsAffected() == 1; !disabled {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE engagement.webhook_deliveries SET state = $2, last_error = 'endpoint disabled', updated_at = $3
			WHERE endpoint_id = $1 AND state = $4`, id, engagement.Skipped, at, engagement.Pending); err != nil {
			return fmt.Errorf("skip deliveries: %w", err)
		}
		_, _, err = s.publishTx(ctx, tx, tenant, notice, body, true)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store.DisableEndpoint: %w", err)
	}
	return disabled, nil
}

var _ engagement.WebhookStore = (*Store)(nil)

// seal is secret as stored for tenant: sealed, unless s keeps secrets in
// the clear.
func (s *Store) seal(secret string, tenant uuid.UUID) (string, error) {
	if s.box == nil {
		return secret, nil
	}
	return s.box.Seal(secret, tenant.String())
}

// SealSecrets seals under the box's current key every tenant's endpoint
// secrets stored in the clear (before sealing existed) or under an older
// key, and returns how many; nothing without a box. A secret that opens
// under none of the box's keys is an error naming its endpoints, and
// nothing is changed: a key was taken away too soon.
func (s *Store) SealSecrets(ctx context.Context) (int, error) {
	if s.box == nil {
		return 0, nil
	}
	n := 0
	err := db.AsMaintenance(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0 // a retried transaction starts over
		rows, err := tx.Query(ctx, `SELECT id, tenant_id, secret FROM engagement.webhook_endpoints WHERE NOT starts_with(secret, $1)
			ORDER BY id FOR UPDATE`, s.box.Current())
		if err != nil {
			return fmt.Errorf("read secrets to seal: %w", err)
		}
		type stored struct {
			id     int64
			tenant uuid.UUID
			secret string
		}
		var found []stored
		var c stored
		if _, err := pgx.ForEachRow(rows, []any{&c.id, &c.tenant, &c.secret}, func() error {
			found = append(found, c)
			return nil
		}); err != nil {
			return fmt.Errorf("read secrets to seal: %w", err)
		}
		var closed []string
		for _, c := range found {
			plain, err := s.box.Open(c.secret, c.tenant.String())
			if err != nil {
				closed = append(closed, strconv.FormatInt(c.id, 10))
				continue
			}
			sealed, err := s.seal(plain, c.tenant)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE engagement.webhook_endpoints SET secret = $2 WHERE id = $1`, c.id, sealed); err != nil {
				return fmt.Errorf("seal secret: %w", err)
			}
			n++
		}
		if len(closed) > 0 {
			return fmt.Errorf("the secrets of webhook endpoints %s open under none of the keys given: %w",
				strings.Join(closed, ", "), secretbox.ErrOpen)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store.SealSecrets: %w", err)
	}
	return n, nil
}
