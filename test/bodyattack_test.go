package test

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// bodyApp is an app that reads every body to its end and counts the
// requests whose body arrived whole and those whose body failed.
type bodyApp struct {
	addr            string
	whole, cutShort atomic.Int64
	wholeByID       sync.Map // X-Test-Id → true
}

func startBodyApp(t *testing.T) *bodyApp {
	t.Helper()
	a := &bodyApp{}
	a.addr = serveLoopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			a.cutShort.Add(1)
			return
		}
		a.whole.Add(1)
		if id := r.Header.Get("X-Test-Id"); id != "" {
			a.wholeByID.Store(id, true)
		}
		w.WriteHeader(http.StatusOK)
	}))
	return a
}

func (a *bodyApp) port() string { return portOf(a.addr) }

// bodyEdge is an edge whose tunnel "big" streams bodies to the app (no
// signature to check), with few streams per agent, so that leaked
// streams show at once.
func bodyEdge(t *testing.T, limits string) (*edgeProc, *bodyApp) {
	t.Helper()
	tok := newToken("big", false, "big")
	e := startEdge(t, edgeConfig([]agentToken{tok}, `
tunnels:
  big:
    routes:
      - path: /hook
        methods: [POST]
        max_body: 1MiB
      - path: /large
        methods: [POST]
        max_body: 32MiB
limits:
`+limits))
	app := startBodyApp(t)
	startAgent(t, e, tok, app.port(), "--name", "big")
	return e, app
}

// rawRequest writes head (and body) on a fresh connection to the edge and
// returns the status line the edge answers with, or the error.
func rawRequest(t *testing.T, e *edgeProc, head, body string, timeout time.Duration) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", "127.0.0.1:"+e.port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, head+body); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// legitimate sends n small POSTs to /hook, one after another, and returns
// how many the app answered 200.
func legitimate(t *testing.T, e *edgeProc, n int) int {
	t.Helper()
	c := e.client(10 * time.Second)
	ok := 0
	for i := range n {
		req, _ := http.NewRequest(http.MethodPost, e.hookURL("big", "/hook"), strings.NewReader(`{"n":`+strconv.Itoa(i)+`}`))
		resp, err := c.Do(req)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			ok++
		}
	}
	return ok
}

// A chunked body over max_body, on a route that streams, used to hang the
// sender forever and keep its stream to the agent: a few dozen of them
// took every stream of the tunnel. Each must now be answered 413, and the
// tunnel must serve other senders afterwards.
func TestOversizedChunkedBodiesAreRefusedAndFreeTheTunnel(t *testing.T) {
	e, app := bodyEdge(t, "  max_streams_per_agent: 8\n")
	const attackers = 24
	c := e.client(20 * time.Second)
	var wg sync.WaitGroup
	statuses := make([]int, attackers)
	for i := range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// No length: the client sends it chunked.
			body := io.LimitReader(rand.Reader, 2<<20)
			req, _ := http.NewRequest(http.MethodPost, e.hookURL("big", "/hook"), body)
			resp, err := c.Do(req)
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Timeout") {
					statuses[i] = -1 // hung
				}
				return // the edge may close while the body is still on its way
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	answered := 0
	for i, s := range statuses {
		switch s {
		case -1:
			t.Errorf("oversized request %d got no answer within 20s", i)
		case http.StatusRequestEntityTooLarge:
			answered++
		case 0:
		default:
			t.Errorf("oversized request %d: status %d, want 413", i, s)
		}
	}
	if answered == 0 {
		t.Errorf("no oversized request was answered 413: %v", statuses)
	}
	if got := legitimate(t, e, 20); got != 20 {
		t.Fatalf("after the oversized bodies, %d of 20 legitimate requests were answered", got)
	}
	e.waitMessage(t, "tunnel=big", func(m store.Message) bool {
		return m.Reason == "body_too_large" && m.Decision == "refused" && m.Status == http.StatusRequestEntityTooLarge
	})
	t.Logf("oversized: %d of %d answered 413 (the rest saw the connection closed while sending); app got %d whole bodies, %d cut short",
		answered, attackers, app.whole.Load(), app.cutShort.Load())
}

