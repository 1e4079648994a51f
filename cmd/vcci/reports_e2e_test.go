package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vcci-dev/vcci/pkg/testsupport"
)

type report struct {
	Name, State, Error, FileName, ContentType, Sha256, SizeBytes string
}

// A report through the gateway and the real reporting service: created,
// built by its job, downloaded with a key (ETag, If-None-Match, Range)
// and through a link with none; another tenant reaches none of it.
func TestReportThroughREST(t *testing.T) {
	p := start(t, nil)
	var r report
	body := `{"kind":"REPORT_KIND_GHG_INVENTORY","format":"REPORT_FORMAT_JSON","periodStart":"2025-01-01","periodEnd":"2025-12-31"}`
	if code := p.call(t, "POST", "/v1/reports", p.key, strings.NewReader(body), &r, "Content-Type", "application/json"); code != http.StatusOK ||
		r.State != "REPORT_STATE_QUEUED" {
		t.Fatalf("CreateReport: %d %+v", code, r)
	}
	deadline := time.Now().Add(60 * time.Second)
	for r.State != "REPORT_STATE_SUCCEEDED" {
		if r.State == "REPORT_STATE_FAILED" || time.Now().After(deadline) {
			t.Fatalf("report not built: %+v", r)
		}
		time.Sleep(50 * time.Millisecond)
		p.call(t, "GET", "/v1/"+r.Name, p.key, nil, &r)
	}
	get := func(path, key string, hdr ...string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", p.base+path, nil)
		if key != "" {
			req.Header.Set("x-api-key", key)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, file := get("/v1/"+r.Name+"/file", p.key)
	sum := sha256.Sum256(file)
	if resp.StatusCode != http.StatusOK || hex.EncodeToString(sum[:]) != r.Sha256 || resp.Header.Get("ETag") != `"`+r.Sha256+`"` ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="`+r.FileName+`"` || !bytes.Contains(file, []byte(`"periodStart":"2025-01-01"`)) {
		t.Fatalf("download: %d %s %v, want the file of %+v", resp.StatusCode, file, resp.Header, r)
	}
	if resp, _ := get("/v1/"+r.Name+"/file", p.key, "If-None-Match", `"`+r.Sha256+`"`); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	if resp, b := get("/v1/"+r.Name+"/file", p.key, "Range", "bytes=2-9"); resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, file[2:10]) {
		t.Fatalf("Range: %d %q, want 206 %q", resp.StatusCode, b, file[2:10])
	}

	var link struct{ URL string }
	if code := p.call(t, "POST", "/v1/"+r.Name+":createLink", p.key, nil, &link); code != http.StatusOK || !strings.HasPrefix(link.URL, "/v1/reportFiles/") {
		t.Fatalf("CreateReportLink: %d %+v", code, link)
	}
	if resp, b := get(link.URL, ""); resp.StatusCode != http.StatusOK || !bytes.Equal(b, file) {
		t.Fatalf("link without a key: %d %s", resp.StatusCode, b)
	}
	// Altered: another report's id under the same signature.
	tok := strings.TrimPrefix(link.URL, "/v1/reportFiles/")
	tampered := "AAAA" + tok[4:]
	if resp, _ := get("/v1/reportFiles/"+tampered, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("altered link: %d, want 401", resp.StatusCode)
	}

	other := testsupport.Key(t, p.pool, "globex")
	if resp, _ := get("/v1/"+r.Name+"/file", other); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another tenant's download: %d, want 404", resp.StatusCode)
	}
}
