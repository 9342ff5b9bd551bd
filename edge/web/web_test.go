package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServesPageAndAssets(t *testing.T) {
	t.Parallel()
	h := Handler()
	tests := []struct {
		name, path, contentType, contains, cache string
	}{
		{"index at root", "/", "text/html; charset=utf-8", `<tbody id="rows"`, "no-cache"},
		{"index by name", "/index.html", "text/html; charset=utf-8", "<title>hooktunnel</title>", "no-cache"},
		{"script", "/app.js", "text/javascript; charset=utf-8", "MAX_ROWS", "public, max-age=300"},
		{"events script", "/events.js", "text/javascript; charset=utf-8", "EventSource", "public, max-age=300"},
		{"versioned script", "/app.js?v=0123abcd", "text/javascript; charset=utf-8", "api/v1/", "public, max-age=300"},
		{"detail script", "/detail.js", "text/javascript; charset=utf-8", "function renderDetail", "public, max-age=300"},
		{"format script", "/format.js", "text/javascript; charset=utf-8", "function h(", "public, max-age=300"},
		{"style", "/style.css", "text/css; charset=utf-8", "prefers-color-scheme", "public, max-age=300"},
		{"icon", "/favicon.svg", "image/svg+xml", "<svg", "public, max-age=300"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := get(t, h, http.MethodGet, tc.path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			checkSecurityHeaders(t, resp)
			if got := resp.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tc.contentType)
			}
			if got := resp.Header.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tc.cache)
			}
			if b := body(t, resp); !strings.Contains(b, tc.contains) {
				t.Errorf("body does not contain %q", tc.contains)
			}
		})
	}
}

func checkSecurityHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	t.Parallel()
	h := Handler()
	tests := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"unknown asset", http.MethodGet, "/nope.js", http.StatusNotFound, `"error":"not_found"`},
		{"directory listing", http.MethodGet, "/static/", http.StatusNotFound, `"error":"not_found"`},
		{"embedded path", http.MethodGet, "/static/app.js", http.StatusNotFound, `"error":"not_found"`},
		{"traversal", http.MethodGet, "/../web.go", http.StatusNotFound, `"error":"not_found"`},
		{"post", http.MethodPost, "/", http.StatusMethodNotAllowed, `"error":"method_not_allowed"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := get(t, h, tc.method, tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			checkSecurityHeaders(t, resp)
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			if b := body(t, resp); !strings.Contains(b, tc.code) {
				t.Errorf("body %q does not contain %s", b, tc.code)
			}
		})
	}
}

// The page links every asset with a version of its content, and the
// browser's conditional requests get a 304.
func TestVersionedAssetsAndRevalidation(t *testing.T) {
	t.Parallel()
	h := Handler()
	page := body(t, get(t, h, http.MethodGet, "/"))
	for _, name := range []string{"app.js", "curl.js", "detail.js", "events.js", "format.js", "style.css", "favicon.svg"} {
		m := regexp.MustCompile(`"` + regexp.QuoteMeta(name) + `\?v=([0-9a-f]{8})"`).FindStringSubmatch(page)
		if m == nil {
			t.Errorf("index.html does not link %s with a version", name)
			continue
		}
		resp := get(t, h, http.MethodGet, "/"+name)
		etag := resp.Header.Get("ETag")
		if !strings.HasPrefix(etag, `"`+m[1]) {
			t.Errorf("%s: ETag %s does not start with the version %s", name, etag, m[1])
		}
		if resp := get(t, h, http.MethodGet, "/"+name, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match: status %d, want 304", name, resp.StatusCode)
		}
	}
	if resp := get(t, h, http.MethodHead, "/"); resp.StatusCode != http.StatusOK || body(t, resp) != "" {
		t.Errorf("HEAD /: status %d with a body", resp.StatusCode)
	}
}

// The page must keep to its own CSP: no inline script or style, nothing
// from another origin, and no HTML built from strings.
func TestAssetsKeepToThePolicy(t *testing.T) {
	t.Parallel()
	h := Handler()
	page := body(t, get(t, h, http.MethodGet, "/"))
	for _, bad := range []string{"<style", " style=", "onclick=", "onload=", "http://", "https://", "<script>"} {
		if strings.Contains(page, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	for _, name := range []string{"/app.js", "/curl.js", "/detail.js", "/events.js", "/format.js"} {
		js := body(t, get(t, h, http.MethodGet, name))
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "http://", "https://"} {
			if strings.Contains(js, bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
	}
	css := body(t, get(t, h, http.MethodGet, "/style.css"))
	if strings.Contains(css, "@import") || strings.Contains(css, "url(") {
		t.Error("style.css loads something")
	}
}

func TestIsAsset(t *testing.T) {
	t.Parallel()
	h := Handler()
	for _, p := range []string{"/", "/index.html", "/app.js", "/detail.js", "/events.js", "/format.js", "/style.css", "/favicon.svg",
		"/api/v1/messages", "/healthz", "/nope.js", "/static/app.js", "", "app.js", "/../app.js", "/debug/pprof/"} {
		served := get(t, h, http.MethodGet, "/"+strings.TrimPrefix(p, "/")).StatusCode == http.StatusOK && strings.HasPrefix(p, "/")
		if got := IsAsset(p); got != served {
			t.Errorf("IsAsset(%q) = %v, but the handler serves it: %v", p, got, served)
		}
	}
}