// Bogus chunk sizes get a 400, promptly, and do not hold a stream.
func TestMalformedChunkedBodyIsRefused(t *testing.T) {
	e, _ := bodyEdge(t, "  max_streams_per_agent: 4\n")
	for i := range 8 {
		head := "POST /hook HTTP/1.1\r\nHost: big.localhost\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
		line, err := rawRequest(t, e, head, "5\r\nhello\r\nzz-not-a-size\r\n", 10*time.Second)
		if err != nil {
			t.Fatalf("malformed request %d: no answer: %v", i, err)
		}
		if !strings.HasPrefix(line, "HTTP/1.1 400") {
			t.Fatalf("malformed request %d: %q, want 400", i, line)
		}
	}
	if got := legitimate(t, e, 8); got != 8 {
		t.Fatalf("after malformed bodies, %d of 8 legitimate requests were answered", got)
	}
	e.waitMessage(t, "tunnel=big", func(m store.Message) bool { return m.Reason == "body_malformed" })
}

// A body that stops arriving is ended by the body deadline: the sender
// gets a 408 and its stream is freed.
func TestBodyThatStopsArrivingTimesOut(t *testing.T) {
	e, _ := bodyEdge(t, "  max_streams_per_agent: 2\n  body_timeout: 2s\n")
	var wg sync.WaitGroup
	lines := make([]string, 4)
	errs := make([]error, 4)
	start := time.Now()
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			head := "POST /hook HTTP/1.1\r\nHost: big.localhost\r\nContent-Length: 1000\r\n\r\n"
			lines[i], errs[i] = rawRequest(t, e, head, "0123456789", 20*time.Second)
		}()
	}
	wg.Wait()
	for i := range 4 {
		if errs[i] != nil || !strings.HasPrefix(lines[i], "HTTP/1.1 408") {
			t.Errorf("stalled body %d: %q %v, want 408", i, lines[i], errs[i])
		}
	}
	t.Logf("4 stalled bodies answered in %s", time.Since(start).Round(time.Millisecond))
	if got := legitimate(t, e, 6); got != 6 {
		t.Fatalf("after stalled bodies, %d of 6 legitimate requests were answered", got)
	}
	e.waitMessage(t, "tunnel=big", func(m store.Message) bool { return m.Reason == "body_timeout" && m.Status == http.StatusRequestTimeout })
}

// A sender that hangs up halfway through its body used to be journaled as
// "forwarded 200" (the agent's server answered an implicit 200 for an app
// request it gave up on). The journal must say the sender aborted, and the
// app must never see the half body as a whole request.
func TestSenderAbortMidBodyIsJournaledAsSuch(t *testing.T) {
	e, app := bodyEdge(t, "")
	for _, path := range []string{"/hook", "/large"} {
		t.Run(path, func(t *testing.T) {
			id := "abort-" + strings.TrimPrefix(path, "/")
			size := 200_000
			if path == "/large" {
				size = 4 << 20
			}
			c, err := net.Dial("tcp", "127.0.0.1:"+e.port)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: big.localhost\r\nX-Test-Id: %s\r\nContent-Length: %d\r\n\r\n", path, id, size)
			half := make([]byte, size/2)
			c.Write(half)
			time.Sleep(200 * time.Millisecond) // let the edge start forwarding it
			c.Close()
			m := e.waitMessage(t, "tunnel=big", func(m store.Message) bool { return m.Path == path && m.Reason == "body_incomplete" })
			if m.Decision != "refused" {
				t.Errorf("decision %q, want refused (the sender aborted)", m.Decision)
			}
			if _, ok := app.wholeByID.Load(id); ok {
				t.Errorf("the app took the half body as a whole request")
			}
			for _, m := range e.messages(t, "tunnel=big") {
				if m.Path == path && m.Decision == "forwarded" {
					t.Errorf("the aborted request was journaled as forwarded %d", m.Status)
				}
			}
		})
	}
}

