package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// fakeEdge is an edge of a cluster as an agent sees it: it admits every
// agent with a Welcome that names itself (Edge) and the edges it lists,
// and hands each session it admits to the test.
type fakeEdge struct {
	url      string
	sessions chan edgeSession

	mu     sync.Mutex
	self   string          // Welcome.Edge
	edges  []string        // Welcome.Edges
	refuse *tunnel.Refusal // the answer instead of a Welcome
}

// edgeSession is a session a fakeEdge admitted, and the Hello it came with.
type edgeSession struct {
	hello tunnel.Hello
	sess  *tunnel.Session
}

func startFakeEdge(t *testing.T) *fakeEdge {
	t.Helper()
	fe := &fakeEdge{sessions: make(chan edgeSession, 16)}
	var handlers sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		fe.serve(t, w, r)
	}))
	fe.url, fe.self = srv.URL, srv.URL
	t.Cleanup(func() {
		srv.Close()
		handlers.Wait() // the agent, stopped first, has closed its sessions
	})
	return fe
}

func (fe *fakeEdge) serve(t *testing.T, w http.ResponseWriter, r *http.Request) {
	p, err := tunnel.Accept(w, r, tunnel.DefaultConfig(), func(*http.Request, string) error { return nil })
	if err != nil {
		return
	}
	fe.mu.Lock()
	welcome := tunnel.Welcome{Tunnel: "demo", SessionID: "s", SetsTarget: true, Edge: fe.self, Edges: fe.edges}
	refuse := fe.refuse
	fe.mu.Unlock()
	if refuse != nil {
		p.Refuse(*refuse)
		return
	}
	s, err := p.Admit(welcome)
	if err != nil {
		return
	}
	defer s.Close()
	select {
	case fe.sessions <- edgeSession{p.Hello, s}:
	default:
		t.Error("the agent opened more sessions than the test expects")
		return
	}
	s.ServeControl(tunnel.Control{})
}

// list sets what the edge's Welcome lists.
func (fe *fakeEdge) list(edges ...*fakeEdge) {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	fe.edges = nil
	for _, e := range edges {
		fe.edges = append(fe.edges, e.url)
	}
}

// next waits for the next session the agent opens to the edge.
func (fe *fakeEdge) next(t *testing.T, what string) edgeSession {
	t.Helper()
	select {
	case s := <-fe.sessions:
		return s
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
		return edgeSession{}
	}
}

// runAgent runs an agent for an app that answers "hello from the app",
// dialing edge; the channel gives what Run returns. The test's end stops
// it and waits for Run.
func runAgent(t *testing.T, edge string, change func(*Config)) (*Agent, <-chan error) {
	t.Helper()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from the app")
	}))
	t.Cleanup(app.Close)
	cfg := DefaultConfig()
	cfg.Edge, cfg.Token, cfg.Target = edge, "ht_second-session-test", app.URL
	cfg.Inspect, cfg.TargetPoll = "", 0
	cfg.Backoff = Backoff{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond, StableAfter: time.Hour}
	cfg.ShutdownGrace = time.Second
	if change != nil {
		change(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, stopped := make(chan error, 1), make(chan struct{})
	go func() {
		defer close(stopped)
		done <- a.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Error("the agent did not stop within 10s")
		}
	})
	return a, done
}

// get sends a request over a session from the edge's side, as the edge
// forwards a webhook, and returns the app's answer.
func get(t *testing.T, s *tunnel.Session) string {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return s.Open(ctx) },
	}}
	resp, err := client.Get("http://demo.hooks.test/hook")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// An agent whose edge lists two edges opens a session to the other as
// well, asking for the tunnel the first edge gave it; requests over
// either session reach the app.
func TestSecondSessionToTheOtherListedEdge(t *testing.T) {
	a, b := startFakeEdge(t), startFakeEdge(t)
	a.list(a, b)
	b.list(a, b)
	runAgent(t, a.url, nil)

	first := a.next(t, "session to the first edge")
	second := b.next(t, "second session, to the other listed edge")
	if second.hello.Name != "demo" {
		t.Errorf("second session asks for tunnel %q, want the first's, demo", second.hello.Name)
	}
	for name, s := range map[string]*tunnel.Session{"first": first.sess, "second": second.sess} {
		if got := get(t, s); got != "hello from the app" {
			t.Errorf("over the %s session the app answered %q", name, got)
		}
	}
}

// When the second session dies, the agent opens it again, within its
// backoff; the first stays as it was.
func TestSecondSessionReconnects(t *testing.T) {
	a, b := startFakeEdge(t), startFakeEdge(t)
	a.list(a, b)
	b.list(a, b)
	runAgent(t, a.url, nil)
	first := a.next(t, "session to the first edge")
	b.next(t, "second session").sess.Close()

	again := b.next(t, "second session again after it died")
	if got := get(t, again.sess); got != "hello from the app" {
		t.Errorf("over the new second session the app answered %q", got)
	}
	if first.sess.IsClosed() {
		t.Error("the first session ended with the second")
	}
}

