package edge

import (
	"context"
	"encoding/hex"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// runningEdge is an edge on loopback, started in this process on a fake
// clock, with one agent session for tunnel demo whose app is handler.
type runningEdge struct {
	*Edge
	clock *clock.Fake
}

func startEdgeWithAgent(t *testing.T, routes []policy.RouteConfig, app http.HandlerFunc) *runningEdge {
	t.Helper()
	const token = "ht_in-process-agent"
	sum := TokenHash(token)
	fake := clock.NewFake(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	cfg := DefaultConfig()
	cfg.Domain, cfg.TLS, cfg.Data, cfg.Clock = "hooks.test", "off", t.TempDir(), fake
	cfg.Listen, cfg.AdminListen, cfg.HTTPListen = "127.0.0.1:0", "127.0.0.1:0", "off"
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Agents = []AgentConfig{{Name: "demo", TokenSHA256: hex.EncodeToString(sum[:]), Tunnels: []string{"demo"}}}
	cfg.Tunnels = map[string]policy.Config{"demo": {Routes: routes}}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Shutdown() })
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", e.Addr().String())
	}}}
	agent, _, err := tunnel.Dial(context.Background(), "http://hooks.test", tunnel.Hello{Token: token, Name: "demo", Target: "http://127.0.0.1:1"}, tunnel.DefaultConfig(), client)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: app, ErrorLog: log.New(io.Discard, "", 0)}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(agent) }()
	t.Cleanup(func() { srv.Close(); <-served })
	return &runningEdge{Edge: e, clock: fake}
}

// post sends a webhook to the tunnel's public listener.
func (e *runningEdge) post(t *testing.T, path, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+e.Addr().String()+path, strings.NewReader(body))
	req.Host = "demo.hooks.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// A queued delivery the app fails is tried again when its retry falls due
// on the edge's clock, not before, and then delivered: the test moves the
// clock instead of waiting for it.
func TestQueueRetriesWhenDueOnTheEdgesClock(t *testing.T) {
	attempts := make(chan string, 4)
	statuses := []int{http.StatusServiceUnavailable, http.StatusOK}
	var served atomic.Int32
	e := startEdgeWithAgent(t, []policy.RouteConfig{{Path: "/hook", Mode: "queue"}}, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n := int(served.Add(1)) - 1
		w.WriteHeader(statuses[min(n, len(statuses)-1)])
		attempts <- r.Header.Get(tunnel.HeaderAttempt)
	})
	for !e.relay.Online("demo") { // the agent registers in the edge's goroutine
		time.Sleep(2 * time.Millisecond) // polls what runs in the background; no timing depends on it
	}
	if resp := e.post(t, "/hook", `{"n":1}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("queued webhook answered %d", resp.StatusCode)
	}
	if got := receive(t, attempts); got != "1" {
		t.Fatalf("first delivery carried attempt %q", got)
	}
	pending := waitQueued(t, e, func(m store.Message) bool { return len(m.Attempts) == 1 })
	if pending.Queue != store.QueuePending {
		t.Fatalf("after a 503 the message is %q, want pending", pending.Queue)
	}
	// The retry waits at least half of retryMin (jitter), at most retryMin.
	now := e.clock.Now()
	if due, _ := e.queue.Due(context.Background(), now.Add(retryMin/2-time.Millisecond), 10); len(due) != 0 {
		t.Fatalf("the retry is due before its backoff: %+v", due)
	}
	if due, _ := e.queue.Due(context.Background(), now.Add(retryMin), 10); len(due) != 1 {
		t.Fatalf("the retry is not due after retryMin: %d due", len(due))
	}
	e.clock.Advance(retryMin)
	if got := receive(t, attempts); got != "2" {
		t.Fatalf("the retry carried attempt %q, want 2", got)
	}
	done := waitQueued(t, e, func(m store.Message) bool { return m.Queue == store.QueueDelivered })
	if len(done.Attempts) != 2 || done.Attempts[0].Status != 503 || done.Attempts[1].Status != 200 {
		t.Fatalf("attempts %+v", done.Attempts)
	}
	if !done.Attempts[1].At.Equal(now.Add(retryMin).UTC()) {
		t.Errorf("the retry is recorded at %v, want the clock's %v", done.Attempts[1].At, now.Add(retryMin))
	}
}

// receive is the next value on ch; the test fails, rather than hang, when
// none comes.
func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatal("nothing arrived within 20s")
	}
	var zero T
	return zero
}

// waitQueued returns the tunnel's only message once ok holds of it; the
// journal writes in the background.
func waitQueued(t *testing.T, e *runningEdge, ok func(store.Message) bool) store.Message {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		page, err := e.db.Messages(context.Background(), store.Filter{Tunnel: "demo"})
		if err == nil && len(page.Messages) == 1 {
			if m, err := e.db.Message(context.Background(), page.Messages[0].ID); err == nil && ok(*m) {
				return *m
			}
		}
		time.Sleep(2 * time.Millisecond) // polls what runs in the background; no timing depends on it
	}
	t.Fatal("the message never reached the state the test waits for")
	return store.Message{}
}
