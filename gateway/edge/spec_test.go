package edge

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// openAPIDoc is the part of the served document a partner's tools read.
type openAPIDoc struct {
	SecurityDefinitions map[string]struct {
		Type string `json:"type"`
		In   string `json:"in"`
		Name string `json:"name"`
	} `json:"securityDefinitions"`
	Security []map[string][]string                  `json:"security"`
	Paths    map[string]map[string]openAPIOperation `json:"paths"`
}

type openAPIOperation struct {
	OperationID string `json:"operationId"`
	Summary     string `json:"summary"`
	Responses   map[string]struct {
		Schema struct {
			Ref string `json:"$ref"`
		} `json:"schema"`
	} `json:"responses"`
}

func servedOpenAPI(t *testing.T, url string) openAPIDoc {
	t.Helper()
	resp, err := http.Get(url + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/openapi.json: HTTP %d", resp.StatusCode)
	}
	var doc openAPIDoc
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestOpenAPIDocumentIsUsable checks what issue 16 asked of the document a
// partner reads at /docs: the API key declared where Swagger UI's Authorize
// sends it, resources named as resources, and every operation with a
// summary and its client errors.
func TestOpenAPIDocumentIsUsable(t *testing.T) {
	ts, _, _ := setup(t)
	doc := servedOpenAPI(t, ts.URL)

	var keyScheme string
	for name, s := range doc.SecurityDefinitions {
		if s.Type == "apiKey" && s.In == "header" && s.Name == "x-api-key" {
			keyScheme = name
		}
	}
	if keyScheme == "" {
		t.Fatalf("no apiKey security definition for header x-api-key: %+v", doc.SecurityDefinitions)
	}
	if len(doc.Security) != 1 || doc.Security[0][keyScheme] == nil {
		t.Fatalf("security %v: want the %s scheme required globally", doc.Security, keyScheme)
	}

	for _, p := range []string{"/v1/campaigns/{campaign}", "/v1/uploads/{upload}", "/v1/suppliers/{supplier}",
		"/v1/transactions/{transaction}", "/v1/emissionResults/{emissionResult}",
		"/v1/uploads/{upload}:retry", "/v1/uploads/{upload}/errors"} {
		if doc.Paths[p] == nil {
			t.Errorf("no path %s", p)
		}
	}

	ids := map[string]string{}
	for path, ops := range doc.Paths {
		if strings.Contains(path, "{name") || strings.Contains(path, "{parent") {
			t.Errorf("path %s names a field, not the resource", path)
		}
		for method, op := range ops {
			where := strings.ToUpper(method) + " " + path
			if strings.TrimSpace(op.Summary) == "" {
				t.Errorf("%s: no summary", where)
			}
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", where)
			} else if other, dup := ids[op.OperationID]; dup {
				t.Errorf("%s: operationId %s is also %s's", where, op.OperationID, other)
			}
			ids[op.OperationID] = where
			var clientErrs []string
			for code, r := range op.Responses {
				if code >= "400" && code < "500" {
					clientErrs = append(clientErrs, code)
					if r.Schema.Ref != "#/definitions/rpcStatus" {
						t.Errorf("%s: %s answers %q, want the google.rpc.Status shape", where, code, r.Schema.Ref)
					}
				}
			}
			slices.Sort(clientErrs)
			// Every call is authenticated and rate limited.
			if !strings.Contains(strings.Join(clientErrs, " "), "401") || !strings.Contains(strings.Join(clientErrs, " "), "429") {
				t.Errorf("%s: 4xx answers %v, want 401 and 429 among them", where, clientErrs)
			}
		}
	}
	if len(ids) < 22 {
		t.Errorf("%d operations documented, want every REST call (22)", len(ids))
	}
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// TestOpenAPIPathsAreServed calls every documented operation at the URL the
// document gives, with an id in each parameter: the gateway must route each
// one (the fake backends answer or say Unimplemented; a 404 or 405 here is
// the mux not knowing the URL).
func TestOpenAPIPathsAreServed(t *testing.T) {
	ts, fake, _ := setup(t)
	doc := servedOpenAPI(t, ts.URL)
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "post" && path == "/v1/uploads" {
				continue // the streaming upload: TestUploadStreamsBody
			}
			url := ts.URL + pathParam.ReplaceAllString(path, "7")
			t.Run(strings.ToUpper(method)+" "+path, func(t *testing.T) {
				var body io.Reader
				if method == "post" {
					body = strings.NewReader("{}")
				}
				req, _ := http.NewRequest(strings.ToUpper(method), url, body)
				req.Header.Set("x-api-key", "vcci_partner")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
					t.Fatalf("%s %s: HTTP %d %s", req.Method, url, resp.StatusCode, b)
				}
			})
		}
	}

	// What Swagger UI sends after Authorize: the key in x-api-key, on the
	// documented URL, reaching the service with the resource name.
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/uploads/7", http.NoBody)
	req.Header.Set("x-api-key", "vcci_partner")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var up struct {
		Name string `json:"name"`
	}
	decodeJSON(t, resp, &up)
	fake.mu.Lock()
	key := fake.md.Get("x-api-key")
	fake.mu.Unlock()
	if resp.StatusCode != http.StatusOK || up.Name != "uploads/7" || len(key) != 1 || key[0] != "vcci_partner" {
		t.Fatalf("GET /v1/uploads/7: HTTP %d, name %q, x-api-key at the service %v", resp.StatusCode, up.Name, key)
	}
}

// TestDocsAuthorizationPersists checks Swagger UI is set to keep the key a
// user gives Authorize, and reads the served document.
func TestDocsAuthorizationPersists(t *testing.T) {
	ts, _, _ := setup(t)
	resp, err := http.Get(ts.URL + "/docs/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "persistAuthorization: true") || !strings.Contains(page, `"swaggerJsonUrl":"/openapi.json"`) {
		t.Fatalf("/docs/: HTTP %d %.300s", resp.StatusCode, page)
	}
}
