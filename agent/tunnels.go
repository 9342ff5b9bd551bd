package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// TunnelConfig is one of several tunnels the agent serves over its one
// session: an entry of `tunnels:` in the agent's --policy file. Each has
// its own name, local targets and declared routes, as a single tunnel's
// --name, positional target, --target and --route.
type TunnelConfig struct {
	Name string `yaml:"name"`
	// Target is the default local app: PORT, HOST:PORT or URL; "" when
	// Targets serve every route.
	Target  string         `yaml:"target,omitempty"`
	Targets []TargetConfig `yaml:"targets,omitempty"`
	// Policy is the routes the tunnel declares (routes:, allow_ips:, …).
	Policy policy.Config `yaml:",inline"`
}

// ErrTunnelsAndSingle is a config that gives both tunnels: and the
// fields of a single tunnel.
var ErrTunnelsAndSingle = errors.New("agent: with tunnels:, give each tunnel its name, target, targets and routes there " +
	"(not --name, a positional target, --route, --target, or routes:/targets: outside tunnels:)")

// agentTunnel is one compiled tunnel of the agent.
type agentTunnel struct {
	name    string // "" when the edge chooses it (a single tunnel only)
	targets *targetSet
	hello   tunnel.TunnelHello
}

// tunnelsOf is the tunnels cfg asks for: its Tunnels, or the single one
// its own fields describe.
func tunnelsOf(cfg Config) ([]TunnelConfig, error) {
	if len(cfg.Tunnels) == 0 {
		return []TunnelConfig{{Name: cfg.Name, Target: cfg.Target, Targets: cfg.Targets, Policy: cfg.Policy}}, nil
	}
	if cfg.Name != "" || cfg.Target != "" || len(cfg.Targets) > 0 || len(cfg.Policy.Routes) > 0 {
		return nil, ErrTunnelsAndSingle
	}
	if len(cfg.Tunnels) > tunnel.MaxTunnels {
		return nil, fmt.Errorf("agent: tunnels: at most %d over one session", tunnel.MaxTunnels)
	}
	return cfg.Tunnels, nil
}

// checkTunnels checks the tunnels: of a --policy file or a Config: each
// named once, each with targets and routes that compile. Errors name the
// field ("tunnels[1].routes[0].path").
func checkTunnels(list []TunnelConfig, mk proxyMaker) ([]*agentTunnel, error) {
	seen := map[string]bool{}
	out := make([]*agentTunnel, 0, len(list))
	for i, tc := range list {
		field := fmt.Sprintf("tunnels[%d]", i)
		switch {
		case tc.Name == "":
			return nil, policy.AtField(field+".name", errors.New("give each tunnel a name"))
		case tc.Name != "" && !tunnel.ValidName(tc.Name):
			return nil, policy.AtField(field+".name", fmt.Errorf("%q is not a valid tunnel name (lowercase letters, digits and '-', at most 63)", tc.Name))
		case seen[tc.Name]:
			return nil, policy.AtField(field+".name", fmt.Errorf("%q is given twice", tc.Name))
		}
		seen[tc.Name] = true
		if tc.Target == "" && len(tc.Targets) == 0 {
			return nil, policy.AtField(field+".target", errors.New("is missing: give the tunnel's local app (PORT, HOST:PORT or URL) or its targets"))
		}
		targets, err := compileTargets(tc.Target, tc.Targets, mk)
		if err != nil {
			return nil, policy.AtField(field, err)
		}
		if _, err := tc.Policy.Compile(); err != nil {
			return nil, policy.AtField(field, err)
		}
		out = append(out, &agentTunnel{name: tc.Name, targets: targets})
	}
	return out, nil
}

