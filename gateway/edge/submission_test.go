package edge

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vcci-dev/vcci/pkg/apperr"
	engagementv1 "github.com/vcci-dev/vcci/pkg/gen/vcci/engagement/v1"
	"github.com/vcci-dev/vcci/pkg/signedlink"
)

// fakeEngagement answers a submission link by the token it receives.
type fakeEngagement struct {
	engagementv1.UnimplementedEngagementServiceServer
	tokens chan string // the token each call resolved to
}

func (f *fakeEngagement) answer(ctx context.Context, tok string) error {
	tok = signedlink.Token(ctx, tok)
	f.tokens <- tok
	switch tok {
	case "good.mac":
		return nil
	case "expired.mac":
		st, _ := status.New(codes.FailedPrecondition, "the submission link has expired: ask for a new one").
			WithDetails(&errdetails.ErrorInfo{Domain: apperr.Domain, Reason: apperr.ReasonSubmissionLinkExpired})
		return st.Err()
	}
	return status.Error(codes.Unauthenticated, "the submission link is not valid: ask for a new one")
}

func (f *fakeEngagement) GetSupplierRequest(ctx context.Context, req *engagementv1.GetSupplierRequestRequest) (*engagementv1.SupplierRequest, error) {
	if err := f.answer(ctx, req.GetToken()); err != nil {
		return nil, err
	}
	return &engagementv1.SupplierRequest{CampaignDisplayName: "Top 10", Supplier: "suppliers/S1"}, nil
}

func (f *fakeEngagement) SubmitSupplierData(ctx context.Context, req *engagementv1.SubmitSupplierDataRequest) (*engagementv1.Submission, error) {
	if err := f.answer(ctx, req.GetToken()); err != nil {
		return nil, err
	}
	return &engagementv1.Submission{Name: "campaigns/1/submissions/2", ContactName: req.GetContactName()}, nil
}

// A submission link's token reaches engagement whole, and nothing the
// gateway records holds it; an expired link is 410.
func TestSubmissionLinks(t *testing.T) {
	fake := &fakeEngagement{tokens: make(chan string, 10)}
	ts, spans, logs := tracedGateway(t, func(srv *grpc.Server) { engagementv1.RegisterEngagementServiceServer(srv, fake) })

	resp, body := call(t, "GET", ts.URL+"/v1/supplierRequests/good.mac", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"campaignDisplayName":"Top 10"`) ||
		resp.Header.Get("Cache-Control") != "no-store" || <-fake.tokens != "good.mac" {
		t.Fatalf("request: %d %s %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = call(t, "POST", ts.URL+"/v1/supplierRequests/good.mac:submit", strings.NewReader(`{"contactName":"Ann"}`),
		"Content-Type", "application/json")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"contactName":"Ann"`) || <-fake.tokens != "good.mac" {
		t.Fatalf("submit: %d %s", resp.StatusCode, body)
	}
	for path, want := range map[string]int{
		"/v1/supplierRequests/expired.mac":        http.StatusGone,
		"/v1/supplierRequests/forged.mac":         http.StatusUnauthorized,
		"/v1/supplierRequests/expired.mac:submit": http.StatusGone,
	} {
		method := "GET"
		if strings.HasSuffix(path, ":submit") {
			method = "POST"
		}
		resp, body := call(t, method, ts.URL+path, strings.NewReader(`{}`), "Content-Type", "application/json")
		if resp.StatusCode != want {
			t.Errorf("%s %s: %d %s, want %d", method, path, resp.StatusCode, body, want)
		}
		<-fake.tokens
	}
	// What cannot be a token stays in the path, refused by the gateway or
	// by engagement; never a 5xx.
	for _, path := range []string{"/v1/supplierRequests/%00", "/v1/supplierRequests/%FF:submit", "/v1/supplierRequests/a%20b:submit"} {
		resp, body := call(t, "POST", ts.URL+path, strings.NewReader(`{}`), "Content-Type", "application/json")
		if strings.HasSuffix(path, "%00") {
			resp, body = call(t, "GET", ts.URL+path, nil)
		}
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
		select {
		case <-fake.tokens:
		default:
		}
	}
	// A token sent as metadata by the client does not replace the path's.
	resp, _ = call(t, "GET", ts.URL+"/v1/supplierRequests/forged.mac", nil, "Grpc-Metadata-"+signedlink.Header, "good.mac")
	if got := <-fake.tokens; resp.StatusCode != http.StatusUnauthorized || got == "good.mac" {
		t.Fatalf("metadata token: %d, engagement read %q", resp.StatusCode, got)
	}
	// The page a person opens: the form, with no token in it, no Referer
	// leaving it, and its script from here.
	resp, body = call(t, "GET", ts.URL+"/submit/good.mac", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("Cache-Control") != "no-store" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") ||
		!strings.Contains(string(body), `<form id="form"`) || strings.Contains(string(body), "good.mac") {
		t.Fatalf("page: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, body = call(t, "GET", ts.URL+"/submit-assets/submit.js", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" ||
		!strings.Contains(string(body), `"/v1/supplierRequests/"`) {
		t.Fatalf("script: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ = call(t, "GET", ts.URL+"/submit-assets/index.html", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the page as an asset: %d", resp.StatusCode)
	}
	for _, sp := range spans.Ended() {
		for _, a := range sp.Attributes() {
			if v := a.Value.String(); strings.Contains(v, ".mac") {
				t.Errorf("span %q attribute %s = %q holds a link token", sp.Name(), a.Key, v)
			}
		}
	}
	if strings.Contains(logs.String(), ".mac") || !strings.Contains(logs.String(), "/v1/supplierRequests/{id}:submit") ||
		!strings.Contains(logs.String(), "/submit/{id}") {
		t.Errorf("logs name a link token, or not the route:\n%s", logs.String())
	}
}
