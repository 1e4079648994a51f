package grpcapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/db"
	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	reportingv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/reporting/v1"
	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/pagetoken"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/reporting/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/reporting/internal/reporting"
	"github.com/vcci-dev/vcci/services/reporting/internal/store"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

type retryNow struct{}

func (retryNow) NextRetry(*rivertype.JobRow) time.Time { return time.Now() }

// failing is a Producer that fails every attempt with a message for the user.
type failing struct{ attempts chan struct{} }

func (f failing) Produce(context.Context, uuid.UUID, reporting.Report) ([]byte, error) {
	f.attempts <- struct{}{}
	return nil, apperr.New(apperr.FailedPrecondition, "no emissions in the period")
}

// progressing reports progress, then renders the request as requestJSON does.
type progressing struct{}

func (progressing) Produce(ctx context.Context, tenant uuid.UUID, r reporting.Report) ([]byte, error) {
	reporting.SetProgress(ctx, 50)
	return requestJSON{}.Produce(ctx, tenant, r)
}

// reportsEnv is reporting's reports over a real database, River working
// their jobs, served with real API keys.
type reportsEnv struct {
	pool   *pgxpool.Pool
	client reportingv1.ReportingServiceClient
	keyA   string // tenant acme's
	a      uuid.UUID
	keyB   string // tenant globex's
}

func startReports(t *testing.T, check reporting.Checker, produce reporting.Producer) reportsEnv {
	t.Helper()
	return startKept(t, check, produce, 0, 0)
}

// startKept is startReports with reports kept retention after they end,
// the expired ones deleted every expireEvery.
func startKept(t *testing.T, check reporting.Checker, produce reporting.Producer, retention, expireEvery time.Duration) reportsEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	pool := testsupport.NewOwnedPool(t, "reporting", store.Migrate)
	st, err := store.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	st = st.WithRetention(retention)
	reports := reporting.NewReports(st, check, produce)
	jobs, err := store.NewClient(pool, reporting.NewReportWorker(reports), store.ClientOptions{Log: slog.New(slog.DiscardHandler),
		TP: noop.NewTracerProvider(), FetchPoll: 10 * time.Millisecond, RetryPolicy: retryNow{}, TestOnly: true,
		Upkeep: st, ExpireEvery: expireEvery})
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = jobs.StopAndCancel(ctx)
	})
	srv := grpcserver.New(grpcserver.Options{
		Name: "reporting", Log: slog.New(slog.DiscardHandler), TracerProvider: noop.NewTracerProvider(),
		Auth: tenancy.NewAuthenticator(pool, time.Minute), Open: []string{grpcapi.GetSharedReportFileMethod},
	})
	key := make([]byte, 32)
	reportingv1.RegisterReportingServiceServer(srv.GRPC, grpcapi.New(reporting.New(nil, nil), nil).
		WithReports(reports, pagetoken.New(key), reporting.NewLinks(key, nil)))
	return reportsEnv{
		pool: pool, client: reportingv1.NewReportingServiceClient(testsupport.Dial(t, testsupport.Start(t, srv))),
		keyA: testsupport.Key(t, pool, "acme"), keyB: testsupport.Key(t, pool, "globex"), a: testsupport.Tenant(t, pool, "acme"),
	}
}

// queryAsA runs sql in tenant acme's scope (the pool's role is held to the
// tables' policies) and scans its one row into dest.
func (e reportsEnv) queryAsA(t *testing.T, sql string, dest ...any) {
	t.Helper()
	if err := db.InTenant(context.Background(), e.pool, e.a, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), sql).Scan(dest...)
	}); err != nil {
		t.Fatal(err)
	}
}

func inventory() *reportingv1.Report {
	return &reportingv1.Report{
		Kind: reportingv1.ReportKind_REPORT_KIND_GHG_INVENTORY, Format: reportingv1.ReportFormat_REPORT_FORMAT_JSON,
		PeriodStart: "2025-01-01", PeriodEnd: "2025-12-31", Organization: "Acme Corp", GwpBasis: calculatorv1.GwpBasis_GWP_BASIS_AR6,
		Exclusions: []*reportingv1.ReportExclusion{{Category: 10, Reason: "no sold intermediate products"}},
	}
}

