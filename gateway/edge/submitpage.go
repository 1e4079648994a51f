package edge

import (
	"embed"
	"net/http"
)

// The page a supplier's submission link opens (SubmissionLink.url): it
// reads the request and sends the figure through
// /v1/supplierRequests/{token}, from the browser, with no API key.
const (
	submitPageRoute   = "GET /submit/{token}"
	submitPagePrefix  = "/submit/"
	submitAssetsRoute = "GET /submit-assets/{file}"
)

//go:embed submitpage
var submitPage embed.FS

// asset is one of the page's files and its type.
type asset struct {
	body []byte
	typ  string
}

// submitAssets are the page's files, by name.
var submitAssets = func() map[string]asset {
	out := map[string]asset{}
	for name, typ := range map[string]string{"submit.js": "text/javascript; charset=utf-8", "submit.css": "text/css; charset=utf-8"} {
		b, err := submitPage.ReadFile("submitpage/" + name)
		if err != nil {
			panic(err) // embedded above
		}
		out[name] = asset{b, typ}
	}
	return out
}()

// serveSubmitPage serves the page whatever the token: the page reads it
// from its own address, and the API decides. Nothing on the page is
// fetched from elsewhere, and its address (a credential) is sent to no
// one as a Referer.
func serveSubmitPage(w http.ResponseWriter, _ *http.Request) {
	body, err := submitPage.ReadFile("submitpage/index.html")
	if err != nil {
		http.Error(w, "page missing", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "+
		"form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
	w.Write(body)
}

func serveSubmitAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := submitAssets[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.typ)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(a.body)
}
