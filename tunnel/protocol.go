// Package tunnel is hooktunnel's wire protocol: a websocket carrying a yamux
// session, opened by the agent. The agent's first stream is the control
// stream: a versioned JSON handshake (Hello, then Welcome), then control
// messages. Every other stream the edge opens carries HTTP, one connection
// per stream.
package tunnel

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Path is where the edge accepts agents, on its apex host.
const Path = "/_hooktunnel/v1/connect"

// ProtocolVersion is the handshake version this build speaks.
const ProtocolVersion = 1

// HeaderTarget names, on a request the edge forwards, the agent's local
// target the edge config's route sends it to ("billing"). The edge sets
// it from its config only (a sender's is removed); the agent maps the name
// to an address, refuses a name it does not know, and removes the header
// before the app sees the request.
const HeaderTarget = "Hooktunnel-Target"

// HeaderTunnel names, on a request the edge forwards, the tunnel it came
// in on ("billing"), so an agent serving several tunnels over one session
// picks that tunnel's targets. The edge always sets it (a sender's is
// replaced); the agent removes it before the app sees the request, and
// honours it only from an edge whose Welcome lists Tunnels.
const HeaderTunnel = "Hooktunnel-Tunnel"

// maxMessage bounds one control message, so a peer cannot make the other
// side buffer without limit.
const maxMessage = 64 << 10

// Hello is the agent's first message.
type Hello struct {
	Protocol     int    `json:"protocol"`
	AgentVersion string `json:"agent_version"`
	// Token is the agent's token. Dial sends it in the upgrade request's
	// Authorization header, where the edge checks it; the Hello repeats
	// it for edges that predate that check. An edge accepts a Hello with
	// no token or the upgrade's.
	Token string `json:"token"`
	// Name is the tunnel name asked for; empty lets the edge choose.
	Name string `json:"name,omitempty"`
	// Routes is the agent's declared policy (the --route flags or the
	// --policy file) in the JSON form of policy.Config. The edge uses it only
	// when its own config has no routes for the tunnel and the agent's grant
	// allows declaring them.
	Routes json.RawMessage `json:"routes,omitempty"`
	// Target describes the local app ("http://127.0.0.1:8000"); with the
	// token it keys the name the edge allocates, so a restarted agent gets
	// its URL back.
	Target string `json:"target"`
	// Targets describe the agent's local targets, for the edge's API and
	// inspector; the edge routes nothing by them.
	Targets []TargetInfo `json:"targets,omitempty"`
	// Tunnels, when not empty, are the several tunnels the agent serves
	// over this one session; Name, Routes, Target and Targets then repeat
	// the first one's for an edge that predates them (it serves only that
	// one, and its Welcome has no Tunnels). Each name must be given.
	Tunnels []TunnelHello `json:"tunnels,omitempty"`
	// Probe asks the edge to check the token, name and routes and answer
	// as it would, without serving the tunnel (hooktunnel doctor).
	Probe bool `json:"probe,omitempty"`
}

// TunnelHello is one of the several tunnels a Hello asks for: the same
// fields as a single tunnel's Hello.
type TunnelHello struct {
	Name    string          `json:"name"`
	Routes  json.RawMessage `json:"routes,omitempty"`
	Target  string          `json:"target"`
	Targets []TargetInfo    `json:"targets,omitempty"`
}

// MaxTunnels bounds the tunnels one Hello may ask for.
const MaxTunnels = 32

// LogValue keeps the token out of logs.
func (h Hello) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.Int("protocol", h.Protocol),
		slog.String("agent_version", h.AgentVersion),
		slog.String("name", h.Name),
		slog.String("target", h.Target),
	}
	if len(h.Tunnels) > 0 {
		names := make([]string, len(h.Tunnels))
		for i, t := range h.Tunnels {
			names[i] = t.Name
		}
		attrs = append(attrs, slog.String("tunnels", strings.Join(names, ",")))
	}
	return slog.GroupValue(attrs...)
}

// TunnelsAsked is the tunnels the Hello asks for: Tunnels, or the one
// its single-tunnel fields describe.
func (h Hello) TunnelsAsked() []TunnelHello {
	if len(h.Tunnels) > 0 {
		return h.Tunnels
	}
	return []TunnelHello{{Name: h.Name, Routes: h.Routes, Target: h.Target, Targets: h.Targets}}
}

