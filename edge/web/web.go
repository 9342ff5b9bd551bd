// Package web serves the single-page web UI of the admin listener and the
// agent's inspector: plain HTML, CSS and JavaScript embedded in the binary,
// with no build step and nothing loaded from elsewhere. The page talks only
// to the admin API (docs/api.md) through relative URLs, so the same handler
// works wherever that API is served next to it.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
)

//go:embed static
var static embed.FS

// Security headers sent with every response of the UI. The policy allows
// nothing but this origin: no inline script or style, no framing.
const (
	ContentSecurityPolicy = "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'"

	// assetMaxAge is how long a browser may reuse an asset without asking.
	// index.html links them with a ?v=<hash> of their content, so a new
	// binary's assets are fetched at once; index.html itself is always
	// revalidated.
	assetMaxAge = 5 * time.Minute
)

// contentTypes are the types of the files under static/, by extension.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// asset is one embedded file, ready to serve.
type asset struct {
	body         []byte
	contentType  string
	etag         string
	cacheControl string
}

// handler serves the assets by path.
type handler struct {
	assets map[string]*asset // "/" and "/app.js" …
}

// Handler returns the UI: index.html at "/" and its assets beside it. Any
// other path is a 404; methods other than GET and HEAD are a 405.
func Handler() http.Handler {
	h := &handler{assets: map[string]*asset{}}
	files, err := fs.Glob(static, "static/*")
	if err != nil {
		panic(err) // a constant pattern: cannot fail
	}
	var index []byte
	version := map[string]string{}
	for _, f := range files {
		body, err := static.ReadFile(f)
		if err != nil {
			panic(err) // embedded at build time: cannot fail
		}
		name := path.Base(f)
		if name == "index.html" {
			index = body
			continue
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			continue // not meant to be served
		}
		a := newAsset(body, ct, "public, max-age="+strconv.Itoa(int(assetMaxAge/time.Second)))
		version[name] = a.etag[1:9]
		h.assets["/"+name] = a
	}
	// Link each asset with a version, so a browser never mixes an old
	// script with a new page.
	for name, v := range version {
		index = bytes.ReplaceAll(index, []byte(`"`+name+`"`), []byte(`"`+name+"?v="+v+`"`))
	}
	page := newAsset(index, contentTypes[".html"], "no-cache")
	h.assets["/"] = page
	h.assets["/index.html"] = page
	return h
}

// IsAsset reports whether a GET of urlPath is answered with one of the
// UI's own files. They hold no data, so an admin listener that wants a
// token may serve them without one: the page asks for the token when the
// API answers 401 and sends it with every call.
func IsAsset(urlPath string) bool {
	if urlPath == "/" || urlPath == "/index.html" {
		return true
	}
	name, ok := strings.CutPrefix(urlPath, "/")
	if !ok || name == "" || strings.Contains(name, "/") || contentTypes[path.Ext(name)] == "" {
		return false
	}
	_, err := fs.Stat(static, "static/"+name)
	return err == nil
}

func newAsset(body []byte, contentType, cacheControl string) *asset {
	sum := sha256.Sum256(body)
	return &asset{body: body, contentType: contentType, cacheControl: cacheControl, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, outcome.CodeMethodNotAllow, "the web UI answers GET and HEAD only")
		return
	}
	a := h.assets[r.URL.Path]
	if a == nil {
		writeError(w, http.StatusNotFound, outcome.CodeNotFound, "no such page")
		return
	}
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", a.cacheControl)
	hdr.Set("ETag", a.etag)
	// ServeContent answers If-None-Match with 304, HEAD without a body,
	// and ranges; the zero modtime leaves Last-Modified out.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// writeError answers in the admin API's error shape.
func writeError(w http.ResponseWriter, status int, code outcome.Code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": string(code), "message": message})
}
