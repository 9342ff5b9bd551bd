package tunnel

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func admitAll(Hello) (Welcome, *Refusal) { return Welcome{}, nil }

func TestOpenWithDoneContextOpensNothing(t *testing.T) {
	t.Parallel()
	agent, edge, _, err := pair(t, Hello{Token: "tok"}, admitAll)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if c, err := edge.Open(ctx); !errors.Is(err, context.Canceled) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Open(cancelled ctx) = %v, want context.Canceled", err)
	}
	// Nothing reached the agent: the next stream it accepts is the one
	// opened after.
	go func() {
		if c, err := edge.Open(context.Background()); err == nil {
			c.Write([]byte("second"))
			c.Close()
		}
	}()
	c, err := agent.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if b, _ := io.ReadAll(c); string(b) != "second" {
		t.Errorf("the agent's first stream carried %q, want the one opened after the cancelled Open", b)
	}
}

func TestOpenGivesUpWhenContextEnds(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.AcceptBacklog = 1 // one stream the agent has not accepted blocks the next Open
	agent, edge, _, err := pairWith(t, cfg, Hello{Token: "tok"}, admitAll)
	if err != nil {
		t.Fatal(err)
	}
	first, err := edge.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()

	ctx, cancel := context.WithCancel(context.Background())
	w := &watchedContext{Context: ctx, watching: make(chan struct{})}
	got := make(chan error, 1)
	go func() {
		c, err := edge.Open(w)
		if c != nil {
			c.Close()
		}
		got <- err
	}()
	select {
	case <-w.watching:
	case err := <-got:
		t.Fatalf("Open returned %v while the agent's backlog was full; want it to wait", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Open blocked without watching its context")
	}
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Open after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Open ignored its context: still blocked 10s after cancel")
	}

	// The agent accepts the first stream; the second, opened late for a
	// caller that gave up, reaches it already closed by the edge.
	a1, err := agent.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a1.Close()
	a2, err := agent.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	_ = a2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := a2.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("the late stream read %d, %v; want EOF (closed by the edge)", n, err)
	}
}

func TestSessionAddrIsThisSide(t *testing.T) {
	t.Parallel()
	edges := make(chan *Session, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := Accept(w, r, DefaultConfig(), acceptToken("tok"))
		if err != nil {
			edges <- nil
			return
		}
		s, err := p.Admit(Welcome{})
		edges <- s
		if err == nil {
			<-s.Done()
		}
	}))
	t.Cleanup(srv.Close)
	agent, _, err := Dial(context.Background(), srv.URL, Hello{Token: "tok"}, DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Close() })
	edge := <-edges
	if edge == nil {
		t.Fatal("the edge side did not admit the session")
	}
	t.Cleanup(func() { edge.Close() })

	// The edge's side of the connection is the address it listens on, as
	// a net.Listener's Addr is; the peer's is the agent's ephemeral port.
	if got, want := edge.Addr().String(), srv.Listener.Addr().String(); got != want {
		t.Errorf("edge Addr() = %s, want the local address %s", got, want)
	}
	if _, ok := edge.RemoteAddr().(*net.TCPAddr); !ok || edge.RemoteAddr().String() == srv.Listener.Addr().String() {
		t.Errorf("edge RemoteAddr() = %v, want the agent's address", edge.RemoteAddr())
	}
}

// watchedContext closes watching when Done is first asked for: the caller
// is about to wait on it.
type watchedContext struct {
	context.Context
	once     sync.Once
	watching chan struct{}
}

func (c *watchedContext) Done() <-chan struct{} {
	c.once.Do(func() { close(c.watching) })
	return c.Context.Done()
}
