package policy

import (
	"bytes"
	"net/http"
	"net/netip"
	"net/url"

	"cel.dev/cel-go/common/types/ref"
)

// Request is what policy sees of one HTTP request as it reached the edge.
type Request struct {
	Method string
	// URL is the URL the sender called: scheme, host, path and raw query as
	// received at the edge. Schemes that sign the public URL use it.
	URL        *url.URL
	Header     http.Header
	Body       []byte
	RemoteAddr netip.Addr
	// Event is the provider's event type ("pull_request",
	// "invoice.paid"), "" when unknown; filters read it.
	Event string

	// filterVals are the filter variables built from the request, each
	// at most once however many filters read it.
	filterVals struct{ body, headers, query ref.Val }
	// parsed is the body checked as JSON, once for the event and the
	// filters: see jsonBody.
	parsed struct {
		done bool
		doc  *jsonDoc
	}
}

// jsonBody is the body checked as a JSON object or array the first time
// it is asked for, nil for a body that is not one; reads of its fields
// decode only what they read (see jsonDoc).
func (r *Request) jsonBody() *jsonDoc {
	if !r.parsed.done {
		r.parsed.done = true
		body := bytes.TrimSpace(r.Body)
		if len(body) > 0 && (body[0] == '{' || body[0] == '[') {
			if doc, ok := parseJSONDoc(body); ok {
				r.parsed.doc = doc
			}
		}
	}
	return r.parsed.doc
}
