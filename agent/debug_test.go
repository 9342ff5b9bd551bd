package agent

import (
	"errors"
	"net/http/httptest"
	"testing"
)

// The debug listener takes loopback addresses only.
func TestDebugAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:0", true},
		{"0.0.0.0:6060", false},
		{":6060", false},
		{"[::]:6060", false},
		{"localhost:6060", false}, // a name: it could resolve anywhere
		{"192.0.2.1:6060", false},
		{"127.0.0.1", false},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			ln, err := listenDebug(tc.addr)
			if ln != nil {
				ln.Close()
			}
			if tc.ok != (err == nil) {
				t.Errorf("listenDebug(%q): %v, want ok %v", tc.addr, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrDebugAddr) {
				t.Errorf("%v is not ErrDebugAddr", err)
			}
		})
	}
}

// It serves the profiles to its own Host only, and never the command
// line, which may hold the token.
func TestDebugHandler(t *testing.T) {
	t.Parallel()
	h := debugHandler()
	tests := []struct {
		path, host string
		want       int
	}{
		{"/debug/pprof/", "127.0.0.1:6060", 200},
		{"/debug/pprof/goroutine?debug=1", "localhost:6060", 200},
		{"/debug/pprof/", "evil.example:6060", 403},
		{"/debug/pprof/cmdline", "127.0.0.1:6060", 404},
		{"/api/v1/messages", "127.0.0.1:6060", 404},
	}
	for _, tc := range tests {
		t.Run(tc.path+" "+tc.host, func(t *testing.T) {
			req := httptest.NewRequest("GET", "http://x"+tc.path, nil)
			req.Host = tc.host
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("%d, want %d: %.200s", rec.Code, tc.want, rec.Body)
			}
		})
	}
}
