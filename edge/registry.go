package edge

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// agentSession is one connected agent serving one tunnel or several.
type agentSession struct {
	id        string
	agent     string // the grant's name
	tokenHash [32]byte
	remote    string
	since     time.Time
	session   *tunnel.Session
	// streams sends requests on the session's streams, keeping them open
	// between requests.
	streams *streamTransport
	// slots bounds concurrent requests on this session.
	slots chan struct{}
	// tunnels are the names the session serves, the first one first.
	tunnels []string
	// targets are the local targets the agent described in its Hello, by
	// tunnel.
	targets map[string][]tunnel.TargetInfo
}

func newAgentSession(s *tunnel.Session, agent string, tokenHash [32]byte, remote string, maxStreams int) *agentSession {
	as := &agentSession{
		id:        newID(),
		agent:     agent,
		tokenHash: tokenHash,
		remote:    remote,
		since:     time.Now(),
		slots:     make(chan struct{}, maxStreams),
	}
	as.attach(s)
	return as
}

// attach binds the session the transport opens streams on.
func (as *agentSession) attach(s *tunnel.Session) {
	if s == nil {
		return
	}
	as.session = s
	as.streams = newStreamTransport(s.Open, cap(as.slots))
}

// dialError marks a failure to open a stream: the request never left the
// edge, so another agent may take it.
type dialError struct{ err error }

func (e *dialError) Error() string { return "open stream to agent: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// tunnelState is a tunnel's live sessions. The slice is replaced, never
// mutated, so picking a session takes no lock.
type tunnelState struct {
	name     string
	sessions atomic.Pointer[[]*agentSession]
	next     atomic.Uint64
	// declared is the policy the latest agent declared, used when the edge
	// config has no routes for the tunnel.
	declared atomic.Pointer[policy.Policy]
}

// pick returns the next live session not in skip, round-robin.
func (t *tunnelState) pick(skip map[*agentSession]bool) *agentSession {
	list := t.sessions.Load()
	if list == nil || len(*list) == 0 {
		return nil
	}
	n := len(*list)
	start := int(t.next.Add(1) % uint64(n))
	for i := 0; i < n; i++ {
		as := (*list)[(start+i)%n]
		if !skip[as] && !as.session.IsClosed() {
			return as
		}
	}
	return nil
}

// registry maps tunnel names to their sessions.
type registry struct {
	mu      sync.Mutex
	tunnels map[string]*tunnelState
}

func newRegistry() *registry {
	return &registry{tunnels: map[string]*tunnelState{}}
}

// lookup returns the tunnel's state, nil if no agent ever served it.
func (r *registry) lookup(name string) *tunnelState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tunnels[name]
}

// owner returns the grant name of the agents serving the tunnel now, "" if none.
func (r *registry) owner(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t := r.tunnels[name]; t != nil {
		if list := t.sessions.Load(); list != nil && len(*list) > 0 {
			return (*list)[0].agent
		}
	}
	return ""
}

// add registers a session for the tunnel.
func (r *registry) add(name string, as *agentSession, declared *policy.Policy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tunnels[name]
	if t == nil {
		t = &tunnelState{name: name}
		r.tunnels[name] = t
	}
	var list []*agentSession
	if old := t.sessions.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, as)
	t.sessions.Store(&list)
	// A newcomer without routes must not wipe the routes the tunnel's
	// other agents declared.
	if declared != nil || len(list) == 1 {
		t.declared.Store(declared)
	}
}

// remove unregisters a session; it is idempotent.
func (r *registry) remove(name string, as *agentSession) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tunnels[name]
	if t == nil {
		return
	}
	old := t.sessions.Load()
	if old == nil {
		return
	}
	list := make([]*agentSession, 0, len(*old))
	for _, s := range *old {
		if s != as {
			list = append(list, s)
		}
	}
	t.sessions.Store(&list)
}

// all returns every session, for shutdown and the admin API.
func (r *registry) all() map[string][]*agentSession {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]*agentSession{}
	for name, t := range r.tunnels {
		if list := t.sessions.Load(); list != nil && len(*list) > 0 {
			out[name] = append([]*agentSession(nil), *list...)
		}
	}
	return out
}

// sessions returns every live session once, however many tunnels it
// serves.
func (r *registry) sessions() []*agentSession {
	var out []*agentSession
	seen := map[*agentSession]bool{}
	for _, list := range r.all() {
		for _, as := range list {
			if !seen[as] {
				seen[as] = true
				out = append(out, as)
			}
		}
	}
	return out
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
