package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/relay"
	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// fuzzMaxBody is the max_body of the fuzzed route: above relay.MaxRetryBody, so
// a body of known length may stream too.
const fuzzMaxBody = 80 << 10

// answerWithin bounds how long the edge may take to answer a sender whose
// bytes are all sent, and how long its streams may take to settle after.
const answerWithin = 5 * time.Second

// FuzzStreamingBody sends a sender's body, chunked or of a declared
// length, raw on a connection to a real edge whose route streams it to a
// real agent session. For every input the edge answers at once with 200,
// 400, 408 or 413; a 200 means the app got exactly the body net/http's own
// parser makes of those bytes, whole and within max_body, and a body that
// is whole and within max_body is answered 200; any other answer means the
// app never got the body whole; and the agent's streams are all free again
// afterwards.
//
// mode bit 0 declares Content-Length: pad+length instead of chunked; bits
// 1-2 put pad bytes before raw (as one valid chunk when chunked): none,
// just under relay.MaxRetryBody or just under max_body, so that the fuzzed bytes
// land on those bounds. The sender closes its side of the connection after
// a body net/http finds incomplete or broken; with bit 3 it does so after
// a whole one too, which net/http takes for the sender going away: the
// edge may then answer 499 instead of 200, but never the app's answer to
// less than the whole body.
func FuzzStreamingBody(f *testing.F) {
	const (
		chunked  = 0
		declared = 1
		nearKeep = 1 << 1 // pad to just under relay.MaxRetryBody
		nearMax  = 2 << 1 // pad to just under max_body
		leaves   = 1 << 3 // close the sending side after a whole body too
	)
	seeds := []struct {
		mode   uint8
		length uint16
		raw    string
	}{
		{chunked, 0, "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"},
		{chunked, 0, "0\r\n\r\n"},
		{chunked, 0, "5;name=value;x\r\nhello\r\n0;last\r\n\r\n"},
		{chunked, 0, "5\r\nhello\r\n0\r\nX-Trailer: yes\r\nY: 2\r\n\r\n"},
		{chunked, 0, "5\r\nhello\r\nzz\r\n"},
		{chunked, 0, "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"},
		{chunked, 0, "5\r\nhello\r\n0\r\n"},                  // no final CRLF
		{chunked, 0, "a\r\nhel"},                             // cut mid-chunk
		{chunked, 0, "5\r\nhelloXX0\r\n\r\n"},                // no CRLF after the data
		{chunked | nearMax, 0, "8\r\n01234567\r\n0\r\n\r\n"}, // exactly max_body
		{chunked | nearMax, 0, "10\r\n0123456789abcdef\r\n0\r\n\r\n"},
		{chunked | nearKeep, 0, "10\r\n0123456789abcdef\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"},
		{declared, 0, ""},
		{declared, 5, "hello"},
		{declared, 10, "hello"},                        // less than declared
		{declared, 5, "helloPOST /x HTTP/1.1\r\n\r\n"}, // a next request behind it
		{declared | nearKeep, 16, "0123456789abcdef"},  // streams, known length
		{declared | nearKeep, 16, "01234567"},
		{declared | nearMax, 9, "012345678"}, // over max_body
		{chunked | leaves, 0, "5\r\nhello\r\n0\r\n\r\n"},
		{chunked | nearKeep | leaves, 0, "10\r\n0123456789abcdef\r\n0\r\n\r\n"},
		{declared | nearKeep | leaves, 16, "0123456789abcdef"},
	}
	for _, s := range seeds {
		f.Add(s.mode, s.length, []byte(s.raw))
	}
	var h *bodyFuzzEdge // one per fuzzing process, built by the first input
	f.Cleanup(func() {
		if h != nil {
			h.close()
		}
	})
	f.Fuzz(func(t *testing.T, mode uint8, length uint16, raw []byte) {
		if h == nil {
			var err error
			if h, err = startBodyFuzzEdge(); err != nil {
				t.Fatal(err)
			}
		}
		pad := []int{0, relay.MaxRetryBody - 8, fuzzMaxBody - 8, 0}[mode>>1&3]
		h.check(t, mode&declared != 0, mode&leaves != 0, pad+int(length), streamingBody(mode&declared == 0, pad, raw))
	})
}

// streamingBody is raw behind pad bytes, which are one valid chunk when
// the body is chunked.
func streamingBody(chunked bool, pad int, raw []byte) []byte {
	var b bytes.Buffer
	if pad > 0 && chunked {
		fmt.Fprintf(&b, "%x\r\n", pad)
	}
	b.Write(bytes.Repeat([]byte{'p'}, pad))
	if pad > 0 && chunked {
		b.WriteString("\r\n")
	}
	b.Write(raw)
	return b.Bytes()
}

