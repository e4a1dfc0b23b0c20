// Package dashboard serves the glam_usage extension's usage dashboard: one
// page, its script and its styles, built from web/dashboard (uPlot and the
// page's own code, bundled by esbuild; `make generate`) and embedded, so
// that the page works offline and needs no CDN.
package dashboard // import "github.com/mozilla/otelcol-glam/extension/glamusageextension/internal/dashboard"

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Path is where the page lives; its files are under Path + "/".
const Path = "/dashboard"

//go:embed assets
var assets embed.FS

// contentSecurityPolicy lets the page run only its own script and styles
// and talk only to its own origin: the bearer token it keeps for the API
// calls (sessionStorage) is out of reach of anything injected, and cannot
// be sent elsewhere.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

type file struct {
	body        []byte
	contentType string
	etag        string
}

// files maps each URL path under Path to its file; index.html is Path + "/".
var files = func() map[string]file {
	out := map[string]file{}
	types := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	err := fs.WalkDir(assets, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		rel := strings.TrimPrefix(name, "assets/")
		if rel == "index.html" {
			rel = ""
		}
		out[Path+"/"+rel] = file{body: body, contentType: types[path.Ext(name)], etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return out
}()

// Outside serves the page's own files, exactly these paths and only for
// GET and HEAD, and passes every other request to next. The extension puts
// it in front of the authenticator: the files hold no usage data (they are
// the same for everyone, and public in the repository), and a browser
// opening a URL cannot send a bearer token, so the page must load before
// it can ask for one; every request the page makes for data goes to next.
func Outside(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		if r.URL.Path == Path {
			// Relative, so that the page's relative URLs resolve under a
			// proxy that serves the API below a prefix of its own; the
			// query string (the page's range) goes along.
			loc := path.Base(Path) + "/"
			if r.URL.RawQuery != "" {
				loc += "?" + r.URL.RawQuery
			}
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		f, ok := files[r.URL.Path]
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.contentType)
		h.Set("ETag", f.etag)
		// Revalidated on every load (a 304 by ETag), so that a new
		// collector's page is never mixed with an old one's script.
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
	})
}
