package grpcserver_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	hotspotv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/hotspot/v1"
	iamv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/iam/v1"
	intakev1 "github.com/vcci-dev/vcci/pkg/gen/vcci/intake/v1"
	reportingv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/reporting/v1"
	"github.com/vcci-dev/vcci/pkg/grpcserver"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

const (
	read, write, admin = tenancy.ScopeRead, tenancy.ScopeWrite, tenancy.ScopeAdmin
)

// wantScopes is every method of every vcci service with the scope it
// needs. A method missing here fails TestEveryMethodIsClassified: whoever
// adds one decides here, in review, what a read-only key may do with it.
var wantScopes = map[string]tenancy.Scopes{
	"/vcci.intake.v1.IntakeService/UploadSpend":                        write,
	"/vcci.intake.v1.IntakeService/GetUpload":                          read,
	"/vcci.intake.v1.IntakeService/ListUploads":                        read,
	"/vcci.intake.v1.IntakeService/RetryUpload":                        write,
	"/vcci.intake.v1.IntakeService/ListUploadErrors":                   read,
	"/vcci.intake.v1.IntakeService/BatchGetSuppliers":                  read,
	"/vcci.intake.v1.IntakeService/GetSupplier":                        read,
	"/vcci.intake.v1.IntakeService/ListSuppliers":                      read,
	"/vcci.intake.v1.IntakeService/GetTransaction":                     read,
	"/vcci.intake.v1.IntakeService/ListTransactions":                   read,
	"/vcci.intake.v1.IntakeService/CreateColumnMapping":                write,
	"/vcci.intake.v1.IntakeService/GetColumnMapping":                   read,
	"/vcci.intake.v1.IntakeService/ListColumnMappings":                 read,
	"/vcci.intake.v1.IntakeService/DeleteColumnMapping":                write,
	"/vcci.intake.v1.IntakeService/CreateCategoryRule":                 write,
	"/vcci.intake.v1.IntakeService/GetCategoryRule":                    read,
	"/vcci.intake.v1.IntakeService/ListCategoryRules":                  read,
	"/vcci.intake.v1.IntakeService/DeleteCategoryRule":                 write,
	"/vcci.intake.v1.IntakeService/AdjustSupplierTotals":               write,
	"/vcci.calculator.v1.CalculatorService/ListFactorSets":             read,
	"/vcci.calculator.v1.CalculatorService/BatchGetFactors":            read,
	"/vcci.calculator.v1.CalculatorService/ListFactors":                read,
	"/vcci.calculator.v1.CalculatorService/GetFactor":                  read,
	"/vcci.calculator.v1.CalculatorService/CalculateEmissions":         write,
	"/vcci.calculator.v1.CalculatorService/GetEmissionResult":          read,
	"/vcci.calculator.v1.CalculatorService/BatchGetEmissionResults":    read,
	"/vcci.calculator.v1.CalculatorService/SummarizeEmissions":         read,
	"/vcci.calculator.v1.CalculatorService/BatchGetSupplierMethods":    read,
	"/vcci.calculator.v1.CalculatorService/GetCalculationSettings":     read,
	"/vcci.calculator.v1.CalculatorService/UpdateCalculationSettings":  write,
	"/vcci.calculator.v1.CalculatorService/ImportFactorSet":            write,
	"/vcci.calculator.v1.CalculatorService/Calculate":                  read,
	"/vcci.calculator.v1.CalculatorService/BatchCalculate":             read,
	"/vcci.calculator.v1.CalculatorService/StreamCalculate":            read,
	"/vcci.calculator.v1.CalculatorService/CreateSupplierFactor":       write,
	"/vcci.calculator.v1.CalculatorService/GetSupplierFactor":          read,
	"/vcci.calculator.v1.CalculatorService/ListSupplierFactors":        read,
	"/vcci.calculator.v1.CalculatorService/GetInventory":               read,
	"/vcci.calculator.v1.CalculatorService/CreateInventorySnapshot":    write,
	"/vcci.calculator.v1.CalculatorService/ListInventorySnapshots":     read,
	"/vcci.calculator.v1.CalculatorService/CreateRecalculation":        write,
	"/vcci.calculator.v1.CalculatorService/GetRecalculation":           read,
	"/vcci.calculator.v1.CalculatorService/ListRecalculations":         read,
	"/vcci.calculator.v1.CalculatorService/ListRecalculationChanges":   read,
	"/vcci.calculator.v1.CalculatorService/RecalculateBaseYear":        write,
	"/vcci.hotspot.v1.HotspotService/AnalyzeSupplierPareto":            read,
	"/vcci.engagement.v1.EngagementService/CreateCampaign":             write,
	"/vcci.engagement.v1.EngagementService/GetCampaign":                read,
	"/vcci.engagement.v1.EngagementService/DeclineCampaignTarget":      write,
	"/vcci.engagement.v1.EngagementService/CreateSubmissionLink":       write,
	"/vcci.engagement.v1.EngagementService/BatchCreateSubmissionLinks": write,
	"/vcci.engagement.v1.EngagementService/GetSupplierRequest":         read,
	"/vcci.engagement.v1.EngagementService/SubmitSupplierData":         write,
	"/vcci.engagement.v1.EngagementService/ListSubmissions":            read,
	"/vcci.engagement.v1.EngagementService/AcceptSubmission":           write,
	"/vcci.engagement.v1.EngagementService/RejectSubmission":           write,
	"/vcci.engagement.v1.EngagementService/ListCampaigns":              read,
	"/vcci.engagement.v1.EngagementService/CreateWebhookEndpoint":      write,
	"/vcci.engagement.v1.EngagementService/GetWebhookEndpoint":         read,
	"/vcci.engagement.v1.EngagementService/ListWebhookEndpoints":       read,
	"/vcci.engagement.v1.EngagementService/DeleteWebhookEndpoint":      write,
	"/vcci.engagement.v1.EngagementService/EnableWebhookEndpoint":      write,
	"/vcci.engagement.v1.EngagementService/ListWebhookDeliveries":      read,
	"/vcci.engagement.v1.EngagementService/RedeliverWebhook":           write,
	"/vcci.engagement.v1.EngagementService/PublishEvent":               write,
	"/vcci.reporting.v1.ReportingService/GetInventorySummary":          read,
	"/vcci.reporting.v1.ReportingService/GetDashboard":                 read,
	"/vcci.reporting.v1.ReportingService/CreateReport":                 write,
	"/vcci.reporting.v1.ReportingService/GetReport":                    read,
	"/vcci.reporting.v1.ReportingService/ListReports":                  read,
	"/vcci.reporting.v1.ReportingService/CreateReportLink":             write,
	"/vcci.reporting.v1.ReportingService/DeleteReport":                 write,
	"/vcci.reporting.v1.ReportingService/GetReportFile":                read,
	"/vcci.reporting.v1.ReportingService/GetSharedReportFile":          read,
	"/vcci.iam.v1.ApiKeyService/CreateApiKey":                          admin,
	"/vcci.iam.v1.ApiKeyService/ListApiKeys":                           admin,
	"/vcci.iam.v1.ApiKeyService/RevokeApiKey":                          admin,
	"/vcci.iam.v1.AuditService/ListAuditEvents":                        admin,
}

