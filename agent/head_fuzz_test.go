package agent

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// FuzzPipeHead feeds the pipe's head reader and parsers what an edge or
// an app could send. They must not panic, and what they take, net/http
// must read the same way: the same method, target, Host and body framing
// of a request, the same status and framing of an answer, the same field
// values.
func FuzzPipeHead(f *testing.F) {
	for _, seed := range []string{
		"POST /hooks/x?y=1 HTTP/1.1\r\nHost: demo.example\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello",
		"PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nHooktunnel-Tunnel: demo\r\nHooktunnel-Target: billing\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n2\r\nok\r\n0\r\nX-Sum: 1\r\n\r\n",
		"HTTP/1.0 201 Created\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\n\r\nuntil close",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"POST / HTTP/1.1\nHost: h\nContent-Length: 0\n\n",
		"POST / HTTP/1.1\r\nHost: h\r\n Folded: x\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, err := readHead(bufio.NewReaderSize(bytes.NewReader(data), 64), nil, 4096)
		if err != nil {
			if !bytes.HasPrefix(data, raw) {
				t.Fatalf("readHead returned bytes that were not read")
			}
			return
		}
		if !bytes.HasPrefix(data, raw) {
			t.Fatalf("readHead returned bytes that were not read")
		}
		rest := data[len(raw):]

		var req pipeRequest
		if req.parse(raw) {
			checkRequest(t, &req, raw, rest)
		}
		var a answer
		if a.read(raw, []byte("POST")) == nil {
			checkAnswer(t, &a, raw, rest)
		}
	})
}

func checkRequest(t *testing.T, req *pipeRequest, raw, rest []byte) {
	r, err := http.ReadRequest(bufio.NewReader(io.MultiReader(bytes.NewReader(raw), bytes.NewReader(rest))))
	if err != nil {
		t.Fatalf("the pipe took a request net/http refuses (%v):\n%q", err, raw)
	}
	if r.Method != string(req.method) || r.RequestURI != string(req.start[1]) || r.Host != string(req.host) {
		t.Fatalf("the pipe reads %s %s (Host %q), net/http %s %s (Host %q)", req.method, req.start[1], req.host, r.Method, r.RequestURI, r.Host)
	}
	chunked := slices.Contains(r.TransferEncoding, "chunked")
	if chunked != (req.length < 0) || !chunked && r.ContentLength != req.length {
		t.Fatalf("the pipe reads a body of %d, net/http of %d (chunked %v)", req.length, r.ContentLength, chunked)
	}
	checkFields(t, req.fields, r.Header)
	if r.URL.Path != req.url.Path || r.URL.RawQuery != req.url.RawQuery {
		t.Fatalf("the pipe reads the URL %v, net/http %v", &req.url, r.URL)
	}
}

func checkAnswer(t *testing.T, a *answer, raw, rest []byte) {
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(bytes.NewReader(raw), bytes.NewReader(rest))), &http.Request{Method: "POST"})
	if err != nil {
		t.Fatalf("the pipe took an answer net/http refuses (%v):\n%q", err, raw)
	}
	if resp.StatusCode != a.status {
		t.Fatalf("the pipe reads status %d, net/http %d", a.status, resp.StatusCode)
	}
	chunked := slices.Contains(resp.TransferEncoding, "chunked")
	switch {
	case a.noBody:
		if resp.ContentLength > 0 {
			t.Fatalf("the pipe reads no body, net/http one of %d", resp.ContentLength)
		}
	case chunked != a.chunked:
		t.Fatalf("the pipe reads chunked %v, net/http %v", a.chunked, chunked)
	case !chunked && resp.ContentLength != a.length:
		t.Fatalf("the pipe reads a body of %d, net/http of %d", a.length, resp.ContentLength)
	}
	if a.close != resp.Close {
		t.Fatalf("the pipe reads close %v, net/http %v", a.close, resp.Close)
	}
}

// checkFields compares the fields the pipe read with net/http's header.
func checkFields(t *testing.T, fields []field, h http.Header) {
	got := http.Header{}
	for _, f := range fields {
		got.Add(string(f.name), string(f.value))
	}
	for name, values := range got {
		if strings.EqualFold(name, "Host") || strings.EqualFold(name, "Transfer-Encoding") {
			continue
		}
		if !slices.Equal(values, h[name]) {
			t.Fatalf("the pipe reads %s: %q, net/http %q", name, values, h[name])
		}
	}
}

// FuzzURLOf feeds the pipe's reading of a request target what an edge
// could send: it must take what url.ParseRequestURI takes, and read it
// the same.
func FuzzURLOf(f *testing.F) {
	for _, seed := range []string{"/", "/hooks/x?y=1", "/a?", "/a??", "/a?b?c", "/a%2Fb?c=%41", "/a b", "/ä?ö", "/a!*()'", "//evil/x",
		"/a#b", "/a?b\x7f", "/a\x01", "/:@&=+$,;~._-", "*", "x", "/a?b#c", "/%zz", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, target string) {
		var got url.URL
		ok := urlOf([]byte(target), &got)
		want, err := url.ParseRequestURI(target)
		if ok != (err == nil) {
			t.Fatalf("urlOf(%q) took it %v, url.ParseRequestURI: %v", target, ok, err)
		}
		if ok && got != *want {
			t.Fatalf("urlOf(%q) = %#v, url.ParseRequestURI %#v", target, got, *want)
		}
	})
}
