package edge

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// ServeHTTP is the public listener: the agent endpoint on the apex, tunnel
// hosts below it, 404 for anything else.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	cfg := e.cfg.Load()
	id := newID()
	host := canonicalHost(r.Host)
	if host == cfg.domain {
		if tunnel.IsUpgrade(r) {
			e.serveAgent(w, r, cfg)
			return
		}
		writeRefusal(w, http.StatusNotFound, codeUnknownHost, "this is a hooktunnel edge: webhooks go to a tunnel host, <tunnel>."+cfg.domain, id)
		return
	}
	name, ok := strings.CutSuffix(host, "."+cfg.domain)
	if !ok || !tunnel.ValidName(name) {
		writeRefusal(w, http.StatusNotFound, codeUnknownHost, "no tunnel is served on this host", id)
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	route := e.serveTunnel(rec, r, cfg, name, id)
	e.log.Info("webhook", "request_id", id, "tunnel", name, "route", route, "method", r.Method,
		"status", rec.status(), "duration", time.Since(start).Round(time.Microsecond))
}

// serveTunnel applies the tunnel's policy and forwards; it returns the
// matched route's path for the log ("" when none matched).
func (e *Edge) serveTunnel(w http.ResponseWriter, r *http.Request, cfg *compiled, name, id string) string {
	state := e.reg.lookup(name)
	p := cfg.tunnels[name]
	if p == nil || len(p.Routes()) == 0 {
		if state != nil {
			p = state.declared.Load()
		}
	}
	if p == nil {
		if _, configured := cfg.tunnels[name]; !configured && state == nil {
			writeRefusal(w, http.StatusNotFound, codeUnknownTunnel, "tunnel "+name+" does not exist", id)
			return ""
		}
		p = denyAll
	}
	route, allow, err := p.Match(r.Method, r.URL.Path)
	if err != nil {
		status, code := policyStatus(err)
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
		}
		writeRefusal(w, status, code, err.Error(), id)
		return ""
	}
	if state == nil || state.pick(nil) == nil {
		w.Header().Set("Retry-After", retryAfterOffline)
		writeRefusal(w, http.StatusServiceUnavailable, codeTunnelOffline, "no agent is connected for tunnel "+name+"; retry later", id)
		return route.Path
	}
	info := &forwardInfo{tunnel: state, requestID: id}
	e.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), forwardKey{}, info)))
	return route.Path
}

// denyAll is the policy of a tunnel with no routes: nothing is forwarded.
var denyAll, _ = policy.Config{}.Compile()

// canonicalHost lowercases a Host header and drops its port and final dot.
func canonicalHost(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// statusRecorder remembers the status for the request log. Unwrap lets
// http.ResponseController reach the real writer to flush streamed bodies.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) status() int { return s.code }

// decodeDeclared compiles the routes an agent declared in its Hello.
func decodeDeclared(raw json.RawMessage) (*policy.Policy, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var c policy.Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	return c.Compile()
}
