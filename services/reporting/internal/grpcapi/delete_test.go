package grpcapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/vcci-dev/vcci/pkg/db"
	reportingv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/reporting/v1"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/reporting/internal/reporting"
	"github.com/vcci-dev/vcci/services/reporting/internal/store"
)

// fileCode is the code of reading a report's file, through its name or,
// with no key, a link's token.
func fileCode(ctx context.Context, t *testing.T, e reportsEnv, name, token string) codes.Code {
	t.Helper()
	var err error
	if token == "" {
		var stream reportingv1.ReportingService_GetReportFileClient
		if stream, err = e.client.GetReportFile(ctx, &reportingv1.GetReportFileRequest{Name: name}); err == nil {
			_, _, err = readFile(stream)
		}
	} else {
		var stream reportingv1.ReportingService_GetSharedReportFileClient
		noKey := metadata.NewOutgoingContext(ctx, metadata.MD{}) // the key's metadata replaced
		if stream, err = e.client.GetSharedReportFile(noKey, &reportingv1.GetSharedReportFileRequest{Token: token}); err == nil {
			_, _, err = readFile(stream)
		}
	}
	return status.Code(err)
}

func TestADeletedReportTakesItsFileAndLinks(t *testing.T) {
	e := startReports(t, acceptAll{}, requestJSON{})
	a, b := testsupport.WithKey(e.keyA), testsupport.WithKey(e.keyB)
	created, err := e.client.CreateReport(a, &reportingv1.CreateReportRequest{Report: inventory()})
	if err != nil {
		t.Fatal(err)
	}
	name := created.GetName()
	waitEnded(a, t, e.client, name)
	link, err := e.client.CreateReportLink(a, &reportingv1.CreateReportLinkRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimPrefix(link.GetUrl(), "/v1/reportFiles/")
	if c := fileCode(a, t, e, "", token); c != codes.OK {
		t.Fatalf("the link before the delete: %v, want OK", c)
	}

	// Another tenant cannot delete it: to them it does not exist.
	if _, err := e.client.DeleteReport(b, &reportingv1.DeleteReportRequest{Name: name}); status.Code(err) != codes.NotFound {
		t.Fatalf("DeleteReport as B: %v, want NotFound", err)
	}
	if _, err := e.client.DeleteReport(a, &reportingv1.DeleteReportRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.GetReport(a, &reportingv1.GetReportRequest{Name: name}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetReport after the delete: %v, want NotFound", err)
	}
	if c := fileCode(a, t, e, name, ""); c != codes.NotFound {
		t.Fatalf("GetReportFile after the delete: %v, want NotFound", c)
	}
	if c := fileCode(a, t, e, "", token); c != codes.NotFound {
		t.Fatalf("the link after the delete: %v, want NotFound", c)
	}
	var rows int
	e.queryAsA(t, `SELECT count(*) FROM reporting.reports`, &rows)
	if rows != 0 {
		t.Fatalf("%d report rows left, want none", rows)
	}
	if _, err := e.client.DeleteReport(a, &reportingv1.DeleteReportRequest{Name: name}); status.Code(err) != codes.NotFound {
		t.Fatalf("deleting it again: %v, want NotFound", err)
	}
	_, err = e.client.DeleteReport(a, &reportingv1.DeleteReportRequest{Name: "reports/x"})
	if status.Code(err) != codes.InvalidArgument || fieldOf(t, err) != "name" {
		t.Fatalf("DeleteReport(reports/x): %v, want InvalidArgument naming name", err)
	}
}

// gated is a Producer that holds every report until release closes.
type gated struct {
	started chan struct{}
	release chan struct{}
}

func (g gated) Produce(ctx context.Context, tenant uuid.UUID, r reporting.Report) ([]byte, error) {
	g.started <- struct{}{}
	<-g.release
	return requestJSON{}.Produce(ctx, tenant, r)
}

func TestAReportDeletedWhileBuiltStoresNothing(t *testing.T) {
	g := gated{started: make(chan struct{}, 1), release: make(chan struct{})}
	e := startReports(t, acceptAll{}, g)
	a := testsupport.WithKey(e.keyA)
	created, err := e.client.CreateReport(a, &reportingv1.CreateReportRequest{Report: inventory()})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.started:
	case <-time.After(20 * time.Second):
		t.Fatal("the report's job never started")
	}
	if _, err := e.client.DeleteReport(a, &reportingv1.DeleteReportRequest{Name: created.GetName()}); err != nil {
		t.Fatal(err)
	}
	close(g.release)
	// The job ends as done, not retried nor failed: it had nothing to build.
	var state string
	testsupport.WaitFor(t, "the report's job to end", 20*time.Second, func() bool {
		if err := e.pool.QueryRow(context.Background(), `SELECT state::text FROM `+store.RiverSchema+`.river_job
			WHERE kind = 'reporting.report' ORDER BY id DESC LIMIT 1`).Scan(&state); err != nil {
			t.Fatal(err)
		}
		return state != "running" && state != "available"
	})
	var rows int
	e.queryAsA(t, `SELECT count(*) FROM reporting.reports`, &rows)
	if state != "completed" || rows != 0 {
		t.Fatalf("job %s, %d report rows; want completed and none", state, rows)
	}
}

// age moves tenant's reports' ends back by d.
func age(t *testing.T, e reportsEnv, tenant uuid.UUID, d time.Duration) {
	t.Helper()
	if err := db.InTenant(context.Background(), e.pool, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `UPDATE reporting.reports SET finish_time = finish_time - $1::interval`, d.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestReportsAreDeletedTheirRetentionAfterTheyEnd(t *testing.T) {
	const retention = 24 * time.Hour
	e := startKept(t, acceptAll{}, requestJSON{}, retention, 50*time.Millisecond)
	a, b := testsupport.WithKey(e.keyA), testsupport.WithKey(e.keyB)
	names := make([]string, 0, 3)
	for _, ctx := range []context.Context{a, b, a} {
		r, err := e.client.CreateReport(ctx, &reportingv1.CreateReportRequest{Report: inventory()})
		if err != nil {
			t.Fatal(err)
		}
		if r.GetExpireTime() != nil {
			t.Fatalf("a queued report expires at %v, want no expiry until it ends", r.GetExpireTime().AsTime())
		}
		ended := waitEnded(ctx, t, e.client, r.GetName())
		if got, want := ended.GetExpireTime().AsTime(), ended.GetFinishTime().AsTime().Add(retention); !got.Equal(want) {
			t.Fatalf("expire_time %v, want finish_time plus %s: %v", got, retention, want)
		}
		names = append(names, r.GetName())
	}
	// Both tenants' first reports ended longer ago than the retention, a's
	// last an hour ago: set in one transaction, or the upkeep job could
	// delete the last between two.
	if err := db.InTenant(context.Background(), e.pool, e.a, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `UPDATE reporting.reports SET finish_time = CASE WHEN id = $1 THEN now() - interval '1 hour'
			ELSE finish_time - $2::interval END`, strings.TrimPrefix(names[2], "reports/"), (2 * retention).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	age(t, e, testsupport.Tenant(t, e.pool, "globex"), 2*retention)
	testsupport.WaitFor(t, "the upkeep job to delete the expired reports", 20*time.Second, func() bool {
		_, errA := e.client.GetReport(a, &reportingv1.GetReportRequest{Name: names[0]})
		_, errB := e.client.GetReport(b, &reportingv1.GetReportRequest{Name: names[1]})
		return status.Code(errA) == codes.NotFound && status.Code(errB) == codes.NotFound
	})
	kept, err := e.client.GetReport(a, &reportingv1.GetReportRequest{Name: names[2]})
	if err != nil || kept.GetState() != reportingv1.ReportState_REPORT_STATE_SUCCEEDED {
		t.Fatalf("the report inside its retention: %v, %v; want it kept", kept, err)
	}
	if c := fileCode(a, t, e, names[2], ""); c != codes.OK {
		t.Fatalf("its file: %v, want OK", c)
	}
}

func TestReportsAreKeptWithoutARetention(t *testing.T) {
	e := startReports(t, acceptAll{}, requestJSON{})
	a := testsupport.WithKey(e.keyA)
	r, err := e.client.CreateReport(a, &reportingv1.CreateReportRequest{Report: inventory()})
	if err != nil {
		t.Fatal(err)
	}
	if ended := waitEnded(a, t, e.client, r.GetName()); ended.GetExpireTime() != nil {
		t.Fatalf("expire_time %v without a retention, want none", ended.GetExpireTime().AsTime())
	}
	age(t, e, e.a, 10*365*24*time.Hour)
	st, err := store.New(e.pool)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := st.DeleteExpired(context.Background(), time.Now()); err != nil || n != 0 {
		t.Fatalf("DeleteExpired without a retention = %d, %v; want 0", n, err)
	}
	if _, err := e.client.GetReport(a, &reportingv1.GetReportRequest{Name: r.GetName()}); err != nil {
		t.Fatal(err)
	}
}
