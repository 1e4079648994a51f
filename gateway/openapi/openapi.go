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
	up["post"] = uploadOperation()
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.Document: %w", err)
	}
	return b, nil
}

// The shapes below are the parts of Swagger 2.0 the upload operation uses.
// Their fields are in the order of their JSON names, which is the order
// encoding/json gives a map's keys: the document reads as the generated
// operations do.

// typeString is Swagger's name of the string type.
const typeString = "string"

type operation struct {
	Consumes    []string            `json:"consumes"`
	Description string              `json:"description"`
	OperationID string              `json:"operationId"`
	Parameters  []parameter         `json:"parameters"`
	Responses   map[string]response `json:"responses"`
	Summary     string              `json:"summary"`
	Tags        []string            `json:"tags"`
}

type parameter struct {
	Description string  `json:"description,omitempty"`
	In          string  `json:"in"`
	Name        string  `json:"name"`
	Required    bool    `json:"required"`
	Schema      *schema `json:"schema,omitempty"`
	Type        string  `json:"type,omitempty"`
}

type response struct {
	Description string  `json:"description"`
	Schema      *schema `json:"schema"`
}

type schema struct {
	Ref    string `json:"$ref,omitempty"`
	Format string `json:"format,omitempty"`
	Type   string `json:"type,omitempty"`
}

// uploadOperation is POST /v1/uploads, which the gateway serves itself.
func uploadOperation() operation {
	status := &schema{Ref: "#/definitions/rpcStatus"}
	return operation{
		Summary:     "Upload a spend CSV.",
		Description: "Streams the body (text/csv, or multipart/form-data with a \"file\" part) to IntakeService.UploadSpend. The file is stored before the answer; validation and calculation continue in the background (poll the returned upload). The same content, or the same Idempotency-Key with the same content, again returns the first upload; the same Idempotency-Key with other content is refused with 422.",
		OperationID: "IntakeService_UploadSpendREST",
		Tags:        []string{"IntakeService"},
		Consumes:    []string{"text/csv", "multipart/form-data"},
		Parameters: []parameter{
			{Name: "filename", In: "query", Type: typeString, Description: "The client's file name, kept for display."},
			{Name: "Idempotency-Key", In: "header", Type: typeString,
				Description: "A client-chosen key: a second upload with the same key and body returns the first upload; with another body, 422."},
			{Name: "body", In: "body", Required: true, Schema: &schema{Type: typeString, Format: "binary"}},
		},
		// 401 and 429 as proto/vcci/openapi.yaml gives every generated call.
		Responses: map[string]response{
			"202":     {Description: "Stored and queued.", Schema: &schema{Ref: "#/definitions/v1Upload"}},
			"400":     {Description: "The body is not a usable file, for example a multipart body without a \"file\" part.", Schema: status},
			"401":     {Description: "The x-api-key header is missing or not a valid key.", Schema: status},
			"413":     {Description: "Larger than the upload limit.", Schema: status},
			"422":     {Description: "The Idempotency-Key was used before for a different body (an ErrorInfo of reason IDEMPOTENCY_KEY_REUSED names the upload).", Schema: status},
			"429":     {Description: "The key's upload rate limit is spent; Retry-After says when to try again.", Schema: status},
			"default": {Description: "An unexpected error response.", Schema: status},
		},
	}
}
