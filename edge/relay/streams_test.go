package relay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/tunnel"
	"github.com/hooktunnel/hooktunnel/tunnel/tunneltest"
)

// agentStub serves handler the way an agent serves the edge's streams, each
// stream a loopback connection here, and counts the streams opened.
type agentStub struct {
	srv   *httptest.Server
	opens atomic.Int32
	t     *streamTransport
}

func newAgentStub(t *testing.T, handler http.HandlerFunc) *agentStub {
	a := &agentStub{srv: httptest.NewServer(handler)}
	t.Cleanup(a.srv.Close)
	a.t = newStreamTransport(func(ctx context.Context) (net.Conn, error) {
		a.opens.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", a.srv.Listener.Addr().String())
	}, 4, clock.System)
	t.Cleanup(a.t.close)
	return a
}

func (a *agentStub) post(t *testing.T, ctx context.Context, body string, header http.Header) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", "http://demo/hook", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return a.t.RoundTrip(req)
}

func (a *agentStub) kept() int {
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	return len(a.t.idle)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func echoBody(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Write(b)
}

func TestStreamTransportKeepsStreamsBetweenRequests(t *testing.T) {
	a := newAgentStub(t, echoBody)
	for i, body := range []string{"one", "two", "three"} {
		resp, err := a.post(t, context.Background(), body, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != body || resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %q, want 200 %q", i, resp.StatusCode, got, body)
		}
	}
	if n := a.opens.Load(); n != 1 {
		t.Errorf("three requests in a row opened %d streams, want 1", n)
	}
}

func TestStreamTransportReportsStaleStreams(t *testing.T) {
	a := newAgentStub(t, echoBody)
	resp, err := a.post(t, context.Background(), "first", nil)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	a.srv.CloseClientConnections() // the agent drops the idle stream
	_, err = a.post(t, context.Background(), "second", nil)
	if !errors.Is(err, errStaleStream) {
		t.Fatalf("request on a stream the agent closed: %v, want %v", err, errStaleStream)
	}
	resp, err = a.post(t, context.Background(), "third", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); got != "third" {
		t.Errorf("next request got %q", got)
	}
}

func TestStreamTransportTakesAnAnswerBeforeTheBodyIsSent(t *testing.T) {
	a := newAgentStub(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	})
	big := strings.Repeat("x", 8<<20) // far beyond the stream's window
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := a.post(t, context.Background(), big, nil)
		if err != nil {
			t.Error(err)
			return
		}
		readAll(t, resp)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", resp.StatusCode)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the early answer never came back")
	}
}

