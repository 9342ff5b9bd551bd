package policy

import (
	"net/http"
	"net/netip"
	"net/url"
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
}
