package grpcapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	hotspotv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/hotspot/v1"
	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/services/engagement/internal/engagement"
	"github.com/vcci-dev/vcci/services/engagement/internal/grpcapi"
	"github.com/vcci-dev/vcci/services/engagement/internal/store"
)

func TestMain(m *testing.M) { os.Exit(testsupport.Main(m)) }

// fakeHotspot answers each API key with its own Pareto entries, cut to top_n
// as hotspot does, and records what it was asked.
type fakeHotspot struct {
	hotspotv1.UnimplementedHotspotServiceServer
	entries map[string][]*hotspotv1.ParetoEntry // by API key

	mu   sync.Mutex
	asks []string // "key top_n"
}

func (f *fakeHotspot) AnalyzeSupplierPareto(ctx context.Context, req *hotspotv1.AnalyzeSupplierParetoRequest) (*hotspotv1.AnalyzeSupplierParetoResponse, error) {
	key := keyOf(ctx)
	f.mu.Lock()
	f.asks = append(f.asks, fmt.Sprintf("%s %d", key, req.GetTopN()))
	f.mu.Unlock()
	es := f.entries[key]
	return &hotspotv1.AnalyzeSupplierParetoResponse{Entries: es[:min(int(req.GetTopN()), len(es))]}, nil
}

// tenantKeys maps a tenant to its test's API key, so a fake tells whom a
// call made as the platform acting for a tenant is for.
var tenantKeys sync.Map

// keyOf is the API key a peer call carried, or that of the tenant the
// platform acted for.
func keyOf(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-api-key"); len(v) > 0 {
		return v[0]
	}
	if v := md.Get("x-vcci-tenant"); len(v) > 0 && len(md.Get("x-vcci-service-token")) == 1 {
		if k, ok := tenantKeys.Load(v[0]); ok {
			return k.(string)
		}
	}
	return ""
}

func (f *fakeHotspot) asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.asks)
}

// fakeCalculator answers each API key with its supplier factors, newest
// first, two a page; down, it answers Unavailable.
type fakeCalculator struct {
	calculatorv1.UnimplementedCalculatorServiceServer
	mu      sync.Mutex
	factors map[string][]*calculatorv1.SupplierFactor // by API key, newest first
	down    bool
	creates []string // CreateSupplierFactor's calls
	// requests are the factors recorded, by "key request_id".
	requests map[string]*calculatorv1.SupplierFactor
	lists    []string // ListSupplierFactors' filters: "suppliers since"
}

func (f *fakeCalculator) ListSupplierFactors(ctx context.Context, req *calculatorv1.ListSupplierFactorsRequest) (*calculatorv1.ListSupplierFactorsResponse, error) {
	key := keyOf(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, status.Error(codes.Unavailable, "calculator is down")
	}
	// As the calculator filters: of the suppliers named, since the time.
	var fs []*calculatorv1.SupplierFactor
	for _, sf := range f.factors[key] {
		if (len(req.GetSupplierIds()) == 0 || slices.Contains(req.GetSupplierIds(), sf.GetSupplierId())) &&
			(req.GetMinCreateTime() == nil || !sf.GetCreateTime().AsTime().Before(req.GetMinCreateTime().AsTime())) {
			fs = append(fs, sf)
		}
	}
	f.lists = append(f.lists, strings.Join(req.GetSupplierIds(), ",")+" "+req.GetMinCreateTime().AsTime().Format(time.RFC3339Nano))
	from := 0
	if req.GetPageToken() != "" {
		var err error
		if from, err = strconv.Atoi(req.GetPageToken()); err != nil {
			return nil, status.Error(codes.InvalidArgument, "bad page token")
		}
	}
	resp := &calculatorv1.ListSupplierFactorsResponse{SupplierFactors: fs[from:min(from+2, len(fs))]}
	if from+2 < len(fs) {
		resp.NextPageToken = strconv.Itoa(from + 2)
	}
	return resp, nil
}