func TestStreamTransportSkipsInterimResponses(t *testing.T) {
	a := newAgentStub(t, echoBody)
	resp, err := a.post(t, context.Background(), "after continue", http.Header{"Expect": {"100-continue"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); resp.StatusCode != 200 || got != "after continue" {
		t.Errorf("got %d %q, want 200 and the echo", resp.StatusCode, got)
	}
}

func TestStreamTransportCancelEndsTheStream(t *testing.T) {
	release := make(chan struct{})
	a := newAgentStub(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first line\n")
		w.(http.Flusher).Flush()
		<-release
	})
	t.Cleanup(func() { close(release) }) // before the server's Close waits for the handler
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := a.post(t, ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	line := make([]byte, len("first line\n"))
	if _, err := io.ReadFull(resp.Body, line); err != nil {
		t.Fatal(err)
	}
	cancel()
	readErr := make(chan error, 1)
	go func() { _, err := io.ReadAll(resp.Body); readErr <- err }()
	select {
	case err := <-readErr:
		if err == nil {
			t.Error("the body ended cleanly after the request was cancelled")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading the body went on after the request was cancelled")
	}
	resp.Body.Close()
	// The cut stream is not kept: the next request opens another.
	next, err := a.post(t, context.Background(), "", nil)
	if err == nil {
		next.Body.Close()
	}
	if n := a.opens.Load(); n != 2 {
		t.Errorf("%d streams opened, want 2 (the cancelled one was not kept)", n)
	}
}

func TestStreamTransportCloseEndsKeptStreams(t *testing.T) {
	a := newAgentStub(t, echoBody)
	resp, err := a.post(t, context.Background(), "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	a.t.mu.Lock()
	kept := append([]*clientStream(nil), a.t.idle...)
	a.t.mu.Unlock()
	if len(kept) != 1 {
		t.Fatalf("%d streams kept, want 1", len(kept))
	}
	a.t.close()
	if _, err := kept[0].conn.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err == nil {
		t.Error("a kept stream is still open after close")
	}
	// A stream handed back after close is closed, not kept.
	resp, err = a.post(t, context.Background(), "y", nil)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	if len(a.t.idle) != 0 {
		t.Errorf("%d streams kept after close", len(a.t.idle))
	}
}

// When the agent has closed a kept stream, the request goes again on a
// fresh one: the sender never sees the stale stream.
func TestDeliverRetriesAStreamTheAgentClosed(t *testing.T) {
	edgeSide, agentSide := tunneltest.SessionPair(t, func(*tunnel.Session) tunnel.Control { return tunnel.Control{} })
	// The agent's side closes the stream once it has answered and the
	// stream waits for the next request.
	closed := make(chan struct{}, 1)
	agentServer := &http.Server{Handler: http.HandlerFunc(echoBody), ConnState: func(c net.Conn, s http.ConnState) {
		if s == http.StateIdle {
			c.Close()
			closed <- struct{}{}
		}
	}}
	go agentServer.Serve(agentSide)
	t.Cleanup(func() { agentServer.Close(); agentSide.Close() })

	r := relayWith(t, edgeSide)
	send := func(body string) (int, string, error) {
		resp, err := r.Deliver("demo", newRequest(body))
		if err != nil {
			return 0, "", err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b), err
	}
	if status, got, err := send("first"); err != nil || status != 200 || got != "first" {
		t.Fatalf("first request: %d %q %v", status, got, err)
	}
	<-closed // the agent closed the kept stream
	if status, got, err := send("second"); err != nil || status != 200 || got != "second" {
		t.Fatalf("request after the agent closed the kept stream: %d %q %v; want 200 and the echo", status, got, err)
	}
}

// relayWith is a relay with one agent session, edgeSide, serving "demo".
func relayWith(t *testing.T, edgeSide *tunnel.Session) *Relay {
	r := New(nil)
	s := r.NewSession("agent", [32]byte{}, "127.0.0.1:1", 4)
	s.Attach(edgeSide, nil)
	t.Cleanup(s.Close)
	r.Add("demo", s, nil)
	return r
}

func newRequest(body string) *http.Request {
	req, _ := http.NewRequest("POST", "http://demo/hook", strings.NewReader(body))
	return req
}

// An agent holds a token, not the edge's trust: what it answers must not
// make the edge buffer or loop without end.
func TestStreamTransportBoundsWhatAnAgentSends(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"huge headers", func(w http.ResponseWriter, r *http.Request) {
			for i := range 40 {
				w.Header().Set(fmt.Sprintf("X-Filler-%d", i), strings.Repeat("x", 32<<10))
			}
		}, "headers"},
		{"endless interim answers", func(w http.ResponseWriter, r *http.Request) {
			for range 20 {
				w.WriteHeader(http.StatusEarlyHints)
			}
		}, "interim"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgentStub(t, tc.handler)
			resp, err := a.post(t, context.Background(), "x", nil)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("got status %d, want an error", resp.StatusCode)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %s", err, tc.want)
			}
		})
	}
}

// FuzzAgentResponse feeds readResponse what an agent could send: it must
// neither panic nor hand back an interim answer as the final one.
func FuzzAgentResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 500 Oops\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &io.LimitedReader{R: bytes.NewReader(data), N: maxResponseHead}
		req, _ := http.NewRequest("POST", "http://demo/hook", nil)
		resp, err := readResponse(bufio.NewReader(in), req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("interim status %d returned as the answer", resp.StatusCode)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, int64(len(data))+1))
	})
}

