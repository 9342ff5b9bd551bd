package relay

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// wireRequest builds a request as the edge hands it to the relay.
func wireRequest(method, host, path, query string, header http.Header, body []byte, declared int64) *http.Request {
	req := &http.Request{Method: method, Host: host, URL: &url.URL{Scheme: "http", Host: "tunnel", Path: path, RawQuery: query},
		Header: header, ContentLength: declared}
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	return req
}

// bothWays writes req with writeWire and a copy with http.Request.Write.
func bothWays(t *testing.T, mk func() *http.Request) (fast, std string, wrote bool, fastErr, stdErr error) {
	t.Helper()
	var a, b bytes.Buffer
	bw := bufio.NewWriterSize(&a, smallRequest)
	wrote, fastErr = writeWire(bw, mk())
	bw.Flush()
	stdErr = mk().Write(&b)
	return a.String(), b.String(), wrote, fastErr, stdErr
}

func TestWriteWireWritesAWebhookAsRequestWriteDoes(t *testing.T) {
	body := bytes.Repeat([]byte(`{"zen":"Keep it logically awesome."}`), 30)
	header := http.Header{
		"Content-Type":      {"application/json"},
		"User-Agent":        {"GitHub-Hookshot/044aadd"},
		"X-Github-Delivery": {"72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		"X-Github-Event":    {"push"},
		"X-Forwarded-For":   {"192.30.252.1"},
		"X-Forwarded-Host":  {"hooks.example.com"},
		"X-Forwarded-Proto": {"https"},
		"Accept":            {"*/*", "text/plain"},
		"Hooktunnel-Tunnel": {"gh"},
	}
	for _, tc := range []struct {
		name string
		mk   func() *http.Request
	}{
		{"a webhook", func() *http.Request {
			return wireRequest("POST", "hooks.example.com", "/hook", "a=1&b=%20", header.Clone(), body, int64(len(body)))
		}},
		{"an empty POST", func() *http.Request {
			return wireRequest("POST", "hooks.example.com:8443", "/", "", header.Clone(), nil, 0)
		}},
		{"a GET", func() *http.Request { return wireRequest("GET", "[::1]:80", "/health", "", http.Header{}, nil, 0) }},
		{"a sender without a User-Agent", func() *http.Request {
			return wireRequest("DELETE", "h", "/x", "", http.Header{"User-Agent": {""}}, nil, 0)
		}},
		{"no User-Agent at all", func() *http.Request { return wireRequest("PUT", "h", "/a%2Fb", "", http.Header{}, []byte("x"), 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fast, std, wrote, fastErr, stdErr := bothWays(t, tc.mk)
			if !wrote {
				t.Fatal("writeWire declined a request it is there for")
			}
			if fastErr != nil || stdErr != nil {
				t.Fatalf("errors: writeWire %v, Request.Write %v", fastErr, stdErr)
			}
			if fast != std {
				t.Fatalf("writeWire wrote\n%q\nRequest.Write wrote\n%q", fast, std)
			}
		})
	}
}

// What writeWire cannot tell it writes the same, it leaves to
// http.Request.Write, having written nothing.
func TestWriteWireDeclines(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  *http.Request
	}{
		{"unknown length", wireRequest("POST", "h", "/", "", http.Header{}, []byte("x"), -1)},
		{"a body declared empty", wireRequest("POST", "h", "/", "", http.Header{}, []byte("x"), 0)},
		{"an IDN host", wireRequest("POST", "bücher.example", "/", "", http.Header{}, nil, 0)},
		{"a zone", wireRequest("POST", "[fe80::1%25eth0]", "/", "", http.Header{}, nil, 0)},
		{"a lower-case method", wireRequest("post", "h", "/", "", http.Header{}, nil, 0)},
		{"CONNECT", wireRequest("CONNECT", "h", "/", "", http.Header{}, nil, 0)},
		{"a line break in a value", wireRequest("POST", "h", "/", "", http.Header{"X": {"a\r\nInjected: 1"}}, nil, 0)},
		{"a control byte in the target", wireRequest("POST", "h", "/", "a=\x01", http.Header{}, nil, 0)},
		{"trailers", func() *http.Request {
			r := wireRequest("POST", "h", "/", "", http.Header{}, []byte("x"), 1)
			r.Trailer = http.Header{"X": nil}
			return r
		}()},
		{"close", func() *http.Request {
			r := wireRequest("POST", "h", "/", "", http.Header{}, nil, 0)
			r.Close = true
			return r
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			bw := bufio.NewWriter(&out)
			wrote, err := writeWire(bw, tc.req)
			bw.Flush()
			if wrote || err != nil || out.Len() > 0 {
				t.Fatalf("wrote %v, %d bytes, err %v; want it declined", wrote, out.Len(), err)
			}
		})
	}
}

func TestWriteWireBodyNotAsDeclared(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     string
		declared int64
	}{
		{"shorter", "abc", 5},
		{"longer", "abcdefgh", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mk := func() *http.Request {
				return wireRequest("POST", "h", "/", "", http.Header{}, []byte(tc.body), tc.declared)
			}
			_, _, wrote, fastErr, stdErr := bothWays(t, mk)
			if !wrote || fastErr == nil || stdErr == nil || fastErr.Error() != stdErr.Error() {
				t.Fatalf("wrote %v, writeWire: %v, Request.Write: %v; want the same error from both", wrote, fastErr, stdErr)
			}
		})
	}
}

