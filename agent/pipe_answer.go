package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
	"time"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// Errors of an app's answer the pipe does not carry: the proxy's
// transport refuses the same, except errAppConnection (the proxy passes
// such an answer on; the pipe answers 502 in its place).
var (
	errAppUpgrade    = errors.New("agent: the app switched protocols unasked")
	errApp1xx        = errors.New("agent: the app sent too many interim answers")
	errAppFraming    = errors.New("agent: the app's answer has a malformed length or transfer encoding")
	errAppConnection = errors.New("agent: the app's answer lists too many names in its Connection header")
)

// maxAnswerHead bounds an app's answer head, as the edge bounds the
// agent's; max1xx bounds its interim answers, as both do;
// maxConnectionNames bounds the names its Connection header lists (the
// pipe's own bound).
const (
	maxAnswerHead      = 1 << 20
	max1xx             = 5
	maxConnectionNames = 32
)

// answer is the app's answer head as the pipe reads it.
type answer struct {
	head
	status  int
	http10  bool
	noBody  bool
	chunked bool
	length  int64 // -1: chunked, or until the app closes
	// headLength is the Content-Length of an answer to HEAD, kept in its
	// head; -1 for none.
	headLength int64
	close      bool // the app closes the connection after it
	// what the full server would add or keep
	hasType, hasEncoding, hasDate bool
	trailer                       [][]byte // the Trailer values
	dropped                       [][]byte // names the Connection header lists
	exact                         exactReader
}

// reset empties a for the next answer, keeping its slices' room.
func (a *answer) reset() {
	*a = answer{head: head{fields: a.fields[:0]}, trailer: a.trailer[:0], dropped: a.dropped[:0]}
}

// read parses the head of the app's final answer to a request of method.
func (a *answer) read(raw []byte, method []byte) error {
	if err := parseHead(raw, &a.head, false); err != nil {
		return err
	}
	switch string(a.start[0]) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		a.http10, a.close = true, true
	default:
		return errBadHead
	}
	if a.status = parseStatus(a.start[1]); a.status < 0 {
		return errBadHead
	}
	var lengths, encodings int
	var length, encoding []byte
	closeToken, tooMany := false, false
	for _, f := range a.fields {
		switch {
		case is(f.name, "Content-Length"):
			if lengths > 0 && !bytes.Equal(f.value, length) {
				return errAppFraming
			}
			lengths++
			length = f.value
		case is(f.name, "Transfer-Encoding"):
			encodings++
			encoding = f.value
		case is(f.name, "Connection"):
			// One walk over the value; past maxConnectionNames names
			// only close is looked for.
			for v := f.value; len(v) > 0; {
				var name []byte
				name, v, _ = bytes.Cut(v, []byte{','})
				if name = trimOWS(name); len(name) == 0 {
					continue
				}
				closeToken = closeToken || is(name, "close")
				if len(a.dropped) == maxConnectionNames {
					tooMany = true
					continue
				}
				a.dropped = append(a.dropped, name)
			}
		case is(f.name, "Content-Type"):
			a.hasType = true
		case is(f.name, "Content-Encoding"):
			a.hasEncoding = a.hasEncoding || len(f.value) > 0
		case is(f.name, "Date"):
			a.hasDate = true
		case is(f.name, "Trailer"):
			a.trailer = append(a.trailer, f.value)
		}
	}
	if closeToken {
		a.close = true
		if !a.http10 {
			// net/http's transport removes such a Connection header
			// whole: the proxy drops none of the headers it names.
			a.dropped, tooMany = a.dropped[:0], false
		}
	}
	if tooMany {
		// keeps compares every field with every name: their number is
		// bounded, as no app needs more.
		return errAppConnection
	}
	a.noBody = string(method) == "HEAD" || !bodyAllowed(a.status)
	if encodings > 0 && !a.http10 {
		if encodings != 1 || !is(encoding, "chunked") {
			return errAppFraming
		}
		a.chunked = true
	}
	a.length, a.headLength = -1, -1
	declared := int64(-1)
	if lengths > 0 {
		// Malformed, it is refused whatever the status or method, as
		// net/http's transport refuses it (FuzzPipeHead found a 1xx
		// answer the pipe took).
		if declared = parseLength(length); declared < 0 {
			return errAppFraming
		}
	}
	switch {
	case a.noBody:
		a.length = 0
		if string(method) == "HEAD" {
			a.headLength = declared
		}
	case a.chunked:
	case lengths > 0:
		a.length = declared
	default:
		a.close = true // the body ends when the app closes
	}
	return nil
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// hopByHopAnswer are the headers of the app's connection, which the
// proxy removes from its answer.
var hopByHopAnswer = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length"}

