package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// TestWebAssets: the page, its script and its stylesheet, each with its content type and
// an ETag that a second request can revalidate; anything else is 404.
func TestWebAssets(t *testing.T) {
	h := Handler()
	for _, tc := range []struct{ path, typ, contains string }{
		{"/", "text/html; charset=utf-8", `<script src="app.js"`},
		{"/index.html", "text/html; charset=utf-8", `<link rel="stylesheet" href="style.css">`},
		{"/app.js", "text/javascript; charset=utf-8", "new EventSource('v1/stream')"},
		{"/style.css", "text/css; charset=utf-8", "@media (max-width: 720px)"},
	} {
		resp := get(t, h, tc.path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tc.typ {
			t.Errorf("GET %s: %s, Content-Type %q, want 200 and %q", tc.path, resp.Status, resp.Header.Get("Content-Type"), tc.typ)
		}
		if !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		etag := resp.Header.Get("ETag")
		if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: ETag %q, Cache-Control %q, X-Content-Type-Options %q", tc.path, etag,
				resp.Header.Get("Cache-Control"), resp.Header.Get("X-Content-Type-Options"))
		}
		if again := get(t, h, tc.path, "If-None-Match", etag); again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %s: %s, want 304", tc.path, etag, again.Status)
		}
	}
	if csp := get(t, h, "/").Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("GET /: Content-Security-Policy %q", csp)
	}
	for _, p := range []string{"/nope", "/static/app.js", "/v1/unknown", "/app.js/", "/../go.mod"} {
		if resp := get(t, h, p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", p, resp.Status)
		}
	}
}
