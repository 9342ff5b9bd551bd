package edge

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/tunnel"
	"github.com/hooktunnel/hooktunnel/tunnel/tunneltest"
)

// inspectorSession connects an agent's side of a tunnel session to e, which
// serves its inspector on the streams the agent opens.
func inspectorSession(t *testing.T, e *Edge) *tunnel.Session {
	t.Helper()
	// Registered first, so it runs after the sessions are closed: the
	// inspector's server ends with its session.
	t.Cleanup(e.serving.Wait)
	_, agentSide := tunneltest.SessionPair(t, func(s *tunnel.Session) tunnel.Control {
		return tunnel.Control{Inspect: func() { e.serveInspector(s, []string{"demo"}) }}
	})
	if err := agentSide.RequestInspector(); err != nil {
		t.Fatal(err)
	}
	return agentSide
}

// get sends one request on a fresh inspector stream and reads the answer's
// head; the stream stays open for the caller.
func get(sess *tunnel.Session, path string) (net.Conn, *http.Response, error) {
	c, err := sess.Open(context.Background())
	if err != nil {
		return nil, nil, err
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req, _ := http.NewRequest("GET", "http://127.0.0.1:4040"+path, nil)
	if err := req.Write(c); err != nil {
		return c, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	return c, resp, err
}

// An agent holds a token, not the edge's trust: the streams its inspector
// keeps open on the edge are bounded, and a stream beyond the bound is
// closed unanswered; one freed makes room again.
func TestInspectorBoundsTheStreamsOfAnAgent(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Domain, cfg.TLS = "hooks.test", "off"
	e := newTestEdge(t, cfg)
	t.Cleanup(func() { e.closeOnce.Do(func() { close(e.closing) }) })
	sess := inspectorSession(t, e)

	// The journal's event stream stays open: each holds a stream.
	var held []net.Conn
	for i := range inspectorStreams {
		c, resp, err := get(sess, "/api/v1/events")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("event stream %d: %v %v", i, resp, err)
		}
		held = append(held, c)
	}
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	for i := range 8 {
		c, resp, err := get(sess, "/healthz")
		if err == nil {
			t.Fatalf("stream %d beyond the bound of %d was answered: %s", inspectorStreams+i+1, inspectorStreams, resp.Status)
		}
		if c != nil {
			c.Close()
		}
	}
	held[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, resp, err := get(sess, "/healthz")
		if c != nil {
			c.Close()
		}
		if err == nil && resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stream answered after one was freed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
