package relay

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/tunnel"
	"github.com/hooktunnel/hooktunnel/tunnel/tunneltest"
)

func TestDeliverToATunnelNobodyServes(t *testing.T) {
	r := New(nil)
	if _, err := r.Deliver("nobody", newRequest("x")); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("delivery to a tunnel never served: %v, want ErrNoAgent", err)
	}
	edgeSide, _ := tunneltest.SessionPair(t, func(*tunnel.Session) tunnel.Control { return tunnel.Control{} })
	s := r.NewSession("agent", [32]byte{}, "127.0.0.1:1", 1)
	s.Attach(edgeSide, nil)
	r.Add("demo", s, nil)
	r.Remove("demo", s)
	if r.Online("demo") || !r.Known("demo") {
		t.Fatalf("after its only session left: online %v, known %v; want false, true", r.Online("demo"), r.Known("demo"))
	}
	if _, err := r.Deliver("demo", newRequest("x")); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("delivery to a tunnel whose agent left: %v, want ErrNoAgent", err)
	}
	s.Close()
}

// An agent whose session ends while the app has the request: the edge
// learns the app gave no answer, as ErrAgentLost.
func TestDeliverWhenTheAgentGoesAwayMidRequest(t *testing.T) {
	edgeSide, agentSide := tunneltest.SessionPair(t, func(*tunnel.Session) tunnel.Control { return tunnel.Control{} })
	got := make(chan struct{})
	go http.Serve(agentSide, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(got)
		<-r.Context().Done()
	}))
	r := relayWith(t, edgeSide)
	go func() { <-got; agentSide.Close() }()
	// A body too large to keep for a retry: the request cannot go again.
	req, _ := http.NewRequest("POST", "http://demo/hook", io.LimitReader(zeros{}, MaxRetryBody+1))
	req.ContentLength = MaxRetryBody + 1
	_, err := r.Deliver("demo", req)
	if !errors.Is(err, ErrAgentLost) {
		t.Fatalf("agent gone mid-request: %v, want ErrAgentLost", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A retired session takes its requests under way to their end, then
// closes; one whose requests outlast the timeout closes when the timeout
// passes on the edge's clock.
func TestRetireWaitsForRequestsUnderWay(t *testing.T) {
	edgeSide, _ := tunneltest.SessionPair(t, func(*tunnel.Session) tunnel.Control { return tunnel.Control{} })
	fake := clock.NewFake(time.Unix(1_000_000, 0))
	r := New(fake)
	s := r.NewSession("agent", [32]byte{}, "127.0.0.1:1", 2)
	s.Attach(edgeSide, fake)
	if !s.acquire(nil) {
		t.Fatal("no slot")
	}
	retired := make(chan struct{})
	go func() { s.Retire(fake, time.Minute, "token revoked"); close(retired) }()
	fake.WaitPending(1) // Retire armed its timeout
	s.release()
	<-retired
	if !edgeSide.IsClosed() {
		t.Fatal("the retired session is still open")
	}

	edgeSide2, _ := tunneltest.SessionPair(t, func(*tunnel.Session) tunnel.Control { return tunnel.Control{} })
	s2 := r.NewSession("agent", [32]byte{}, "127.0.0.1:1", 2)
	s2.Attach(edgeSide2, fake)
	s2.acquire(nil) // a request that never ends
	retired = make(chan struct{})
	go func() { s2.Retire(fake, time.Minute, "token revoked"); close(retired) }()
	fake.WaitPending(1)
	fake.Advance(59 * time.Second)
	select {
	case <-retired:
		t.Fatal("retired before the timeout while a request was under way")
	default:
	}
	fake.Advance(time.Second)
	<-retired
	if !edgeSide2.IsClosed() {
		t.Fatal("the session outlived the timeout")
	}
}

// A caller that gave up gets its context's error, not "no agent": the
// edge answers a sender that went away 499, not 503.
func TestDeliverForACallerThatGaveUp(t *testing.T) {
	edgeSide, agentSide := tunneltest.SessionPair(t, func(*tunnel.Session) tunnel.Control { return tunnel.Control{} })
	go http.Serve(agentSide, http.HandlerFunc(echoBody))
	r := relayWith(t, edgeSide)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Deliver("demo", newRequest("x").WithContext(ctx)); !errors.Is(err, context.Canceled) || errors.Is(err, ErrNoAgent) {
		t.Fatalf("delivery for a caller that gave up: %v, want context.Canceled", err)
	}
}
