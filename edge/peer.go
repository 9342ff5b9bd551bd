package edge

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/edge/cluster"
	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/relay"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// peerEndpoint is where another edge of the cluster relays a webhook it
// has checked, journaled and prepared: it goes to one of this edge's
// sessions, never on to a third edge, and the answer goes back as the app
// gave it, or as the relay error this edge's relay got.
type peerEndpoint struct {
	self   string
	secret func() []byte // the cluster secret now (config reload swaps it)
	auth   *cluster.Authenticator
	relay  *relay.Relay
	clock  clock.Clock
	log    *slog.Logger
}

// newPeerEndpoint is the receiving end of relaying for the edge whose
// registry id is self.
func newPeerEndpoint(self string, secret func() []byte, r *relay.Relay, clk clock.Clock, log *slog.Logger) *peerEndpoint {
	return &peerEndpoint{self: self, secret: secret, auth: cluster.NewAuthenticator(self), relay: r, clock: clock.Or(clk), log: log}
}

func (p *peerEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(cluster.HeaderDeliveredBy, p.self)
	if r.Method != http.MethodPost {
		p.refuse(w, r, http.StatusMethodNotAllowed, errPeerMethod)
		return
	}
	from, err := p.auth.Authenticate(p.secret(), r, p.clock.Now())
	if err != nil {
		p.refuse(w, r, http.StatusUnauthorized, err)
		return
	}
	name := r.Header.Get(tunnel.HeaderTunnel)
	id := r.Header.Get(tunnel.HeaderMessageID)
	req, err := peerRequest(r, name)
	if err != nil {
		p.log.Warn("relayed request malformed", "from", from, "tunnel", name, "request_id", id, "err", err)
		w.Header().Set(cluster.HeaderRelayError, relay.CodeAgentLost)
		writeRefusal(w, http.StatusBadRequest, outcome.CodeBadRequest, err.Error(), id)
		return
	}
	resp, err := p.relay.DeliverLocal(name, req)
	if err != nil {
		code := relay.ErrorCode(err)
		status, ocode, message := http.StatusBadGateway, outcome.CodeAgentLost, "the agent's connection ended before the app answered"
		switch code {
		case relay.CodeNoAgent:
			status, ocode, message = http.StatusServiceUnavailable, outcome.CodeTunnelOffline, "no agent is connected for tunnel "+name+" on this edge"
		case relay.CodeBodyAborted:
			ocode, message = outcome.CodeBodyRead, "the request body failed on its way"
		case "":
			code = relay.CodeAgentLost // the sending edge went away
		}
		w.Header().Set(cluster.HeaderRelayError, code)
		writeRefusal(w, status, ocode, message, id)
		return
	}
	defer resp.Body.Close()
	// An app's answer says nothing of the edges: it cannot pass for one.
	resp.Header.Del(cluster.HeaderRelayError)
	resp.Header.Del(cluster.HeaderDeliveredBy)
	if err := copyAnswer(w, resp); err != nil {
		panic(http.ErrAbortHandler) // the sending edge must see the answer cut, not whole
	}
}

var errPeerMethod = errors.New("edge: edge-to-edge requests are POSTs")

// refuse answers a request that is not an authenticated peer's: it never
// reaches an agent. The reason is logged, never the header.
func (p *peerEndpoint) refuse(w http.ResponseWriter, r *http.Request, status int, err error) {
	code := cluster.CodeUnauthenticated
	if errors.Is(err, cluster.ErrBusy) {
		status, code = http.StatusServiceUnavailable, cluster.CodeBusy
		w.Header().Set("Retry-After", "1")
	}
	p.log.Warn("edge-to-edge request refused", "remote", r.RemoteAddr, "reason", err)
	w.Header().Set(cluster.HeaderRelayError, code)
	writeRefusal(w, status, outcome.CodeUnauthorized, "edge-to-edge requests need a valid "+cluster.HeaderPeer+" header", "")
}

