package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/vcci-dev/vcci/pkg/db"
	"github.com/vcci-dev/vcci/services/intake/internal/intake"
	"github.com/vcci-dev/vcci/services/intake/internal/intaketest"
	"github.com/vcci-dev/vcci/services/intake/internal/store"
)

// slowCodes is the factor library of a calculator that takes its time.
type slowCodes struct{ delay time.Duration }

func (s slowCodes) Categories(ctx context.Context, cs []string) (map[string]int16, error) {
	time.Sleep(s.delay)
	return intaketest.Codes{}.Categories(ctx, cs)
}

// Validating an upload takes as long as its file takes to parse and its
// codes to be checked, longer here than the pool's timeouts allow: a large
// upload's COPY runs that long, a small upload's transaction sits idle
// that long. The attempt's deadline bounds them instead, and the upload
// succeeds.
func TestValidationOutlastsThePoolsTimeouts(t *testing.T) {
	for _, p := range paths {
		t.Run(p.Name, func(t *testing.T) { validationOutlastsThePoolsTimeouts(t, p.Small) })
	}
}

func validationOutlastsThePoolsTimeouts(t *testing.T, small int64) {
	ctx := context.Background()
	p := intaketest.NewPipeline(t, small)
	second := db.Timeouts{Statement: time.Second, Lock: time.Second, IdleInTransaction: time.Second}
	pool, err := db.Open(ctx, p.Pool.Config().ConnString(), noop.NewTracerProvider(), 8, db.WithTimeouts(second))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	st := store.New(pool).WithSmallUpload(small)
	svc := intake.New(st, 1<<20)
	var b strings.Builder
	b.WriteString("transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\n")
	const rows = 5000 // two blocks, so the codes are checked twice
	for i := range rows {
		fmt.Fprintf(&b, "T%05d,2024-03-%02d,S%03d,Supplier,331110,%d.00,USD,x\n", i, i%28+1, i%100, i)
	}
	u, err := svc.Receive(ctx, p.A, intake.NewUpload{}, strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	w := intake.NewWorker(slog.New(slog.DiscardHandler), noop.NewTracerProvider(), st,
		func(uuid.UUID) intake.Calculator { return p.Calc },
		func(uuid.UUID) intake.CodeChecker { return slowCodes{delay: 1500 * time.Millisecond} }, intake.WorkerOptions{Batch: 1000})
	intaketest.Drain(t, pool, w)
	got, err := svc.Get(ctx, p.A, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != intake.Succeeded || got.Accepted != rows || got.Attempts != 1 {
		t.Fatalf("upload = %+v, want succeeded at the first attempt with %d rows", got, rows)
	}
}