// bodyFuzzEdge is an edge on loopback whose tunnel demo streams /hook to an
// agent session served in this process, where the app records what it got.
type bodyFuzzEdge struct {
	e      *Edge
	dir    string
	agent  *tunnel.Session // the agent's side
	as     *relay.Session  // the edge's side
	app    *http.Server
	served chan struct{}
	base   [2]int // streams open on the edge's and the agent's side when idle

	mu    sync.Mutex
	seq   int // the input being sent
	seen  map[int]appSaw
	conns map[net.Conn]http.ConnState
	stray []int // requests of inputs already judged
}

// appSaw is what the app read of one request's body.
type appSaw struct {
	whole bool
	size  int64
	sum   [sha256.Size]byte
}

func startBodyFuzzEdge() (*bodyFuzzEdge, error) {
	dir, err := os.MkdirTemp("", "fuzz-streaming-body-")
	if err != nil {
		return nil, err
	}
	const token = "ht_fuzz-streaming-body"
	sum := TokenHash(token)
	cfg := DefaultConfig()
	cfg.Domain, cfg.TLS, cfg.Data = "hooks.test", "off", dir
	cfg.Listen, cfg.AdminListen, cfg.HTTPListen = "127.0.0.1:0", "127.0.0.1:0", "off"
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Agents = []AgentConfig{{Name: "fuzz", TokenSHA256: hex.EncodeToString(sum[:]), Tunnels: []string{"demo"}}}
	cfg.Tunnels = map[string]policy.Config{"demo": {Routes: []policy.RouteConfig{{Path: "/hook", MaxBody: fuzzMaxBody}}}}
	cfg.Limits.BodyTimeout, cfg.Limits.MaxStreamsPerAgent, cfg.Limits.ShutdownTimeout = time.Second, 4, 2*time.Second
	cfg.Journal.MaxDatabase, cfg.Journal.PurgeInterval = 16<<20, time.Second // full journal: bodies kept
	e, err := New(cfg)
	if err == nil {
		err = e.Start()
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	h := &bodyFuzzEdge{e: e, dir: dir, served: make(chan struct{}), seen: map[int]appSaw{}, conns: map[net.Conn]http.ConnState{}}
	// The agent dials the apex, whatever name resolves to.
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", e.Addr().String())
	}}}
	h.agent, _, err = tunnel.Dial(context.Background(), "http://hooks.test", tunnel.Hello{Token: token, Name: "demo", Target: "http://127.0.0.1:1"}, tunnel.DefaultConfig(), client)
	if err != nil {
		h.close()
		return nil, err
	}
	h.app = &http.Server{Handler: http.HandlerFunc(h.serveApp), ConnState: h.track, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { defer close(h.served); h.app.Serve(h.agent) }()
	for deadline := time.Now().Add(answerWithin); h.as == nil; time.Sleep(time.Millisecond) {
		if list := e.relay.All()["demo"]; len(list) > 0 {
			h.as = list[0]
		}
		if h.as == nil && time.Now().After(deadline) {
			h.close()
			return nil, errors.New("the agent never registered with the edge")
		}
	}
	h.base = [2]int{h.as.Conn().NumStreams(), h.agent.NumStreams()}
	return h, nil
}

func (h *bodyFuzzEdge) close() {
	if h.app != nil {
		h.app.Close() // and the session it serves
		<-h.served
	}
	if h.agent != nil {
		h.agent.Close()
	}
	h.e.Shutdown()
	os.RemoveAll(h.dir)
}

// serveApp is the app: it reads the whole body and answers with its
// length and SHA-256.
func (h *bodyFuzzEdge) serveApp(w http.ResponseWriter, r *http.Request) {
	seq, _ := strconv.Atoi(r.Header.Get("X-Fuzz-Seq"))
	hash := sha256.New()
	n, err := io.Copy(hash, r.Body)
	saw := appSaw{whole: err == nil, size: n}
	hash.Sum(saw.sum[:0])
	h.mu.Lock()
	if seq != h.seq {
		h.stray = append(h.stray, seq)
	}
	h.seen[seq] = saw
	h.mu.Unlock()
	if err == nil {
		fmt.Fprintf(w, "%d %x", n, saw.sum)
	}
}

func (h *bodyFuzzEdge) track(c net.Conn, s http.ConnState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s == http.StateClosed || s == http.StateHijacked {
		delete(h.conns, c)
		return
	}
	h.conns[c] = s
}

