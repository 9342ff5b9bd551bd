package policy

import (
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"cel.dev/cel-go/common/types"
)

// An eventRule says where a provider names the kind of event a delivery
// is (pull_request.opened, invoice.paid, orders/create). It lists ways to
// read it, tried in order; a way is parts joined with ".", and yields only
// when its first part is present (GitHub's X-GitHub-Event, then the body's
// action when there is one). Providers' rules sit in the provider table.
type eventRule [][]eventSource

// eventSource is one part of an event name: a header, or a field of the
// JSON body reached by path (an array element by its index).
type eventSource struct {
	header string
	path   []string
}

func header(name string) eventSource       { return eventSource{header: name} }
func field(path ...string) eventSource     { return eventSource{path: path} }
func event(parts ...eventSource) eventRule { return eventRule{parts} }

// or adds another way to read the event, tried when the ones before
// yield nothing.
func (r eventRule) or(parts ...eventSource) eventRule { return append(r, parts) }

// Limits of event extraction: bodies larger than maxEventBody are not
// parsed, and a name is cut at maxEventLen bytes.
const (
	maxEventBody = 1 << 20
	maxEventLen  = 120
)

// Event names the kind of event a delivery of provider is, read as the
// provider's table entry says from the headers and the JSON body, or ""
// when the provider names none or the request does not say. The body is
// parsed at most once, and not at all when it is larger than 1 MiB or not
// JSON. The name comes from the sender: it is cut to a short single line
// of printable characters, for display only.
func Event(provider string, h http.Header, body []byte) string {
	return (&Request{Header: h, Body: body}).EventOf(provider)
}

// EventOf is Event for r, sharing r's parse of the body with its filters.
func (r *Request) EventOf(provider string) string {
	p, ok := providerNamed(provider)
	if !ok || len(p.event) == 0 {
		return ""
	}
	for _, way := range p.event {
		first := r.eventPart(way[0])
		if first == "" {
			continue
		}
		name := first
		for _, part := range way[1:] {
			if v := r.eventPart(part); v != "" {
				name += "." + v
			}
		}
		return cleanEvent(name)
	}
	return ""
}

// eventPart reads one part of an event name from r; its body is parsed
// the first time a part needs it (jsonBody).
func (r *Request) eventPart(s eventSource) string {
	if s.header != "" {
		return strings.TrimSpace(r.Header.Get(s.header))
	}
	if len(r.Body) > maxEventBody {
		return ""
	}
	doc := r.jsonBody()
	if doc == nil {
		return ""
	}
	return fieldText(doc, s.path)
}

// fieldText follows path into doc and returns the string or number found
// there, "" for anything else.
func fieldText(doc *jsonDoc, path []string) string {
	v := doc.top()
	for _, key := range path {
		var ok bool
		switch doc.kind(v) {
		case '{':
			v, ok = doc.member(v, key)
		case '[':
			i, err := strconv.Atoi(key)
			ok = err == nil && i >= 0
			if ok {
				v, ok = doc.index(v, i)
			}
		}
		if !ok {
			return ""
		}
	}
	switch val := doc.value(v).(type) {
	case types.String:
		return strings.TrimSpace(string(val))
	case types.Double:
		return strconv.FormatFloat(float64(val), 'f', -1, 64)
	}
	return ""
}

// cleanEvent keeps printable characters and cuts the name short, on a
// rune boundary.
func cleanEvent(s string) string {
	var b strings.Builder
	for _, r := range s {
		if !unicode.IsPrint(r) {
			r = '?'
		}
		if b.Len()+len(string(r)) > maxEventLen {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
