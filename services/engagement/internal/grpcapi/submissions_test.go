package grpcapi_test

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	calculatorv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/calculator/v1"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	"github.com/vcci-dev/vcci/pkg/testsupport"
	"github.com/vcci-dev/vcci/pkg/webhook"
	"github.com/vcci-dev/vcci/services/engagement/internal/engagement"
)

var decimalRe = regexp.MustCompile(`^\d+(\.\d+)?$`)

// CreateSupplierFactor checks a figure's value as the calculator does
// (only that) and, unless validate_only, records it for the caller's key
// as its newest factor. It keeps what it was asked.
func (f *fakeCalculator) CreateSupplierFactor(ctx context.Context, req *calculatorv1.CreateSupplierFactorRequest) (*calculatorv1.SupplierFactor, error) {
	key := keyOf(ctx)
	sf := proto.Clone(req.GetSupplierFactor()).(*calculatorv1.SupplierFactor)
	if !decimalRe.MatchString(sf.GetKgCo2EPerUnit()) {
		st, _ := status.New(codes.InvalidArgument, "supplier_factor.kg_co2e_per_unit: not a decimal").WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "supplier_factor.kg_co2e_per_unit", Description: "not a decimal"}}})
		return nil, st.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	call := key + " " + strconv.FormatBool(req.GetValidateOnly()) + " " + sf.GetSupplierId()
	if req.GetRequestId() != "" {
		call += " " + req.GetRequestId()
	}
	f.creates = append(f.creates, call)
	if req.GetValidateOnly() {
		sf.DeclaredUnit = strings.TrimSpace(sf.GetDeclaredUnit()) // as the calculator trims
		return sf, nil
	}
	if earlier, ok := f.requests[key+" "+req.GetRequestId()]; ok && req.GetRequestId() != "" {
		return earlier, nil // as the calculator answers a repeated request
	}
	sf.Name, sf.CreateTime = "supplierFactors/"+strconv.Itoa(100+len(f.factors[key])), timestamppb.Now()
	sf.Recalculation = "recalculations/7"
	f.factors[key] = append([]*calculatorv1.SupplierFactor{sf}, f.factors[key]...)
	if f.requests == nil {
		f.requests = map[string]*calculatorv1.SupplierFactor{}
	}
	f.requests[key+" "+req.GetRequestId()] = sf
	return sf, nil
}

func figure(kg string) *calculatorv1.SupplierFactor {
	return &calculatorv1.SupplierFactor{Kind: calculatorv1.SupplierFactorKind_SUPPLIER_FACTOR_KIND_COMPANY, KgCo2EPerUnit: kg,
		ReportingYear: 2024, ValidFrom: "2024-01-01", ValidTo: "2024-12-31"}
}

func target(t *testing.T, c *engagementv1.Campaign, supplier string) *engagementv1.CampaignTarget {
	t.Helper()
	for _, tg := range c.GetTargets() {
		if tg.GetSupplier() == "suppliers/"+supplier {
			return tg
		}
	}
	t.Fatalf("no target %s in %v", supplier, c)
	return nil
}

