package agent

import (
	"net/url"
	"strings"
	"sync"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// An agent behind several edges (one PostgreSQL, one config) holds two
// sessions: the first to the --edge URL, as a single edge's agent does,
// and a second to another edge its Welcomes list, so its tunnels stay
// online while one edge restarts or dies. edgeSet is what the two
// sessions share of the cluster: the edges listed, which edge the first
// session holds, and which the second does.
type edgeSet struct {
	dialed string // the --edge URL

	mu     sync.Mutex
	listed []string // the latest Welcome's Edges the agent may use
	first  string   // the edge the first session holds (its Welcome.Edge); "" while unknown
	name   string   // the tunnel name the first session's edge chose
	second string   // the edge the second session holds; "" when none
	// leave is closed when the second session must leave its edge: the
	// first session has come to the same one.
	leave chan struct{}
	// changed is closed, and replaced, when listed or first changes.
	changed chan struct{}
	// next picks among the candidates; a failure moves it on.
	next int
	// clustered: an edge's Welcome listed edges, so it is one of a
	// cluster, and edges may join it later.
	clustered bool
}

func newEdgeSet(dialed string) *edgeSet {
	return &edgeSet{dialed: dialed, changed: make(chan struct{})}
}

// maxEdges bounds the edges of a Welcome the agent keeps, and
// maxEdgeURL the length of each.
const (
	maxEdges   = 32
	maxEdgeURL = 1024
)

// usableEdges is the edges of a Welcome's list the second session may
// dial: URLs with a host and an http(s) or ws(s) scheme, without
// credentials, each once, at most maxEdges; and none that would carry
// the token less safely than the --edge URL does: behind an https edge,
// https ones only.
func usableEdges(dialed string, listed []string) []string {
	secure := isSecure(dialed)
	var out []string
	seen := map[string]bool{}
	for _, e := range listed {
		if len(out) == maxEdges {
			break
		}
		if len(e) > maxEdgeURL {
			continue
		}
		u, err := url.Parse(e)
		if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
			continue
		}
		if _, err := tunnel.ConnectURL(e); err != nil || secure && !isSecure(e) {
			continue
		}
		if k := edgeKey(e); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// isSecure reports whether an edge URL is dialed over TLS.
func isSecure(edge string) bool {
	u, err := url.Parse(edge)
	return err == nil && (strings.EqualFold(u.Scheme, "https") || strings.EqualFold(u.Scheme, "wss"))
}

// edgeKey is what tells two edge URLs apart: the websocket URL dialed,
// its host in lower case; "" for one that cannot be dialed.
func edgeKey(edge string) string {
	ws, err := tunnel.ConnectURL(edge)
	if err != nil {
		return ""
	}
	return strings.ToLower(ws)
}

// sameEdge reports whether a and b are the same edge.
func sameEdge(a, b string) bool {
	ka := edgeKey(a)
	return ka != "" && ka == edgeKey(b)
}

// heard takes the list of a Welcome, of either session: the latest word
// of the cluster on its live edges. Call with mu held.
func (s *edgeSet) heard(w tunnel.Welcome) {
	s.listed = usableEdges(s.dialed, w.Edges)
	s.clustered = s.clustered || len(w.Edges) > 0
	close(s.changed)
	s.changed = make(chan struct{})
}

// firstOn records the first session's Welcome. When it lands on the
// edge the second session holds, the second leaves for another.
func (s *edgeSet) firstOn(w tunnel.Welcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.first, s.name = w.Edge, w.Tunnel
	s.heard(w)
	if s.second != "" && sameEdge(s.second, s.first) && s.leave != nil {
		close(s.leave)
		s.leave = nil
	}
}

// pick is the edge the second session should dial next: one listed
// that the first session does not hold; "" when there is none (a single
// edge, or an edge that does not say which it is), and then changed
// tells when to look again.
func (s *edgeSet) pick() (edge string, changed <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.first == "" {
		return "", s.changed
	}
	var candidates []string
	for _, e := range s.listed {
		if !sameEdge(e, s.first) {
			candidates = append(candidates, e)
		}
	}
	if len(candidates) == 0 {
		return "", s.changed
	}
	return candidates[s.next%len(candidates)], s.changed
}

// failed moves pick on to the next candidate.
func (s *edgeSet) failed() {
	s.mu.Lock()
	s.next++
	s.mu.Unlock()
}

// hold records that the second session, dialed at edge, was welcomed
// with w. It is refused (false) when w says the session is on the
// first one's edge; else leave is closed when the first comes to it.
func (s *edgeSet) hold(w tunnel.Welcome, edge string) (leave <-chan struct{}, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.heard(w)
	at := w.Edge
	if at == "" {
		at = edge
	}
	if sameEdge(at, s.first) {
		return nil, false
	}
	s.second, s.leave = at, make(chan struct{})
	return s.leave, true
}

// relist takes the list of a probe's Welcome.
func (s *edgeSet) relist(w tunnel.Welcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.heard(w)
}

// inCluster reports whether an edge said it is one of a cluster.
func (s *edgeSet) inCluster() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clustered
}

// release records that the second session has ended.
func (s *edgeSet) release() {
	s.mu.Lock()
	s.second, s.leave = "", nil
	s.mu.Unlock()
}

// secondHello is the Hello of the second session: the first's, with the
// tunnel name the first one's edge chose, so both serve the same tunnel.
func (s *edgeSet) secondHello(h tunnel.Hello) tunnel.Hello {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.Name == "" && len(h.Tunnels) == 0 && tunnel.ValidName(s.name) {
		h.Name = s.name
	}
	return h
}
