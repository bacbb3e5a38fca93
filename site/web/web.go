package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"time"
)

//go:embed static
var static embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	name string
	body []byte
	typ  string
	etag string
}

// types are the content types of the assets, fixed here rather than taken from the
// system's MIME database (which may name .js application/javascript, or lack .css).
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// csp allows the page's own script, stylesheet and API, and nothing else: no inline
// script, no other origin, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the dashboard: index.html at /, and app.js and style.css beside it.
// Any other path is 404. It is meant to be mounted as the HTTP server's catch-all
// ("GET /"), after the API's routes.
func Handler() http.Handler {
	assets := map[string]*asset{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := path.Base(p)
		assets["/"+name] = &asset{name: name, body: b, typ: types[path.Ext(name)], etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil || assets["/index.html"] == nil {
		panic("web: embedded assets unreadable: " + errString(err)) // the build embedded them
	}
	assets["/"] = assets["/index.html"]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := assets[r.URL.Path]
		if a == nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.typ)
		h.Set("ETag", a.etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		if a.name == "index.html" {
			h.Set("Content-Security-Policy", csp)
			h.Set("Referrer-Policy", "no-referrer")
		}
		// ServeContent answers If-None-Match with 304, and HEAD and ranges.
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
	})
}

func errString(err error) string {
	if err == nil {
		return "no index.html"
	}
	return err.Error()
}