// waitEnded polls the report until its job ends.
func waitEnded(ctx context.Context, t *testing.T, c reportingv1.ReportingServiceClient, name string) *reportingv1.Report {
	t.Helper()
	var r *reportingv1.Report
	testsupport.WaitFor(t, "the report's job to end", 30*time.Second, func() bool {
		var err error
		if r, err = c.GetReport(ctx, &reportingv1.GetReportRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
		return r.GetState() == reportingv1.ReportState_REPORT_STATE_SUCCEEDED || r.GetState() == reportingv1.ReportState_REPORT_STATE_FAILED
	})
	return r
}

// readFile reads a GetReportFile stream: the report, then the bytes.
func readFile(stream interface {
	Recv() (*reportingv1.ReportFileChunk, error)
}) (*reportingv1.Report, []byte, error) {
	var r *reportingv1.Report
	var body []byte
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return r, body, nil
		}
		if err != nil {
			return r, body, err
		}
		if m.GetReport() != nil {
			r = m.GetReport()
		}
		body = append(body, m.GetData()...)
	}
}

func TestReportIsBuiltByItsJob(t *testing.T) {
	e := startReports(t, acceptAll{}, progressing{})
	ctx := testsupport.WithKey(e.keyA)
	created, err := e.client.CreateReport(ctx, &reportingv1.CreateReportRequest{Report: inventory()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.GetName(), "reports/") || created.GetState() != reportingv1.ReportState_REPORT_STATE_QUEUED ||
		created.GetPeriodStart() != "2025-01-01" || created.GetGwpBasis() != calculatorv1.GwpBasis_GWP_BASIS_AR6 || len(created.GetExclusions()) != 1 {
		t.Fatalf("created = %v, want it queued as asked", created)
	}
	r := waitEnded(ctx, t, e.client, created.GetName())
	id := strings.TrimPrefix(created.GetName(), "reports/")
	want := `{"report":` + id + `,"kind":1,"periodStart":"2025-01-01","periodEnd":"2025-12-31","gwpBasis":"AR6",` +
		`"organization":"Acme Corp","exclusions":[{"category":10,"reason":"no sold intermediate products"}]}`
	sum := sha256.Sum256([]byte(want))
	if r.GetState() != reportingv1.ReportState_REPORT_STATE_SUCCEEDED || r.GetProgressPercent() != 100 || r.GetSha256() != hex.EncodeToString(sum[:]) ||
		r.GetSizeBytes() != int64(len(want)) || r.GetContentType() != "application/json" ||
		r.GetFileName() != "ghg-inventory-2025-01-01-2025-12-31-"+id+".json" || r.GetFinishTime() == nil {
		t.Fatalf("report = %v, want succeeded with the file of %d bytes", r, len(want))
	}
	stream, err := e.client.GetReportFile(ctx, &reportingv1.GetReportFileRequest{Name: created.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	fr, body, err := readFile(stream)
	if err != nil || string(body) != want || fr.GetSha256() != r.GetSha256() {
		t.Fatalf("file = %q, %v, %v; want %q", body, fr, err, want)
	}
	// A caller holding the file (If-None-Match, forwarded by the gateway)
	// gets the report alone; one holding another version, the file.
	for _, tc := range []struct {
		inm  []string
		want string
	}{
		{[]string{"other", r.GetSha256()}, ""},
		{[]string{"*"}, ""},
		{[]string{"other"}, want},
	} {
		kv := make([]string, 0, 2*len(tc.inm))
		for _, tag := range tc.inm {
			kv = append(kv, "if-none-match", tag)
		}
		cond := metadata.AppendToOutgoingContext(ctx, kv...)
		stream, err := e.client.GetReportFile(cond, &reportingv1.GetReportFileRequest{Name: created.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		fr, body, err := readFile(stream)
		if err != nil || string(body) != tc.want || fr.GetSha256() != r.GetSha256() {
			t.Errorf("If-None-Match %s: file %q, report %v, %v; want %q", tc.inm, body, fr, err, tc.want)
		}
	}

	list, err := e.client.ListReports(ctx, &reportingv1.ListReportsRequest{})
	if err != nil || len(list.GetReports()) != 1 || list.GetReports()[0].GetName() != created.GetName() {
		t.Fatalf("ListReports = %v, %v", list, err)
	}
	// report.ready was queued for the webhooks with the report's end, once.
	var n int
	var args string
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*), coalesce(max(args::text), '') FROM reporting_river.river_job
		WHERE kind = 'vcci.events.publish'`).Scan(&n, &args); err != nil {
		t.Fatal(err)
	}
	if n != 1 || !strings.Contains(args, `"id": "report-`+id+`-ready"`) || !strings.Contains(args, `"type": "report.ready"`) ||
		!strings.Contains(args, r.GetSha256()) {
		t.Fatalf("%d events queued, args %s; want one report.ready for report %s", n, args, id)
	}
}

func TestReportsListNewestFirstInPages(t *testing.T) {
	e := startReports(t, acceptAll{}, requestJSON{})
	ctx := testsupport.WithKey(e.keyA)
	var names []string
	for range 3 {
		r, err := e.client.CreateReport(ctx, &reportingv1.CreateReportRequest{Report: inventory()})
		if err != nil {
			t.Fatal(err)
		}
		names = append([]string{r.GetName()}, names...)
	}
	var got []string
	tok := ""
	for {
		page, err := e.client.ListReports(ctx, &reportingv1.ListReportsRequest{PageSize: 2, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.GetReports() {
			got = append(got, r.GetName())
		}
		if tok = page.GetNextPageToken(); tok == "" {
			break
		}
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("pages = %v, want %v", got, names)
	}
}

func fieldOf(t *testing.T, err error) string {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("error = %v, want InvalidArgument", err)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return br.GetFieldViolations()[0].GetField()
		}
	}
	t.Fatalf("error %v names no field", err)
	return ""
}

func TestBadReportRequestsNameTheField(t *testing.T) {
	e := startReports(t, acceptAll{}, requestJSON{})
	ctx := testsupport.WithKey(e.keyA)
	for _, tc := range []struct {
		name  string
		edit  func(r *reportingv1.Report)
		field string
	}{
		{"no kind", func(r *reportingv1.Report) { r.Kind = 0 }, "report.kind"},
		{"unknown kind", func(r *reportingv1.Report) { r.Kind = 99 }, "report.kind"},
		{"no format", func(r *reportingv1.Report) { r.Format = 0 }, "report.format"},
		{"unknown format", func(r *reportingv1.Report) { r.Format = 42 }, "report.format"},
		{"no start", func(r *reportingv1.Report) { r.PeriodStart = "" }, "report.period_start"},
		{"bad start", func(r *reportingv1.Report) { r.PeriodStart = "2025-02-30" }, "report.period_start"},
		{"bad end", func(r *reportingv1.Report) { r.PeriodEnd = "31/12/2025" }, "report.period_end"},
		{"bad month", func(r *reportingv1.Report) { r.PeriodEnd = "2025-13" }, "report.period_end"},
		{"end before start", func(r *reportingv1.Report) { r.PeriodEnd = "2024-12-31" }, "report.period_end"},
		{"category 0", func(r *reportingv1.Report) { r.Exclusions[0].Category = 0 }, "report.exclusions[0].category"},
		{"category 16", func(r *reportingv1.Report) {
			r.Exclusions = append(r.Exclusions, &reportingv1.ReportExclusion{Category: 16, Reason: "x"})
		}, "report.exclusions[1].category"},
		{"bad snapshot", func(r *reportingv1.Report) { r.Snapshot = "snapshots/1" }, "report.snapshot"},
		{"bad as-of day", func(r *reportingv1.Report) { r.AsOfDate = "2026-02-30" }, "report.as_of_date"},
		{"as of a day and a snapshot", func(r *reportingv1.Report) { r.AsOfDate, r.Snapshot = "2026-01-31", "inventorySnapshots/1" }, "report.as_of_date"},
		{"as of today", func(r *reportingv1.Report) { r.AsOfDate = time.Now().UTC().Format(time.DateOnly) }, "report.as_of_date"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := inventory()
			tc.edit(r)
			_, err := e.client.CreateReport(ctx, &reportingv1.CreateReportRequest{Report: r})
			if got := fieldOf(t, err); got != tc.field {
				t.Fatalf("field = %q, want %q (%v)", got, tc.field, err)
			}
		})
	}
	var rows, jobs int
	e.queryAsA(t, `SELECT (SELECT count(*) FROM reporting.reports), (SELECT count(*) FROM reporting_river.river_job)`, &rows, &jobs)
	if rows != 0 || jobs != 0 {
		t.Fatalf("%d reports and %d jobs stored for refused requests, want none", rows, jobs)
	}
}

// A period may be given in months, as the inventory's is: a report of
// 2025-01 to 2025-02 is of 1 January to 28 February.
func TestReportPeriodInMonths(t *testing.T) {
	e := startReports(t, acceptAll{}, requestJSON{})
	ctx := testsupport.WithKey(e.keyA)
	r := inventory()
	r.PeriodStart, r.PeriodEnd = "2025-01", "2025-02"
	created, err := e.client.CreateReport(ctx, &reportingv1.CreateReportRequest{Report: r})
	if err != nil {
		t.Fatal(err)
	}
	if created.GetPeriodStart() != "2025-01-01" || created.GetPeriodEnd() != "2025-02-28" {
		t.Fatalf("period = %s to %s, want 2025-01-01 to 2025-02-28", created.GetPeriodStart(), created.GetPeriodEnd())
	}
	r.PeriodStart, r.PeriodEnd = "2024-02", "2024-02"
	if created, err = e.client.CreateReport(ctx, &reportingv1.CreateReportRequest{Report: r}); err != nil {
		t.Fatal(err)
	}
	if created.GetPeriodStart() != "2024-02-01" || created.GetPeriodEnd() != "2024-02-29" {
		t.Fatalf("period = %s to %s, want 2024-02-01 to 2024-02-29", created.GetPeriodStart(), created.GetPeriodEnd())
	}
	_, err = e.client.CreateReport(ctx, &reportingv1.CreateReportRequest{Report: &reportingv1.Report{Kind: r.GetKind(), Format: r.GetFormat(),
		PeriodStart: "2025-1", PeriodEnd: "2025-12"}})
	if st, _ := status.FromError(err); !strings.Contains(st.Message(), `"2025-1" is neither a date YYYY-MM-DD nor a month YYYY-MM`) {
		t.Fatalf("a start of 2025-1: %v, want it named neither a date nor a month", err)
	}
}

// A report as of a day keeps its day, and its job builds the report of it.
func TestReportAsOfADayReachesItsJob(t *testing.T) {
	e := startReports(t, acceptAll{}, requestJSON{})
	ctx := testsupport.WithKey(e.keyA)
	in := inventory()
	in.AsOfDate = "2026-01-31"
	created, err := e.client.CreateReport(ctx, &reportingv1.CreateReportRequest{Report: in})
	if err != nil {
		t.Fatal(err)
	}
	if created.GetAsOfDate() != "2026-01-31" {
		t.Fatalf("created = %v, want as of 2026-01-31", created)
	}
	r := waitEnded(ctx, t, e.client, created.GetName())
	stream, err := e.client.GetReportFile(ctx, &reportingv1.GetReportFileRequest{Name: created.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	_, body, err := readFile(stream)
	if err != nil || r.GetAsOfDate() != "2026-01-31" || !strings.Contains(string(body), `"asOfDate":"2026-01-31"`) {
		t.Fatalf("report %v, file %s, %v; want both as of 2026-01-31", r, body, err)
	}
}

// noData is a Checker refusing every period, as one with no data is.
type noData struct{}

func (noData) Check(context.Context, uuid.UUID, reporting.Report) error {
	return apperr.Invalid("report.period_start", "no emissions are recorded in the period")
}

func TestCheckerRefusalStoresNothing(t *testing.T) {
	e := startReports(t, noData{}, requestJSON{})
	_, err := e.client.CreateReport(testsupport.WithKey(e.keyA), &reportingv1.CreateReportRequest{Report: inventory()})
	if got := fieldOf(t, err); got != "report.period_start" {
		t.Fatalf("field = %q, want report.period_start", got)
	}
	var rows int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM reporting_river.river_job`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("%d jobs, %v; want none", rows, err)
	}
}

// TestReportRowAndJobCommitTogether: every report has its job, with its id
// and tenant, and a job is never left without its row.
func TestReportRowAndJobCommitTogether(t *testing.T) {
	e := startReports(t, acceptAll{}, requestJSON{})
	r, err := e.client.CreateReport(testsupport.WithKey(e.keyA), &reportingv1.CreateReportRequest{Report: inventory()})
	if err != nil {
		t.Fatal(err)
	}
	var orphanJobs, orphanRows int
	e.queryAsA(t, `SELECT
			(SELECT count(*) FROM reporting_river.river_job j WHERE j.kind = 'reporting.report'
				AND NOT EXISTS (SELECT 1 FROM reporting.reports r WHERE r.id = (j.args->>'id')::bigint AND r.tenant_id = (j.args->>'tenant')::uuid)),
			(SELECT count(*) FROM reporting.reports r
				WHERE NOT EXISTS (SELECT 1 FROM reporting_river.river_job j WHERE j.kind = 'reporting.report' AND (j.args->>'id')::bigint = r.id))`,
		&orphanJobs, &orphanRows)
	if orphanJobs != 0 || orphanRows != 0 {
		t.Fatalf("%d jobs without a row, %d rows without a job (report %s)", orphanJobs, orphanRows, r.GetName())
	}
}

// TestReportNotStoredWhenItsJobIsNot: a job that cannot be queued takes
// its row with it.
func TestReportNotStoredWhenItsJobIsNot(t *testing.T) {
	e := startReports(t, acceptAll{}, requestJSON{})
	// The pool's role owns River's table: it can make every insert fail.
	if _, err := e.pool.Exec(context.Background(), `ALTER TABLE reporting_river.river_job ADD CONSTRAINT no_jobs CHECK (false) NOT VALID`); err != nil {
		t.Fatal(err)
	}
	_, err := e.client.CreateReport(testsupport.WithKey(e.keyA), &reportingv1.CreateReportRequest{Report: inventory()})
	if status.Code(err) != codes.Internal || strings.Contains(err.Error(), "no_jobs") {
		t.Fatalf("CreateReport with no queue: %v, want Internal without the driver's text", err)
	}
	var rows int
	e.queryAsA(t, `SELECT count(*) FROM reporting.reports`, &rows)
	if rows != 0 {
		t.Fatalf("%d reports stored without their job, want none", rows)
	}
}

func TestFailingProducerFailsTheReportAfterTheLastAttempt(t *testing.T) {
	attempts := make(chan struct{}, 10)
	e := startReports(t, acceptAll{}, failing{attempts: attempts})
	ctx := testsupport.WithKey(e.keyA)
	created, err := e.client.CreateReport(ctx, &reportingv1.CreateReportRequest{Report: inventory()})
	if err != nil {
		t.Fatal(err)
	}
	r := waitEnded(ctx, t, e.client, created.GetName())
	most := reporting.ReportArgs{}.InsertOpts().MaxAttempts
	if r.GetState() != reportingv1.ReportState_REPORT_STATE_FAILED || r.GetError() != "no emissions in the period" || len(attempts) != most {
		t.Fatalf("report = %v after %d attempts; want FAILED with the producer's message after %d", r, len(attempts), most)
	}
	_, err = e.client.GetReportFile(ctx, &reportingv1.GetReportFileRequest{Name: created.GetName()})
	if err == nil {
		stream, _ := e.client.GetReportFile(ctx, &reportingv1.GetReportFileRequest{Name: created.GetName()})
		_, _, err = readFile(stream)
	}
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("file of a failed report: %v, want FailedPrecondition", err)
	}
}

func TestTenantCannotReachAnothersReport(t *testing.T) {
	e := startReports(t, acceptAll{}, requestJSON{})
	a, b := testsupport.WithKey(e.keyA), testsupport.WithKey(e.keyB)
	created, err := e.client.CreateReport(a, &reportingv1.CreateReportRequest{Report: inventory()})
	if err != nil {
		t.Fatal(err)
	}
	waitEnded(a, t, e.client, created.GetName())
	if _, err := e.client.GetReport(b, &reportingv1.GetReportRequest{Name: created.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetReport as B: %v, want NotFound", err)
	}
	if _, err := e.client.CreateReportLink(b, &reportingv1.CreateReportLinkRequest{Name: created.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("CreateReportLink as B: %v, want NotFound", err)
	}
	stream, err := e.client.GetReportFile(b, &reportingv1.GetReportFileRequest{Name: created.GetName()})
	if err == nil {
		_, _, err = readFile(stream)
	}
	if status.Code(err) != codes.NotFound {
		t.Fatalf("GetReportFile as B: %v, want NotFound", err)
	}
	if list, err := e.client.ListReports(b, &reportingv1.ListReportsRequest{}); err != nil || len(list.GetReports()) != 0 {
		t.Fatalf("ListReports as B = %v, %v; want none", list, err)
	}
}

func TestSharedLinkNeedsNoKey(t *testing.T) {
	e := startReports(t, acceptAll{}, requestJSON{})
	a := testsupport.WithKey(e.keyA)
	created, err := e.client.CreateReport(a, &reportingv1.CreateReportRequest{Report: inventory()})
	if err != nil {
		t.Fatal(err)
	}
	r := waitEnded(a, t, e.client, created.GetName())
	link, err := e.client.CreateReportLink(a, &reportingv1.CreateReportLinkRequest{Name: created.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(link.GetExpireTime().AsTime()); !strings.HasPrefix(link.GetUrl(), "/v1/reportFiles/") || d < 14*time.Minute || d > 15*time.Minute {
		t.Fatalf("link = %v, want /v1/reportFiles/{token} for 15 minutes", link)
	}
	token := strings.TrimPrefix(link.GetUrl(), "/v1/reportFiles/")
	noKey := metadata.NewOutgoingContext(context.Background(), metadata.MD{})
	stream, err := e.client.GetSharedReportFile(noKey, &reportingv1.GetSharedReportFileRequest{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	fr, body, err := readFile(stream)
	sum := sha256.Sum256(body)
	if err != nil || fr.GetName() != created.GetName() || hex.EncodeToString(sum[:]) != r.GetSha256() {
		t.Fatalf("shared file: %v, %v, sha %x; want %s's", fr, err, sum, r.GetSha256())
	}
	tampered := token[:len(token)-2] + map[bool]string{true: "AA", false: "BA"}[strings.HasSuffix(token, "BA")]
	stream, err = e.client.GetSharedReportFile(noKey, &reportingv1.GetSharedReportFileRequest{Token: tampered})
	if err == nil {
		_, _, err = readFile(stream)
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("tampered link: %v, want Unauthenticated", err)
	}
	// Without a link, the report's own file needs a key.
	stream, err = e.client.GetReportFile(noKey, &reportingv1.GetReportFileRequest{Name: created.GetName()})
	if err == nil {
		_, _, err = readFile(stream)
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("GetReportFile without a key: %v, want Unauthenticated", err)
	}
}

func TestExpiredLinkIsRefused(t *testing.T) {
	key := []byte("k")
	past := reporting.NewLinks(key, func() time.Time { return time.Now().Add(-time.Hour) })
	tok, _ := past.Sign(uuid.New(), 1)
	_, _, err := reporting.NewLinks(key, nil).Verify(tok)
	if ae, ok := errors.AsType[*apperr.Error](err); !ok || ae.Reason != reporting.ReasonLinkExpired {
		t.Fatalf("Verify(expired) = %v, want reason %s", err, reporting.ReasonLinkExpired)
	}
	if _, _, err := reporting.NewLinks([]byte("other"), nil).Verify(tok); !errors.Is(err, reporting.ErrBadLink) {
		t.Fatalf("Verify(signed with another key) = %v, want ErrBadLink", err)
	}
	fresh, _ := reporting.NewLinks(key, nil).Sign(uuid.New(), 7)
	if _, id, err := reporting.NewLinks(key, nil).Verify(fresh); err != nil || id != 7 {
		t.Fatalf("Verify(fresh) = %d, %v", id, err)
	}
}

// A link signed with a key being rotated out works while that key is a
// previous one, and not after; the new key signs.
func TestLinkKeyRotation(t *testing.T) {
	old, cur := []byte("old"), []byte("new")
	tenant := uuid.New()
	before, _ := reporting.NewLinks(old, nil).Sign(tenant, 7)
	rotating := reporting.NewLinks(cur, nil, old)
	if got, id, err := rotating.Verify(before); err != nil || got != tenant || id != 7 {
		t.Fatalf("Verify(signed with the previous key) = %s, %d, %v", got, id, err)
	}
	after, _ := rotating.Sign(tenant, 8)
	if _, id, err := reporting.NewLinks(cur, nil).Verify(after); err != nil || id != 8 {
		t.Fatalf("Verify(signed while rotating) under the new key alone = %d, %v", id, err)
	}
	if _, _, err := reporting.NewLinks(old, nil).Verify(after); !errors.Is(err, reporting.ErrBadLink) {
		t.Fatalf("the previous key checked a link signed while rotating: %v", err)
	}
	if _, _, err := reporting.NewLinks(cur, nil).Verify(before); !errors.Is(err, reporting.ErrBadLink) {
		t.Fatalf("Verify(signed with a key rotated out) = %v, want ErrBadLink", err)
	}
}