// compileTunnels compiles the tunnels cfg asks for and the Hello that
// asks the edge for them: Tunnels when the config lists them, the first
// one's also in the single-tunnel fields for an edge that predates them.
func compileTunnels(cfg Config, mk proxyMaker) ([]*agentTunnel, tunnel.Hello, error) {
	hello := tunnel.Hello{AgentVersion: cfg.Version, Token: cfg.Token}
	list, err := tunnelsOf(cfg)
	if err != nil {
		return nil, hello, err
	}
	var tunnels []*agentTunnel
	if len(cfg.Tunnels) == 0 {
		// A single tunnel keeps its errors as they were: no field path.
		targets, err := compileTargets(cfg.Target, cfg.Targets, mk)
		if err != nil {
			return nil, hello, err
		}
		if _, err := cfg.Policy.Compile(); err != nil {
			return nil, hello, fmt.Errorf("agent: routes: %w", err)
		}
		tunnels = []*agentTunnel{{name: cfg.Name, targets: targets}}
	} else if tunnels, err = checkTunnels(list, mk); err != nil {
		return nil, hello, fmt.Errorf("agent: %w", err)
	}
	for i, t := range tunnels {
		t.hello = tunnel.TunnelHello{Name: t.name, Target: t.targets.first().url.String()}
		if len(list[i].Policy.Routes) > 0 {
			declared, err := list[i].Policy.ResolveSecrets()
			if err != nil {
				return nil, hello, fmt.Errorf("agent: routes: %w", err)
			}
			if t.hello.Routes, err = json.Marshal(declared); err != nil {
				return nil, hello, err
			}
		}
		for _, lt := range t.targets.all {
			t.hello.Targets = append(t.hello.Targets, lt.info())
		}
		if len(cfg.Tunnels) > 0 {
			hello.Tunnels = append(hello.Tunnels, t.hello)
		}
	}
	first := tunnels[0].hello
	hello.Name, hello.Routes, hello.Target, hello.Targets = first.Name, first.Routes, first.Target, first.Targets
	return tunnels, hello, nil
}

// tunnel is the agent's tunnel of that name, else the first (the single
// tunnel whose name the edge chose).
func (a *Agent) tunnel(name string) *agentTunnel {
	for _, t := range a.tunnels {
		if t.name == name {
			return t
		}
	}
	return a.tunnels[0]
}

// handler is what serves a session's requests: the router of the tunnel
// the edge names in HeaderTunnel when its Welcome answered the agent's
// several tunnels, else the first tunnel's router.
func (a *Agent) handler(welcome tunnel.Welcome) *tunnelRouter {
	routerOf := func(t *agentTunnel) *router {
		return &router{targets: t.targets, errorLog: a.warn, edgeNames: welcome.SetsTarget}
	}
	h := &tunnelRouter{first: routerOf(a.tunnels[0]), errorLog: a.warn}
	if len(welcome.Tunnels) > 0 {
		h.byName = map[string]*router{}
		for _, t := range a.tunnels {
			h.byName[t.name] = routerOf(t)
		}
	}
	return h
}

// olderEdge is what to tell the user when the agent asked for several
// tunnels and the edge answered for one: it predates them and serves the
// first only. "" when the edge answered them all.
func olderEdge(hello tunnel.Hello, welcome tunnel.Welcome) string {
	if len(hello.Tunnels) < 2 || len(welcome.Tunnels) > 0 {
		return ""
	}
	rest := make([]string, 0, len(hello.Tunnels)-1)
	for _, t := range hello.Tunnels[1:] {
		rest = append(rest, t.Name)
	}
	return "this edge serves one tunnel per agent (it is older than tunnels:): only " + hello.Tunnels[0].Name +
		" is online; " + strings.Join(rest, ", ") + " are not. Upgrade the edge, or run one agent per tunnel"
}

// tunnelRouter sends each request to its tunnel's router.
type tunnelRouter struct {
	first *router
	// byName is set when the edge names each request's tunnel
	// (Welcome.Tunnels); otherwise the header is the sender's, and
	// ignored.
	byName   map[string]*router
	errorLog func(msg string, args ...any)
}

func (tr *tunnelRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.Header.Get(tunnel.HeaderTunnel)
	// The edge's word to the agent, not the app's business.
	r.Header.Del(tunnel.HeaderTunnel)
	rt, no := tr.pick(name, r.Header.Get(headerRequestID))
	if no != nil {
		writeAgentError(w, r, http.StatusBadGateway, no.code, no.msg)
		return
	}
	rt.ServeHTTP(w, r)
}

// pick is the router of the tunnel the edge named; when it serves none
// of that name, it logs why and says what to answer.
func (tr *tunnelRouter) pick(name, requestID string) (*router, *noTarget) {
	if tr.byName == nil {
		return tr.first, nil
	}
	if rt := tr.byName[name]; rt != nil {
		return rt, nil
	}
	tr.errorLog("the edge sent a request for a tunnel the agent does not serve", "request_id", requestID, "tunnel", name, "code", codeUnknownTunnel)
	return nil, &noTarget{codeUnknownTunnel, "the agent does not serve tunnel " + quoteName(name)}
}

// codeUnknownTunnel is the agent's answer to a request for a tunnel it
// does not serve.
const codeUnknownTunnel = "unknown_tunnel"

// ProbeHello is the Hello an agent with cfg sends, as a probe (hooktunnel
// doctor): the same tunnels, routes and targets, and nothing served.
func ProbeHello(cfg Config) (tunnel.Hello, error) {
	_, hello, err := compileTunnels(cfg, func(*url.URL) *httputil.ReverseProxy { return nil })
	hello.Probe = true
	return hello, err
}
