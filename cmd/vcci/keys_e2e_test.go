package main

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	iamv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/iam/v1"
	"github.com/vcci-dev/vcci/pkg/tenancy"
	"github.com/vcci-dev/vcci/pkg/testsupport"
)

type apiKey struct {
	Name, DisplayName, Prefix, CreateTime, RevokeTime, LastUseTime string
	Scopes                                                         []string
}

type auditEvent struct {
	Actor, KeyPrefix, Method, Resource, RequestID string
}

const oneLine = "transaction_id,date,supplier_id,supplier_name,naics_code,amount,currency,description\nK1,2024-05-01,S1,Acme,331110,10.00,USD,x\n"

// TestKeysScopesAndAuditThroughREST runs a key's life through the gateway:
// an admin key makes a read-only key, which reads but may not write or
// manage keys (403), and stops working within seconds of its revocation;
// every change lands in the audit log, newest first, with who made it.
func TestKeysScopesAndAuditThroughREST(t *testing.T) {
	p := start(t, noop.NewTracerProvider())
	var made struct {
		APIKey apiKey `json:"apiKey"`
		Key    string
	}
	if code := p.call(t, "POST", "/v1/apiKeys", p.key, strings.NewReader(`{"displayName":"dashboards","scopes":["SCOPE_READ"]}`), &made,
		"X-Request-Id", "make-key-1"); code != http.StatusOK {
		t.Fatalf("create a key: HTTP %d %+v", code, made)
	}
	if !strings.HasPrefix(made.Key, "vcci_") || !strings.HasPrefix(made.Key, made.APIKey.Prefix) || made.APIKey.DisplayName != "dashboards" ||
		!slices.Equal(made.APIKey.Scopes, []string{"SCOPE_READ"}) || !strings.HasPrefix(made.APIKey.Name, "apiKeys/") {
		t.Fatalf("created %+v", made)
	}
	readKey := made.Key

	var list struct{ APIKeys []apiKey }
	if code := p.call(t, "GET", "/v1/apiKeys", p.key, nil, &list); code != http.StatusOK || len(list.APIKeys) != 2 {
		t.Fatalf("list keys: HTTP %d %+v", code, list)
	}
	if k := list.APIKeys[0]; k.Name != made.APIKey.Name || k.Prefix != made.APIKey.Prefix || k.RevokeTime != "" {
		t.Fatalf("newest key listed %+v, want %+v", k, made.APIKey)
	}
	if k := list.APIKeys[1]; !slices.Equal(k.Scopes, []string{"SCOPE_READ", "SCOPE_WRITE", "SCOPE_ADMIN"}) || k.LastUseTime == "" {
		t.Fatalf("the test key from before scopes: %+v, want every scope and a last use", k)
	}

	// The read key reads; it may not write, nor manage keys.
	if code := p.call(t, "GET", "/v1/suppliers", readKey, nil, nil); code != http.StatusOK {
		t.Fatalf("a read key reading: HTTP %d", code)
	}
	var denied struct {
		Code    int
		Message string
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/campaigns", `{"displayName":"x","topN":3}`},
		{"POST", "/v1/uploads/1:retry", `{}`},
		{"POST", "/v1/emissionResults:calculate", `{}`},
		{"POST", "/v1/apiKeys", `{"scopes":["SCOPE_ADMIN"]}`},
		{"GET", "/v1/apiKeys", ``},
		{"GET", "/v1/auditEvents", ``},
	} {
		if code := p.call(t, c.method, c.path, readKey, strings.NewReader(c.body), &denied); code != http.StatusForbidden || denied.Code != 7 {
			t.Errorf("%s %s with a read key: HTTP %d %+v, want 403 with code 7", c.method, c.path, code, denied)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, p.base+"/v1/uploads?filename=x.csv", bytes.NewReader([]byte(oneLine)))
	req.Header.Set("x-api-key", readKey)
	req.Header.Set("Content-Type", "text/csv")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an upload with a read key: %v %v, want 403", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}

	// A write: the upload, and intake's calculation of it as the service.
	up := p.upload(t, p.key, []byte(oneLine), "X-Request-Id", "upload-1")
	if u := p.wait(t, p.key, up.Name); u.State != "UPLOAD_STATE_SUCCEEDED" {
		t.Fatalf("upload: %+v", u)
	}

	// Revoked, the key stops working within the authenticators' TTL.
	var revoked apiKey
	if code := p.call(t, "POST", "/v1/"+made.APIKey.Name+":revoke", p.key, strings.NewReader(`{}`), &revoked, "X-Request-Id", "revoke-1"); code != http.StatusOK || revoked.RevokeTime == "" {
		t.Fatalf("revoke: HTTP %d %+v", code, revoked)
	}
	at := time.Now()
	testsupport.WaitFor(t, "the revoked key to be refused", tenancy.DefaultAuthTTL+2*time.Second, func() bool {
		return p.call(t, "GET", "/v1/suppliers", readKey, nil, nil) == http.StatusUnauthorized
	})
	t.Logf("the revoked key was refused through REST %v after its revocation", time.Since(at).Round(time.Millisecond))

	var log struct{ AuditEvents []auditEvent }
	if code := p.call(t, "GET", "/v1/auditEvents", p.key, nil, &log); code != http.StatusOK {
		t.Fatalf("audit log: HTTP %d", code)
	}
	admin := "apiKeys/" + strings.TrimPrefix(list.APIKeys[1].Name, "apiKeys/")
	prefix := p.key[:9]
	want := []auditEvent{
		{admin, prefix, "vcci.iam.v1.ApiKeyService/RevokeApiKey", made.APIKey.Name, "revoke-1"},
		{"service", "", "vcci.calculator.v1.CalculatorService/CalculateEmissions", up.Name, ""},
		{admin, prefix, "vcci.intake.v1.IntakeService/UploadSpend", up.Name, "upload-1"},
		{admin, prefix, "vcci.iam.v1.ApiKeyService/CreateApiKey", made.APIKey.Name, "make-key-1"},
	}
	got := log.AuditEvents
	for i := range got {
		if got[i].Actor == "service" {
			got[i].RequestID = "" // the worker's trace id
		}
	}
	// The upload is audited once its answer is sent, and its calculation
	// may begin before that: those two may come in either order.
	if len(got) == len(want) && got[1] == want[2] && got[2] == want[1] {
		got[1], got[2] = got[2], got[1]
	}
	if !slices.Equal(got, want) {
		t.Fatalf("audit log, newest first:\n%+v\nwant\n%+v", got, want)
	}
}

// The service credential acts for a tenant but never administers it, and a
// rotation needs no restart: uploads keep being calculated (intake calls
// the calculator as the service) across rotate and retire, and the
// retired token is refused.
func TestServiceTokenIsScopedAndRotates(t *testing.T) {
	p := start(t, noop.NewTracerProvider())
	ctx := context.Background()
	old, err := tenancy.ServiceToken(ctx, p.pool)
	if err != nil {
		t.Fatal(err)
	}
	tenant := testsupport.Tenant(t, p.pool, "acme")
	as := func(token string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "x-vcci-service-token", token, "x-vcci-tenant", tenant.String())
	}
	audit := iamv1.NewAuditServiceClient(testsupport.Dial(t, p.grpc["intake"]))
	if _, err := audit.ListAuditEvents(as(old), &iamv1.ListAuditEventsRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("the audit log as the service: %v, want PermissionDenied", err)
	}
	keys := iamv1.NewApiKeyServiceClient(testsupport.Dial(t, p.grpc["intake"]))
	if _, err := keys.CreateApiKey(as(old), &iamv1.CreateApiKeyRequest{ApiKey: &iamv1.ApiKey{Scopes: []iamv1.Scope{iamv1.Scope_SCOPE_ADMIN}}}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("making a key as the service: %v, want PermissionDenied", err)
	}

	if err := tenancy.RotateServiceToken(ctx, p.pool); err != nil {
		t.Fatal(err)
	}
	// Every sender reads the new token within CredentialRefresh; then, as
	// if RetireAfter had passed, the old one is retired.
	time.Sleep(tenancy.CredentialRefresh + time.Second)
	if _, err := p.pool.Exec(ctx, `UPDATE iam.service_credentials SET created_at = now() - interval '1 hour' WHERE slot = 'current'`); err != nil {
		t.Fatal(err)
	}
	if retired, err := tenancy.RetireServiceToken(ctx, p.pool); !retired || err != nil {
		t.Fatalf("retire: %v, %v", retired, err)
	}
	u := p.upload(t, p.key, []byte(oneLine))
	if got := p.wait(t, p.key, u.Name); got.State != "UPLOAD_STATE_SUCCEEDED" || got.RowsCalculated != "1" {
		t.Fatalf("an upload after the rotation: %+v", got)
	}
	calc := calculatorv1.NewCalculatorServiceClient(testsupport.Dial(t, p.grpc["calculator"]))
	testsupport.WaitFor(t, "the retired token to be refused", tenancy.CredentialRefresh+2*time.Second, func() bool {
		_, err := calc.ListFactorSets(as(old), &calculatorv1.ListFactorSetsRequest{})
		return status.Code(err) == codes.Unauthenticated
	})
	current, _ := tenancy.ServiceToken(ctx, p.pool)
	if _, err := calc.ListFactorSets(as(current), &calculatorv1.ListFactorSetsRequest{}); err != nil {
		t.Fatalf("the current token: %v", err)
	}
}