// vcciMethods are the full names of every method of every vcci service
// linked into this binary, from their descriptors.
func vcciMethods() []string {
	var out []string
	protoregistry.GlobalFiles.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(f.Package()), "vcci.") {
			return true
		}
		for i := range f.Services().Len() {
			s := f.Services().Get(i)
			for j := range s.Methods().Len() {
				out = append(out, "/"+string(s.FullName())+"/"+string(s.Methods().Get(j).Name()))
			}
		}
		return true
	})
	slices.Sort(out)
	return out
}

func TestEveryMethodIsClassified(t *testing.T) {
	methods := vcciMethods()
	for _, m := range methods {
		want, ok := wantScopes[m]
		if !ok {
			t.Errorf("%s is not in wantScopes: decide which scope it needs (RequiredScope says %s)", m, grpcserver.RequiredScope(m))
			continue
		}
		if got := grpcserver.RequiredScope(m); got != want {
			t.Errorf("RequiredScope(%s) = %s, want %s", m, got, want)
		}
	}
	if len(methods) != len(wantScopes) {
		t.Errorf("%d methods in the contracts, %d in wantScopes: remove the stale ones", len(methods), len(wantScopes))
	}
	// A method nobody named as a read needs write.
	if got := grpcserver.RequiredScope("/vcci.new.v1.NewService/PurgeEverything"); got != write {
		t.Errorf("an unclassified method needs %s, want write", got)
	}
	if got := grpcserver.RequiredScope("/vcci.iam.v1.ApiKeyService/GetApiKey"); got != admin {
		t.Errorf("a new method of the administration needs %s, want admin", got)
	}
}

// scopedKeys are keys with one scope each ("vcci_read", ...), one with all
// three, and the service token "svc-token".
type scopedKeys struct{}