// An edge that lists only itself (or nothing: a single edge, an older
// edge) gets one session, as before.
func TestNoSecondSessionBehindOneEdge(t *testing.T) {
	tests := []struct {
		name  string
		lists func(e *fakeEdge)
	}{
		{"lists itself", func(e *fakeEdge) { e.list(e) }},
		{"lists nothing", func(e *fakeEdge) { e.self = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := startFakeEdge(t)
			tc.lists(e)
			connected := make(chan struct{}, 1)
			ag, _ := runAgent(t, e.url, func(c *Config) {
				// Called once the first session's Welcome is taken in.
				c.OnConnect = func(tunnel.Welcome) { connected <- struct{}{} }
			})
			e.next(t, "session to the edge")
			select {
			case <-connected:
			case <-time.After(10 * time.Second):
				t.Fatal("OnConnect not called within 10s")
			}
			if edge, _ := ag.edges.pick(); edge != "" {
				t.Fatalf("the second session would dial %s", edge)
			}
			select {
			case s := <-e.sessions:
				t.Fatalf("a second session to the one edge (hello %v)", s.hello)
			default:
			}
		})
	}
}

// A second session that lands on the first one's edge (its URL is
// another name for it) is closed, and the agent tries the next edge.
func TestSecondSessionLeavesTheFirstOnesEdge(t *testing.T) {
	a, b := startFakeEdge(t), startFakeEdge(t)
	alias := strings.Replace(a.url, "127.0.0.1", "localhost", 1)
	for _, e := range []*fakeEdge{a, b} {
		e.mu.Lock()
		e.edges = []string{a.url, alias, b.url}
		e.mu.Unlock()
	}
	runAgent(t, a.url, nil)
	a.next(t, "session to the first edge")

	landed := a.next(t, "second session, through the other name of the first edge")
	select {
	case <-landed.sess.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the agent kept a second session on the first one's edge")
	}
	b.next(t, "second session to the next listed edge")
}

// When the first session reconnects to the edge the second holds (the
// --edge name now leads there), the second leaves it for another edge.
func TestSecondSessionMovesWhenTheFirstComesToItsEdge(t *testing.T) {
	a, b := startFakeEdge(t), startFakeEdge(t)
	a.list(a, b)
	b.list(a, b)
	var leadsTo atomic.Value // the address edge.hooks.test resolves to
	leadsTo.Store(strings.TrimPrefix(a.url, "http://"))
	byName := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, leadsTo.Load().(string))
	}}}
	runAgent(t, "http://edge.hooks.test", func(c *Config) {
		c.EdgeClient, c.OtherEdgesClient = byName, &http.Client{}
	})
	first := a.next(t, "session to the first edge")
	second := b.next(t, "second session")

	leadsTo.Store(strings.TrimPrefix(b.url, "http://"))
	first.sess.Close()
	b.next(t, "first session, reconnected to the second's edge")
	select {
	case <-second.sess.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the second session stayed on the edge the first came to")
	}
	moved := a.next(t, "second session, moved to the edge the first left")
	if got := get(t, moved.sess); got != "hello from the app" {
		t.Errorf("over the moved second session the app answered %q", got)
	}
}

// A permanent refusal of the second session ends the agent, as one of
// the first does.
func TestSecondSessionRefusedForGoodEndsTheAgent(t *testing.T) {
	a, b := startFakeEdge(t), startFakeEdge(t)
	a.list(a, b)
	b.refuse = &tunnel.Refusal{Code: tunnel.RefusedBadToken, Message: "this token is revoked", Permanent: true}
	_, done := runAgent(t, a.url, nil)
	a.next(t, "session to the first edge")
	select {
	case err := <-done:
		var r *tunnel.Refusal
		if !errors.As(err, &r) || r.Code != tunnel.RefusedBadToken {
			t.Fatalf("Run returned %v, want the second edge's refusal", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the agent ran on after the second edge refused it for good")
	}
}

// An agent asks for the cluster's edges less and less often while none is
// listed, never more than relistMax apart, and each wait at least 4/5 of
// its nominal value: a thousand agents of a cluster with an edge down ask
// about 17 times a second, not 200.
func TestRelistBacksOff(t *testing.T) {
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute, time.Minute}
	for n, nominal := range want {
		for range 50 {
			got := relistAfter(n)
			if got > nominal || got < nominal*4/5 {
				t.Fatalf("relistAfter(%d) = %v, want within (%v, %v]", n, got, nominal*4/5, nominal)
			}
		}
	}
	if got := relistAfter(1000); got > relistMax {
		t.Fatalf("relistAfter(1000) = %v, past relistMax", got)
	}
}