func TestStreamTransportClosesStreamsKeptTooLong(t *testing.T) {
	a := newAgentStub(t, echoBody)
	fake := clock.NewFake(time.Unix(1_000_000, 0))
	a.t.clock = fake
	resp, err := a.post(t, context.Background(), "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	a.t.mu.Lock()
	kept := a.t.idle[0]
	a.t.mu.Unlock()
	fake.WaitPending(1)
	fake.Advance(streamIdleTimeout - time.Second)
	if n := a.kept(); n != 1 {
		t.Fatalf("%d streams kept before the idle timeout, want 1", n)
	}
	fake.Advance(time.Second)
	// The expiry runs in a goroutine of its own: the stream is closed once
	// it has run, which a read of the agent's side sees.
	buf := make([]byte, 1)
	kept.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := kept.conn.Read(buf); err == nil || isTimeout(err) {
		t.Fatalf("the expired stream is still open: %v", err)
	}
	if n := a.kept(); n != 0 {
		t.Fatalf("%d streams kept after the idle timeout", n)
	}
	// The next request opens a fresh stream and works.
	resp, err = a.post(t, context.Background(), "y", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); got != "y" || a.opens.Load() != 2 {
		t.Errorf("after expiry: %q with %d streams opened; want \"y\" and 2", got, a.opens.Load())
	}
}

// An agent that answers a request twice has queued an answer for the next
// request on the same stream. A kept stream is reused only at a message
// boundary: the next request must get its own answer, never the one
// queued ahead of it.
func TestKeptStreamWithAnswerQueuedAheadIsNotReused(t *testing.T) {
	edgeSide, agentSide := tunneltest.SessionPair(t, func(*tunnel.Session) tunnel.Control { return tunnel.Control{} })
	t.Cleanup(func() { agentSide.Close() })
	// A hostile agent: every answer comes with a forged second one.
	go tunneltest.ServeRaw(agentSide.Accept, tunneltest.ForgedEcho)

	r := relayWith(t, edgeSide)
	for _, body := range []string{"first", "second", "third"} {
		resp, err := r.Deliver("demo", newRequest(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		got := readAll(t, resp)
		if got != body {
			t.Fatalf("request %q got the answer %q", body, got)
		}
	}
}

// lateStream is a stream at its worst for the edge: as a yamux stream,
// Close ends only the writing and what has arrived is read whatever the
// read deadline; and the edge reads only once ready is closed.
type lateStream struct {
	*net.TCPConn
	ready <-chan struct{}
	once  sync.Once
}

func (c *lateStream) Read(p []byte) (int, error) {
	c.once.Do(func() {
		select {
		case <-c.ready:
		case <-time.After(10 * time.Second):
		}
	})
	return c.TCPConn.Read(p)
}

func (c *lateStream) SetReadDeadline(time.Time) error { return nil }
func (c *lateStream) Close() error                    { return c.CloseWrite() }

// When the sender's body fails, the edge cuts the stream; the app's answer
// to the half body it got is no answer to the request, even when it is
// on the stream by the time the edge reads.
func TestStreamTransportIgnoresTheAnswerToABodyItCut(t *testing.T) {
	ready := make(chan struct{})
	var answered sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err == nil {
			t.Error("the app got the whole of a body that failed")
		}
		w.WriteHeader(http.StatusOK) // an app that answers whatever it got
		w.(http.Flusher).Flush()
		answered.Do(func() { close(ready) })
	}))
	t.Cleanup(srv.Close)
	var conns []*net.TCPConn
	st := newStreamTransport(func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", srv.Listener.Addr().String())
		if err != nil {
			return nil, err
		}
		conns = append(conns, c.(*net.TCPConn))
		return &lateStream{TCPConn: c.(*net.TCPConn), ready: ready}, nil
	}, 1, clock.System)
	t.Cleanup(func() {
		st.close()
		for _, c := range conns {
			c.Close()
		}
	})
	req, _ := http.NewRequest("POST", "http://demo/hook", io.MultiReader(strings.NewReader("hello"), iotest.ErrReader(io.ErrUnexpectedEOF)))
	req.ContentLength = -1 // streams, chunked
	resp, err := st.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("the answer to the half body came back as the answer: %s", resp.Status)
	}
	if !errors.Is(err, ErrBodyAborted) {
		t.Errorf("error %v, want the sender's body's", err)
	}
}
