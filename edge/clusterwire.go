package edge

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hooktunnel/hooktunnel/certs"
	"github.com/hooktunnel/hooktunnel/edge/cluster"
	"github.com/hooktunnel/hooktunnel/edge/relay"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
)

// clusterParts are what an edge of a cluster runs besides a lone edge's:
// its lease in the registry, the transport to the other edges and the
// endpoint they relay to. All nil on a lone edge.
type clusterParts struct {
	member   *cluster.Member
	peers    *cluster.Peers
	endpoint *peerEndpoint
	relayed  *prometheus.CounterVec
}

// sharedState makes the edge use what its shared store offers: duplicate
// keys every edge sees, and (with tls: acme) one certificate cache.
func (e *Edge) sharedState(db store.Store) {
	if keys, ok := db.(store.ReplayKeys); ok {
		e.replay = newSharedReplay(keys, func(msg string, args ...any) { e.log.Warn(msg, args...) })
	}
}

// sharedCerts is the certificate cache of a shared store, nil otherwise.
func (e *Edge) sharedCerts() *certs.SharedCache {
	c, ok := e.db.(store.Certs)
	if !ok {
		return nil
	}
	owner := e.id
	if owner == "" {
		owner = newEdgeID("edge")
	}
	return certs.NewSharedCache(c, store.ErrCertMiss, owner, e.log)
}

// startCluster takes the edge's place in the registry and opens the road
// to the other edges; a lone edge has nothing to start.
func (e *Edge) startCluster(ctx context.Context) error {
	cfg := e.cfg.Load()
	reg, ok := e.db.(store.Registry)
	if !cfg.cluster.on || !ok {
		return nil
	}
	// Signing and checking read the same secret, the current config's: a
	// reload re-reads the file (or variable) cluster.secret names.
	secret := func() []byte { return e.cfg.Load().cluster.secret }
	peers, err := cluster.NewPeers(cluster.PeersConfig{ID: e.id, Secret: secret, Clock: e.clock})
	if err != nil {
		return err
	}
	member, err := cluster.Start(ctx, cluster.Config{ID: e.id, Name: cfg.cluster.name, Advertise: cfg.cluster.advertise,
		Registry: reg, Clock: e.clock, Sessions: func() []store.SessionLease { return sessionLeases(e.relay) }, Log: e.log})
	if err != nil {
		peers.Close()
		return err
	}
	e.cluster.member, e.cluster.peers = member, peers
	e.cluster.endpoint = newPeerEndpoint(e.id, secret, e.relay, e.clock, e.log)
	remote := newPeerRemote(member, peers, func(name string, raw []byte) (*policy.Policy, error) {
		return decodeDeclared(raw, e.tunnelEnv(name))
	}, e.log)
	e.relay.SetRemote(countedRemote{Remote: remote, relayed: e.cluster.relayed})
	e.log.Info("edge joined the cluster", "id", e.id, "advertise", cfg.cluster.advertise)
	return nil
}

// stopCluster gives the lease back at once, so the other edges stop
// relaying here without waiting for it to lapse.
func (e *Edge) stopCluster(ctx context.Context) {
	if e.cluster.member == nil {
		return
	}
	e.relay.SetRemote(nil)
	if err := e.cluster.member.Leave(ctx); err != nil {
		e.log.Warn("cluster lease not given back: the other edges will see it lapse", "err", err)
	}
	e.cluster.peers.Close()
}

// sessionsChanged tells the registry at once that this edge holds a
// session more or less, so the other edges learn it within a round trip.
func (e *Edge) sessionsChanged() {
	if m := e.cluster.member; m != nil {
		m.Touch()
	}
}

// tunnelOwner is the agent serving the tunnel now: on this edge, else,
// in a cluster, on another (the registry read afresh, as an agent
// connects rarely); "" for none.
func (e *Edge) tunnelOwner(ctx context.Context, name string) string {
	if owner := e.relay.Owner(name); owner != "" {
		return owner
	}
	m := e.cluster.member
	if m == nil {
		return ""
	}
	if err := m.Refresh(ctx); err != nil {
		e.log.Warn("cluster registry not read: the tunnel's owner on other edges is not checked", "tunnel", name, "err", err)
	}
	now := e.clock.Now()
	for _, s := range m.Sessions() {
		if s.Edge != e.id && s.Until.After(now) && slices.Contains(s.Tunnels, name) {
			return s.Agent
		}
	}
	return ""
}

// isEdgeHost reports whether host is the advertise host of this edge or
// of a live edge of its cluster: no tunnel may have it, or the edge that
// advertises it would never route to the tunnel, and the others would.
func (e *Edge) isEdgeHost(host string) bool {
	self, all := e.advertised()
	for _, adv := range append(all, self) {
		if u, err := url.Parse(adv); err == nil && u.Host != "" && canonicalHost(u.Host) == host {
			return true
		}
	}
	return false
}

// servePeer answers a request another edge relays here; false if r is
// not one (a lone edge has no peers).
func (e *Edge) servePeer(w http.ResponseWriter, r *http.Request) bool {
	if e.cluster.endpoint == nil || r.URL.Path != cluster.PeerPath {
		return false
	}
	e.cluster.endpoint.ServeHTTP(w, r)
	return true
}

// advertised is what an agent's Welcome says of the edges it may hold
// sessions to: this edge's advertise URL, and those of its cluster's live
// edges, itself included. A lone edge advertises nothing, and its agents
// keep one session.
func (e *Edge) advertised() (self string, all []string) {
	m := e.cluster.member
	if m == nil {
		return "", nil
	}
	self = e.cfg.Load().cluster.advertise
	now := e.clock.Now()
	all = []string{self}
	for _, l := range m.Edges() {
		if l.ID != e.id && l.Until.After(now) && l.Advertise != self {
			all = append(all, l.Advertise)
		}
	}
	return self, all
}

// countedRemote counts relayed requests by result for
// hooktunnel_cluster_relayed_total.
type countedRemote struct {
	relay.Remote
	relayed *prometheus.CounterVec
}

func (c countedRemote) Deliver(tunnel string, req *http.Request) (*http.Response, error) {
	resp, err := c.Remote.Deliver(tunnel, req)
	result := "ok"
	if err != nil {
		result = relay.ErrorCode(err)
		if result == "" {
			result = "error"
		}
	}
	c.relayed.WithLabelValues(result).Inc()
	return resp, err
}
