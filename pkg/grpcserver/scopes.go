package grpcserver

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/vcci-dev/vcci/pkg/apperr"
	"github.com/vcci-dev/vcci/pkg/tenancy"
)

// readPrefixes name the methods that only read: a method whose name starts
// with one of them needs the read scope.
var readPrefixes = []string{"Get", "List", "BatchGet", "Summarize", "Analyze", "Search"}

// computeOnly are methods that calculate and store nothing, whose names do
// not start as a read's: they need the read scope and are not audited, as
// reads are. (CalculateEmissions stores its results: a write.)
var computeOnly = map[string]bool{
	"/vcci.calculator.v1.CalculatorService/Calculate":       true,
	"/vcci.calculator.v1.CalculatorService/BatchCalculate":  true,
	"/vcci.calculator.v1.CalculatorService/StreamCalculate": true,
}

// unaudited are writes the audit log leaves out: engagement's PublishEvent
// is the platform echoing, as a webhook event, a change whose own call is
// audited already (an upload, a recalculation), and comes from a
// background job at no fixed place among the tenant's calls.
var unaudited = map[string]bool{
	"/vcci.engagement.v1.EngagementService/PublishEvent": true,
}

// serviceOnly are methods only vcci's own services call, each for a
// tenant with the platform's service token: an API key, whatever its
// scopes, is refused. A key that could publish a webhook event would sign
// the platform's word for an upload it never made; one that could adjust
// suppliers' totals would part them from their lines.
var serviceOnly = map[string]bool{
	"/vcci.engagement.v1.EngagementService/PublishEvent": true,
	"/vcci.intake.v1.IntakeService/AdjustSupplierTotals": true,
}

// adminPackage holds the tenant's administration: its keys and audit log.
const adminPackage = "/vcci.iam.v1."

// scopeExceptions are the methods whose name does not say what they need.
// Key management and the audit log are administration, their reads too.
var scopeExceptions = map[string]tenancy.Scopes{
	"/vcci.iam.v1.ApiKeyService/CreateApiKey":   tenancy.ScopeAdmin,
	"/vcci.iam.v1.ApiKeyService/ListApiKeys":    tenancy.ScopeAdmin,
	"/vcci.iam.v1.ApiKeyService/RevokeApiKey":   tenancy.ScopeAdmin,
	"/vcci.iam.v1.AuditService/ListAuditEvents": tenancy.ScopeAdmin,
}

// RequiredScope is the scope a call of fullMethod ("/pkg.Service/Method")
// needs: the exception if there is one; admin for any other method of the
// administration package; read for a method named as a read
// (readPrefixes) or that stores nothing (computeOnly); write for everything
// else, so that a method nobody classified is refused to a read-only key.
func RequiredScope(fullMethod string) tenancy.Scopes {
	if s, ok := scopeExceptions[fullMethod]; ok {
		return s
	}
	if strings.HasPrefix(fullMethod, adminPackage) {
		return tenancy.ScopeAdmin
	}
	if reads(fullMethod) {
		return tenancy.ScopeRead
	}
	return tenancy.ScopeWrite
}

// reads reports whether fullMethod only reads: named as a read
// (readPrefixes), or a computation that stores nothing (computeOnly).
func reads(fullMethod string) bool {
	if computeOnly[fullMethod] {
		return true
	}
	name := fullMethod[strings.LastIndexByte(fullMethod, '/')+1:]
	for _, p := range readPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// authorize refuses a caller whose scopes lack the one method needs, and
// an API key calling a method for services only.
func authorize(ctx context.Context, method string) error {
	if serviceOnly[method] && tenancy.ServiceTokenFrom(ctx) == "" {
		return apperr.New(apperr.PermissionDenied, strings.TrimPrefix(method, "/")+" is called by vcci's own services only, not with an API key")
	}
	need := RequiredScope(method)
	if tenancy.ScopesFrom(ctx).Has(need) {
		return nil
	}
	return apperr.New(apperr.PermissionDenied, fmt.Sprintf("the caller lacks the %s scope, which %s needs", need, strings.TrimPrefix(method, "/")))
}

// Auditor appends to a tenant's audit log.
type Auditor interface {
	Append(ctx context.Context, e tenancy.AuditEvent) error
}

// audit records a successful call of method that changed something (any
// method not named as a read: a write, a key's creation or revocation),
// with the resource its request or answer names. A
// failure to record is logged, not returned: the change is made by then,
// and a client told it failed would make it again.
func (s *Server) audit(ctx context.Context, method string, req, resp any) {
	if s.opts.Audit == nil || s.open(method) || reads(method) || unaudited[method] {
		return
	}
	tenant, ok := tenancy.TenantFrom(ctx)
	if !ok {
		return
	}
	actor, prefix := tenancy.ActorFrom(ctx)
	e := tenancy.AuditEvent{Tenant: tenant, Actor: actor, KeyPrefix: prefix, Method: strings.TrimPrefix(method, "/"),
		Resource: resourceName(resp, req), RequestID: requestID(ctx)}
	if err := s.opts.Audit.Append(context.WithoutCancel(ctx), e); err != nil {
		s.opts.Log.ErrorContext(ctx, "audit log", "method", method, "error", err.Error())
	}
}

// maxRequestID bounds the request id kept from a caller.
const maxRequestID = 128

// requestID is the call's x-request-id (the gateway sets one on every
// request), else its trace id.
func requestID(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-request-id"); len(v) > 0 && v[0] != "" {
		return v[0][:min(len(v[0]), maxRequestID)]
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}

// resourceName is the resource a call acted on: the answer's name (a
// created resource's, also one level down, as in a response that wraps
// it), else the request's name, parent or upload.
func resourceName(resp, req any) string {
	if m, ok := resp.(proto.Message); ok && m != nil {
		r := m.ProtoReflect()
		if n := stringField(r, "name"); n != "" {
			return n
		}
		fields := r.Descriptor().Fields()
		for i := range fields.Len() {
			f := fields.Get(i)
			if f.Kind() == protoreflect.MessageKind && !f.IsList() && !f.IsMap() && r.Has(f) {
				if n := stringField(r.Get(f).Message(), "name"); n != "" {
					return n
				}
			}
		}
	}
	if m, ok := req.(proto.Message); ok && m != nil {
		r := m.ProtoReflect()
		for _, field := range []protoreflect.Name{"name", "parent", "upload"} {
			if n := stringField(r, field); n != "" {
				return n
			}
		}
	}
	return ""
}

func stringField(m protoreflect.Message, name protoreflect.Name) string {
	f := m.Descriptor().Fields().ByName(name)
	if f == nil || f.Kind() != protoreflect.StringKind || f.IsList() {
		return ""
	}
	return m.Get(f).String()
}
