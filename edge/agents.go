package edge

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// serveAgent admits an agent and serves its tunnels until the session ends.
// The token is checked on the upgrade request: one the config does not
// grant is answered 401 before any session, or memory for one, exists.
func (e *Edge) serveAgent(w http.ResponseWriter, r *http.Request, cfg *compiled) {
	var g *grant
	pending, err := tunnel.Accept(w, r, e.sessionCfg, func(_ *http.Request, token string) error {
		if g = cfg.grants[TokenHash(token)]; g == nil {
			return errUnknownToken
		}
		return nil
	})
	if errors.Is(err, tunnel.ErrUnauthorized) {
		e.log.Warn("agent refused at the upgrade", "remote", r.RemoteAddr, "reason", tunnel.RefusedBadToken)
		return
	}
	if err != nil {
		e.log.Warn("agent handshake failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	hello := pending.Hello
	admitted, refusal := e.admitAll(r.Context(), cfg, g, hello)
	if refusal != nil {
		e.log.Warn("agent refused", "remote", r.RemoteAddr, "hello", hello, "reason", refusal.Code)
		pending.Refuse(*refusal)
		return
	}
	names := make([]string, len(admitted))
	for i, a := range admitted {
		names[i] = a.name
	}
	if hello.Probe {
		// hooktunnel doctor: the same answer, and nothing registered.
		if sess, err := pending.Admit(e.welcomeOf("", admitted, len(hello.Tunnels) > 0)); err == nil {
			// The probe hangs up once it has read the welcome; closing first
			// can lose the welcome in the probe's session shutdown.
			select {
			case <-sess.Done():
			case <-time.After(probeGrace):
			}
			sess.Close()
		}
		e.log.Info("agent probe answered", "tunnels", names, "agent", g.name, "remote", r.RemoteAddr)
		return
	}
	as := e.relay.NewSession(g.name, g.tokenHash, r.RemoteAddr, cfg.limits.MaxStreamsPerAgent)
	as.Tunnels = names
	as.Targets = map[string][]tunnel.TargetInfo{}
	for i, th := range hello.TunnelsAsked() {
		as.Targets[admitted[i].name] = th.Targets // the name asked for, or the one the edge chose
	}
	for _, a := range admitted {
		if a.declaredRaw != nil {
			if as.Declared == nil {
				as.Declared = map[string][]byte{}
			}
			as.Declared[a.name] = a.declaredRaw
		}
	}
	sess, err := pending.Admit(e.welcomeOf(as.ID, admitted, len(hello.Tunnels) > 0))
	if err != nil {
		e.log.Warn("agent handshake failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	as.Attach(sess, e.clock)
	for _, a := range admitted {
		e.relay.Add(a.name, as, a.declared)
		e.metrics.agentConnects.WithLabelValues(a.name).Inc()
		e.metrics.agentsOnline.WithLabelValues(a.name).Inc()
		e.obtainCertificate(a.name) // now, not on the tunnel's first webhook
	}
	e.sessionsChanged()
	e.wakeQueue() // messages queued while the tunnels were offline can go now
	e.log.Info("agent connected", "tunnels", names, "agent", g.name, "session", as.ID, "remote", r.RemoteAddr, "hello", hello)
	defer func() {
		for _, name := range names {
			e.relay.Remove(name, as)
			e.metrics.agentsOnline.WithLabelValues(name).Dec()
		}
		e.sessionsChanged()
		as.Close()
		e.log.Info("agent disconnected", "tunnels", names, "agent", g.name, "session", as.ID)
	}()
	// The agent's go-away means no new requests; in-flight ones finish.
	// ServeControl returns when the session ends, whoever ends it.
	sess.ServeControl(tunnel.Control{
		GoAway: func() {
			for _, name := range names {
				e.relay.Remove(name, as)
			}
			e.sessionsChanged()
		},
		Inspect: func() { e.serveInspector(sess, names) },
	})
}

// probeGrace is how long the edge waits for a probe to hang up.
const probeGrace = 2 * time.Second

// welcomeOf is the Welcome of the admitted tunnels: the first one's in
// the single-tunnel fields, and each in Tunnels when the agent asked for
// several; with the edges the agent may hold a second session to.
func (e *Edge) welcomeOf(sessionID string, admitted []*admission, several bool) tunnel.Welcome {
	first := admitted[0]
	w := tunnel.Welcome{SessionID: sessionID, Tunnel: first.name, URLs: first.urls, Warnings: first.warnings, SetsTarget: true, Targets: first.targets}
	w.Edge, w.Edges = e.advertised()
	if several {
		for _, a := range admitted {
			w.Tunnels = append(w.Tunnels, tunnel.TunnelWelcome{Tunnel: a.name, URLs: a.urls, Targets: a.targets, Warnings: a.warnings})
		}
	}
	return w
}

// admitAll admits every tunnel the Hello asks for, or none: a refusal of
// one of several names the tunnel it is about.
func (e *Edge) admitAll(ctx context.Context, cfg *compiled, g *grant, hello tunnel.Hello) ([]*admission, *tunnel.Refusal) {
	asked := hello.TunnelsAsked()
	out := make([]*admission, 0, len(asked))
	for _, th := range asked {
		a, refusal := e.admit(ctx, cfg, g, th)
		if refusal != nil {
			// Refusals of a name already say which; the others get it.
			if named := refusal.Code == tunnel.RefusedName || refusal.Code == tunnel.RefusedNameInUse; len(hello.Tunnels) > 0 && !named {
				refusal.Message = "tunnel " + th.Name + ": " + refusal.Message
			}
			return nil, refusal
		}
		out = append(out, a)
	}
	return out, nil
}

// admission is what the edge decided for an agent's Hello.
type admission struct {
	grant    *grant
	name     string
	declared *policy.Policy // the agent's routes, when the edge uses them
	// declaredRaw is declared as the agent sent it.
	declaredRaw []byte
	urls        []string
	targets     []string // each URL's route's target name
	warnings    []string
}

// errUnknownToken is an upgrade whose token no agent in the config has.
var errUnknownToken = errors.New("edge: unknown agent token")

// admit checks the name against g, the grant of the token the upgrade
// was authenticated with, and settles the tunnel's routes; a refusal says
// why the agent may not serve it.
func (e *Edge) admit(ctx context.Context, cfg *compiled, g *grant, hello tunnel.TunnelHello) (*admission, *tunnel.Refusal) {
	refuse := func(code, msg string, permanent bool) (*admission, *tunnel.Refusal) {
		return nil, &tunnel.Refusal{Code: code, Message: msg, Permanent: permanent}
	}
	name := hello.Name
	if name == "" {
		var err error
		if name, err = chooseName(ctx, e.names, g, hello.Target); err != nil {
			if errors.Is(err, errNameNeeded) {
				return refuse(tunnel.RefusedName, err.Error(), true)
			}
			return refuse(tunnel.RefusedBadRequest, "the edge could not allocate a tunnel name", false)
		}
	}
	if !g.allows(name) {
		return refuse(tunnel.RefusedName, "the token does not grant tunnel "+name, true)
	}
	if e.isEdgeHost(name + "." + cfg.domain) {
		return refuse(tunnel.RefusedName, "tunnel "+name+" would be the host of an edge of the cluster", true)
	}
	if owner := e.tunnelOwner(ctx, name); owner != "" && owner != g.name {
		return refuse(tunnel.RefusedNameInUse, "tunnel "+name+" is being served by another agent", true)
	}
	declared, err := decodeDeclared(hello.Routes, e.tunnelEnv(name))
	if err != nil {
		return refuse(tunnel.RefusedBadRoutes, "declared routes: "+err.Error(), true)
	}
	a := &admission{grant: g, name: name}
	configured := cfg.tunnels[name]
	hasConfigured := configured != nil && configured.Len() > 0
	switch {
	case declared != nil && hasConfigured:
		a.warnings = append(a.warnings, "the edge config has routes for this tunnel; the routes this agent declared are ignored")
		declared = nil
	case declared != nil && !g.mayDeclareRoutes:
		a.warnings = append(a.warnings, "this token may not declare routes (may_declare_routes: false); they are ignored")
		declared = nil
	}
	a.declared = declared
	if declared != nil {
		a.declaredRaw = hello.Routes // for the registry: other edges compile it too
	}
	routes := declared
	if hasConfigured {
		routes = configured
	}
	if routes == nil || routes.Len() == 0 {
		a.warnings = append(a.warnings, "the tunnel has no routes: the edge forwards nothing (add --route PATH or routes in the edge config)")
		return a, nil
	}
	for _, rt := range routes.Routes() {
		a.urls = append(a.urls, cfg.routeURL(name, rt))
		a.targets = append(a.targets, rt.Target)
	}
	return a, nil
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