// FuzzWriteWire: whenever writeWire takes a request, it writes the bytes
// http.Request.Write writes and fails as it fails.
func FuzzWriteWire(f *testing.F) {
	f.Add("POST", "hooks.example.com", "/hook", "a=1", "Content-Type:application/json\nUser-Agent:GitHub-Hookshot/1\nX-A: padded \nx-lower:v", []byte("{}"), int64(2))
	f.Add("GET", "h:1", "", "", "User-Agent:", []byte(nil), int64(0))
	f.Add("PATCH", "[::1]", "/a b", "q", "Host:evil\nContent-Length:9\nTrailer:X\nBad Name:x\nX:\t", []byte("abc"), int64(3))
	f.Fuzz(func(t *testing.T, method, host, path, query, fields string, body []byte, declared int64) {
		header := http.Header{}
		for line := range strings.SplitSeq(fields, "\n") {
			k, v, _ := strings.Cut(line, ":")
			header[k] = append(header[k], v)
		}
		mk := func() *http.Request {
			b := body
			if b == nil && declared != 0 {
				b = []byte{}
			}
			return wireRequest(method, host, path, query, header, b, declared)
		}
		fast, std, wrote, fastErr, stdErr := bothWays(t, mk)
		if !wrote {
			return
		}
		if (fastErr == nil) != (stdErr == nil) || (fastErr != nil && fastErr.Error() != stdErr.Error()) {
			t.Fatalf("errors differ: writeWire %v, Request.Write %v", fastErr, stdErr)
		}
		if fastErr == nil && fast != std {
			t.Fatalf("writeWire wrote\n%q\nRequest.Write wrote\n%q", fast, std)
		}
	})
}

// BenchmarkWriteRequest: a 1 KiB GitHub webhook as the edge writes it onto
// a stream, by writeWire and by http.Request.Write.
func BenchmarkWriteRequest(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1<<10)
	header := http.Header{
		"Accept": {"*/*"}, "Content-Type": {"application/json"}, "User-Agent": {"GitHub-Hookshot/044aadd"},
		"X-Github-Delivery": {"72d3162e-cc78-11e3-81ab-4c9367dc0958"}, "X-Github-Event": {"push"},
		"X-Github-Hook-Id": {"292430182"}, "X-Hub-Signature-256": {"sha256=[redacted]"},
		"X-Forwarded-For": {"192.30.252.1"}, "X-Forwarded-Host": {"hooks.example.com"}, "X-Forwarded-Proto": {"https"},
		"Hooktunnel-Request-Id": {"01JEXAMPLE"}, "Hooktunnel-Tunnel": {"gh"}, "Hooktunnel-Message-Id": {"01JEXAMPLE"},
		"Hooktunnel-Attempt": {"1"},
	}
	for _, way := range []struct {
		name     string
		inMemory bool
	}{{"wire", true}, {"Request.Write", false}} {
		b.Run(way.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := wireRequest("POST", "hooks.example.com", "/hook", "", header, body, int64(len(body)))
				if err := writeRequest(io.Discard, req, way.inMemory); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
