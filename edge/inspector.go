package edge

import (
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/hooktunnel/hooktunnel/edge/alert"
	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// inspectorStreams bounds the streams one agent's inspector may hold open
// on the edge at a time; further ones are closed at once. An agent holds a
// token, not the edge's trust: without a bound it could open streams
// without end, each a goroutine and buffers here. The agent itself opens
// at most half as many, so a stream it has just closed and the edge has
// not yet seen end never costs it a refusal.
const inspectorStreams = 16

// alertsOf keeps the alerts about the tunnels.
func alertsOf(all []alert.Alert, tunnels []string) []alert.Alert {
	out := []alert.Alert{}
	for _, a := range all {
		if slices.Contains(tunnels, a.Tunnel) {
			out = append(out, a)
		}
	}
	return out
}

// serveInspector serves the API (and the UI) on the streams an agent
// opens, for its local inspector: the same journal, limited to the
// agent's own tunnels, with no port of its own on the edge. It runs until
// the session ends; the agent asks for it on first use, so idle agents
// cost no goroutine for it.
func (e *Edge) serveInspector(sess *tunnel.Session, names []string) {
	srv := &http.Server{
		Handler:           e.inspectorHandler(names),
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
		if err := srv.Serve(newStreamLimit(sess, inspectorStreams)); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			e.log.Debug("inspector stopped", "tunnels", names, "err", err)
		}
	}()
}

// inspectorHandler is the admin API and UI scoped to an agent's tunnels.
func (e *Edge) inspectorHandler(names []string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /api/v1/tunnels", func(w http.ResponseWriter, r *http.Request) {
		e.writeTunnels(w, names)
	})
	(&journalAPI{e: e, scope: names}).register(mux)
	mux.HandleFunc("GET /api/v1/alerts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"active": alertsOf(e.alerts.engine().Active(), names), "recent": []alert.Alert{}})
	})
	e.mountUI(mux)
	actor := "inspector:" + strings.Join(names, ",")
	// The agent checks the browser's Host and Origin and passes them on;
	// checking them here again keeps an agent that does not (an older
	// one) from serving a rebound page. The inspector has no names.
	return guardHosts(func() *policy.Hosts { return nil }, "the inspector answers only an IP address or localhost in Host, such as 127.0.0.1:4040", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(withActor(r.Context(), actor)))
	}))
}

// streamLimit is a listener that holds at most max accepted connections
// open at a time: one accepted beyond them is closed at once, so a peer
// that opens without end costs an accept and a close, not a goroutine.
type streamLimit struct {
	net.Listener
	slots chan struct{}
}

var _ net.Listener = (*streamLimit)(nil)

func newStreamLimit(ln net.Listener, max int) *streamLimit {
	return &streamLimit{Listener: ln, slots: make(chan struct{}, max)}
}

// Accept returns the next connection while a slot is free.
func (l *streamLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
			c.Close()
		}
	}
}

// limitedConn frees its slot when closed, once.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
