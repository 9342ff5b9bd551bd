package edge

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// clusterView is GET /api/v1/cluster: the edges sharing the store, their
// leases, and the agent sessions each holds.
type clusterView struct {
	Enabled bool          `json:"enabled"`
	Self    string        `json:"self,omitempty"`
	Edges   []clusterEdge `json:"edges"`
}

type clusterEdge struct {
	store.EdgeLease
	Live     bool                 `json:"live"`
	Sessions []store.SessionLease `json:"sessions"`
}

// registry is the store's registry of edges; nil on a single edge.
func (e *Edge) registry() store.Registry {
	if e.id == "" {
		return nil
	}
	r, _ := e.db.(store.Registry)
	return r
}

// readCluster reads the registry at now, bounded in time: the API's
// answer, read afresh.
func (e *Edge) readCluster(now time.Time) (clusterView, error) {
	reg := e.registry()
	if reg == nil {
		return clusterView{Edges: []clusterEdge{}}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	edges, sessions, err := reg.Cluster(ctx, now)
	if err != nil {
		return clusterView{}, err
	}
	return e.viewOf(edges, sessions, now), nil
}

// cachedCluster is the registry as this edge's last renewal read it (at
// most one renewal old): what the metrics and the alert rules look at
// every few seconds, without a read of their own.
func (e *Edge) cachedCluster(now time.Time) clusterView {
	m := e.cluster.member
	if m == nil {
		return clusterView{Edges: []clusterEdge{}}
	}
	return e.viewOf(m.Edges(), m.Sessions(), now)
}

// viewOf groups the registry's sessions under their edges.
func (e *Edge) viewOf(edges []store.EdgeLease, sessions []store.SessionLease, now time.Time) clusterView {
	v := clusterView{Enabled: true, Self: e.id, Edges: make([]clusterEdge, 0, len(edges))}
	for _, l := range edges {
		ce := clusterEdge{EdgeLease: l, Live: l.Until.After(now), Sessions: []store.SessionLease{}}
		for _, s := range sessions {
			if s.Edge == l.ID && s.Until.After(now) {
				ce.Sessions = append(ce.Sessions, s)
			}
		}
		v.Edges = append(v.Edges, ce)
	}
	slices.SortFunc(v.Edges, func(a, b clusterEdge) int { return a.Started.Compare(b.Started) })
	return v
}

func (e *Edge) clusterHandler(w http.ResponseWriter, r *http.Request) {
	v, err := e.readCluster(e.clock.Now())
	if err != nil {
		e.log.Warn("cluster registry not read", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "store_unavailable", "message": "the registry could not be read from the store"})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// lapsedEdges are the edges whose lease ended, and how long ago: the
// alert rules' edge_lapsed gauge.
func (v clusterView) lapsedEdges(now time.Time) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, l := range v.Edges {
		if !l.Live {
			out[l.ID] = now.Sub(l.Until)
		}
	}
	return out
}

// clusterCollector reports the registry at each scrape: hooktunnel_cluster_*.
type clusterCollector struct {
	e                     *Edge
	edges, sessions, self *prometheus.Desc
}

func newClusterCollector(e *Edge) *clusterCollector {
	return &clusterCollector{e: e,
		edges: prometheus.NewDesc("hooktunnel_cluster_edges",
			"Edges in the registry by state: live (lease held) or lapsed (lease ended in the last hour).", []string{"state"}, nil),
		sessions: prometheus.NewDesc("hooktunnel_cluster_sessions",
			"Agent sessions each live edge holds.", []string{"edge"}, nil),
		self: prometheus.NewDesc("hooktunnel_cluster_lease_remaining_seconds",
			"Time left on this edge's lease in the registry; at 0 the other edges take it for gone.", nil, nil),
	}
}

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.edges
	ch <- c.sessions
	ch <- c.self
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	if c.e.cluster.member == nil {
		return
	}
	now := c.e.clock.Now()
	v := c.e.cachedCluster(now)
	live, lapsed := 0, 0
	remaining := 0.0
	for _, l := range v.Edges {
		if !l.Live {
			lapsed++
			continue
		}
		live++
		ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(len(l.Sessions)), l.ID)
		if l.ID == v.Self {
			remaining = l.Until.Sub(now).Seconds()
		}
	}
	ch <- prometheus.MustNewConstMetric(c.edges, prometheus.GaugeValue, float64(live), "live")
	ch <- prometheus.MustNewConstMetric(c.edges, prometheus.GaugeValue, float64(lapsed), "lapsed")
	ch <- prometheus.MustNewConstMetric(c.self, prometheus.GaugeValue, remaining)
}