func (scopedKeys) Authenticate(ctx context.Context, key string) (uuid.UUID, error) {
	c, err := scopedKeys{}.AuthenticateKey(ctx, key)
	return c.Tenant, err
}

func (scopedKeys) AuthenticateKey(_ context.Context, key string) (tenancy.Caller, error) {
	scopes := map[string]tenancy.Scopes{"vcci_read": read, "vcci_write": write, "vcci_admin": admin, "vcci_all": tenancy.AllScopes}
	s, ok := scopes[key]
	if !ok {
		return tenancy.Caller{}, tenancy.ErrBadKey
	}
	return tenancy.Caller{Tenant: tenant, KeyID: uuid.NewSHA1(uuid.Nil, []byte(key)), Prefix: key[:min(len(key), 9)], Scopes: s}, nil
}

func (scopedKeys) AuthenticateService(_ context.Context, token, t string) (uuid.UUID, error) {
	if token != "svc-token" {
		return uuid.Nil, tenancy.ErrBadKey
	}
	id, err := uuid.Parse(t)
	if err != nil {
		return uuid.Nil, errors.New("bad tenant")
	}
	return id, nil
}

// unimplemented serves every vcci service, answering Unimplemented: a call
// that gets that far passed the scope check.
type unimplemented struct {
	intakev1.UnimplementedIntakeServiceServer
	calculatorv1.UnimplementedCalculatorServiceServer
	hotspotv1.UnimplementedHotspotServiceServer
	engagementv1.UnimplementedEngagementServiceServer
	reportingv1.UnimplementedReportingServiceServer
	iamv1.UnimplementedApiKeyServiceServer
	iamv1.UnimplementedAuditServiceServer
}

func registerAll(s *grpc.Server, impl unimplemented) {
	intakev1.RegisterIntakeServiceServer(s, impl)
	calculatorv1.RegisterCalculatorServiceServer(s, impl)
	hotspotv1.RegisterHotspotServiceServer(s, impl)
	engagementv1.RegisterEngagementServiceServer(s, impl)
	reportingv1.RegisterReportingServiceServer(s, impl)
	iamv1.RegisterApiKeyServiceServer(s, impl)
	iamv1.RegisterAuditServiceServer(s, impl)
}

// call invokes method with an empty request, as a stream when it is one,
// and returns its code. A server-only stream is sent its one request.
func call(ctx context.Context, cc *grpc.ClientConn, method string, streaming, serverOnly bool) codes.Code {
	if !streaming {
		return status.Code(cc.Invoke(ctx, method, &emptypb.Empty{}, &emptypb.Empty{}))
	}
	s, err := cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, method)
	if err != nil {
		return status.Code(err)
	}
	if serverOnly {
		// A server that refuses the call may end the stream before the
		// message goes: SendMsg then says io.EOF, and RecvMsg the status.
		if err := s.SendMsg(&emptypb.Empty{}); err != nil && !errors.Is(err, io.EOF) {
			return status.Code(err)
		}
	}
	if err := s.CloseSend(); err != nil {
		return status.Code(err)
	}
	return status.Code(s.RecvMsg(&emptypb.Empty{}))
}

// Every registered method, called with a key of each scope and as a
// service: refused with PermissionDenied exactly when the caller lacks the
// scope wantScopes gives it.
func TestScopesHoldOnEveryRegisteredMethod(t *testing.T) {
	srv := grpcserver.New(grpcserver.Options{Name: "test", Log: slog.New(slog.DiscardHandler), TracerProvider: noop.NewTracerProvider(), Auth: scopedKeys{}})
	registerAll(srv.GRPC, unimplemented{})
	cc := testsupport.ServeInMemory(t, srv.GRPC)

	var registered []string
	for svc, info := range srv.GRPC.GetServiceInfo() {
		if !strings.HasPrefix(svc, "vcci.") {
			continue
		}
		for _, m := range info.Methods {
			method := "/" + svc + "/" + m.Name
			registered = append(registered, method)
			want, ok := wantScopes[method]
			if !ok {
				t.Errorf("%s is registered but not in wantScopes", method)
				continue
			}
			callers := map[string]struct {
				ctx    context.Context
				scopes tenancy.Scopes
			}{
				"read key":  {testsupport.WithKey("vcci_read"), read},
				"write key": {testsupport.WithKey("vcci_write"), write},
				"admin key": {testsupport.WithKey("vcci_admin"), admin},
				"full key":  {testsupport.WithKey("vcci_all"), tenancy.AllScopes},
				"service": {metadata.AppendToOutgoingContext(context.Background(),
					"x-vcci-service-token", "svc-token", "x-vcci-tenant", tenant.String()), tenancy.ServiceScopes},
			}
			for who, c := range callers {
				wantCode := codes.PermissionDenied
				if c.scopes.Has(want) && (who == "service" || !wantServiceOnly[method]) {
					wantCode = codes.Unimplemented
				}
				if got := call(c.ctx, cc, method, m.IsClientStream || m.IsServerStream, !m.IsClientStream && m.IsServerStream); got != wantCode {
					t.Errorf("%s as %s: %s, want %s", method, who, got, wantCode)
				}
			}
		}
	}
	slices.Sort(registered)
	if !slices.Equal(registered, vcciMethods()) {
		t.Errorf("registered methods %v\nwant every method of the contracts %v", registered, vcciMethods())
	}
}

