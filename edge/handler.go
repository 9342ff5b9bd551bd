package edge

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// ServeHTTP is the public listener: tunnel hosts below the domain, the
// agent endpoint on every other host, 404 for anything else.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := e.clock.Now()
	cfg := e.cfg.Load()
	id := store.NewMessageID(start)
	host := canonicalHost(r.Host)
	name, below := strings.CutSuffix(host, "."+cfg.domain)
	// An edge's advertise host may lie below the domain: it is the edge's
	// own (relays, agents' second sessions), not a tunnel an agent could
	// take to receive them.
	tunnelHost := below && tunnel.ValidName(name) && !(cfg.cluster.on && host == cfg.cluster.host)
	if !tunnelHost && tunnel.IsUpgrade(r) {
		// The apex, and an agent that dials the edge by its IP address or
		// another of the VM's names: the token decides, not the Host. A
		// tunnel host keeps every path for its webhooks.
		e.serveAgent(w, r, cfg)
		return
	}
	if !tunnelHost && e.servePeer(w, r) {
		return // another edge of the cluster relays a webhook here
	}
	if host == cfg.domain {
		writeRefusal(w, http.StatusNotFound, outcome.CodeUnknownHost, "this is a hooktunnel edge: webhooks go to a tunnel host, <tunnel>."+cfg.domain, id)
		return
	}
	if !tunnelHost {
		writeRefusal(w, http.StatusNotFound, outcome.CodeUnknownHost, "no tunnel is served on this host", id)
		return
	}
	rec := &responseRecorder{ResponseWriter: w}
	x := &exchange{e: e, w: rec, r: r, cfg: cfg, tunnel: name, id: id, start: start}
	x.serve()
	e.logWebhook(r, rec.status(), e.clock.Now().Sub(start), x.routePath(), x.msg)
}

// policyRequest is what policy sees of r: the client address (through
// trusted proxies only) and the URL the sender called.
func (e *Edge) policyRequest(r *http.Request, cfg *compiled) *policy.Request {
	var peer netip.Addr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		peer = ap.Addr()
	}
	client := policy.ClientIP(peer, r.Header.Values("X-Forwarded-For"), cfg.trusted)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if fp := r.Header.Get("X-Forwarded-Proto"); fp != "" && client != peer.Unmap() {
		scheme = fp // set by a trusted proxy that terminated TLS
	}
	u := &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	return &policy.Request{Method: r.Method, URL: u, Header: r.Header, RemoteAddr: client}
}

// stripToken removes the route's URL token so the app never sees or logs it.
func stripToken(r *http.Request, route *policy.Route) {
	if q := route.TokenQuery(); q != "" && r.URL.RawQuery != "" {
		values := r.URL.Query()
		if values.Has(q) {
			values.Del(q)
			r.URL.RawQuery = values.Encode()
		}
	}
	if h := route.TokenHeader(); h != "" {
		r.Header.Del(h)
	}
}

func routePath(d policy.Decision) string {
	if d.Route == nil {
		return ""
	}
	return d.Route.Path
}

// denyAll is the policy of a tunnel with no routes: nothing is forwarded.
var denyAll, _ = policy.Config{}.Compile()

// canonicalHost lowercases a Host header and drops its port and final dot.
func canonicalHost(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// decodeDeclared compiles the routes an agent declared in its Hello. A
// secret reference in them is refused before anything is resolved: env:
// and file: would name the edge's environment and files.
func decodeDeclared(raw json.RawMessage, env policy.Env) (*policy.Policy, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var c policy.Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	return c.CompileDeclared(env)
}
