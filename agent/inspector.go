package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// inspectorStreams bounds the streams the inspector opens to the edge at a
// time; requests beyond wait for one. The edge holds at most twice as many.
const inspectorStreams = 8

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
			// guard checked Host and Origin; the edge checks them again.
			pr.Out.Host = pr.In.Host
		},
		Transport: &http.Transport{
			DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return in.dial(ctx) },
			MaxConnsPerHost:     inspectorStreams,
			MaxIdleConnsPerHost: inspectorStreams,
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

// ErrInspectAddr is a local address the inspector cannot listen on.
var ErrInspectAddr = errors.New("agent: the inspector cannot listen")

// listenInspector listens on addr or, when it is taken, on the next free
// port above it, trying tries ports in all (4040 to 4049 for the default,
// as ngrok does): a second agent on the machine gets its own inspector.
func listenInspector(addr string, tries int) (net.Listener, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w on %q: want HOST:PORT", ErrInspectAddr, addr)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("%w on %q: bad port", ErrInspectAddr, addr)
	}
	var first error
	for i := 0; i < max(tries, 1) && port+i <= 65535; i++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port+i)))
		if err == nil {
			return ln, nil
		}
		if first == nil {
			first = err
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	if tries > 1 {
		return nil, fmt.Errorf("%w on %s or the %d ports above it: %w", ErrInspectAddr, addr, tries-1, first)
	}
	return nil, fmt.Errorf("%w on %s: %w", ErrInspectAddr, addr, first)
}

// serve runs the inspector on ln until ctx ends.
func (in *inspector) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: guard(in.proxy), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// guard answers only requests for the inspector's own Host (an IP
// address or localhost) and takes changes only from its own origin: a page
// of evil.example whose name now resolves to 127.0.0.1 (DNS rebinding)
// must not read this tunnel's webhooks or replay them.
func guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := (*policy.Hosts)(nil).Check(r.Method, r.Header, r.Host)
		if err == nil {
			next.ServeHTTP(w, r)
			return
		}
		code, msg := "host_not_allowed", "the inspector answers only an IP address or localhost in Host, such as 127.0.0.1:4040"
		if errors.Is(err, policy.ErrCrossSite) {
			code, msg = "cross_site", "a change must come from the inspector's own page, the CLI or the API"
		}
		var ref *policy.Refusal
		if errors.As(err, &ref) {
			msg = ref.Detail + ": " + msg
		}
		body, _ := json.Marshal(map[string]string{"error": code, "message": msg})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write(append(body, '\n'))
	})
}