// A supplier sends its figure through a link with no API key; it waits for
// review, counts once accepted, and the supplier sees what became of it.
func TestSupplierSubmissions(t *testing.T) {
	e := start(t)
	ctxA, ctxB, anon := testsupport.WithKey(e.keyA), testsupport.WithKey(e.keyB), context.Background()
	c := create(t, e, "Suppliers' own data", 3)
	s1 := c.GetName() + "/targets/S1"
	ep, err := e.client.CreateWebhookEndpoint(ctxA, &engagementv1.CreateWebhookEndpointRequest{
		Endpoint: &engagementv1.WebhookEndpoint{Url: "https://receiver.example/hooks", Events: []string{webhook.SubmissionReceived}}})
	if err != nil {
		t.Fatal(err)
	}

	link, err := e.client.CreateSubmissionLink(ctxA, &engagementv1.CreateSubmissionLinkRequest{Name: s1})
	if err != nil {
		t.Fatal(err)
	}
	if link.GetUrl() != "/submit/"+link.GetToken() || link.GetToken() == "" {
		t.Fatalf("link %v", link)
	}
	if left := time.Until(link.GetExpireTime().AsTime()); left < engagement.LinkTTL-time.Minute || left > engagement.LinkTTL {
		t.Fatalf("link expires in %v", left)
	}
	tok := link.GetToken()

	req, err := e.client.GetSupplierRequest(anon, &engagementv1.GetSupplierRequestRequest{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	want := &engagementv1.SupplierRequest{RequesterDisplayName: "acme", CampaignDisplayName: "Suppliers' own data",
		Supplier: "suppliers/S1", SupplierDisplayName: "Acme Steel", ExpireTime: link.GetExpireTime(), SubmissionsLeft: 20}
	if !proto.Equal(req, want) {
		t.Fatalf("request %v\nwant %v", req, want)
	}

	// Bad figures and contacts are refused, naming the field; nothing is
	// kept.
	for _, bad := range []struct {
		req   *engagementv1.SubmitSupplierDataRequest
		field string
	}{
		{&engagementv1.SubmitSupplierDataRequest{ContactName: "Ann", ContactEmail: "ann@acme.example"}, "supplier_factor"},
		{&engagementv1.SubmitSupplierDataRequest{SupplierFactor: figure("0.4"), ContactEmail: "ann@acme.example"}, "contact_name"},
		{&engagementv1.SubmitSupplierDataRequest{SupplierFactor: figure("0.4"), ContactName: "Ann", ContactEmail: "ann at acme"}, "contact_email"},
		{&engagementv1.SubmitSupplierDataRequest{SupplierFactor: figure("0.4"), ContactName: "Ann", ContactEmail: "Ann <ann@acme.example>"}, "contact_email"},
		{&engagementv1.SubmitSupplierDataRequest{SupplierFactor: figure("0.4"), ContactName: "Ann", ContactEmail: "ann@acme.example", Comment: strings.Repeat("x", 2001)}, "comment"},
		{&engagementv1.SubmitSupplierDataRequest{SupplierFactor: figure("lots"), ContactName: "Ann", ContactEmail: "ann@acme.example"}, "supplier_factor.kg_co2e_per_unit"},
		{&engagementv1.SubmitSupplierDataRequest{SupplierFactor: func() *calculatorv1.SupplierFactor {
			f := figure("0.4")
			f.SupplierId = "S3"
			return f
		}(), ContactName: "Ann", ContactEmail: "ann@acme.example"}, "supplier_factor.supplier_id"},
	} {
		bad.req.Token = tok
		if _, err := e.client.SubmitSupplierData(anon, bad.req); violation(t, err) != bad.field {
			t.Fatalf("%v: %v, want %s named", bad.req, err, bad.field)
		}
	}

	sub, err := e.client.SubmitSupplierData(anon, &engagementv1.SubmitSupplierDataRequest{Token: tok, SupplierFactor: figure("0.412"),
		ContactName: " Ann Lee ", ContactEmail: "ann@acme.example", Comment: "CDP 2024 response"})
	if err != nil {
		t.Fatal(err)
	}
	wantFig := figure("0.412")
	wantFig.SupplierId = "S1"
	if sub.GetState() != engagementv1.SubmissionState_SUBMISSION_STATE_PENDING || sub.GetSupplier() != "suppliers/S1" ||
		!proto.Equal(sub.GetSupplierFactor(), wantFig) || sub.GetContactName() != "Ann Lee" || sub.GetComment() != "CDP 2024 response" ||
		!strings.HasPrefix(sub.GetName(), c.GetName()+"/submissions/") {
		t.Fatalf("submission %v", sub)
	}
	// Checked by the calculator as the platform acting for acme, recorded
	// nowhere yet.
	if got := e.calc.asked(); len(got) != 1 || got[0] != e.keyA+" true S1" {
		t.Fatalf("calculator asked %v", got)
	}
	// The tenant's endpoint is told, once (the refused tries queued nothing).
	ds, err := e.client.ListWebhookDeliveries(ctxA, &engagementv1.ListWebhookDeliveriesRequest{Parent: ep.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if id := strings.TrimPrefix(sub.GetName(), c.GetName()+"/submissions/"); len(ds.GetDeliveries()) != 1 ||
		ds.GetDeliveries()[0].GetEventId() != "submission-"+id+"-received" || ds.GetDeliveries()[0].GetEventType() != webhook.SubmissionReceived {
		t.Fatalf("deliveries %v", ds.GetDeliveries())
	}
	got, err := e.client.GetCampaign(ctxA, &engagementv1.GetCampaignRequest{Name: c.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if tg := target(t, got, "S1"); tg.GetStatus() != engagementv1.TargetStatus_TARGET_STATUS_SUBMITTED || tg.GetPendingSubmissions() != 1 ||
		tg.GetLinkCreateTime() == nil || got.GetDataReceivedCount() != 0 {
		t.Fatalf("target %v of %v", tg, got)
	}
	if tg := target(t, got, "S3"); tg.GetStatus() != engagementv1.TargetStatus_TARGET_STATUS_INVITED || tg.GetLinkCreateTime() != nil {
		t.Fatalf("target S3 %v", tg)
	}

	// Another tenant neither lists nor reviews it.
	if _, err := e.client.ListSubmissions(ctxB, &engagementv1.ListSubmissionsRequest{Parent: c.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("tenant b lists: %v", err)
	}
	if _, err := e.client.AcceptSubmission(ctxB, &engagementv1.AcceptSubmissionRequest{Name: sub.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("tenant b accepts: %v", err)
	}
	if _, err := e.client.AcceptSubmission(anon, &engagementv1.AcceptSubmissionRequest{Name: sub.GetName()}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no key accepts: %v", err)
	}

	accepted, err := e.client.AcceptSubmission(ctxA, &engagementv1.AcceptSubmissionRequest{Name: sub.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if accepted.GetState() != engagementv1.SubmissionState_SUBMISSION_STATE_ACCEPTED || accepted.GetRecordedSupplierFactor() != "supplierFactors/100" ||
		accepted.GetRecalculation() != "recalculations/7" || accepted.GetReviewTime() == nil {
		t.Fatalf("accepted %v", accepted)
	}
	if _, err := e.client.AcceptSubmission(ctxA, &engagementv1.AcceptSubmissionRequest{Name: sub.GetName()}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("accepted twice: %v", err)
	}
	got, err = e.client.GetCampaign(ctxA, &engagementv1.GetCampaignRequest{Name: c.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if tg := target(t, got, "S1"); tg.GetStatus() != engagementv1.TargetStatus_TARGET_STATUS_DATA_RECEIVED || tg.GetSupplierFactor() != "supplierFactors/100" ||
		tg.GetPendingSubmissions() != 0 || got.GetDataReceivedCount() != 1 || got.GetDataReceivedKgCo2E() != "249.87" {
		t.Fatalf("after accepting: %v", got)
	}

	// A second figure, rejected: the supplier reads why.
	second, err := e.client.SubmitSupplierData(anon, &engagementv1.SubmitSupplierDataRequest{Token: tok, SupplierFactor: figure("9"),
		ContactName: "Ann Lee", ContactEmail: "ann@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.RejectSubmission(ctxA, &engagementv1.RejectSubmissionRequest{Name: second.GetName(), Reason: " "}); violation(t, err) != "reason" {
		t.Fatalf("blank reason: %v", err)
	}
	rejected, err := e.client.RejectSubmission(ctxA, &engagementv1.RejectSubmissionRequest{Name: second.GetName(), Reason: "9 kg a dollar is not your 2024 figure"})
	if err != nil || rejected.GetState() != engagementv1.SubmissionState_SUBMISSION_STATE_REJECTED {
		t.Fatalf("rejected %v (%v)", rejected, err)
	}
	req, err = e.client.GetSupplierRequest(anon, &engagementv1.GetSupplierRequestRequest{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(req.GetSubmissions()); n != 2 || req.GetSubmissionsLeft() != 18 ||
		req.GetSubmissions()[0].GetRejectReason() != "9 kg a dollar is not your 2024 figure" ||
		req.GetSubmissions()[1].GetRecordedSupplierFactor() != "supplierFactors/100" {
		t.Fatalf("the supplier reads %v", req)
	}

	// Up to 20 a target; listed newest first, in pages.
	for i := range 18 {
		if _, err := e.client.SubmitSupplierData(anon, &engagementv1.SubmitSupplierDataRequest{Token: tok, SupplierFactor: figure(strconv.Itoa(i)),
			ContactName: "Ann Lee", ContactEmail: "ann@acme.example"}); err != nil {
			t.Fatal(i, err)
		}
	}
	_, err = e.client.SubmitSupplierData(anon, &engagementv1.SubmitSupplierDataRequest{Token: tok, SupplierFactor: figure("1"),
		ContactName: "Ann Lee", ContactEmail: "ann@acme.example"})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("21st submission: %v", err)
	}
	var listed []string
	pageToken := ""
	for {
		resp, err := e.client.ListSubmissions(ctxA, &engagementv1.ListSubmissionsRequest{Parent: c.GetName(), PageSize: 7, PageToken: pageToken})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range resp.GetSubmissions() {
			listed = append(listed, s.GetSupplierFactor().GetKgCo2EPerUnit())
		}
		if pageToken = resp.GetNextPageToken(); pageToken == "" {
			break
		}
	}
	if strings.Join(listed, ",") != "17,16,15,14,13,12,11,10,9,8,7,6,5,4,3,2,1,0,9,0.412" {
		t.Fatalf("listed %v", listed)
	}

	// Accepted five times at once: one accept succeeds, and the figure is
	// recorded once, under the submission's name as its request id.
	newest, err := e.client.ListSubmissions(ctxA, &engagementv1.ListSubmissionsRequest{Parent: c.GetName(), PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	name := newest.GetSubmissions()[0].GetName()
	e.calc.mu.Lock()
	before := len(e.calc.factors[e.keyA])
	e.calc.mu.Unlock()
	codesSeen := make([]codes.Code, 5)
	var wg sync.WaitGroup
	for i := range codesSeen {
		wg.Go(func() {
			_, err := e.client.AcceptSubmission(ctxA, &engagementv1.AcceptSubmissionRequest{Name: name})
			codesSeen[i] = status.Code(err)
		})
	}
	wg.Wait()
	slices.Sort(codesSeen)
	e.calc.mu.Lock()
	recorded := len(e.calc.factors[e.keyA]) - before
	e.calc.mu.Unlock()
	asked := e.calc.asked()
	if !slices.Equal(codesSeen, []codes.Code{codes.OK, codes.FailedPrecondition, codes.FailedPrecondition, codes.FailedPrecondition, codes.FailedPrecondition}) ||
		recorded != 1 || !strings.HasSuffix(asked[len(asked)-1], " false S1 "+name) {
		t.Fatalf("five accepts at once: %v, %d recorded, last asked %q", codesSeen, recorded, asked[len(asked)-1])
	}

	// A new link stops the last; forged and foreign tokens prove nothing.
	again, err := e.client.CreateSubmissionLink(ctxA, &engagementv1.CreateSubmissionLinkRequest{Name: s1})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{tok, again.GetToken() + "x", "", "-", strings.Replace(again.GetToken(), ".", "", 1)} {
		if _, err := e.client.GetSupplierRequest(anon, &engagementv1.GetSupplierRequestRequest{Token: bad}); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("token %q: %v", bad, err)
		}
	}
	if _, err := e.client.GetSupplierRequest(anon, &engagementv1.GetSupplierRequestRequest{Token: again.GetToken()}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{c.GetName() + "/targets/S9", "campaigns/987654/targets/S1"} {
		if _, err := e.client.CreateSubmissionLink(ctxA, &engagementv1.CreateSubmissionLinkRequest{Name: name}); status.Code(err) != codes.NotFound {
			t.Fatalf("link for %s: %v", name, err)
		}
	}
	if _, err := e.client.CreateSubmissionLink(ctxB, &engagementv1.CreateSubmissionLinkRequest{Name: s1}); status.Code(err) != codes.NotFound {
		t.Fatalf("tenant b makes a link: %v", err)
	}
	for _, name := range []string{"", c.GetName(), c.GetName() + "/targets/", c.GetName() + "/targets/a/b", "campaigns/x/targets/S1"} {
		if _, err := e.client.CreateSubmissionLink(ctxA, &engagementv1.CreateSubmissionLinkRequest{Name: name}); violation(t, err) != "name" {
			t.Fatalf("link name %q: %v", name, err)
		}
	}
	for _, name := range []string{c.GetName() + "/submissions/x", c.GetName() + "/submissions/0", c.GetName() + "/targets/S1"} {
		if _, err := e.client.AcceptSubmission(ctxA, &engagementv1.AcceptSubmissionRequest{Name: name}); violation(t, err) != "name" {
			t.Fatalf("submission name %q: %v", name, err)
		}
	}
}

// asked is what CreateSupplierFactor was asked: "key validate_only supplier".
func (f *fakeCalculator) asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.creates...)
}

// Links for many targets in one call: each works, a new one stops only
// its own target's last, and a call naming a supplier that is not a
// target makes none.
func TestBatchSubmissionLinks(t *testing.T) {
	e := start(t)
	ctxA, anon := testsupport.WithKey(e.keyA), context.Background()
	c := create(t, e, "Everyone", 3)
	works := func(tok string) bool {
		_, err := e.client.GetSupplierRequest(anon, &engagementv1.GetSupplierRequestRequest{Token: tok})
		if err != nil && status.Code(err) != codes.Unauthenticated {
			t.Fatal(err)
		}
		return err == nil
	}
	all, err := e.client.BatchCreateSubmissionLinks(ctxA, &engagementv1.BatchCreateSubmissionLinksRequest{Parent: c.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, 0, len(all.GetLinks()))
	for _, l := range all.GetLinks() {
		got = append(got, l.GetSupplier()+" "+l.GetSupplierDisplayName())
		if !works(l.GetLink().GetToken()) || l.GetLink().GetUrl() != "/submit/"+l.GetLink().GetToken() {
			t.Fatalf("link %v does not work", l)
		}
	}
	if strings.Join(got, ",") != "suppliers/S3 Globex Metals,suppliers/S1 Acme Steel,suppliers/S7 " {
		t.Fatalf("links for %v", got)
	}
	one, err := e.client.BatchCreateSubmissionLinks(ctxA, &engagementv1.BatchCreateSubmissionLinksRequest{Parent: c.GetName(), Suppliers: []string{"suppliers/S1", "S1"}})
	if err != nil || len(one.GetLinks()) != 1 || one.GetLinks()[0].GetSupplier() != "suppliers/S1" {
		t.Fatalf("S1 again: %v, %v", one, err)
	}
	if works(all.GetLinks()[1].GetLink().GetToken()) || !works(one.GetLinks()[0].GetLink().GetToken()) || !works(all.GetLinks()[0].GetLink().GetToken()) {
		t.Fatal("a new link of S1 should stop S1's last, and only it")
	}
	if _, err := e.client.BatchCreateSubmissionLinks(ctxA, &engagementv1.BatchCreateSubmissionLinksRequest{Parent: c.GetName(),
		Suppliers: []string{"S3", "S9"}}); status.Code(err) != codes.NotFound {
		t.Fatalf("a supplier not targeted: %v", err)
	}
	if !works(all.GetLinks()[0].GetLink().GetToken()) {
		t.Fatal("a refused call replaced S3's link")
	}
	if _, err := e.client.BatchCreateSubmissionLinks(testsupport.WithKey(e.keyB), &engagementv1.BatchCreateSubmissionLinksRequest{Parent: c.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("tenant b: %v", err)
	}
	for _, bad := range []struct {
		req   *engagementv1.BatchCreateSubmissionLinksRequest
		field string
	}{
		{&engagementv1.BatchCreateSubmissionLinksRequest{Parent: "campaigns/x"}, "parent"},
		{&engagementv1.BatchCreateSubmissionLinksRequest{Parent: c.GetName(), Suppliers: []string{"S1", "suppliers/"}}, "suppliers[1]"},
		{&engagementv1.BatchCreateSubmissionLinksRequest{Parent: c.GetName(), Suppliers: []string{"a/b"}}, "suppliers[0]"},
		{&engagementv1.BatchCreateSubmissionLinksRequest{Parent: c.GetName(), Suppliers: slices.Repeat([]string{"S1"}, 1001)}, "suppliers"},
	} {
		if _, err := e.client.BatchCreateSubmissionLinks(ctxA, bad.req); violation(t, err) != bad.field {
			t.Fatalf("%v: %v, want %s named", bad.req.GetSuppliers(), err, bad.field)
		}
	}
}
