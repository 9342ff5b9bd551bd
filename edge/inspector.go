package edge

import (
	"errors"
	"net"
	"net/http"

	"github.com/hooktunnel/hooktunnel/edge/alert"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// alertsOf keeps the alerts about one tunnel.
func alertsOf(all []alert.Alert, tunnel string) []alert.Alert {
	out := []alert.Alert{}
	for _, a := range all {
		if a.Tunnel == tunnel {
			out = append(out, a)
		}
	}
	return out
}

// serveInspector serves the API (and the UI) on the streams an agent
// opens, for its local inspector: the same journal, limited to the
// agent's own tunnel, with no port of its own on the edge. It runs until
// the session ends; the agent asks for it on first use, so idle agents
// cost no goroutine for it.
func (e *Edge) serveInspector(sess *tunnel.Session, name string) {
	srv := &http.Server{
		Handler:           e.inspectorHandler(name),
		ReadHeaderTimeout: e.cfg.Load().limits.ReadHeaderTimeout,
		ErrorLog:          e.errorLog,
	}
	e.serving.Add(1)
	go func() {
		defer e.serving.Done()
		go func() {
			<-sess.Done()
			srv.Close()
		}()
		if err := srv.Serve(sess); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			e.log.Debug("inspector stopped", "tunnel", name, "err", err)
		}
	}()
}

// inspectorHandler is the admin API and UI scoped to one tunnel.
func (e *Edge) inspectorHandler(name string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /api/v1/tunnels", func(w http.ResponseWriter, r *http.Request) {
		e.writeTunnels(w, []string{name})
	})
	(&journalAPI{e: e, scope: []string{name}}).register(mux)
	mux.HandleFunc("GET /api/v1/alerts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"active": alertsOf(e.alerts.engine().Active(), name), "recent": []alert.Alert{}})
	})
	e.mountUI(mux)
	actor := "inspector:" + name
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(withActor(r.Context(), actor)))
	})
}
