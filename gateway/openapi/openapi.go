// Package openapi holds the merged OpenAPI document generated from the
// contracts by `make generate`.
package openapi

import _ "embed"

// Merged is vcci.swagger.json.
//
//go:embed vcci.swagger.json
var Merged []byte
