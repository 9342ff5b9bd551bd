package agent

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// inspector is the agent's local web UI and API (127.0.0.1:4040 by
// default): every request is carried to the edge over the tunnel session,
// where the journal lives, and answered for this agent's tunnel only.
type inspector struct {
	mu      sync.Mutex
	session *tunnel.Session
	asked   *tunnel.Session // the session the edge was asked to serve on
	proxy   *httputil.ReverseProxy
}

func newInspector() *inspector {
	in := &inspector{}
	in.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "edge"
			pr.Out.Host = pr.In.Host // same-origin checks compare it to Origin
		},
		Transport: &http.Transport{
			DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return in.dial(ctx) },
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
		},
		FlushInterval: -1, // server-sent events
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":"edge_unreachable","message":"the agent is not connected to the edge right now"}` + "\n"))
		},
	}
	return in
}

// use sets the session requests go over; nil while disconnected.
func (in *inspector) use(s *tunnel.Session) {
	in.mu.Lock()
	in.session = s
	in.mu.Unlock()
	in.proxy.Transport.(*http.Transport).CloseIdleConnections()
}

var errNoSession = errors.New("agent: not connected to the edge")

func (in *inspector) dial(ctx context.Context) (net.Conn, error) {
	in.mu.Lock()
	s := in.session
	ask := s != nil && in.asked != s
	if ask {
		in.asked = s
	}
	in.mu.Unlock()
	if s == nil {
		return nil, errNoSession
	}
	if ask {
		if err := s.RequestInspector(); err != nil {
			return nil, err
		}
	}
	return s.Open(ctx)
}

// serve runs the inspector on addr until ctx ends.
func (in *inspector) serve(ctx context.Context, addr string, log func(string, ...any)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: in.proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	log("inspector listening", "addr", "http://"+ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