// check sends a request with body on a fresh connection and judges the
// answer against net/http's own reading of the same bytes.
func (h *bodyFuzzEdge) check(t *testing.T, declared, leaves bool, length int, body []byte) {
	h.mu.Lock()
	h.seq++
	seq, stray := h.seq, h.stray
	h.mu.Unlock()
	if len(stray) > 0 {
		t.Fatalf("the app got requests of earlier inputs %v after they were answered", stray)
	}
	framing := "Transfer-Encoding: chunked"
	if declared {
		framing = "Content-Length: " + strconv.Itoa(length)
	}
	msg := append([]byte(fmt.Sprintf("POST /hook HTTP/1.1\r\nHost: demo.hooks.test\r\nX-Fuzz-Seq: %d\r\n%s\r\n\r\n", seq, framing)), body...)
	want, wantErr := referenceBody(msg)

	status, answer, err := h.send(msg, leaves || wantErr != nil)
	if err != nil {
		t.Fatalf("no answer from the edge within %s: %v", answerWithin, err)
	}
	if why := h.settle(); why != "" {
		t.Fatalf("answered %d, then the agent's streams did not settle within %s: %s", status, answerWithin, why)
	}
	h.mu.Lock()
	saw, reached := h.seen[seq]
	delete(h.seen, seq)
	h.mu.Unlock()
	wantSum := sha256.Sum256(want)
	if leaves && wantErr == nil && status == 499 {
		return // the sender went away, as net/http sees it; the app may have had it all
	}
	switch {
	case status != 200 && status != 400 && status != 408 && status != 413:
		t.Fatalf("answered %d %q, want 200, 400, 408 or 413 (net/http reads %d bytes, err %v)", status, answer, len(want), wantErr)
	case status == 200 && wantErr != nil:
		t.Fatalf("answered 200 to a body net/http refuses: %v", wantErr)
	case status == 200 && len(want) > fuzzMaxBody:
		t.Fatalf("answered 200 to a body of %d bytes, over max_body %d", len(want), fuzzMaxBody)
	case status == 200 && (!reached || !saw.whole || saw.size != int64(len(want)) || saw.sum != wantSum):
		t.Fatalf("answered 200 but the app got %+v, not the %d bytes sent (sum %x)", saw, len(want), wantSum)
	case status == 200 && answer != fmt.Sprintf("%d %x", len(want), wantSum):
		t.Fatalf("answered 200 with %q, not the app's answer", answer)
	case status != 200 && reached && saw.whole:
		t.Fatalf("answered %d %q but the app got a whole body of %d bytes (net/http reads %d, err %v)", status, answer, saw.size, len(want), wantErr)
	case wantErr == nil && len(want) <= fuzzMaxBody && status != 200:
		t.Fatalf("a whole body of %d bytes within max_body was answered %d %q", len(want), status, answer)
	case wantErr == nil && len(want) > fuzzMaxBody && status != 413:
		t.Fatalf("a whole body of %d bytes over max_body was answered %d %q", len(want), status, answer)
	}
}

// referenceBody is the body net/http's own parser reads from msg.
func referenceBody(msg []byte) ([]byte, error) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(msg)))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(req.Body)
}

// send writes msg on a fresh connection and reads the status and body of
// the answer. A sender whose body net/http finds incomplete or broken then
// closes its side, as one that has nothing more to send; one whose body is
// whole waits for the answer with its side open, since net/http takes a
// sender's EOF after a whole request for the sender going away.
func (h *bodyFuzzEdge) send(msg []byte, closeWrite bool) (int, string, error) {
	c, err := net.Dial("tcp", h.e.Addr().String())
	if err != nil {
		return 0, "", err
	}
	_ = c.SetDeadline(time.Now().Add(answerWithin))
	written := make(chan struct{})
	defer func() { c.Close(); <-written }()
	go func() {
		defer close(written)
		// The edge may answer (413 to a declared length) and close
		// before it all is written: only the answer counts.
		if _, err := c.Write(msg); err == nil && closeWrite {
			_ = c.(*net.TCPConn).CloseWrite()
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil && resp.StatusCode == 200 {
		return 0, "", fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, string(answer), nil
}

// settle waits until every request slot of the agent's session is free,
// no stream is busy on the agent's side, and the only streams open on
// either side are the control stream and the streams the edge keeps for
// the next request; it says what is left otherwise.
func (h *bodyFuzzEdge) settle() string {
	deadline := time.Now().Add(answerWithin)
	for {
		kept := h.as.KeptStreams()
		idle, busy := 0, 0
		h.mu.Lock()
		for _, s := range h.conns {
			if s == http.StateIdle {
				idle++
			} else {
				busy++
			}
		}
		h.mu.Unlock()
		slots, edgeSide, agentSide := h.as.InFlight(), h.as.Conn().NumStreams(), h.agent.NumStreams()
		if slots == 0 && busy == 0 && edgeSide == h.base[0]+kept && agentSide == h.base[1]+idle {
			return ""
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("%d slots taken, %d streams busy at the agent, %d open on the edge's side (%d kept, %d at start), %d on the agent's (%d idle, %d at start)",
				slots, busy, edgeSide, kept, h.base[0], agentSide, idle, h.base[1])
		}
		time.Sleep(time.Millisecond)
	}
}
