package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/edge/store"
)

// view is the cluster as the registry last said: read at every heartbeat
// and, rate-limited, when a lookup finds no other edge holding a tunnel.
type view struct {
	self     string
	registry store.Registry
	clock    clock.Clock

	mu         sync.Mutex
	edges      []store.EdgeLease
	sessions   []store.SessionLease
	byTunnel   map[string][]holding
	read       time.Time     // when the registry was last read (or tried)
	missRead   time.Time     // when a lookup's miss last read it: the rate limit counts only these
	refreshing chan struct{} // closed when the read under way ends; nil if none
	reads      int           // registry reads, for tests
}

// errFresh: the registry was read less than the asked age ago.
var errFresh = errors.New("cluster: the registry was read just now")

// holding is a session another edge holds for a tunnel, with that edge.
type holding struct {
	edge    store.EdgeLease
	session store.SessionLease
	// declared is the tunnel's routes in session.Declared, decoded once
	// per registry read rather than once per webhook.
	declared []byte
}

func (v *view) init(self string, registry store.Registry, clk clock.Clock) {
	v.self, v.registry, v.clock = self, registry, clk
	v.byTunnel = map[string][]holding{}
}

// refresh reads the registry; concurrent callers share one read.
func (v *view) refresh(ctx context.Context) error { return v.refreshOlder(ctx, 0) }

// refreshOlder reads the registry unless a miss (age > 0) read it less
// than age ago: a heartbeat's read does not hold back a miss's, which may
// be about a session registered since. A caller that finds a read under
// way waits for it instead.
func (v *view) refreshOlder(ctx context.Context, age time.Duration) error {
	v.mu.Lock()
	now := v.clock.Now()
	if age > 0 && v.refreshing == nil && now.Sub(v.missRead) < age {
		v.mu.Unlock()
		return errFresh
	}
	if age > 0 {
		v.missRead = now
	}
	if wait := v.refreshing; wait != nil {
		v.mu.Unlock()
		select {
		case <-wait:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	done := make(chan struct{})
	v.refreshing = done
	v.read = now
	v.reads++
	v.mu.Unlock()

	rctx, cancel := context.WithTimeout(ctx, registryTimeout)
	edges, sessions, err := v.registry.Cluster(rctx, now)
	cancel()

	v.mu.Lock()
	defer v.mu.Unlock()
	v.refreshing = nil
	close(done)
	if err != nil {
		return err // the last view stands; leases in it still lapse
	}
	v.edges, v.sessions = edges, sessions
	v.byTunnel = holdings(v.self, edges, sessions)
	return nil
}

// holdings indexes the sessions of edges other than self by tunnel, the
// freshest edge first.
func holdings(self string, edges []store.EdgeLease, sessions []store.SessionLease) map[string][]holding {
	byID := make(map[string]store.EdgeLease, len(edges))
	for _, e := range edges {
		byID[e.ID] = e
	}
	out := map[string][]holding{}
	for _, s := range sessions {
		e, ok := byID[s.Edge]
		if !ok || s.Edge == self {
			continue
		}
		declared := decodeDeclared(s.Declared)
		for _, t := range s.Tunnels {
			out[t] = append(out[t], holding{edge: e, session: s, declared: declared[t]})
		}
	}
	for _, list := range out {
		slices.SortStableFunc(list, func(a, b holding) int {
			return b.edge.Renewed.Compare(a.edge.Renewed)
		})
	}
	return out
}

// live is the tunnel's holdings whose leases hold at now, one per edge.
func (v *view) live(tunnelName string, now time.Time) []holding {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []holding
	for _, h := range v.byTunnel[tunnelName] {
		if !h.edge.Until.After(now) || !h.session.Until.After(now) {
			continue
		}
		if slices.ContainsFunc(out, func(o holding) bool { return o.edge.ID == h.edge.ID }) {
			continue
		}
		out = append(out, h)
	}
	return out
}

// lookup is live, after one read of the registry when the cache has none
// and the last read is MissRefreshEvery old.
func (v *view) lookup(tunnelName string) []holding {
	now := v.clock.Now()
	if h := v.live(tunnelName, now); len(h) > 0 {
		return h
	}
	if v.refreshOlder(context.Background(), MissRefreshEvery) != nil {
		return nil
	}
	return v.live(tunnelName, v.clock.Now())
}

// Holders are the live edges other than this one that hold a live session
// for the tunnel, the freshest first.
func (m *Member) Holders(tunnelName string) []store.EdgeLease {
	hs := m.view.lookup(tunnelName)
	out := make([]store.EdgeLease, len(hs))
	for i, h := range hs {
		out[i] = h.edge
	}
	return out
}

// Declared is the routes (JSON, as the agent sent them) the agent of the
// freshest session another edge holds for the tunnel declared; nil if
// none.
func (m *Member) Declared(tunnelName string) []byte {
	if hs := m.view.lookup(tunnelName); len(hs) > 0 {
		return hs[0].declared
	}
	return nil
}

// EncodeDeclared is a session's SessionLease.Declared: the routes its
// agent declared, by tunnel (a JSON object); nil when it declared none.
func EncodeDeclared(byTunnel map[string][]byte) []byte {
	if len(byTunnel) == 0 {
		return nil
	}
	m := make(map[string]json.RawMessage, len(byTunnel))
	for name, raw := range byTunnel {
		if json.Valid(raw) {
			m[name] = raw
		}
	}
	if len(m) == 0 {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return b
}

// decodeDeclared is an EncodeDeclared object's routes by tunnel, those
// that are not null; nil for none or a malformed object.
func decodeDeclared(encoded []byte) map[string][]byte {
	if encoded == nil {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(encoded, &m) != nil {
		return nil
	}
	out := make(map[string][]byte, len(m))
	for name, raw := range m {
		if string(raw) != "null" {
			out[name] = raw
		}
	}
	return out
}

// Edges are the edges in the registry at the last read, lapsed ones too.
func (m *Member) Edges() []store.EdgeLease {
	m.view.mu.Lock()
	defer m.view.mu.Unlock()
	return slices.Clone(m.view.edges)
}

// Sessions are the live sessions in the registry at the last read, this
// edge's too.
func (m *Member) Sessions() []store.SessionLease {
	m.view.mu.Lock()
	defer m.view.mu.Unlock()
	return slices.Clone(m.view.sessions)
}

// Refresh reads the registry now.
func (m *Member) Refresh(ctx context.Context) error { return m.view.refresh(ctx) }