// peerRequest is the relayed request as the sending edge prepared it for
// the tunnel's agent: its own method, path and public host back in place,
// the edge-to-edge headers gone. Nothing on the request keeps it on this
// edge: the endpoint hands it to DeliverLocal, which never relays, and
// that is the one-hop guarantee.
func peerRequest(r *http.Request, name string) (*http.Request, error) {
	if !tunnel.ValidName(name) {
		return nil, fmt.Errorf("edge: %s names no valid tunnel", tunnel.HeaderTunnel)
	}
	method := r.Header.Get(cluster.HeaderMethod)
	if !policy.ValidHeaderName(method) { // a method is a token, as a field name is
		return nil, fmt.Errorf("edge: %s is not a method", cluster.HeaderMethod)
	}
	uri := r.Header.Get(cluster.HeaderURI)
	u, err := url.ParseRequestURI(uri)
	if err != nil || !strings.HasPrefix(uri, "/") {
		return nil, fmt.Errorf("edge: %s is not a path", cluster.HeaderURI)
	}
	req := r.Clone(r.Context())
	req.Method = method
	req.URL = &url.URL{Scheme: "http", Host: name, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	req.Host = r.Header.Get(cluster.HeaderHost)
	req.RequestURI = ""
	h := req.Header
	removeHopByHop(h)
	for _, k := range []string{cluster.HeaderPeer, cluster.HeaderMethod, cluster.HeaderURI, cluster.HeaderHost, cluster.HeaderRelayError, cluster.HeaderDeliveredBy} {
		h.Del(k)
	}
	if req.ContentLength == 0 {
		req.Body = nil
	}
	return req, nil
}

// holderView is what the remote needs of the cluster's registry
// (*cluster.Member).
type holderView interface {
	Holders(tunnel string) []store.EdgeLease
	Declared(tunnel string) []byte
}

// peerRemote is the relay's Remote in a cluster: the edges that hold a
// session for a tunnel, reached over the authenticated transport.
type peerRemote struct {
	view  holderView
	peers *cluster.Peers
	// compile compiles the routes an agent declared on another edge, as
	// this edge would have compiled them (decodeDeclared).
	compile func(tunnel string, raw []byte) (*policy.Policy, error)
	log     *slog.Logger

	mu       sync.Mutex
	declared map[string]declaredPolicy
}

type declaredPolicy struct {
	raw string
	p   *policy.Policy
}

var _ relay.Remote = (*peerRemote)(nil)

func newPeerRemote(view holderView, peers *cluster.Peers, compile func(string, []byte) (*policy.Policy, error), log *slog.Logger) *peerRemote {
	return &peerRemote{view: view, peers: peers, compile: compile, log: log, declared: map[string]declaredPolicy{}}
}

func (p *peerRemote) Online(tunnelName string) bool { return len(p.view.Holders(tunnelName)) > 0 }

// Declared compiles what the holder's agent declared, once per version;
// routes that do not compile here forward nothing (fail closed).
func (p *peerRemote) Declared(tunnelName string) *policy.Policy {
	raw := p.view.Declared(tunnelName)
	if raw == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if d, ok := p.declared[tunnelName]; ok && d.raw == string(raw) {
		return d.p
	}
	compiled, err := p.compile(tunnelName, raw)
	if err != nil || compiled == nil {
		p.log.Warn("routes declared on another edge do not compile here: the tunnel forwards nothing", "tunnel", tunnelName, "err", err)
		compiled = denyAll
	}
	p.declared[tunnelName] = declaredPolicy{raw: string(raw), p: compiled}
	return compiled
}

// Deliver sends req to the freshest edge holding the tunnel, and to the
// next one once when the first had no agent after all (its session ended
// since its last renewal) or could not be reached, provided the request
// can go again: a body small enough to keep, or one not yet read.
func (p *peerRemote) Deliver(tunnelName string, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	holders := p.view.Holders(tunnelName)
	if len(holders) == 0 {
		return nil, relay.ErrNoAgent
	}
	var watched *relay.WatchedBody // nil: no body
	if req.Body != nil && req.Body != http.NoBody {
		watched = &relay.WatchedBody{ReadCloser: req.Body}
		req.Body = watched // never closed here: the sender's body is the edge's to close
	}
	body, replayable, err := relay.RetryableBody(req)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for _, to := range holders[:min(2, len(holders))] {
		if body != nil {
			req.Body = body()
		}
		resp, err := p.peers.Deliver(ctx, to, tunnelName, req)
		if err == nil {
			return resp, nil
		}
		if failed := watched.Failed(); failed != nil {
			return nil, &relay.BodyError{Err: failed}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A body that streamed was read by the first try, unless no
		// connection was made.
		again := replayable || errors.Is(err, cluster.ErrPeerDial)
		var pe *cluster.PeerError
		switch {
		case errors.As(err, &pe) && (pe.Code == relay.CodeNoAgent || pe.Code == cluster.CodeUnauthenticated || pe.Code == cluster.CodeBusy):
			if pe.Code != relay.CodeNoAgent {
				p.log.Warn("another edge refused a relayed request", "edge", pe.Edge, "tunnel", tunnelName, "reason", pe.Code)
			}
			lastErr = fmt.Errorf("%w (edge %s answered %s)", relay.ErrNoAgent, pe.Edge, pe.Code) // no agent saw it
		case errors.As(err, &pe):
			return nil, relay.ErrorOf(pe.Code, pe.Edge)
		case errors.Is(err, cluster.ErrPeerDial):
			lastErr = fmt.Errorf("%w: %v", relay.ErrNoAgent, err) // the request never left
		default:
			lastErr = fmt.Errorf("%w: %v", relay.ErrAgentLost, err)
		}
		if !again {
			return nil, lastErr
		}
	}
	return nil, lastErr
}

// sessionLeases are the relay's sessions as the registry keeps them, with
// the routes their agents declared (cluster.EncodeDeclared).
func sessionLeases(r *relay.Relay) []store.SessionLease {
	sessions := r.Sessions()
	out := make([]store.SessionLease, 0, len(sessions))
	for _, s := range sessions {
		out = append(out, store.SessionLease{ID: s.ID, Agent: s.Agent, Tunnels: append([]string(nil), s.Tunnels...),
			Since: s.Since, Declared: cluster.EncodeDeclared(s.Declared)})
	}
	return out
}
