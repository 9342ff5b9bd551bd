package edge

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// toApp is what the edge adds to a request on its way to the app, the
// same for a live delivery and a stored one.
type toApp struct {
	tunnel  string
	id      string // the message's: request id and message id
	target  string // the route's agent target; "" for none
	attempt int
	// forwardedFor, forwardedHost and forwardedProto are the X-Forwarded-*
	// the app sees: the sender's address, and the public host and scheme.
	forwardedFor, forwardedHost, forwardedProto string
	policy                                      *policy.Policy
	body                                        []byte // the whole body when known, for the edge → app signature
}

// prepare makes req ready for the relay: addressed to the tunnel, rid of
// what belongs to the sender's hop (hop-by-hop headers, X-Forwarded-* the
// sender made up, the tunnel headers only the edge may set), and carrying
// the edge's headers.
func (e *Edge) prepare(req *http.Request, o toApp) {
	h := req.Header
	removeHopByHop(h)
	h.Del("Forwarded")
	h.Del("X-Forwarded-For")
	if o.forwardedFor != "" {
		h.Set("X-Forwarded-For", o.forwardedFor)
	}
	h.Set("X-Forwarded-Host", o.forwardedHost)
	h.Set("X-Forwarded-Proto", o.forwardedProto)
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""} // not Go's own: the app sees what the sender sent
	}
	h.Set(tunnel.HeaderRequestID, o.id)
	// The agent obeys the target only from the edge: a sender must not
	// pick which local app its request reaches.
	h.Del(tunnel.HeaderTarget)
	if o.target != "" {
		h.Set(tunnel.HeaderTarget, o.target)
	}
	h.Set(tunnel.HeaderTunnel, o.tunnel)
	e.signForApp(h, o)
	req.URL = &url.URL{Scheme: "http", Host: o.tunnel, Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	req.Host = o.forwardedHost // the agent decides what the app sees
	req.RequestURI = ""
	req.Close = false
	if req.ContentLength == 0 {
		req.Body = nil
	}
}

// signForApp sets the delivery headers and, when the tunnel has a
// forward_secret and the body is known, a Standard Webhooks signature of
// the edge → app hop.
func (e *Edge) signForApp(h http.Header, o toApp) {
	h.Set(tunnel.HeaderMessageID, o.id)
	h.Set(tunnel.HeaderAttempt, strconv.Itoa(o.attempt))
	key := o.policy.ForwardSecret()
	if key == nil {
		return
	}
	now := e.clock.Now()
	h.Set("Webhook-Id", o.id)
	h.Set("Webhook-Timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("Webhook-Signature", policy.SignStandardWebhook(key, o.id, now, o.body))
}

// peerIP is the address of the connection a request came on.
func peerIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return ""
	}
	return host
}

// hopByHop are the headers of one connection (RFC 9110, 7.6.1), never
// passed on.
var hopByHop = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// removeHopByHop deletes the hop-by-hop headers from h, and the ones its
// Connection header names. A request that accepts trailers keeps saying so.
func removeHopByHop(h http.Header) {
	trailers := false
	for _, te := range h.Values("Te") {
		for _, v := range strings.Split(te, ",") {
			trailers = trailers || strings.EqualFold(strings.TrimSpace(v), "trailers")
		}
	}
	for _, c := range h.Values("Connection") {
		for _, name := range strings.Split(c, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		h.Del(name)
	}
	if trailers {
		h.Set("Te", "trailers")
	}
}
