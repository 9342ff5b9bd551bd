package agent

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
)

// The inspector refuses, before anything reaches the edge, a Host that is
// not its own (DNS rebinding) and a change made by a page of another site.
func TestInspectorGuard(t *testing.T) {
	t.Parallel()
	reached := 0
	h := guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ }))
	tests := []struct {
		name, method, host, origin string
		wantStatus                 int
		wantError                  string
	}{
		{"address", "GET", "127.0.0.1:4040", "", 200, ""},
		{"localhost", "GET", "localhost:4040", "", 200, ""},
		{"IPv6 loopback", "GET", "[::1]:4040", "", 200, ""},
		{"rebound name", "GET", "evil.example:4040", "", 403, "host_not_allowed"},
		{"rebound name replays", "POST", "evil.example:4040", "http://evil.example:4040", 403, "host_not_allowed"},
		{"replay from its own page", "POST", "127.0.0.1:4040", "http://127.0.0.1:4040", 200, ""},
		{"replay from another site", "POST", "127.0.0.1:4040", "http://evil.example", 403, "cross_site"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := reached
			req := httptest.NewRequest(tc.method, "http://x/api/v1/messages", nil)
			req.Host = tc.host
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var body struct{ Error, Message string }
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != tc.wantStatus || body.Error != tc.wantError {
				t.Errorf("%d %q, want %d %q: %s", rec.Code, body.Error, tc.wantStatus, tc.wantError, rec.Body)
			}
			if passed := reached > before; passed != (tc.wantStatus == 200) {
				t.Errorf("reached the edge: %v", passed)
			}
			if tc.wantError != "" && body.Message == "" {
				t.Error("the refusal has no message")
			}
		})
	}
}

// takenPort listens on a loopback port until the test ends: an inspector
// address someone else holds.
func takenPort(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func TestListenInspector(t *testing.T) {
	t.Parallel()
	taken := takenPort(t)
	port := taken.Addr().(*net.TCPAddr).Port
	addr := taken.Addr().String()

	t.Run("the next port when the first is taken", func(t *testing.T) {
		ln, err := listenInspector(addr, 10)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if got := ln.Addr().(*net.TCPAddr).Port; got <= port || got >= port+10 {
			t.Errorf("listening on %d, want one of %d to %d", got, port+1, port+9)
		}
	})
	t.Run("an address the user chose, or none", func(t *testing.T) {
		_, err := listenInspector(addr, 1)
		if !errors.Is(err, ErrInspectAddr) || !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("err = %v, want ErrInspectAddr and EADDRINUSE", err)
		}
	})
	t.Run("not an address", func(t *testing.T) {
		for _, bad := range []string{"4040", "127.0.0.1:http", "127.0.0.1:70000"} {
			if _, err := listenInspector(bad, 10); !errors.Is(err, ErrInspectAddr) {
				t.Errorf("listenInspector(%q) = %v, want ErrInspectAddr", bad, err)
			}
		}
	})
}
