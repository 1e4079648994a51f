package edge

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"

	"github.com/vcci-dev/vcci/gateway/openapi"
)

// docs is Swagger UI at /docs/ over /openapi.json. The document declares
// the x-api-key header as its security scheme, so Authorize asks for the
// key and "Try it out" sends it; persistAuthorization keeps the key across
// reloads (in the browser's local storage, as Swagger UI does).
func docs() http.Handler {
	return v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "vcci API",
		SwaggerJSON: "/openapi.json",
		BasePath:    "/docs/",
		SettingsUI:  map[string]string{"persistAuthorization": "true"},
	})
}

// spec serves the OpenAPI document (openapi.Document) with an ETag.
type spec struct {
	body []byte
	etag string
}

func newSpec() (*spec, error) {
	body, err := openapi.Document()
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
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