// record files a factor of supplier under key, as the newest.
func (f *fakeCalculator) record(key, name, supplier string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.factors[key] = append([]*calculatorv1.SupplierFactor{{Name: name, SupplierId: supplier, CreateTime: timestamppb.New(at)}}, f.factors[key]...)
}

type env struct {
	client     engagementv1.EngagementServiceClient
	hotspot    *fakeHotspot
	calc       *fakeCalculator
	keyA, keyB string
}

// start runs engagement on the shared server bootstrap with real API keys and
// a real database, against a fake hotspot.
func start(t *testing.T) env {
	t.Helper()
	pool := testsupport.NewPool(t, "engagement", store.Migrate)
	e := env{keyA: testsupport.Key(t, pool, "acme"), keyB: testsupport.Key(t, pool, "globex")}
	tenantKeys.Store(testsupport.Tenant(t, pool, "acme").String(), e.keyA)
	tenantKeys.Store(testsupport.Tenant(t, pool, "globex").String(), e.keyB)
	e.hotspot = &fakeHotspot{entries: map[string][]*hotspotv1.ParetoEntry{e.keyA: {
		{Rank: 1, Supplier: "suppliers/S3", SupplierDisplayName: "Globex Metals", KgCo2E: "500.1250000", Share: 0.5},
		{Rank: 2, Supplier: "suppliers/S1", SupplierDisplayName: "Acme Steel", KgCo2E: "249.87", Share: 0.25},
		{Rank: 3, Supplier: "suppliers/S7", SupplierDisplayName: "", KgCo2E: "125.0000000", Share: 0.125},
		{Rank: 4, Supplier: "suppliers/S2", SupplierDisplayName: "Initech", KgCo2E: "-0.5000000", Share: -0.0005},
	}}} // tenant b has no emissions

	hs := grpc.NewServer()
	hotspotv1.RegisterHotspotServiceServer(hs, e.hotspot)
	hcc := testsupport.Dial(t, testsupport.Serve(t, hs))

	e.calc = &fakeCalculator{factors: map[string][]*calculatorv1.SupplierFactor{}}
	cs := grpc.NewServer()
	calculatorv1.RegisterCalculatorServiceServer(cs, e.calc)
	ccc := testsupport.DialAsService(t, testsupport.Serve(t, cs), "svc-token")

	calc := grpcapi.Calculator{Client: calculatorv1.NewCalculatorServiceClient(ccc)}
	svc := engagement.New(store.New(pool), grpcapi.Hotspot{Client: hotspotv1.NewHotspotServiceClient(hcc)}, calc)
	srv := grpcserver.New(grpcserver.Options{
		Name: "engagement", Log: slog.New(slog.DiscardHandler), TracerProvider: noop.NewTracerProvider(),
		Auth: tenancy.NewAuthenticator(pool, time.Minute),
		Open: []string{grpcapi.GetSupplierRequestMethod, grpcapi.SubmitSupplierDataMethod},
	})
	hooks := engagement.NewWebhooks(store.New(pool))
	subs := engagement.NewSubmissions(store.New(pool), engagement.NewLinks([]byte("submission-link-key"), nil), calc,
		func(ctx context.Context, t uuid.UUID) (string, error) { return tenancy.TenantName(ctx, pool, t) }, hooks)
	engagementv1.RegisterEngagementServiceServer(srv.GRPC, grpcapi.New(svc, hooks).WithSubmissions(subs))
	e.client = engagementv1.NewEngagementServiceClient(testsupport.Dial(t, testsupport.Start(t, srv)))
	return e
}

