package edge

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/vcci-dev/vcci/gateway/openapi"
)

// spec serves the merged OpenAPI document, completed with what the
// generator cannot know: the streaming upload endpoint and the API key.
type spec struct {
	body []byte
	etag string
}

func newSpec() (*spec, error) {
	var doc map[string]any
	if err := json.Unmarshal(openapi.Merged, &doc); err != nil {
		return nil, fmt.Errorf("edge: openapi: %w", err)
	}
	doc["info"] = map[string]any{"title": "vcci API", "version": "v1",
		"description": "Scope 3 carbon intelligence: uploads, emissions, hotspots, engagement, reporting. Authenticate with the x-api-key header."}
	doc["securityDefinitions"] = map[string]any{"ApiKey": map[string]any{"type": "apiKey", "in": "header", "name": "x-api-key"}}
	doc["security"] = []any{map[string]any{"ApiKey": []any{}}}
	paths, _ := doc["paths"].(map[string]any)
	up, _ := paths["/v1/uploads"].(map[string]any)
	if up == nil {
		up = map[string]any{}
		paths["/v1/uploads"] = up
	}
	up["post"] = map[string]any{
		"summary":     "Upload a spend CSV",
		"description": "Streams the body (text/csv, or multipart/form-data with a \"file\" part) to IntakeService.UploadSpend. The file is stored before the answer; validation and calculation continue in the background (poll the returned upload).",
		"operationId": "IntakeService_UploadSpendREST",
		"tags":        []any{"IntakeService"},
		"consumes":    []any{"text/csv", "multipart/form-data"},
		"parameters": []any{
			map[string]any{"name": "filename", "in": "query", "type": "string", "required": false},
			map[string]any{"name": "Idempotency-Key", "in": "header", "type": "string", "required": false},
			map[string]any{"name": "body", "in": "body", "required": true, "schema": map[string]any{"type": "string", "format": "binary"}},
		},
		"responses": map[string]any{
			"202":     map[string]any{"description": "Stored and queued", "schema": map[string]any{"$ref": "#/definitions/v1Upload"}},
			"400":     map[string]any{"description": "Not a CSV file", "schema": map[string]any{"$ref": "#/definitions/rpcStatus"}},
			"413":     map[string]any{"description": "Larger than the upload limit", "schema": map[string]any{"$ref": "#/definitions/rpcStatus"}},
			"default": map[string]any{"description": "An error", "schema": map[string]any{"$ref": "#/definitions/rpcStatus"}},
		},
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	return &spec{body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}, nil
}

func (s *spec) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("ETag", s.etag)
	w.Header().Set("Cache-Control", "public, max-age=300")
	// gzhttp suffixes the tag of the compressed document, so the tag a
	// client holds may carry the suffix.
	if held, ok := notModified(r.Header.Values("If-None-Match"), s.etag); ok {
		w.Header().Set("ETag", held)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.body)
}