// Welcome is the edge's answer: the tunnel the agent now serves, or why not.
type Welcome struct {
	Protocol  int      `json:"protocol"`
	SessionID string   `json:"session_id,omitempty"`
	Tunnel    string   `json:"tunnel,omitempty"`
	URLs      []string `json:"urls,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Refusal   *Refusal `json:"refusal,omitempty"`
	// SetsTarget says the edge sets HeaderTarget from its config and
	// removes a sender's. An agent honours the header only then: behind
	// an older edge it would be whatever the sender wrote.
	SetsTarget bool `json:"sets_target,omitempty"`
	// Targets is the target name of each of URLs' routes, in their order
	// ("" for a route that names none).
	Targets []string `json:"targets,omitempty"`
	// Tunnels answers a Hello's Tunnels, in their order (Tunnel, URLs,
	// Targets and Warnings above repeat the first one's). An edge that
	// answers them sets HeaderTunnel on every request it forwards; an
	// older edge leaves them out and serves only the first tunnel.
	Tunnels []TunnelWelcome `json:"tunnels,omitempty"`
	// Edge is the answering edge's advertise URL, and Edges the advertise
	// URLs of its cluster's live edges, itself included. An agent keeps a
	// second session to one of Edges that is not Edge, so its tunnels stay
	// up when one edge goes away. A single edge sends neither; an older
	// agent ignores them.
	Edge  string   `json:"edge,omitempty"`
	Edges []string `json:"edges,omitempty"`
}

// TunnelWelcome is one tunnel of a Welcome: its name, its URLs with each
// route's target name, and what the agent should know about it.
type TunnelWelcome struct {
	Tunnel   string   `json:"tunnel"`
	URLs     []string `json:"urls,omitempty"`
	Targets  []string `json:"targets,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// TunnelsServed is the tunnels the Welcome admits: Tunnels, or the one
// its single-tunnel fields describe.
func (w Welcome) TunnelsServed() []TunnelWelcome {
	if len(w.Tunnels) > 0 {
		return w.Tunnels
	}
	return []TunnelWelcome{{Tunnel: w.Tunnel, URLs: w.URLs, Targets: w.Targets, Warnings: w.Warnings}}
}

// TargetInfo is one of an agent's local targets as it describes it: the
// name edge routes call it by and the path prefix it serves (either may
// be empty; both are for the default target), and where it is.
type TargetInfo struct {
	Name  string `json:"name,omitempty"`
	Path  string `json:"path,omitempty"`
	Local string `json:"local"`
}

// maxTargets bounds the targets a Hello may describe.
const maxTargets = 256

// PathUnder reports whether path is prefix or below it, on segment
// boundaries: /webhooks/github holds itself and /webhooks/github/x, not
// /webhooks/githubx; a prefix ending in "/" holds everything below it.
func PathUnder(prefix, path string) bool {
	if prefix == "" || !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || strings.HasSuffix(prefix, "/") || path[len(prefix)] == '/'
}

// Refusal codes sent in a Welcome.
const (
	RefusedBadToken   = "bad_token"
	RefusedName       = "name_not_granted"
	RefusedNameInUse  = "name_in_use"
	RefusedBadRoutes  = "bad_routes"
	RefusedProtocol   = "protocol_version"
	RefusedBadRequest = "bad_request"
)

// RefusedNotPublic is the error code of the edge's admin listener when an
// agent dials it: agents connect to the public listener.
const RefusedNotPublic = "not_public_listener"

// Refusal says why the edge did not admit an agent. Permanent refusals
// (a bad token, a name the token does not grant) will not change by retrying.
type Refusal struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Permanent bool   `json:"permanent"`
}

func (r *Refusal) Error() string { return "edge refused the agent: " + r.Message }

// ErrMessageTooLarge is returned for a control message over maxMessage.
var ErrMessageTooLarge = errors.New("tunnel: control message too large")

// DecodeHello parses and validates an agent's Hello.
func DecodeHello(b []byte) (Hello, error) {
	var h Hello
	if len(b) > maxMessage {
		return h, ErrMessageTooLarge
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("tunnel: hello is not valid JSON: %w", err)
	}
	if h.Protocol != ProtocolVersion {
		return h, fmt.Errorf("tunnel: hello speaks protocol %d, this edge speaks %d", h.Protocol, ProtocolVersion)
	}
	if len(h.Token) > maxTokenLen {
		return h, errors.New("tunnel: hello token too long")
	}
	if h.Name != "" && !ValidName(h.Name) {
		return h, fmt.Errorf("tunnel: %q is not a valid tunnel name (lowercase letters, digits and '-', at most 63)", h.Name)
	}
	if len(h.AgentVersion) > 128 {
		return h, errors.New("tunnel: hello field too long")
	}
	if err := checkTunnelHello(TunnelHello{Name: h.Name, Routes: h.Routes, Target: h.Target, Targets: h.Targets}); err != nil {
		return h, err
	}
	if len(h.Tunnels) > MaxTunnels {
		return h, fmt.Errorf("tunnel: hello asks for more than %d tunnels", MaxTunnels)
	}
	seen := map[string]bool{}
	for i, t := range h.Tunnels {
		if !ValidName(t.Name) {
			return h, fmt.Errorf("tunnel: tunnels[%d]: %q is not a valid tunnel name (lowercase letters, digits and '-', at most 63)", i, t.Name)
		}
		if seen[t.Name] {
			return h, fmt.Errorf("tunnel: tunnels[%d]: %s is asked for twice", i, t.Name)
		}
		seen[t.Name] = true
		if err := checkTunnelHello(t); err != nil {
			return h, fmt.Errorf("tunnel: tunnels[%d]: %s", i, strings.TrimPrefix(err.Error(), "tunnel: "))
		}
	}
	if len(h.Tunnels) > 0 && h.Name != "" && h.Name != h.Tunnels[0].Name {
		return h, errors.New("tunnel: hello name is not its first tunnel's")
	}
	return h, nil
}

// checkTunnelHello bounds one tunnel's fields of a Hello.
func checkTunnelHello(t TunnelHello) error {
	if len(t.Target) > 1024 {
		return errors.New("tunnel: hello field too long")
	}
	if len(t.Targets) > maxTargets {
		return fmt.Errorf("tunnel: hello describes more than %d targets", maxTargets)
	}
	for _, tg := range t.Targets {
		if len(tg.Name) > 63 || len(tg.Path) > 1024 || len(tg.Local) > 1024 {
			return errors.New("tunnel: hello target field too long")
		}
	}
	if len(t.Routes) > 0 && !json.Valid(t.Routes) {
		return errors.New("tunnel: hello routes are not valid JSON")
	}
	return nil
}

// ValidName reports whether name can be a tunnel's host label: 1 to 63
// lowercase letters, digits and inner hyphens.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > 63 || strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// control is a message on the control stream after the handshake.
type control struct {
	Type   string `json:"type"`
	Reason string `json:"reason,omitempty"`
}

const (
	controlGoAway  = "goaway"
	controlInspect = "inspect"
)
