package edge

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hooktunnel/hooktunnel/edge/alert"
	"github.com/hooktunnel/hooktunnel/edge/outcome"
)

// metrics are the edge's Prometheus series (docs/metrics.md). Label
// values are bounded: tunnel names the edge knows (anything else is
// "_unknown"), route patterns from config, fixed outcome and reason codes
// — never raw paths or addresses.
type metrics struct {
	registry *prometheus.Registry

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	appDuration   *prometheus.HistogramVec
	bytesIn       *prometheus.CounterVec
	bytesOut      *prometheus.CounterVec
	sigFailures   *prometheus.CounterVec
	sigMatches    *prometheus.CounterVec
	deliveries    *prometheus.CounterVec
	agentsOnline  *prometheus.GaugeVec
	agentConnects *prometheus.CounterVec
	reloads       *prometheus.CounterVec
	certExpiry    *prometheus.GaugeVec
	bodiesDropped prometheus.Counter
}

// unknownTunnel is the label of requests to hosts that name no tunnel
// this edge knows: random hostnames must not grow the series.
const unknownTunnel = "_unknown"

func newMetrics(e *Edge) *metrics {
	m := &metrics{registry: prometheus.NewRegistry()}
	latency := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hooktunnel_requests_total",
		Help: "Requests to tunnel hosts by outcome (forwarded, queued, refused, duplicate, answered, filtered) and refusal reason."},
		[]string{"tunnel", "route", "outcome", "reason"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hooktunnel_request_duration_seconds",
		Help: "Time from a request's arrival at the edge to the end of its answer.", Buckets: latency}, []string{"tunnel"})
	m.appDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hooktunnel_app_duration_seconds",
		Help: "Time the agent and the app took to answer a forwarded request.", Buckets: latency}, []string{"tunnel"})
	m.bytesIn = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hooktunnel_request_bytes_total",
		Help: "Request body bytes received on tunnel hosts."}, []string{"tunnel"})
	m.bytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hooktunnel_response_bytes_total",
		Help: "Response body bytes sent back to senders."}, []string{"tunnel"})
	m.sigFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hooktunnel_signature_failures_total",
		Help: "Requests refused by a signature, token or timestamp check, by provider and reason."}, []string{"tunnel", "provider", "reason"})
	m.sigMatches = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hooktunnel_signature_matches_total",
		Help: "Verified requests by the secret that matched (its reference): retire a secret once it stops matching."}, []string{"tunnel", "provider", "secret"})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hooktunnel_queue_deliveries_total",
		Help: "Delivery attempts of queued messages by result (delivered, retry, dead)."}, []string{"tunnel", "route", "result"})
	m.agentsOnline = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hooktunnel_agents_connected",
		Help: "Agent sessions connected, by tunnel."}, []string{"tunnel"})
	m.agentConnects = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hooktunnel_agent_connections_total",
		Help: "Agent sessions admitted, by tunnel: a fast rise means agents reconnecting."}, []string{"tunnel"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hooktunnel_config_reloads_total",
		Help: "Config reloads by result (ok, error)."}, []string{"result"})
	m.certExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hooktunnel_certificate_expiry_timestamp_seconds",
		Help: "When the certificate last served for a host expires (Unix time); hosts are the apex and tunnel hosts."}, []string{"host"})
	m.bodiesDropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "hooktunnel_journal_bodies_dropped_total",
		Help: "Bodies the journal did not keep because its memory budget (journal.max_pending) was full; their messages are kept."})
	e.cluster.relayed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hooktunnel_cluster_relayed_total",
		Help: "Webhooks this edge relayed to another edge holding the agent's session, by result (ok, no_agent, agent_lost, body_aborted, app_unreachable, error)."}, []string{"result"})
	queueDepth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hooktunnel_queue_depth",
		Help: "Queued messages waiting for delivery."}, func() float64 { n, _ := e.queueDepth(); return float64(n) })
	queueOldest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hooktunnel_queue_oldest_seconds",
		Help: "Age of the oldest queued message waiting for delivery."}, func() float64 { _, d := e.queueDepth(); return d.Seconds() })
	m.registry.MustRegister(m.requests, m.duration, m.appDuration, m.bytesIn, m.bytesOut, m.sigFailures, m.sigMatches,
		m.deliveries, m.agentsOnline, m.agentConnects, m.reloads, m.certExpiry, m.bodiesDropped, queueDepth, queueOldest, newClusterCollector(e), e.cluster.relayed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves /metrics.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// queueDepth reads the queue's depth for a scrape, bounded in time.
func (e *Edge) queueDepth() (int, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, oldest, err := e.queue.Depth(ctx, e.clock.Now())
	if err != nil {
		return 0, 0
	}
	return n, oldest
}

// tunnelLabel bounds the tunnel label to names the edge knows.
func (e *Edge) tunnelLabel(name string) string {
	if _, ok := e.cfg.Load().tunnels[name]; ok || e.relay.Known(name) {
		return name
	}
	return unknownTunnel
}

// observe counts one finished request (and feeds the alert rules).
func (x *exchange) observe() {
	m := x.e.metrics
	tunnel := x.e.tunnelLabel(x.tunnel)
	route := x.msg.Route
	if tunnel == unknownTunnel {
		route = ""
	}
	m.requests.WithLabelValues(tunnel, route, x.msg.Decision, x.msg.Reason).Inc()
	x.e.alerts.engine().Observe(alert.Event{Tunnel: tunnel, Route: route, Outcome: outcome.Decision(x.msg.Decision), Reason: x.msg.Reason, BodyDropped: x.msg.BodyDropped != ""})
	m.duration.WithLabelValues(tunnel).Observe(x.e.clock.Now().Sub(x.start).Seconds())
	m.bytesIn.WithLabelValues(tunnel).Add(float64(x.msg.BodySize))
	if outcome.Code(x.msg.Reason).SignatureFailure() {
		provider := "token"
		if x.d.Route != nil && x.d.Route.Provider() != "" {
			provider = x.d.Route.Provider()
		}
		m.sigFailures.WithLabelValues(tunnel, provider, x.msg.Reason).Inc()
	}
	if x.msg.SecretRef != "" {
		m.sigMatches.WithLabelValues(tunnel, x.msg.Provider, x.msg.SecretRef).Inc()
	}
}