// keeps reports whether the answer to the edge carries field f as the app
// sent it.
func (a *answer) keeps(f field) bool {
	for _, name := range hopByHopAnswer {
		if is(f.name, name) {
			return false
		}
	}
	for _, name := range a.dropped {
		if bytes.EqualFold(f.name, name) {
			return false
		}
	}
	return a.status != http.StatusNotModified || !is(f.name, "Content-Type")
}

// appendStatusLine appends the status line the full server writes.
func appendStatusLine(out []byte, status int) []byte {
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(status), 10)
	out = append(out, ' ')
	if text := http.StatusText(status); text != "" {
		out = append(out, text...)
	} else {
		out = append(out, "status code "...)
		out = strconv.AppendInt(out, int64(status), 10)
	}
	return append(out, "\r\n"...)
}

// appendInterim appends an interim (1xx) answer as the full server passes
// it on: without framing headers.
func appendInterim(out []byte, h *head, status int) []byte {
	out = appendStatusLine(out, status)
	for _, f := range h.fields {
		if is(f.name, "Content-Length") || is(f.name, "Transfer-Encoding") {
			continue
		}
		out = appendField(out, f.name, f.value)
	}
	return append(out, "\r\n"...)
}

func appendField(out, name, value []byte) []byte {
	out = append(out, name...)
	out = append(out, ": "...)
	out = append(out, value...)
	return append(out, "\r\n"...)
}

// appendHead appends the head of the answer to the edge, as the proxy and
// the full server write it: the app's fields less the hop-by-hop ones,
// Date and a sniffed Content-Type when the app sent none, and the framing:
// the app's Content-Length, else chunks, else (an empty body) a length of
// 0. first is the body's first bytes; trailers, whether it has any.
func (a *answer) appendHead(out []byte, first []byte, chunks bool, closing bool) []byte {
	out = appendStatusLine(out, a.status)
	for _, f := range a.fields {
		if a.keeps(f) {
			out = appendField(out, f.name, f.value)
		}
	}
	switch {
	case a.noBody && a.headLength >= 0 && bodyAllowed(a.status):
		out = append(out, "Content-Length: "...)
		out = strconv.AppendInt(out, a.headLength, 10)
		out = append(out, "\r\n"...)
	case a.noBody:
	case chunks:
		out = append(out, "Transfer-Encoding: chunked\r\n"...)
		if a.chunked && len(a.trailer) > 0 {
			out = append(out, "Trailer: "...)
			out = append(out, bytes.Join(a.trailer, []byte(", "))...)
			out = append(out, "\r\n"...)
		}
	default:
		out = append(out, "Content-Length: "...)
		out = strconv.AppendInt(out, max(a.length, 0), 10)
		out = append(out, "\r\n"...)
	}
	if !a.noBody && !a.hasType && !a.hasEncoding && len(first) > 0 {
		out = append(out, "Content-Type: "...)
		out = append(out, http.DetectContentType(first)...)
		out = append(out, "\r\n"...)
	}
	if !a.hasDate {
		out = append(out, "Date: "...)
		out = time.Now().UTC().AppendFormat(out, http.TimeFormat)
		out = append(out, "\r\n"...)
	}
	if closing {
		out = append(out, "Connection: close\r\n"...)
	}
	return append(out, "\r\n"...)
}

// body reads the answer's body from the app.
func (a *answer) body(ac *appConn) io.Reader {
	switch {
	case a.noBody:
		return eofReader{}
	case a.chunked:
		return &chunkedBody{br: ac.br, r: httputil.NewChunkedReader(ac.br)}
	case a.length >= 0:
		a.exact = exactReader{r: ac.br, n: a.length}
		return &a.exact
	}
	return ac.br
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// appendAgentAnswer appends the agent's own answer, as writeAgentError
// writes it through the full server.
func appendAgentAnswer(out []byte, status int, code, msg, requestID string, closing bool) []byte {
	body, _ := json.Marshal(map[string]string{"error": code, "message": msg, "request_id": requestID})
	out = appendStatusLine(out, status)
	out = append(out, "Content-Length: "...)
	out = strconv.AppendInt(out, int64(len(body)+1), 10)
	out = append(out, "\r\nContent-Type: application/json\r\nDate: "...)
	out = time.Now().UTC().AppendFormat(out, http.TimeFormat)
	out = append(out, "\r\n"+tunnel.HeaderError+": "...)
	out = append(out, code...)
	out = append(out, "\r\n"...)
	if closing {
		out = append(out, "Connection: close\r\n"...)
	}
	out = append(out, "\r\n"...)
	out = append(out, body...)
	return append(out, '\n')
}

// appendChunk appends p as one chunk.
func appendChunk(out, p []byte) []byte {
	out = strconv.AppendInt(out, int64(len(p)), 16)
	out = append(out, "\r\n"...)
	out = append(out, p...)
	return append(out, "\r\n"...)
}