// wantServiceOnly are the methods no API key may call, whatever its
// scopes: only vcci's services, with the service token.
var wantServiceOnly = map[string]bool{
	"/vcci.engagement.v1.EngagementService/PublishEvent": true,
	"/vcci.intake.v1.IntakeService/AdjustSupplierTotals": true,
}

// auditLog keeps the events appended to it.
type auditLog struct {
	mu     sync.Mutex
	events []tenancy.AuditEvent
}

func (l *auditLog) Append(_ context.Context, e tenancy.AuditEvent) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	return nil
}

func (l *auditLog) take() []tenancy.AuditEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

// writes answers CreateCampaign, GetCampaign and UploadSpend with fixed
// resources, and fails CreateCampaign for the display name "fail".
type writes struct{ unimplemented }

func (writes) CreateCampaign(_ context.Context, req *engagementv1.CreateCampaignRequest) (*engagementv1.Campaign, error) {
	if req.GetCampaign().GetDisplayName() == "fail" {
		return nil, status.Error(codes.FailedPrecondition, "no emissions yet")
	}
	return &engagementv1.Campaign{Name: "campaigns/7"}, nil
}

func (writes) GetCampaign(context.Context, *engagementv1.GetCampaignRequest) (*engagementv1.Campaign, error) {
	return &engagementv1.Campaign{Name: "campaigns/7"}, nil
}

func (writes) RetryUpload(_ context.Context, req *intakev1.RetryUploadRequest) (*intakev1.Upload, error) {
	return &intakev1.Upload{Name: req.GetName()}, nil
}

func (writes) UploadSpend(stream grpc.ClientStreamingServer[intakev1.UploadSpendRequest, intakev1.Upload]) error {
	for {
		if _, err := stream.Recv(); err != nil {
			break
		}
	}
	return stream.SendAndClose(&intakev1.Upload{Name: "uploads/3"})
}

