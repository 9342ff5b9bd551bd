package edge

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/alert"
	"github.com/hooktunnel/hooktunnel/edge/outcome"
)

// newAlerts builds the alert engine of cfg with the edge's logger and
// gauges; Run it with the other background work.
func (e *Edge) newAlerts(cfg alert.Config) (*alert.Engine, error) {
	cfg.Logger = e.log.With("component", "alerts")
	cfg.Gauges = e.alertGauges(time.Now)
	return alert.New(cfg)
}

// alertsHandler serves GET /api/v1/alerts: the alerts firing now and the
// latest transitions, newest first (?limit, 1 to 200, default 50).
func alertsHandler(engine *alert.Engine) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := 50
		if s := r.URL.Query().Get("limit"); s != "" {
			v, err := strconv.Atoi(s)
			if err != nil || v < 1 || v > 200 {
				writeRefusal(w, http.StatusBadRequest, outcome.CodeBadFilter, "limit "+strconv.Quote(s)+" is not between 1 and 200", "")
				return
			}
			n = v
		}
		// A nil engine (no alerts section) lists nothing.
		writeJSON(w, http.StatusOK, map[string]any{"active": engine.Active(), "recent": engine.Recent(n)})
	}
}

// alertGauges returns the alert engine's gauge callback: how long each
// tunnel with configured routes has been without an agent, and the queue
// per tunnel and route. The edge keeps no disconnection times, so a tunnel
// counts as offline from the first evaluation that finds it so (the
// engine evaluates every few seconds; an edge that starts without the
// agent counts from its start).
func (e *Edge) alertGauges(now func() time.Time) func() []alert.Gauge {
	var mu sync.Mutex
	offlineSince := map[string]time.Time{}
	return func() []alert.Gauge {
		mu.Lock()
		defer mu.Unlock()
		t := now()
		cfg := e.cfg.Load()
		var out []alert.Gauge
		for name := range offlineSince {
			if _, ok := cfg.tunnels[name]; !ok {
				delete(offlineSince, name)
			}
		}
		for name, p := range cfg.tunnels {
			if p.Len() == 0 || e.relay.Online(name) {
				delete(offlineSince, name)
				continue
			}
			since, ok := offlineSince[name]
			if !ok {
				since = t
				offlineSince[name] = t
			}
			out = append(out, alert.Gauge{Tunnel: name, AgentOffline: t.Sub(since)})
		}
		for _, d := range e.cachedCluster(t).lapsedEdges(t) {
			out = append(out, alert.Gauge{EdgeLapsed: d})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := e.db.PendingByRoute(ctx, t, func(tunnel, route string, count int, oldest time.Duration) {
			out = append(out, alert.Gauge{Tunnel: tunnel, Route: route, QueueDepth: count, QueueOldest: oldest})
		})
		if err != nil {
			e.log.Warn("alert gauges: queue depth not read", "err", err)
		}
		return out
	}
}
