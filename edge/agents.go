package edge

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// serveAgent admits an agent and serves its tunnel until the session ends.
func (e *Edge) serveAgent(w http.ResponseWriter, r *http.Request, cfg *compiled) {
	pending, err := tunnel.Accept(w, r, e.sessionCfg)
	if err != nil {
		e.log.Warn("agent handshake failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	hello := pending.Hello
	refuse := func(code, msg string, permanent bool) {
		e.log.Warn("agent refused", "remote", r.RemoteAddr, "hello", hello, "reason", code)
		pending.Refuse(tunnel.Refusal{Code: code, Message: msg, Permanent: permanent})
	}
	g := cfg.grants[TokenHash(hello.Token)]
	if g == nil {
		refuse(tunnel.RefusedBadToken, "the token is not valid on this edge (unknown or revoked)", true)
		return
	}
	name := hello.Name
	if name == "" {
		name, err = chooseName(r.Context(), e.names, g, hello.Target)
		if err != nil {
			if errors.Is(err, errNoNameFromGrant) || strings.Contains(err.Error(), "pass --name") {
				refuse(tunnel.RefusedName, err.Error(), true)
			} else {
				refuse(tunnel.RefusedBadRequest, "the edge could not allocate a tunnel name", false)
			}
			return
		}
	}
	if !g.allows(name) {
		refuse(tunnel.RefusedName, "the token does not grant tunnel "+name, true)
		return
	}
	if owner := e.reg.owner(name); owner != "" && owner != g.name {
		refuse(tunnel.RefusedNameInUse, "tunnel "+name+" is being served by another agent", true)
		return
	}
	declared, err := decodeDeclared(hello.Routes, e.tunnelEnv(name))
	if err != nil {
		refuse(tunnel.RefusedBadRoutes, "declared routes: "+err.Error(), true)
		return
	}
	var warnings []string
	configured := cfg.tunnels[name]
	hasConfigured := configured != nil && len(configured.Routes()) > 0
	switch {
	case declared != nil && hasConfigured:
		warnings = append(warnings, "the edge config has routes for this tunnel; the routes this agent declared are ignored")
		declared = nil
	case declared != nil && !g.mayDeclareRoutes:
		warnings = append(warnings, "this token may not declare routes (may_declare_routes: false); they are ignored")
		declared = nil
	}
	routes := declared
	if hasConfigured {
		routes = configured
	}
	var urls []string
	if routes == nil || len(routes.Routes()) == 0 {
		warnings = append(warnings, "the tunnel has no routes: the edge forwards nothing (add --route PATH or routes in the edge config)")
	} else {
		for _, rt := range routes.Routes() {
			urls = append(urls, cfg.routeURL(name, rt))
		}
	}
	if hello.Probe {
		// hooktunnel doctor: the same answer, and nothing registered.
		if sess, err := pending.Admit(tunnel.Welcome{Tunnel: name, URLs: urls, Warnings: warnings}); err == nil {
			sess.Close()
		}
		e.log.Info("agent probe answered", "tunnel", name, "agent", g.name, "remote", r.RemoteAddr)
		return
	}
	as := newAgentSession(nil, g.name, g.tokenHash, r.RemoteAddr, cfg.limits.MaxStreamsPerAgent)
	sess, err := pending.Admit(tunnel.Welcome{SessionID: as.id, Tunnel: name, URLs: urls, Warnings: warnings})
	if err != nil {
		e.log.Warn("agent handshake failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	as.attach(sess)
	e.reg.add(name, as, declared)
	e.wakeQueue() // messages queued while the tunnel was offline can go now
	e.metrics.agentConnects.WithLabelValues(name).Inc()
	e.metrics.agentsOnline.WithLabelValues(name).Inc()
	defer e.metrics.agentsOnline.WithLabelValues(name).Dec()
	e.obtainCertificate(name) // now, not on the tunnel's first webhook
	e.log.Info("agent connected", "tunnel", name, "agent", g.name, "session", as.id, "remote", r.RemoteAddr, "hello", hello)
	defer func() {
		e.reg.remove(name, as)
		as.transport.CloseIdleConnections()
		sess.Close()
		e.log.Info("agent disconnected", "tunnel", name, "agent", g.name, "session", as.id)
	}()
	// The agent's go-away means no new requests; in-flight ones finish.
	// ServeControl returns when the session ends, whoever ends it.
	sess.ServeControl(tunnel.Control{
		GoAway:  func() { e.reg.remove(name, as) },
		Inspect: func() { e.serveInspector(sess, name) },
	})
}

// routeURL is the URL to hand to the sender, with the route's generated
// token when it has one: the agent's owner pastes it into the provider.
func (c *compiled) routeURL(name string, rt *policy.Route) string {
	u := c.publicURL(name, rt.Path)
	if tok := rt.Token(); tok != "" && rt.TokenQuery() != "" {
		u += "?" + url.QueryEscape(rt.TokenQuery()) + "=" + url.QueryEscape(tok)
	}
	return u
}

// publicURL is the URL a sender uses for a route of a tunnel.
func (c *compiled) publicURL(name, path string) string {
	host := name + "." + c.domain
	if c.publicPort != "" {
		host += ":" + c.publicPort
	}
	return c.publicScheme + "://" + host + path
}
