// Package relay is the edge's one road to the apps: it owns the agent
// sessions of every tunnel, the streams kept open on them, and the
// delivery of a request to a tunnel's agent, with the retries that are
// safe. The synchronous proxy, the queue and replay all send through
// Deliver; the relay answers with the app's response or a sentinel error
// and leaves what to tell the sender to the edge.
package relay

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"

	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/policy"
)

// Relay maps tunnel names to the agent sessions serving them.
type Relay struct {
	clock clock.Clock

	mu      sync.Mutex
	tunnels map[string]*tunnelState

	// remote is the other edges of the cluster; nil for a lone edge.
	remote atomic.Pointer[Remote]
}

// New returns an empty relay reading time from clk (nil: the system's).
func New(clk clock.Clock) *Relay {
	return &Relay{clock: clock.Or(clk), tunnels: map[string]*tunnelState{}}
}

// tunnelState is a tunnel's live sessions. The slice is replaced, never
// mutated, so picking a session takes no lock.
type tunnelState struct {
	sessions atomic.Pointer[[]*Session]
	next     atomic.Uint64
	// declared is the policy the latest agent declared, used when the edge
	// config has no routes for the tunnel.
	declared atomic.Pointer[policy.Policy]
}

// pick returns the next live session not in skip, round-robin.
func (t *tunnelState) pick(skip map[*Session]bool) *Session {
	if t == nil {
		return nil
	}
	list := t.sessions.Load()
	if list == nil || len(*list) == 0 {
		return nil
	}
	n := len(*list)
	start := int(t.next.Add(1) % uint64(n))
	for i := 0; i < n; i++ {
		s := (*list)[(start+i)%n]
		if !skip[s] && !s.conn.IsClosed() {
			return s
		}
	}
	return nil
}

func (r *Relay) lookup(name string) *tunnelState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tunnels[name]
}

// Known reports whether an agent ever served the tunnel since the edge
// started, or another edge's agent serves it now.
func (r *Relay) Known(name string) bool {
	if r.lookup(name) != nil {
		return true
	}
	rm := r.remoteOf()
	return rm != nil && rm.Online(name)
}

// Online reports whether a live session serves the tunnel now, on this
// edge or on another.
func (r *Relay) Online(name string) bool {
	if r.lookup(name).pick(nil) != nil {
		return true
	}
	rm := r.remoteOf()
	return rm != nil && rm.Online(name)
}

// Declared is the policy the tunnel's latest agent declared; nil if none.
// The agent of a live session here comes first, then one another edge
// holds, then the last one seen here.
func (r *Relay) Declared(name string) *policy.Policy {
	t := r.lookup(name)
	if t.pick(nil) != nil {
		return t.declared.Load()
	}
	if rm := r.remoteOf(); rm != nil && rm.Online(name) {
		return rm.Declared(name)
	}
	if t != nil {
		return t.declared.Load()
	}
	return nil
}

// Owner returns the grant name of the agents serving the tunnel now, ""
// if none.
func (r *Relay) Owner(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t := r.tunnels[name]; t != nil {
		if list := t.sessions.Load(); list != nil && len(*list) > 0 {
			return (*list)[0].Agent
		}
	}
	return ""
}

// Add registers a session for the tunnel, with the routes its agent
// declared (nil: none).
func (r *Relay) Add(name string, s *Session, declared *policy.Policy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tunnels[name]
	if t == nil {
		t = &tunnelState{}
		r.tunnels[name] = t
	}
	var list []*Session
	if old := t.sessions.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, s)
	t.sessions.Store(&list)
	// A newcomer without routes must not wipe the routes the tunnel's
	// other agents declared.
	if declared != nil || len(list) == 1 {
		t.declared.Store(declared)
	}
}

// Remove unregisters a session: it takes no new requests for the tunnel.
// It is idempotent.
func (r *Relay) Remove(name string, s *Session) {
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
	list := make([]*Session, 0, len(*old))
	for _, o := range *old {
		if o != s {
			list = append(list, o)
		}
	}
	t.sessions.Store(&list)
}

// All returns every registered session by tunnel, for the admin API and
// reload.
func (r *Relay) All() map[string][]*Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]*Session{}
	for name, t := range r.tunnels {
		if list := t.sessions.Load(); list != nil && len(*list) > 0 {
			out[name] = append([]*Session(nil), *list...)
		}
	}
	return out
}

// Sessions returns every registered session once, however many tunnels it
// serves.
func (r *Relay) Sessions() []*Session {
	var out []*Session
	seen := map[*Session]bool{}
	for _, list := range r.All() {
		for _, s := range list {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
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
