package db

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vcci-dev/vcci/pkg/config"
)

// Timeouts are the PostgreSQL session limits every connection of a pool
// starts with, so that the server itself ends a runaway statement, a lock
// wait behind a stuck transaction, or a transaction a client left open.
// Zero turns one off.
type Timeouts struct {
	Statement         time.Duration // statement_timeout: the longest one statement may run
	Lock              time.Duration // lock_timeout: the longest a statement may wait for a lock
	IdleInTransaction time.Duration // idle_in_transaction_session_timeout: the longest an open transaction may sit idle
}

// DefaultTimeouts are generous: the longest statements of a 1M-line upload
// run for tens of seconds, and those that may run longer (an upload's
// validation and read-back, migrations, the vacuum after a bulk load) lift
// the limits for themselves (UntilDeadline, Unbounded).
func DefaultTimeouts() Timeouts {
	return Timeouts{Statement: 5 * time.Minute, Lock: 30 * time.Second, IdleInTransaction: 5 * time.Minute}
}

// LoadTimeouts reads DB_STATEMENT_TIMEOUT, DB_LOCK_TIMEOUT and
// DB_IDLE_IN_TRANSACTION_TIMEOUT (Go durations; 0 turns one off) over
// DefaultTimeouts; a malformed or negative value is an error naming its
// variable.
func LoadTimeouts() (Timeouts, error) {
	def := DefaultTimeouts()
	var t Timeouts
	var err error
	if t.Statement, err = config.Timeout("DB_STATEMENT_TIMEOUT", def.Statement); err != nil {
		return Timeouts{}, err
	}
	if t.Lock, err = config.Timeout("DB_LOCK_TIMEOUT", def.Lock); err != nil {
		return Timeouts{}, err
	}
	if t.IdleInTransaction, err = config.Timeout("DB_IDLE_IN_TRANSACTION_TIMEOUT", def.IdleInTransaction); err != nil {
		return Timeouts{}, err
	}
	return t, nil
}

// params sets t as startup parameters, in milliseconds, where the URL has
// not set them already (its query wins).
func (t Timeouts) params(p map[string]string) {
	for name, d := range map[string]time.Duration{
		"statement_timeout":                   t.Statement,
		"lock_timeout":                        t.Lock,
		"idle_in_transaction_session_timeout": t.IdleInTransaction,
	} {
		if _, set := p[name]; !set {
			p[name] = strconv.FormatInt(d.Milliseconds(), 10)
		}
	}
}

// UntilDeadline lets tx's statements run, wait for locks and sit idle until
// ctx's deadline instead of for the pool's timeouts, for the rest of the
// transaction: for work that legitimately takes longer (an upload's
// validation, whose COPY lasts as long as the file is parsed) and that ctx
// bounds. Without a deadline it changes nothing.
func UntilDeadline(ctx context.Context, tx pgx.Tx) error {
	dl, ok := ctx.Deadline()
	if !ok {
		return nil
	}
	ms := strconv.FormatInt(max(time.Until(dl).Milliseconds(), 1), 10)
	if _, err := tx.Exec(ctx, `SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $1, true),
		set_config('idle_in_transaction_session_timeout', $1, true)`, ms); err != nil {
		return fmt.Errorf("db.UntilDeadline: %w", err)
	}
	return nil
}

// Unbounded acquires a connection of pool with no statement or lock
// timeout, for work that only ctx should bound: migrations (and replicas
// waiting for another's), a VACUUM of a large table. release restores the
// pool's timeouts and puts the connection back; a connection that cannot
// be restored is closed instead.
func Unbounded(ctx context.Context, pool *pgxpool.Pool) (conn *pgxpool.Conn, release func(), err error) {
	conn, err = pool.Acquire(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("db.Unbounded: %w", err)
	}
	if _, err := conn.Exec(ctx, `SET statement_timeout = 0; SET lock_timeout = 0`); err != nil {
		conn.Release()
		return nil, nil, fmt.Errorf("db.Unbounded: %w", err)
	}
	return conn, func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		// RESET returns to the values the session started with.
		if _, err := conn.Exec(rctx, `RESET statement_timeout; RESET lock_timeout`); err != nil {
			conn.Conn().Close(rctx)
		}
		conn.Release()
	}, nil
}