// Hundreds of senders that declare a large body and then trickle it used
// to take every stream of a tunnel and, through journal buffers sized
// from the declared length, tens of GiB of edge memory. Legitimate
// webhooks to the same tunnel must keep going, and the edge's heap must
// stay small.
func TestSlowSendersDoNotStarveATunnel(t *testing.T) {
	e, _ := bodyEdge(t, "  max_streams_per_agent: 100\n  max_requests_per_ip: 50\n")
	attackers := 600
	if n, err := strconv.Atoi(os.Getenv("HOOKTUNNEL_SLOW_ATTACKERS")); err == nil {
		attackers = n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 14*time.Second)
	defer cancel()
	baseline := heapInUse(t, e)

	// The attackers come from 127.0.0.2, the legitimate senders from
	// 127.0.0.1: one hostile source against webhooks from elsewhere.
	var wg sync.WaitGroup
	var attempts atomic.Int64
	for i := range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := "/large"
			if i%2 == 0 {
				path = "/hook"
			}
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
			for ctx.Err() == nil {
				attempts.Add(1)
				trickle(ctx, d, e, path)
				select {
				case <-ctx.Done():
				case <-time.After(500 * time.Millisecond):
				}
			}
		}()
	}

	time.Sleep(2 * time.Second) // let the attack take hold
	var sent, ok atomic.Int64
	var peak atomic.Int64
	legit := e.client(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond) // 20 per second
	deadline := time.After(10 * time.Second)
	var lw sync.WaitGroup
loop:
	for {
		select {
		case <-deadline:
			break loop
		case <-tick.C:
			lw.Add(1)
			go func() {
				defer lw.Done()
				sent.Add(1)
				req, _ := http.NewRequest(http.MethodPost, e.hookURL("big", "/hook"), strings.NewReader(`{"legit":true}`))
				resp, err := legit.Do(req)
				if err != nil {
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				}
			}()
			if sent.Load()%20 == 0 {
				peak.Store(max(peak.Load(), heapInUse(t, e)))
			}
		}
	}
	tick.Stop()
	lw.Wait()
	peak.Store(max(peak.Load(), heapInUse(t, e)))
	cancel()
	wg.Wait()

	rate := float64(ok.Load()) / float64(sent.Load())
	t.Logf("%d slow senders (%d attempts): legitimate %d/%d answered (%.1f%%); edge heap in use %d MiB before, peak %d MiB; edge peak RSS %d MiB",
		attackers, attempts.Load(), ok.Load(), sent.Load(), 100*rate, baseline>>20, peak.Load()>>20, e.memory("VmHWM:")>>20)
	if rate < 0.99 {
		t.Errorf("legitimate success %.1f%%, want at least 99%%", 100*rate)
	}
	if peak.Load() > 256<<20 {
		t.Errorf("edge heap in use reached %d MiB, want under 256 MiB", peak.Load()>>20)
	}
}

// trickle declares a 25 MiB body and sends a byte every 2 seconds until
// the edge gives up on it or ctx ends.
func trickle(ctx context.Context, d net.Dialer, e *edgeProc, path string) {
	c, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+e.port)
	if err != nil {
		return
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if _, err := fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: big.localhost\r\nContent-Length: %d\r\n\r\n", path, 25<<20); err != nil {
		return
	}
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		bufio.NewReader(c).ReadString('\n')
	}()
	for {
		if _, err := c.Write([]byte{'x'}); err != nil {
			return
		}
		select {
		case <-answered:
			return
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// heapInUse reads the edge's go_memstats_heap_inuse_bytes from /metrics.
func heapInUse(t *testing.T, e *edgeProc) int64 {
	t.Helper()
	v, ok := e.scrape(t)["go_memstats_heap_inuse_bytes"]
	if !ok {
		t.Fatal("no go_memstats_heap_inuse_bytes in /metrics")
	}
	return int64(v)
}

// A sender whose chunked body breaks off in its trailer, then closes its
// side: the edge cuts the stream to the agent, whose app answers 200 to
// the half body it got. That answer used to come back to the sender now
// and then (a yamux stream hands over what arrived after the edge stopped
// reading), as a 200 for a body the edge refused. Every such request must
// be answered 400.
func TestTheAppsAnswerToACutBodyIsNotTheAnswer(t *testing.T) {
	e, _ := bodyEdge(t, "")
	const senders = 200
	for i := range senders {
		c, err := net.Dial("tcp", "127.0.0.1:"+e.port)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "POST /large HTTP/1.1\r\nHost: big.localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n")
		c.(*net.TCPConn).CloseWrite()
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 400") {
			t.Fatalf("sender %d of %d: %q %v, want 400", i+1, senders, strings.TrimSpace(line), err)
		}
	}
}
