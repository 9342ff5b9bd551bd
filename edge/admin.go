package edge

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/web"
	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// AdminHandler serves the admin API: health and the tunnels.
func (e *Edge) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /api/v1/tunnels", e.listTunnels)
	(&journalAPI{e: e}).register(mux)
	mux.Handle("GET /metrics", e.metrics.handler())
	mux.HandleFunc("POST /api/v1/reload", e.reloadHandler)
	mux.HandleFunc("GET /api/v1/alerts", func(w http.ResponseWriter, r *http.Request) {
		alertsHandler(e.alerts.engine())(w, r)
	})
	mux.HandleFunc("GET /api/v1/audit", e.auditHandler)
	mux.HandleFunc("GET /api/v1/cluster", e.clusterHandler)
	// Profiles of a live edge, behind the same admin token as the API.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	e.mountUI(mux)
	return notForAgents(guardHosts(e.adminHosts, "add the name to admin.hosts in the edge's config, or call the admin listener by its address", e.requireAdmin(mux)))
}

// notForAgents tells an agent that dialed the admin listener where to go,
// with a code it recognises, before the Host and token checks: an admin
// token check would answer 401, which an agent reads as its own token
// refused.
func notForAgents(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != tunnel.Path {
			next.ServeHTTP(w, r)
			return
		}
		writeRefusal(w, http.StatusMisdirectedRequest, tunnel.RefusedNotPublic,
			"this is the edge's admin listener: agents connect to its public listener (--listen)", "")
	})
}

// adminHosts are the Host values the admin listener answers.
func (e *Edge) adminHosts() *policy.Hosts { return e.cfg.Load().adminHosts }

// requireAdmin demands the bearer admin token when one is configured;
// /healthz stays open for load balancers.
func (e *Edge) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := e.cfg.Load().adminToken
		// The UI's files hold no data: the page loads, then asks for the
		// token when the API answers 401.
		static := (r.Method == http.MethodGet || r.Method == http.MethodHead) && web.IsAsset(r.URL.Path)
		if want == nil || r.URL.Path == "/healthz" || static {
			next.ServeHTTP(w, r)
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(token))
		if !ok || subtle.ConstantTimeCompare(got[:], want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hooktunnel admin"`)
			writeRefusal(w, http.StatusUnauthorized, outcome.CodeUnauthorized, "the admin API needs Authorization: Bearer <admin token>", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TunnelInfo is one tunnel in GET /api/v1/tunnels.
type TunnelInfo struct {
	Name   string      `json:"name"`
	URLs   []string    `json:"urls"`
	Routes []RouteInfo `json:"routes"`
	Agents []AgentInfo `json:"agents"`
}

// RouteInfo is a route as the admin API shows it.
type RouteInfo struct {
	Path    string   `json:"path"`
	Methods []string `json:"methods"`
	// Target is the agent target the route names (`target:`), "" for none.
	Target string `json:"target,omitempty"`
	// Local is where a connected agent sends the route's requests, as it
	// described its targets: the address, and what it does to the path;
	// "" when no agent is connected or it has no target of that name.
	Local string `json:"local,omitempty"`
}

// AgentInfo is a connected agent session.
type AgentInfo struct {
	Session string    `json:"session"`
	Agent   string    `json:"agent"`
	Remote  string    `json:"remote"`
	Since   time.Time `json:"since"`
	Streams int       `json:"streams"`
}

func (e *Edge) listTunnels(w http.ResponseWriter, r *http.Request) {
	e.writeTunnels(w, nil)
}

// writeTunnels lists the tunnels, or only those in scope when not nil.
func (e *Edge) writeTunnels(w http.ResponseWriter, scope []string) {
	cfg := e.cfg.Load()
	live := e.relay.All()
	names := map[string]bool{}
	for n := range cfg.tunnels {
		names[n] = true
	}
	for n := range live {
		names[n] = true
	}
	out := []TunnelInfo{}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		if scope != nil && !slices.Contains(scope, n) {
			continue
		}
		info := TunnelInfo{Name: n, URLs: []string{}, Routes: []RouteInfo{}, Agents: []AgentInfo{}}
		if p := e.policyFor(cfg, n); p != nil {
			for _, rt := range p.Routes() {
				methods := rt.Methods
				if methods == nil {
					methods = []string{"*"}
				}
				ri := RouteInfo{Path: rt.Path, Methods: methods, Target: rt.Target}
				if agents := live[n]; len(agents) > 0 {
					ri.Local = localTargetOf(agents[0].Targets[n], rt)
				}
				info.Routes = append(info.Routes, ri)
				info.URLs = append(info.URLs, cfg.publicURL(n, rt.Path))
			}
		}
		for _, as := range live[n] {
			info.Agents = append(info.Agents, AgentInfo{Session: as.ID, Agent: as.Agent, Remote: as.Remote, Since: as.Since.UTC(), Streams: as.Conn().NumStreams()})
		}
		out = append(out, info)
	}
	writeJSON(w, http.StatusOK, map[string]any{"tunnels": out})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// mountUI serves the web UI at / and a JSON 404 for unknown API paths.
func (e *Edge) mountUI(mux *http.ServeMux) {
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeRefusal(w, http.StatusNotFound, outcome.CodeNotFound, "no such API endpoint", "")
	})
	mux.Handle("/", e.ui)
}