// Every successful write is audited once, with who, what, which resource
// and the request id; reads and failures are not.
func TestSuccessfulWritesAreAudited(t *testing.T) {
	log := &auditLog{}
	srv := grpcserver.New(grpcserver.Options{Name: "test", Log: slog.New(slog.DiscardHandler), TracerProvider: noop.NewTracerProvider(),
		Auth: scopedKeys{}, Audit: log})
	impl := writes{}
	intakev1.RegisterIntakeServiceServer(srv.GRPC, impl)
	engagementv1.RegisterEngagementServiceServer(srv.GRPC, impl)
	cc := testsupport.ServeInMemory(t, srv.GRPC)
	campaigns, intake := engagementv1.NewEngagementServiceClient(cc), intakev1.NewIntakeServiceClient(cc)
	key := metadata.AppendToOutgoingContext(testsupport.WithKey("vcci_all"), "x-request-id", "req-1")
	asService := metadata.AppendToOutgoingContext(context.Background(), "x-vcci-service-token", "svc-token", "x-vcci-tenant", tenant.String())

	if _, err := campaigns.CreateCampaign(key, &engagementv1.CreateCampaignRequest{Campaign: &engagementv1.Campaign{DisplayName: "top"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := campaigns.GetCampaign(key, &engagementv1.GetCampaignRequest{Name: "campaigns/7"}); err != nil {
		t.Fatal(err)
	}
	if _, err := campaigns.CreateCampaign(key, &engagementv1.CreateCampaignRequest{Campaign: &engagementv1.Campaign{DisplayName: "fail"}}); status.Code(err) != codes.FailedPrecondition {
		t.Fatal(err)
	}
	if _, err := campaigns.CreateCampaign(testsupport.WithKey("vcci_read"), &engagementv1.CreateCampaignRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Fatal(err)
	}
	if _, err := intake.RetryUpload(asService, &intakev1.RetryUploadRequest{Name: "uploads/9"}); err != nil {
		t.Fatal(err)
	}
	up, err := intake.UploadSpend(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Send(&intakev1.UploadSpendRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := up.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}

	keyID := "apiKeys/" + uuid.NewSHA1(uuid.Nil, []byte("vcci_all")).String()
	want := []tenancy.AuditEvent{
		{Tenant: tenant, Actor: keyID, KeyPrefix: "vcci_all", Method: "vcci.engagement.v1.EngagementService/CreateCampaign", Resource: "campaigns/7", RequestID: "req-1"},
		{Tenant: tenant, Actor: "service", Method: "vcci.intake.v1.IntakeService/RetryUpload", Resource: "uploads/9"},
		{Tenant: tenant, Actor: keyID, KeyPrefix: "vcci_all", Method: "vcci.intake.v1.IntakeService/UploadSpend", Resource: "uploads/3", RequestID: "req-1"},
	}
	if got := log.take(); !slices.Equal(got, want) {
		t.Fatalf("audited\n%+v\nwant\n%+v", got, want)
	}
}

// computes answers Calculate as the calculator would, storing nothing.
type computes struct{ unimplemented }

func (computes) Calculate(context.Context, *calculatorv1.CalculateRequest) (*calculatorv1.EmissionResult, error) {
	return &calculatorv1.EmissionResult{Name: "emissionResults/T1", KgCo2E: "1.0000000"}, nil
}

// Calculating without storing is a read: a read-only key may, and nothing
// is audited (CalculateEmissions, which stores, stays a write).
func TestComputationsAreReadsAndNotAudited(t *testing.T) {
	log := &auditLog{}
	srv := grpcserver.New(grpcserver.Options{Name: "test", Log: slog.New(slog.DiscardHandler), TracerProvider: noop.NewTracerProvider(),
		Auth: scopedKeys{}, Audit: log})
	calculatorv1.RegisterCalculatorServiceServer(srv.GRPC, computes{})
	calc := calculatorv1.NewCalculatorServiceClient(testsupport.ServeInMemory(t, srv.GRPC))
	r, err := calc.Calculate(testsupport.WithKey("vcci_read"), &calculatorv1.CalculateRequest{})
	if err != nil || r.GetKgCo2E() != "1.0000000" {
		t.Fatalf("Calculate with a read key = %v, %v", r, err)
	}
	if got := log.take(); len(got) != 0 {
		t.Fatalf("audited %+v, want nothing", got)
	}
	if got := grpcserver.RequiredScope("/vcci.calculator.v1.CalculatorService/CalculateEmissions"); got != write {
		t.Fatalf("CalculateEmissions needs %s, want write", got)
	}
}

type publishes struct {
	engagementv1.UnimplementedEngagementServiceServer
}

func (publishes) PublishEvent(context.Context, *engagementv1.PublishEventRequest) (*engagementv1.PublishEventResponse, error) {
	return &engagementv1.PublishEventResponse{Published: true}, nil
}

// A published event echoes a change audited already: only a service
// publishes one, and it is not audited itself. No key may, whatever its
// scopes: it would sign the platform's word.
func TestPublishEventIsForServicesOnlyNotAudited(t *testing.T) {
	log := &auditLog{}
	srv := grpcserver.New(grpcserver.Options{Name: "test", Log: slog.New(slog.DiscardHandler), TracerProvider: noop.NewTracerProvider(),
		Auth: scopedKeys{}, Audit: log})
	engagementv1.RegisterEngagementServiceServer(srv.GRPC, publishes{})
	c := engagementv1.NewEngagementServiceClient(testsupport.ServeInMemory(t, srv.GRPC))
	for _, key := range []string{"vcci_read", "vcci_write", "vcci_all"} {
		_, err := c.PublishEvent(testsupport.WithKey(key), &engagementv1.PublishEventRequest{EventId: "x"})
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), "services only") {
			t.Fatalf("PublishEvent with key %s: %v, want PermissionDenied for services only", key, err)
		}
	}
	asService := metadata.AppendToOutgoingContext(context.Background(), "x-vcci-service-token", "svc-token", "x-vcci-tenant", tenant.String())
	if r, err := c.PublishEvent(asService, &engagementv1.PublishEventRequest{EventId: "x"}); err != nil || !r.GetPublished() {
		t.Fatalf("PublishEvent as a service = %v, %v", r, err)
	}
	if got := log.take(); len(got) != 0 {
		t.Fatalf("audited %+v, want nothing", got)
	}
}
