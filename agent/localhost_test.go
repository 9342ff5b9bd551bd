package agent

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func TestIsLocalhost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LOCALHOST", true},
		{"localhost.", true},
		{"hooks.localhost", true},
		{"demo.hooks.localhost", true},
		{"Demo.Localhost.", true},
		{"localhost.example.com", false},
		{"notlocalhost", false},
		{"xlocalhost", false},
		{"127.0.0.1", false},
		{"example.com", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := IsLocalhost(tc.host); got != tc.want {
			t.Errorf("IsLocalhost(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}

// errNoDNS is what the test resolver answers: no query may reach it for a
// .localhost name.
var errNoDNS = errors.New("test: DNS asked")

// countingDialer is a LoopbackDialer whose resolver counts the DNS
// queries it would send, and sends none.
func countingDialer(queries *atomic.Int32) *LoopbackDialer {
	return &LoopbackDialer{Dialer: net.Dialer{
		Timeout: 5 * time.Second,
		Resolver: &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
			queries.Add(1)
			return nil, errNoDNS
		}},
	}}
}

func TestLoopbackDialerAsksNoDNS(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	tests := []struct{ name, network, host string }{
		{"the apex of the demo", "tcp", "hooks.localhost"},
		{"a tunnel host", "tcp", "demo.hooks.localhost"},
		{"upper case, final dot", "tcp", "Hooks.LOCALHOST."},
		{"localhost itself", "tcp", "localhost"},
		{"IPv4 only", "tcp4", "app.localhost"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var queries atomic.Int32
			c, err := countingDialer(&queries).DialContext(context.Background(), tc.network, net.JoinHostPort(tc.host, port))
			if err != nil {
				t.Fatalf("dial %s: %v", tc.host, err)
			}
			defer c.Close()
			if got := c.RemoteAddr().String(); got != ln.Addr().String() {
				t.Errorf("dialed %s, want %s", got, ln.Addr())
			}
			if n := queries.Load(); n != 0 {
				t.Errorf("%d DNS queries for %s, want none", n, tc.host)
			}
		})
	}
}

// Other names still go through the resolver: the mapping is only for
// .localhost.
func TestLoopbackDialerResolvesOtherNames(t *testing.T) {
	t.Parallel()
	var queries atomic.Int32
	_, err := countingDialer(&queries).DialContext(context.Background(), "tcp", "hooks.example.com:443")
	if err == nil {
		t.Fatal("dialed hooks.example.com without DNS")
	}
	if queries.Load() == 0 {
		t.Error("hooks.example.com was not looked up")
	}
}

// Where nothing listens, the error is the IPv4 one, and it still says
// the connection was refused.
func TestLoopbackDialerRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	var queries atomic.Int32
	_, err = countingDialer(&queries).DialContext(context.Background(), "tcp4", net.JoinHostPort("hooks.localhost", strconv.Itoa(addr.Port)))
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("err = %v, want a dial *net.OpError", err)
	}
	if queries.Load() != 0 {
		t.Error("DNS asked for hooks.localhost")
	}
}
