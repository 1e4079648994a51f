// Package openapi holds the OpenAPI document the gateway serves: the one
// `make generate` writes from the contracts (proto/vcci/http_rules.yaml for
// the paths, proto/vcci/openapi.yaml for security, errors and tags), and the
// one operation the generator cannot see.
package openapi

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
)

// Merged is vcci.swagger.json, as generated.
//
//go:embed vcci.swagger.json
var Merged []byte

// Document is the document to serve: Merged with the streaming upload,
// which the gateway serves itself (gateway/edge/upload.go) rather than
// through an HTTP rule, and so which the generator does not know.
func Document() ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(Merged, &doc); err != nil {
		return nil, fmt.Errorf("openapi.Document: %w", err)
	}
	paths, _ := doc["paths"].(map[string]any)
	if paths == nil {
		return nil, errors.New("openapi.Document: no paths in vcci.swagger.json")
	}
	up, _ := paths["/v1/uploads"].(map[string]any)
	if up == nil {
		up = map[string]any{}
		paths["/v1/uploads"] = up
	}
	status := map[string]any{"$ref": "#/definitions/rpcStatus"}
	up["post"] = map[string]any{
		"summary":     "Upload a spend CSV.",
		"description": "Streams the body (text/csv, or multipart/form-data with a \"file\" part) to IntakeService.UploadSpend. The file is stored before the answer; validation and calculation continue in the background (poll the returned upload). The same content, or the same Idempotency-Key with the same content, again returns the first upload; the same Idempotency-Key with other content is refused with 422.",
		"operationId": "IntakeService_UploadSpendREST",
		"tags":        []any{"IntakeService"},
		"consumes":    []any{"text/csv", "multipart/form-data"},
		"parameters": []any{
			map[string]any{"name": "filename", "in": "query", "type": "string", "required": false,
				"description": "The client's file name, kept for display."},
			map[string]any{"name": "Idempotency-Key", "in": "header", "type": "string", "required": false,
				"description": "A client-chosen key: a second upload with the same key and body returns the first upload; with another body, 422."},
			map[string]any{"name": "body", "in": "body", "required": true, "schema": map[string]any{"type": "string", "format": "binary"}},
		},
		// 401 and 429 as proto/vcci/openapi.yaml gives every generated call.
		"responses": map[string]any{
			"202":     map[string]any{"description": "Stored and queued.", "schema": map[string]any{"$ref": "#/definitions/v1Upload"}},
			"400":     map[string]any{"description": "The body is not a usable file, for example a multipart body without a \"file\" part.", "schema": status},
			"401":     map[string]any{"description": "The x-api-key header is missing or not a valid key.", "schema": status},
			"413":     map[string]any{"description": "Larger than the upload limit.", "schema": status},
			"422":     map[string]any{"description": "The Idempotency-Key was used before for a different body (an ErrorInfo of reason IDEMPOTENCY_KEY_REUSED names the upload).", "schema": status},
			"429":     map[string]any{"description": "The key's upload rate limit is spent; Retry-After says when to try again.", "schema": status},
			"default": map[string]any{"description": "An unexpected error response.", "schema": status},
		},
	}
	return json.Marshal(doc)
}
