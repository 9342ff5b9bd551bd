package agent

import (
	"bufio"
	"io"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"

	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// pipeRequest is a request of the edge as the pipe reads it.
type pipeRequest struct {
	head
	method []byte
	url    url.URL
	host   []byte
	// length is the body's: -1 when it is chunked.
	length    int64
	userAgent []byte // the first User-Agent; nil when none
	te        bool   // Te: trailers

	tunnelName, targetName, requestID string
}

// parse reads the head of a request from the edge. It reports false for
// what the pipe leaves to the full server: anything but HTTP/1.1 in
// origin form with one Host, a framing other than one Content-Length or
// chunked alone, Expect, an upgrade, hop-by-hop headers (the edge removes
// them), and what net/http would refuse.
func (r *pipeRequest) parse(raw []byte) bool {
	if parseHead(raw, &r.head, true) != nil {
		return false
	}
	r.method = r.start[0]
	if string(r.start[2]) != "HTTP/1.1" || !policy.ValidHeaderName(r.method) || r.start[1][0] != '/' || string(r.method) == "CONNECT" {
		return false
	}
	var hosts, lengths, chunked int
	for _, f := range r.fields {
		switch {
		case is(f.name, "Host"):
			hosts++
			r.host = f.value
		case is(f.name, "Content-Length"):
			lengths++
			if r.length = parseLength(f.value); r.length < 0 {
				return false
			}
		case is(f.name, "Transfer-Encoding"):
			if !is(f.value, "chunked") {
				return false
			}
			chunked++
		case is(f.name, "User-Agent"):
			if r.userAgent == nil {
				r.userAgent = f.value
			}
		case is(f.name, "Te"):
			if !is(f.value, "trailers") {
				return false
			}
			r.te = true
		case is(f.name, tunnel.HeaderTunnel):
			if r.tunnelName == "" {
				r.tunnelName = string(f.value)
			}
		case is(f.name, tunnel.HeaderTarget):
			if r.targetName == "" {
				r.targetName = string(f.value)
			}
		case is(f.name, headerRequestID):
			if r.requestID == "" {
				r.requestID = string(f.value)
			}
		case is(f.name, "Connection"), is(f.name, "Proxy-Connection"), is(f.name, "Keep-Alive"),
			is(f.name, "Proxy-Authenticate"), is(f.name, "Proxy-Authorization"), is(f.name, "Trailer"),
			is(f.name, "Upgrade"), is(f.name, "Expect"):
			return false
		}
	}
	switch {
	case hosts != 1 || !plainHost(r.host) || lengths > 1 || chunked > 1 || lengths+chunked > 1:
		return false
	case chunked == 1:
		r.length = -1
	case lengths == 0:
		r.length = 0
	}
	if !urlOf(r.start[1], &r.url) || r.url.RawQuery != cleanQuery(r.url.RawQuery) {
		return false
	}
	return true
}

// plainHost reports whether a Host value goes to the app as it is: ASCII
// letters, digits and the punctuation of a name, an IPv4 or IPv6 address
// and a port; no zone, no escape.
func plainHost(h []byte) bool {
	if len(h) == 0 {
		return false
	}
	for _, c := range h {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

// cleanQuery is the query the proxy sends on: the same, unless it has a
// semicolon or a bad escape, which the proxy re-encodes (then the pipe
// hands the request to it).
func cleanQuery(q string) string {
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case ';':
			return ""
		case '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return ""
			}
			i += 2
		}
	}
	if strings.Count(q, "&") >= 10000 {
		return ""
	}
	return q
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// appHead appends the head the app gets, as the proxy writes it: the
// target's path, the Host the agent is told to send, the edge's headers
// to the agent and Forwarded removed, the framing as net/http writes it.
// It reports false for a target the pipe does not serve (https) or a Host
// it does not send as is.
func (r *pipeRequest) appHead(out []byte, t *localTarget, hostHeader string) ([]byte, bool) {
	if t.url.Scheme != "http" {
		return out, false
	}
	host := string(r.host)
	switch hostHeader {
	case "":
	case "rewrite":
		host = t.url.Host
	default:
		host = hostHeader
	}
	if !plainHost([]byte(host)) {
		return out, false
	}
	u := r.url
	if p := t.path(u.Path); p != u.Path {
		u.Path, u.RawPath = p, ""
	}
	u.Path, u.RawPath = joinURLPath(t.url, &u)
	out = append(out, r.method...)
	out = append(out, ' ')
	// u.RequestURI(), without building it.
	if p := u.EscapedPath(); p != "" {
		out = append(out, p...)
	} else {
		out = append(out, '/')
	}
	if u.ForceQuery || u.RawQuery != "" {
		out = append(out, '?')
		out = append(out, u.RawQuery...)
	}
	out = append(out, " HTTP/1.1\r\nHost: "...)
	out = append(out, host...)
	out = append(out, "\r\n"...)
	if len(r.userAgent) > 0 {
		out = append(out, "User-Agent: "...)
		out = append(out, r.userAgent...)
		out = append(out, "\r\n"...)
	}
	switch m := string(r.method); {
	case r.length < 0:
		out = append(out, "Transfer-Encoding: chunked\r\n"...)
	case r.length > 0 || m == "POST" || m == "PUT" || m == "PATCH":
		out = append(out, "Content-Length: "...)
		out = strconv.AppendInt(out, r.length, 10)
		out = append(out, "\r\n"...)
	}
	for _, f := range r.fields {
		switch {
		case is(f.name, "Host"), is(f.name, "User-Agent"), is(f.name, "Content-Length"), is(f.name, "Transfer-Encoding"),
			is(f.name, "Forwarded"), is(f.name, tunnel.HeaderTunnel), is(f.name, tunnel.HeaderTarget):
			continue
		case is(f.name, "Te"):
			out = append(out, "Te: trailers\r\n"...)
			continue
		}
		out = appendCanonical(out, f.name)
		out = append(out, ": "...)
		out = append(out, f.value...)
		out = append(out, "\r\n"...)
	}
	return append(out, "\r\n"...), true
}

// appendCanonical appends a field name as net/http writes it: each word
// capitalized.
func appendCanonical(out, name []byte) []byte {
	upper := true
	for _, c := range name {
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		out = append(out, c)
		upper = c == '-'
	}
	return out
}

// body reads the request's body from br: length bytes, or the chunks
// decoded to their end (their trailers read and dropped, as the proxy
// drops trailers no Trailer header announced).
func (r *pipeRequest) body(br *bufio.Reader) io.Reader {
	if r.length >= 0 {
		return &exactReader{r: br, n: r.length}
	}
	return &chunkedBody{br: br, r: httputil.NewChunkedReader(br)}
}

// exactReader reads n bytes, and fails if they end sooner.
type exactReader struct {
	r io.Reader
	n int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	n, err := e.r.Read(p)
	e.n -= int64(n)
	if err == io.EOF && e.n > 0 {
		err = io.ErrUnexpectedEOF
	} else if e.n == 0 {
		err = io.EOF
	}
	return n, err
}

// chunkedBody is a chunked body decoded, and its trailer section read at
// its end.
type chunkedBody struct {
	br       *bufio.Reader
	r        io.Reader
	trailers []byte // the trailer section's field lines, as they came
	done     bool
}

// maxTrailers bounds a trailer section.
const maxTrailers = 64 << 10

func (c *chunkedBody) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	n, err := c.r.Read(p)
	if err == io.EOF {
		if err = c.readTrailers(); err == nil {
			c.done = true
			err = io.EOF
		}
	}
	return n, err
}