func create(t *testing.T, e env, name string, topN int32) *engagementv1.Campaign {
	t.Helper()
	c, err := e.client.CreateCampaign(testsupport.WithKey(e.keyA), &engagementv1.CreateCampaignRequest{Campaign: &engagementv1.Campaign{DisplayName: name, TopN: topN}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreateAndGetCampaign(t *testing.T) {
	e := start(t)
	before := time.Now().Add(-time.Second)
	c := create(t, e, "  Top emitters 2024 ", 3)

	// The top three, with their figures as hotspot gave them; the total is
	// exact at the largest scale among them.
	want := &engagementv1.Campaign{
		Name: c.GetName(), DisplayName: "Top emitters 2024", TopN: 3, TargetedKgCo2E: "874.9950000", TargetedShare: 0.875,
		CreateTime: c.GetCreateTime(), DataReceivedKgCo2E: "0",
		Targets: []*engagementv1.CampaignTarget{
			{Supplier: "suppliers/S3", SupplierDisplayName: "Globex Metals", Rank: 1, KgCo2E: "500.1250000", Share: 0.5, Status: engagementv1.TargetStatus_TARGET_STATUS_INVITED},
			{Supplier: "suppliers/S1", SupplierDisplayName: "Acme Steel", Rank: 2, KgCo2E: "249.87", Share: 0.25, Status: engagementv1.TargetStatus_TARGET_STATUS_INVITED},
			{Supplier: "suppliers/S7", SupplierDisplayName: "", Rank: 3, KgCo2E: "125.0000000", Share: 0.125, Status: engagementv1.TargetStatus_TARGET_STATUS_INVITED},
		},
	}
	if !proto.Equal(c, want) {
		t.Fatalf("created %v\nwant %v", c, want)
	}
	if ct := c.GetCreateTime().AsTime(); ct.Before(before) || ct.After(time.Now().Add(time.Second)) {
		t.Fatalf("create time %v is not now", ct)
	}
	if got := e.hotspot.asked(); !slices.Equal(got, []string{e.keyA + " 3"}) {
		t.Fatalf("hotspot was asked %v", got)
	}

	got, err := e.client.GetCampaign(testsupport.WithKey(e.keyA), &engagementv1.GetCampaignRequest{Name: c.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}

	// Another tenant neither sees it nor, without emissions, creates one.
	if _, err := e.client.GetCampaign(testsupport.WithKey(e.keyB), &engagementv1.GetCampaignRequest{Name: c.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("tenant b reads tenant a's campaign: %v", err)
	}
	list, err := e.client.ListCampaigns(testsupport.WithKey(e.keyB), &engagementv1.ListCampaignsRequest{})
	if err != nil || len(list.GetCampaigns()) != 0 {
		t.Fatalf("tenant b lists %v (%v)", list.GetCampaigns(), err)
	}
	_, err = e.client.CreateCampaign(testsupport.WithKey(e.keyB), &engagementv1.CreateCampaignRequest{Campaign: &engagementv1.Campaign{DisplayName: "x", TopN: 5}})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("campaign without emissions: %v", err)
	}
}

// A target's data is received once its supplier's own figures are
// recorded after the campaign began; the campaign sums those targets.
func TestCampaignProgressFromSupplierData(t *testing.T) {
	e := start(t)
	// On file before the campaign: it answers no invitation.
	e.calc.record(e.keyA, "supplierFactors/1", "S1", time.Now().Add(-time.Hour))
	c := create(t, e, "Top emitters", 3)
	began := c.GetCreateTime().AsTime()
	read := func() *engagementv1.Campaign {
		t.Helper()
		got, err := e.client.GetCampaign(testsupport.WithKey(e.keyA), &engagementv1.GetCampaignRequest{Name: c.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		list, err := e.client.ListCampaigns(testsupport.WithKey(e.keyA), &engagementv1.ListCampaignsRequest{})
		if err != nil || len(list.GetCampaigns()) != 1 || !proto.Equal(list.GetCampaigns()[0], got) {
			t.Fatalf("listed %v, %v; want what GetCampaign says, %v", list, err, got)
		}
		return got
	}
	if got := read(); got.GetDataReceivedCount() != 0 || got.GetDataReceivedKgCo2E() != "0" || got.GetTargets()[1].GetStatus() != engagementv1.TargetStatus_TARGET_STATUS_INVITED {
		t.Fatalf("before any answer: %v", got)
	}

	e.calc.record(e.keyA, "supplierFactors/5", "S1", began.Add(time.Second))
	e.calc.record(e.keyA, "supplierFactors/6", "S3", began.Add(2*time.Second))
	e.calc.record(e.keyA, "supplierFactors/7", "S9", began.Add(3*time.Second)) // not a target
	e.calc.record(e.keyA, "supplierFactors/9", "S3", began.Add(4*time.Second)) // S3's second
	got := read()
	want := []*engagementv1.CampaignTarget{
		{Supplier: "suppliers/S3", SupplierDisplayName: "Globex Metals", Rank: 1, KgCo2E: "500.1250000", Share: 0.5,
			Status: engagementv1.TargetStatus_TARGET_STATUS_DATA_RECEIVED, SupplierFactor: "supplierFactors/6", DataReceiveTime: timestamppb.New(began.Add(2 * time.Second))},
		{Supplier: "suppliers/S1", SupplierDisplayName: "Acme Steel", Rank: 2, KgCo2E: "249.87", Share: 0.25,
			Status: engagementv1.TargetStatus_TARGET_STATUS_DATA_RECEIVED, SupplierFactor: "supplierFactors/5", DataReceiveTime: timestamppb.New(began.Add(time.Second))},
		{Supplier: "suppliers/S7", Rank: 3, KgCo2E: "125.0000000", Share: 0.125, Status: engagementv1.TargetStatus_TARGET_STATUS_INVITED},
	}
	for i, w := range want {
		if !proto.Equal(got.GetTargets()[i], w) {
			t.Errorf("target %d = %v\nwant %v", i, got.GetTargets()[i], w)
		}
	}
	if got.GetDataReceivedCount() != 2 || got.GetDataReceivedKgCo2E() != "749.9950000" || got.GetDataReceivedShare() != 0.75 {
		t.Fatalf("received %d targets, %s kg, share %v; want 2, 749.9950000, 0.75", got.GetDataReceivedCount(), got.GetDataReceivedKgCo2E(), got.GetDataReceivedShare())
	}
	// Only the targets' figures since the campaign began were asked for.
	e.calc.mu.Lock()
	lists := slices.Clone(e.calc.lists)
	e.calc.mu.Unlock()
	if wantList := "S3,S1,S7 " + began.Format(time.RFC3339Nano); len(lists) == 0 || lists[len(lists)-1] != wantList {
		t.Fatalf("the calculator was asked %v, want %q last", lists, wantList)
	}

	// Without the calculator the progress cannot be read: the campaign is
	// not shown as if nobody had answered.
	e.calc.mu.Lock()
	e.calc.down = true
	e.calc.mu.Unlock()
	if _, err := e.client.GetCampaign(testsupport.WithKey(e.keyA), &engagementv1.GetCampaignRequest{Name: c.GetName()}); status.Code(err) != codes.Unavailable {
		t.Fatalf("GetCampaign with the calculator down: %v, want Unavailable", err)
	}
	// A new campaign has no answers to read: it is created all the same,
	// once (a failure after storing it would have the client make it twice).
	if c2 := create(t, e, "Second wave", 2); c2.GetDataReceivedKgCo2E() != "0" || c2.GetTargets()[0].GetStatus() != engagementv1.TargetStatus_TARGET_STATUS_INVITED {
		t.Fatalf("created with the calculator down: %v", c2)
	}
}

// A declined target says so and why, until its supplier's figures arrive
// all the same; bad names and reasons are refused, naming the field.
func TestDeclineCampaignTarget(t *testing.T) {
	e := start(t)
	ctx := testsupport.WithKey(e.keyA)
	c := create(t, e, "Top emitters", 3)
	decline := func(supplier, reason string) (*engagementv1.Campaign, error) {
		return e.client.DeclineCampaignTarget(ctx, &engagementv1.DeclineCampaignTargetRequest{Name: c.GetName() + "/targets/" + supplier, Reason: reason})
	}
	before := time.Now().Add(-time.Second)
	got, err := decline("S7", "  no capacity to measure this year ")
	if err != nil {
		t.Fatal(err)
	}
	s7 := got.GetTargets()[2]
	if s7.GetStatus() != engagementv1.TargetStatus_TARGET_STATUS_DECLINED || s7.GetDeclineReason() != "no capacity to measure this year" ||
		s7.GetDeclineTime().AsTime().Before(before) || got.GetDeclinedCount() != 1 || got.GetTargets()[0].GetStatus() != engagementv1.TargetStatus_TARGET_STATUS_INVITED {
		t.Fatalf("after S7 declined: %v", got)
	}
	// S3 declines, then sends its figures after all.
	if _, err := decline("S3", "not before our own reporting"); err != nil {
		t.Fatal(err)
	}
	e.calc.record(e.keyA, "supplierFactors/4", "S3", c.GetCreateTime().AsTime().Add(time.Minute))
	got, err = e.client.GetCampaign(ctx, &engagementv1.GetCampaignRequest{Name: c.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	s3 := got.GetTargets()[0]
	if s3.GetStatus() != engagementv1.TargetStatus_TARGET_STATUS_DATA_RECEIVED || s3.GetDeclineReason() != "not before our own reporting" ||
		got.GetDeclinedCount() != 1 || got.GetDataReceivedCount() != 1 || got.GetTargets()[2].GetStatus() != engagementv1.TargetStatus_TARGET_STATUS_DECLINED {
		t.Fatalf("after S3 declined and sent its figures: %v", got)
	}

	for _, tc := range []struct{ name, reason, field string }{
		{c.GetName() + "/targets/S1", " ", "reason"},
		{c.GetName() + "/targets/S1", strings.Repeat("x", 501), "reason"},
		{c.GetName() + "/targets/S1", "a\x00b", "reason"},
		{c.GetName() + "/targets/", "x", "name"},
		{c.GetName(), "x", "name"},
		{"campaigns/x/targets/S1", "x", "name"},
	} {
		_, err := e.client.DeclineCampaignTarget(ctx, &engagementv1.DeclineCampaignTargetRequest{Name: tc.name, Reason: tc.reason})
		if f := violation(t, err); f != tc.field {
			t.Errorf("%q, reason %q: field %s, want %s", tc.name, tc.reason, f, tc.field)
		}
	}
	for _, name := range []string{c.GetName() + "/targets/S99", "campaigns/987654/targets/S1"} {
		if _, err := e.client.DeclineCampaignTarget(ctx, &engagementv1.DeclineCampaignTargetRequest{Name: name, Reason: "x"}); status.Code(err) != codes.NotFound {
			t.Errorf("%s: %v, want NotFound", name, err)
		}
	}
	// Another tenant cannot decline tenant a's targets.
	if _, err := e.client.DeclineCampaignTarget(testsupport.WithKey(e.keyB), &engagementv1.DeclineCampaignTargetRequest{Name: c.GetName() + "/targets/S1", Reason: "x"}); status.Code(err) != codes.NotFound {
		t.Errorf("tenant b declining tenant a's target: %v, want NotFound", err)
	}
	if got, err := e.client.GetCampaign(ctx, &engagementv1.GetCampaignRequest{Name: c.GetName()}); err != nil || got.GetTargets()[1].GetStatus() != engagementv1.TargetStatus_TARGET_STATUS_INVITED {
		t.Errorf("S1 after refused declines: %v, %v", got, err)
	}
}

func TestListCampaignsPages(t *testing.T) {
	e := start(t)
	var want []string
	for i := range 5 {
		want = append([]string{create(t, e, fmt.Sprintf("campaign %d", i), int32(i%3+1)).GetName()}, want...) // newest first
	}
	var got []string
	tok := ""
	for pages := 0; ; pages++ {
		resp, err := e.client.ListCampaigns(testsupport.WithKey(e.keyA), &engagementv1.ListCampaignsRequest{PageSize: 2, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.GetCampaigns() {
			got = append(got, c.GetName())
			if len(c.GetTargets()) != int(c.GetTopN()) {
				t.Fatalf("%s has %d targets for top %d", c.GetName(), len(c.GetTargets()), c.GetTopN())
			}
		}
		if tok = resp.GetNextPageToken(); tok == "" {
			if pages != 2 {
				t.Fatalf("%d pages, want 3", pages+1)
			}
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	all, err := e.client.ListCampaigns(testsupport.WithKey(e.keyA), &engagementv1.ListCampaignsRequest{})
	if err != nil || len(all.GetCampaigns()) != 5 || all.GetNextPageToken() != "" {
		t.Fatalf("default page: %d campaigns, token %q (%v)", len(all.GetCampaigns()), all.GetNextPageToken(), err)
	}

	// A token changed anywhere is refused.
	first, err := e.client.ListCampaigns(testsupport.WithKey(e.keyA), &engagementv1.ListCampaignsRequest{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	valid := first.GetNextPageToken()
	for i := range len(valid) {
		b := []byte(valid)
		b[i] = map[bool]byte{true: 'B', false: 'A'}[b[i] == 'A']
		_, err := e.client.ListCampaigns(testsupport.WithKey(e.keyA), &engagementv1.ListCampaignsRequest{PageToken: string(b)})
		if field := violation(t, err); field != "page_token" {
			t.Fatalf("token altered at %d: %v", i, err)
		}
	}
}

// violation returns the field an InvalidArgument error names.
func violation(t *testing.T, err error) string {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || len(st.Details()) != 1 {
		t.Fatalf("status = %v, want InvalidArgument with a field", st)
	}
	return st.Details()[0].(*errdetails.BadRequest).GetFieldViolations()[0].GetField()
}

func TestBadInput(t *testing.T) {
	e := start(t)
	ctx := testsupport.WithKey(e.keyA)
	for _, c := range []struct {
		name     string
		campaign *engagementv1.Campaign
		field    string
	}{
		{"no campaign", nil, "campaign.display_name"},
		{"blank name", &engagementv1.Campaign{DisplayName: "  ", TopN: 3}, "campaign.display_name"},
		{"NUL in the name", &engagementv1.Campaign{DisplayName: "a\x00b", TopN: 3}, "campaign.display_name"},
		{"top_n 0", &engagementv1.Campaign{DisplayName: "x"}, "campaign.top_n"},
		{"top_n 1001", &engagementv1.Campaign{DisplayName: "x", TopN: 1001}, "campaign.top_n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.client.CreateCampaign(ctx, &engagementv1.CreateCampaignRequest{Campaign: c.campaign})
			if f := violation(t, err); f != c.field {
				t.Fatalf("field %s, want %s", f, c.field)
			}
		})
	}
	for _, name := range []string{"", "campaigns/", "campaigns/abc", "campaigns/0", "campaigns/-4", "uploads/1"} {
		_, err := e.client.GetCampaign(ctx, &engagementv1.GetCampaignRequest{Name: name})
		if f := violation(t, err); f != "name" {
			t.Fatalf("name %q: field %s", name, f)
		}
	}
	if _, err := e.client.GetCampaign(ctx, &engagementv1.GetCampaignRequest{Name: "campaigns/987654"}); status.Code(err) != codes.NotFound {
		t.Fatalf("missing campaign: %v", err)
	}
	for _, size := range []int32{-1, 1001} {
		_, err := e.client.ListCampaigns(ctx, &engagementv1.ListCampaignsRequest{PageSize: size})
		if f := violation(t, err); f != "page_size" {
			t.Fatalf("page size %d: field %s", size, f)
		}
	}
	_, err := e.client.ListCampaigns(ctx, &engagementv1.ListCampaignsRequest{PageToken: "bm90LWEtdG9rZW4"})
	if f := violation(t, err); f != "page_token" {
		t.Fatalf("foreign token: field %s", f)
	}
	if _, err := e.client.ListCampaigns(context.Background(), &engagementv1.ListCampaignsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no key: %v", err)
	}
	if got := e.hotspot.asked(); len(got) != 0 {
		t.Fatalf("hotspot asked %v for invalid campaigns", got)
	}
}
