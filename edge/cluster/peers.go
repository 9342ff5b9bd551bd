package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/edge/relay"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// PeerPath is the receiving end of relaying, on every edge's public
// listener, on a host that is no tunnel's.
const PeerPath = "/_hooktunnel/peer"

// Headers of a relayed request and of its answer, besides HeaderPeer and
// the Hooktunnel-Tunnel/-Message-Id/-Attempt the request already carries.
const (
	// HeaderMethod, HeaderURI and HeaderHost carry the request's own
	// method, path with query, and public host: the relayed request itself
	// is a POST to PeerPath.
	HeaderMethod = "Hooktunnel-Peer-Method"
	HeaderURI    = "Hooktunnel-Peer-Uri"
	HeaderHost   = "Hooktunnel-Peer-Host"
	// HeaderRelayError is on an answer the receiving edge made itself:
	// because its relay got none from the app (no_agent, agent_lost,
	// body_aborted, app_unreachable: relay.ErrorCode), or because it
	// refused the request (CodeUnauthenticated, CodeBusy). The receiving
	// edge removes an app's own.
	HeaderRelayError = "Hooktunnel-Relay-Error"
	// HeaderDeliveredBy names the edge that answered.
	HeaderDeliveredBy = "Hooktunnel-Delivered-By"
)

// Codes of HeaderRelayError for a request the receiving edge refused: it
// never reached an agent.
const (
	CodeUnauthenticated = "unauthenticated"
	CodeBusy            = "busy"
)

// PeerError is the answer of an edge whose relay got no answer from the
// app: Code is its relay error's wire code.
type PeerError struct {
	Edge string
	Code string
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("cluster: edge %s answered %s", e.Edge, e.Code)
}

// ErrPeerUnreachable: the request could not be sent to the other edge, or
// its answer did not come. ErrPeerDial is the case where no connection
// could be made: the request never left this edge.
var (
	ErrPeerUnreachable = errors.New("cluster: the other edge did not answer")
	ErrPeerDial        = fmt.Errorf("%w: no connection", ErrPeerUnreachable)
)

// PeersConfig is how an edge reaches the others.
type PeersConfig struct {
	// ID is this edge's id, the sender of every request.
	ID string
	// Secret is the secret that authenticates edge-to-edge traffic now
	// (≥ MinSecret bytes), read for every request: a config reload that
	// swaps it in swaps it for signing as for checking.
	Secret func() []byte
	// TLS verifies the other edges' certificates: nil uses the system's
	// roots; an edge with its own CA passes a config with RootCAs.
	TLS *tls.Config
	// MaxIdlePerPeer bounds the connections kept open to each edge.
	MaxIdlePerPeer int
	Clock          clock.Clock
}

// MinSecret is the shortest secret the edges accept: 256 bits (the
// config's cluster.secret is checked against it too).
const MinSecret = 32

// Peers sends relayed requests to the other edges over kept-alive
// connections.
type Peers struct {
	id     string
	secret func() []byte // the secret now: reread for every request
	clock  clock.Clock
	client *http.Client
}

// NewPeers returns the transport to the other edges.
func NewPeers(cfg PeersConfig) (*Peers, error) {
	if !validEdgeID(cfg.ID) {
		return nil, errors.New("cluster: the edge's id is empty or not printable")
	}
	if cfg.Secret == nil || len(cfg.Secret()) < MinSecret {
		return nil, fmt.Errorf("cluster: the secret must be at least %d bytes", MinSecret)
	}
	idle := cfg.MaxIdlePerPeer
	if idle <= 0 {
		idle = 16
	}
	var tlsConfig *tls.Config
	if cfg.TLS != nil {
		tlsConfig = cfg.TLS.Clone()
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:               nil, // edge to edge, never through a proxy from the environment
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tlsConfig,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	return &Peers{
		id:     cfg.ID,
		secret: cfg.Secret,
		clock:  clock.Or(cfg.Clock),
		client: &http.Client{
			Transport: transport,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // an edge never redirects a peer
			},
		},
	}, nil
}

// Deliver sends req, prepared for the tunnel's agent (its headers set,
// including the message id and attempt), to the edge to, and returns the
// app's answer with HeaderDeliveredBy; the caller closes its body. An
// answer the other edge made because its relay got none is a *PeerError;
// a failure to reach it wraps ErrPeerUnreachable, or is the context's
// error. req's body streams, unless the signature covers it (a declared
// length of at most relay.MaxRetryBody): then it is read first, and a
// failure to read it is a *relay.BodyError.
func (p *Peers) Deliver(ctx context.Context, to store.EdgeLease, tunnelName string, req *http.Request) (*http.Response, error) {
	if req.Header.Get(tunnel.HeaderMessageID) == "" {
		return nil, errors.New("cluster: a relayed request needs a message id")
	}
	body := req.Body
	if body == nil {
		body = http.NoBody
	}
	out, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(to.Advertise, "/")+PeerPath, body)
	if err != nil {
		return nil, fmt.Errorf("%w: edge %s: %v", ErrPeerUnreachable, to.ID, err)
	}
	out.ContentLength = req.ContentLength
	if req.Body == nil || req.Body == http.NoBody {
		out.ContentLength = 0
	}
	out.Header = req.Header.Clone()
	out.Header.Set(tunnel.HeaderTunnel, tunnelName)
	out.Header.Set(HeaderMethod, req.Method)
	out.Header.Set(HeaderURI, req.URL.RequestURI())
	out.Header.Set(HeaderHost, req.Host)
	out.Header.Del(HeaderRelayError)
	out.Header.Del(HeaderDeliveredBy)
	if err := Sign(out, p.secret(), p.id, to.ID, p.clock.Now()); err != nil {
		return nil, &relay.BodyError{Err: err} // the request never left
	}
	resp, err := p.client.Do(out)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, fmt.Errorf("%w: edge %s: %v", ErrPeerDial, to.ID, unwrapURL(err))
		}
		return nil, fmt.Errorf("%w: edge %s: %v", ErrPeerUnreachable, to.ID, unwrapURL(err))
	}
	if code := resp.Header.Get(HeaderRelayError); code != "" {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		return nil, &PeerError{Edge: to.ID, Code: code}
	}
	if resp.Header.Get(HeaderDeliveredBy) == "" {
		// Not an edge's answer (a proxy in the way, an edge that refused
		// the request): no app answered.
		resp.Body.Close()
		return nil, fmt.Errorf("%w: edge %s: answered %d without naming the edge", ErrPeerUnreachable, to.ID, resp.StatusCode)
	}
	return resp, nil
}

// unwrapURL drops the *url.Error's method and URL: the URL is the peer's
// advertised address, already named.
func unwrapURL(err error) error {
	if u, ok := err.(interface{ Unwrap() error }); ok {
		if inner := u.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// Close closes the kept connections.
func (p *Peers) Close() { p.client.CloseIdleConnections() }