// readTrailers reads the trailer section: field lines, then an empty one.
func (c *chunkedBody) readTrailers() error {
	for {
		line, err := c.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull || len(c.trailers)+len(line) > maxTrailers {
			return errHeadTooLarge
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		// line points into br's buffer: it is only read here, then copied.
		text, _, ok := cutLine(line)
		if !ok {
			return errBadHead
		}
		if len(text) == 0 {
			return nil
		}
		if _, ok := parseField(text); !ok {
			return errBadHead
		}
		c.trailers = append(c.trailers, line...)
	}
}

// joinURLPath joins the target's path and the request's, as the proxy's
// SetURL does (net/http/httputil's joinURLPath).
func joinURLPath(a, b *url.URL) (path, rawpath string) {
	if a.RawPath == "" && b.RawPath == "" {
		return singleJoiningSlash(a.Path, b.Path), ""
	}
	apath := a.EscapedPath()
	bpath := b.EscapedPath()
	aslash := strings.HasSuffix(apath, "/")
	bslash := strings.HasPrefix(bpath, "/")
	switch {
	case aslash && bslash:
		return a.Path + b.Path[1:], apath + bpath[1:]
	case !aslash && !bslash:
		return a.Path + "/" + b.Path, apath + "/" + bpath
	}
	return a.Path + b.Path, apath + bpath
}

func singleJoiningSlash(a, b string) string {
	aslash := strings.HasSuffix(a, "/")
	bslash := strings.HasPrefix(b, "/")
	switch {
	case aslash && bslash:
		return a + b[1:]
	case !aslash && !bslash:
		return a + "/" + b
	}
	return a + b
}
