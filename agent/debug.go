package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// The debug listener (the hidden --debug-addr flag) serves the agent's
// CPU and runtime profiles (/debug/pprof/) for the benchmark and for
// looking into a live agent. It listens on loopback only, answers only an
// IP address or localhost in Host (the inspector's guard: a page whose
// name resolves to 127.0.0.1 cannot use it), and serves no command line
// (/debug/pprof/cmdline), which may hold the agent's token.

// ErrDebugAddr is a debug address that is not on loopback, or that the
// agent cannot listen on.
var ErrDebugAddr = errors.New("agent: the debug listener cannot listen")

// listenDebug listens on addr, which must be a loopback address.
func listenDebug(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w on %q: want HOST:PORT", ErrDebugAddr, addr)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%w on %q: profiles are served on a loopback address only, such as 127.0.0.1:6060", ErrDebugAddr, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w on %s: %w", ErrDebugAddr, addr, err)
	}
	return ln, nil
}

// debugHandler serves the profiles: the index and the named ones (heap,
// goroutine, ...) and a CPU profile.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/cmdline", http.NotFound)
	return guard(mux)
}

// serveDebug serves the profiles on ln until ctx ends.
func serveDebug(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: debugHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
