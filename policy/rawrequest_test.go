package policy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseRawRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		raw       string
		publicURL string
		// on success
		wantMethod, wantURL, wantBody string
		wantHeader                    map[string]string
		// on failure: the error wraps wantErr and its message holds wantMsg
		wantErr error
		wantMsg string
	}{
		{
			name:       "CRLF with Content-Length",
			raw:        "POST /hooks/github?x=1 HTTP/1.1\r\nHost: demo.hooks.example.com\r\nX-Hub-Signature-256: sha256=00\r\nContent-Length: 5\r\n\r\nhello",
			wantMethod: "POST", wantURL: "https://demo.hooks.example.com/hooks/github?x=1", wantBody: "hello",
			wantHeader: map[string]string{"X-Hub-Signature-256": "sha256=00", "Content-Length": "5"},
		},
		{
			name:       "bare LF line endings",
			raw:        "POST /a HTTP/1.1\nHost: h.example\nX-Test: v\nContent-Length: 3\n\nabc",
			wantMethod: "POST", wantURL: "https://h.example/a", wantBody: "abc",
			wantHeader: map[string]string{"X-Test": "v"},
		},
		{
			name:       "body with its own line breaks is kept byte for byte",
			raw:        "POST /a HTTP/1.1\r\nHost: h.example\r\nContent-Length: 7\r\n\r\na\r\nb\nc\r",
			wantMethod: "POST", wantURL: "https://h.example/a", wantBody: "a\r\nb\nc\r",
		},
		{
			name:       "chunked body decoded",
			raw:        "POST /a HTTP/1.1\r\nHost: h.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n",
			wantMethod: "POST", wantURL: "https://h.example/a", wantBody: "abcde",
		},
		{
			name:       "no body",
			raw:        "GET /health HTTP/1.1\r\nHost: h.example\r\n\r\n",
			wantMethod: "GET", wantURL: "https://h.example/health", wantBody: "",
		},
		{
			name:       "escaped path kept as sent, empty query dropped as the edge does",
			raw:        "POST /a%2Fb/c? HTTP/1.1\r\nHost: h.example:8443\r\nContent-Length: 0\r\n\r\n",
			wantMethod: "POST", wantURL: "https://h.example:8443/a%2Fb/c",
		},
		{
			name:       "public URL replaces host, scheme, path and query",
			raw:        "POST /local?a=1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Length: 2\r\n\r\nok",
			publicURL:  "https://mycompany.com/myapp.php?foo=1&bar=2",
			wantMethod: "POST", wantURL: "https://mycompany.com/myapp.php?foo=1&bar=2", wantBody: "ok",
		},
		{
			name:       "public URL without a path gets /",
			raw:        "POST / HTTP/1.1\r\n\r\n",
			publicURL:  "http://h.example",
			wantMethod: "POST", wantURL: "http://h.example/",
		},
		{
			name:       "absolute-form target gives scheme and host",
			raw:        "POST http://proxy.example/p?q HTTP/1.1\r\nHost: ignored.example\r\nContent-Length: 0\r\n\r\n",
			wantMethod: "POST", wantURL: "http://proxy.example/p?q",
		},
		{name: "empty input", raw: "", wantErr: ErrMalformedRequest, wantMsg: "empty"},
		{name: "head not finished", raw: "POST /a HTTP/1.1\r\nHost: h\r\n", wantErr: ErrMalformedRequest, wantMsg: "blank line"},
		{name: "not HTTP", raw: "{\"hello\":\"world\"}\n\n", wantErr: ErrMalformedRequest, wantMsg: "not an HTTP/1.x request"},
		{name: "bad version", raw: "POST /a HTTP/9\r\nHost: h\r\n\r\n", wantErr: ErrMalformedRequest, wantMsg: "not an HTTP/1.x request"},
		{
			name: "body shorter than Content-Length", raw: "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc",
			wantErr: ErrMalformedRequest, wantMsg: "3 bytes, shorter than its Content-Length of 10",
		},
		{
			name: "final newline after the body", raw: "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc\n",
			wantErr: ErrMalformedRequest, wantMsg: "1 bytes follow the body of Content-Length 3",
		},
		{
			name:    "final newline after a body larger than the read buffer",
			raw:     "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 200000\r\n\r\n" + strings.Repeat("x", 200000) + "\n",
			wantErr: ErrMalformedRequest, wantMsg: "1 bytes follow the body of Content-Length 200000",
		},
		{
			name: "body without Content-Length", raw: "POST /a HTTP/1.1\r\nHost: h\r\n\r\nabc",
			wantErr: ErrMalformedRequest, wantMsg: "no Content-Length",
		},
		{
			name: "two pipelined requests", raw: "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\n\r\n",
			wantErr: ErrMalformedRequest, wantMsg: "follow the body",
		},
		{
			name: "bytes after the last chunk", raw: "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\nxyz",
			wantErr: ErrMalformedRequest, wantMsg: "follow the last chunk",
		},
		{
			name: "chunk framing with bare LF", raw: "POST /a HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n",
			wantErr: ErrMalformedRequest, wantMsg: "chunked body is not well formed",
		},
		{
			name: "conflicting Content-Lengths", raw: "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\na",
			wantErr: ErrMalformedRequest, wantMsg: "Content-Length",
		},
		{name: "no Host and no public URL", raw: "POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n", wantErr: ErrMalformedRequest, wantMsg: "no Host header"},
		{name: "authority-form target", raw: "CONNECT h.example:443 HTTP/1.1\r\nHost: h.example:443\r\n\r\n", wantErr: ErrMalformedRequest, wantMsg: "is not a path"},
		{name: "absolute-form with another scheme", raw: "POST ftp://h/p HTTP/1.1\r\nHost: h\r\n\r\n", wantErr: ErrMalformedRequest, wantMsg: "not an http or https URL"},
		{name: "relative public URL", raw: "POST /a HTTP/1.1\r\nHost: h\r\n\r\n", publicURL: "/a", wantMsg: "not an absolute http(s) URL"},
		{name: "public URL of another scheme", raw: "POST /a HTTP/1.1\r\nHost: h\r\n\r\n", publicURL: "ftp://h/a", wantMsg: "not an absolute http(s) URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := ParseRawRequest([]byte(tc.raw), tc.publicURL)
			if tc.wantMsg != "" {
				if err == nil {
					t.Fatalf("ParseRawRequest = %s %s with %d body bytes, want an error", r.Method, r.URL, len(r.Body))
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Errorf("error %v does not wrap %v", err, tc.wantErr)
				}
				if tc.wantErr == nil && errors.Is(err, ErrMalformedRequest) {
					t.Errorf("error %v is about the public URL, not the request", err)
				}
				if !strings.Contains(err.Error(), tc.wantMsg) {
					t.Errorf("error %q does not say %q", err, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRawRequest: %v", err)
			}
			if r.Method != tc.wantMethod || r.URL.String() != tc.wantURL || string(r.Body) != tc.wantBody {
				t.Errorf("got %s %s body %q, want %s %s body %q", r.Method, r.URL, r.Body, tc.wantMethod, tc.wantURL, tc.wantBody)
			}
			for k, v := range tc.wantHeader {
				if got := r.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if r.RemoteAddr.IsValid() {
				t.Errorf("RemoteAddr = %v, want none (a capture does not say)", r.RemoteAddr)
			}
		})
	}
}

// TestParseRawRequestVerifies checks that a parsed capture goes through the
// policy as the edge's own request would: the GitHub documentation's
// example is allowed, and the same bytes with one changed body byte are not.
func TestParseRawRequestVerifies(t *testing.T) {
	t.Parallel()
	const capture = "POST /github HTTP/1.1\r\n" +
		"Host: hooks.example.com\r\n" +
		"X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958\r\n" +
		"X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17\r\n" +
		"Content-Length: 13\r\n" +
		"\r\n" +
		"Hello, World!"
	secretFile := filepath.Join(t.TempDir(), "gh-secret")
	if err := os.WriteFile(secretFile, []byte("It's a Secret to Everybody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Config{Routes: []RouteConfig{{
		Path: "/", Methods: []string{"*"},
		Verify: &VerifyConfig{Provider: "github", Secrets: []string{"file:" + secretFile}},
	}}}.CompileEnv(Env{Replay: NewMemoryReplayCache(8), Scope: "test"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1735689600, 0)
	check := func(raw string) Decision {
		t.Helper()
		r, err := ParseRawRequest([]byte(raw), "")
		if err != nil {
			t.Fatal(err)
		}
		d := p.Admit(r, now)
		p.Verify(&d, r, now)
		p.Abandon(d) // each check leaves the replay cache as it found it
		return d
	}
	d := check(capture)
	if d.Err != nil || d.SecretRef != "file:"+secretFile || d.Verified.DeliveryID != "72d3162e-cc78-11e3-81ab-4c9367dc0958" {
		t.Fatalf("documented example: err %v, secret %q, delivery %q", d.Err, d.SecretRef, d.Verified.DeliveryID)
	}
	if d := check(strings.Replace(capture, "Hello", "Jello", 1)); !errors.Is(d.Err, ErrBadSignature) {
		t.Fatalf("tampered body: err %v, want ErrBadSignature", d.Err)
	}
	lf := strings.ReplaceAll(capture, "\r\n", "\n")
	if d := check(lf); d.Err != nil {
		t.Fatalf("bare LF capture: %v", d.Err)
	}
}

// FuzzParseRawRequest feeds captures; the seeds are in
// testdata/fuzz/FuzzParseRawRequest.
func FuzzParseRawRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, publicURL string) {
		r, err := ParseRawRequest(data, publicURL)
		if err != nil {
			_, urlErr := ParsePublicURL(publicURL)
			if (publicURL == "" || urlErr == nil) && !errors.Is(err, ErrMalformedRequest) {
				t.Fatalf("error %v does not wrap ErrMalformedRequest", err)
			}
			return
		}
		if publicURL != "" {
			if _, err := ParsePublicURL(publicURL); err != nil {
				t.Fatalf("accepted the public URL %q that ParsePublicURL refuses: %v", publicURL, err)
			}
		}
		if r.Method == "" || r.Header == nil || r.URL == nil || r.URL.Host == "" || r.URL.Path == "" {
			t.Fatalf("incomplete request %+v", r)
		}
		if r.URL.Scheme != "https" && r.URL.Scheme != "http" {
			t.Fatalf("URL scheme %q", r.URL.Scheme)
		}
		if len(r.Body) > len(data) {
			t.Fatalf("body of %d bytes from %d bytes of input", len(r.Body), len(data))
		}
		// Nothing may follow the body: unless chunked, the input ends with it.
		if !bytes.Contains(bytes.ToLower(data), []byte("chunked")) && !bytes.HasSuffix(data, r.Body) {
			t.Fatalf("body %q is not the end of the input", r.Body)
		}
	})
}
