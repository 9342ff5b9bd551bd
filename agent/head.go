package agent

import (
	"bufio"
	"bytes"
	"errors"

	"github.com/hooktunnel/hooktunnel/policy"
)

// The agent's pipe (pipe.go) reads the heads of HTTP/1.1 messages itself:
// the edge's requests and the app's answers. It parses only what the
// framing needs and what the agent changes; every other header line goes
// on as it came. Neither side is trusted: a head the parser does not take
// goes to the full HTTP server (requests) or is the app's error (answers).

// Errors of the head reader and parser.
var (
	errHeadTooLarge = errors.New("agent: message head too large")
	errBadHead      = errors.New("agent: malformed message head")
)

// field is one header line of a head: slices of its raw bytes.
type field struct{ name, value []byte }

// head is a parsed message head.
type head struct {
	// start is the start line's three parts: method, target and version
	// of a request; version, status code and reason of an answer.
	start  [3][]byte
	fields []field
}

// readHead reads a message head from br, up to and including its empty
// line, appending its bytes as they came to buf. Past max bytes it
// returns errHeadTooLarge; what it read so far is in the returned buf
// either way, so a caller can hand the bytes on.
func readHead(br *bufio.Reader, buf []byte, max int) ([]byte, error) {
	lineStart := true
	for {
		line, err := br.ReadSlice('\n')
		if len(buf)+len(line) > max {
			buf = append(buf, line...)
			return buf, errHeadTooLarge
		}
		buf = append(buf, line...)
		switch {
		case err == bufio.ErrBufferFull:
			lineStart = false
			continue
		case err != nil:
			return buf, err
		}
		// A whole line: the head ends with an empty one (not the first).
		empty := lineStart && (len(line) == 1 || len(line) == 2 && line[0] == '\r')
		if empty && len(buf) > len(line) {
			return buf, nil
		}
		lineStart = true
	}
}

// parseHead splits a head readHead read into its start line and fields,
// appending the fields to h.fields. It takes CRLF or LF line ends, and
// refuses what net/http would refuse or read otherwise: a start line not
// of three parts (a request) or two or three (an answer), field names
// that are not tokens, white space before the colon, folded lines, and
// control characters in values.
func parseHead(raw []byte, h *head, request bool) error {
	line, rest, ok := cutLine(raw)
	if !ok || len(line) == 0 {
		return errBadHead
	}
	first, after, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return errBadHead
	}
	second, third, ok := bytes.Cut(after, []byte{' '})
	if request && (!ok || bytes.IndexByte(third, ' ') >= 0 || len(first) == 0 || len(second) == 0) {
		return errBadHead
	}
	h.start = [3][]byte{first, second, third}
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return errBadHead
		}
		if len(line) == 0 {
			if len(rest) != 0 {
				return errBadHead
			}
			return nil
		}
		f, ok := parseField(line)
		if !ok {
			return errBadHead
		}
		h.fields = append(h.fields, f)
	}
}

// parseField splits one field line, without its line end, into its name
// and value (white space around it trimmed). It reports false for a name
// that is not a token, white space before the colon (which also starts a
// folded line), and control characters in the value.
func parseField(line []byte) (field, bool) {
	name, value, ok := bytes.Cut(line, []byte{':'})
	if !ok || !policy.ValidHeaderName(name) {
		return field{}, false
	}
	value = trimOWS(value)
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return field{}, false
		}
	}
	return field{name, value}, true
}

// cutLine is the first line of b without its line end, and the rest.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, nil, false
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, nil, false
	}
	return line, rest, true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// is reports whether a field name is name, in any case.
func is(fieldName []byte, name string) bool {
	return len(fieldName) == len(name) && bytes.EqualFold(fieldName, []byte(name))
}

// parseLength reads a Content-Length value: decimal digits only, at most
// 2^63-1; -1 for anything else.
func parseLength(v []byte) int64 {
	if len(v) == 0 || len(v) > 18 {
		return -1 // 18 digits cannot overflow int64
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// parseStatus reads a three-digit status code; -1 for anything else.
func parseStatus(v []byte) int {
	if len(v) != 3 {
		return -1
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	if n < 100 {
		return -1
	}
	return n
}
