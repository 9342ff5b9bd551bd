// Package tunneltest connects tunnel sessions over loopback for tests of
// what runs on either side of one.
package tunneltest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// SessionPair connects a tunnel session over loopback: the edge's side,
// whose control messages go where ctl says, and the agent's. Both end with
// the test.
func SessionPair(t testing.TB, ctl func(edgeSide *tunnel.Session) tunnel.Control) (edgeSide, agentSide *tunnel.Session) {
	t.Helper()
	edgeSessions := make(chan *tunnel.Session, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := tunnel.Accept(w, r, tunnel.DefaultConfig(), func(*http.Request, string) error { return nil })
		if err != nil {
			return
		}
		s, err := p.Admit(tunnel.Welcome{Tunnel: "demo"})
		if err != nil {
			return
		}
		defer s.Close()
		edgeSessions <- s
		s.ServeControl(ctl(s))
	}))
	agentSide, _, err := tunnel.Dial(context.Background(), srv.URL, tunnel.Hello{Token: "t", Name: "demo", Target: "http://127.0.0.1:1"}, tunnel.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		agentSide.Close()
		srv.Close()
	})
	return <-edgeSessions, agentSide
}
