package relay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/clock"
)

// streamTransport sends requests to one agent: each is written as HTTP/1.1
// on a yamux stream of the agent's session and its response read back on
// the calling goroutine; a stream whose exchange ended cleanly waits for
// the next request. It stands in for http.Transport on this hop, which runs
// two goroutines per connection and hands every request to both: the agent
// is a known peer on a session of its own, so nothing Transport adds for
// the open internet (proxies, TLS, HTTP/2, dialing) applies here.
type streamTransport struct {
	open        func(context.Context) (net.Conn, error)
	maxIdle     int
	idleTimeout time.Duration
	clock       clock.Clock

	mu     sync.Mutex
	idle   []*clientStream // most recently used last
	expiry clock.Timer     // set while streams are kept
	closed bool
}

// streamIdleTimeout is how long a stream is kept unused before it is
// closed: a burst of requests does not pin its streams (and their buffers
// on both sides) for the rest of the session.
const streamIdleTimeout = 90 * time.Second

// clientStream is one stream and the reader of its responses, kept with it
// since it may hold read-ahead bytes.
type clientStream struct {
	conn      net.Conn
	br        *bufio.Reader
	in        *io.LimitedReader // what br reads from; bounded while a head is read
	idleSince time.Time
	cut       atomic.Bool // the edge ended the stream before the request was sent
}

// cutOff ends the stream in the middle of a request: the sender's body
// failed, or the sender went away. The app sees a request cut short, and
// what it answers to that is no answer to this request. A yamux stream
// still hands over what arrived after its read deadline or its Close, so
// the reader must ask cut, not count on the read failing.
func (cs *clientStream) cutOff() {
	cs.cut.Store(true)
	_ = cs.conn.SetReadDeadline(time.Now())
	cs.conn.Close()
}

// errStreamCut is an answer read from a stream the edge had cut before
// the request was written whole.
var errStreamCut = errors.New("edge: the stream was ended before the request was sent whole")

// errHeadTooLarge is an agent's answer whose head exceeds maxResponseHead:
// an agent holds a token, not the edge's trust, and must not make the edge
// buffer headers without end.
var errHeadTooLarge = errors.New("edge: the agent's answer has more than 1 MiB of headers")

// maxResponseHead bounds a response's status line and headers, interim
// answers included, as http.Transport's default does; max1xx bounds the
// interim answers themselves.
const (
	maxResponseHead = 1 << 20
	max1xx          = 5
)

func newStreamTransport(open func(context.Context) (net.Conn, error), maxIdle int, clk clock.Clock) *streamTransport {
	return &streamTransport{open: open, maxIdle: maxIdle, idleTimeout: streamIdleTimeout, clock: clk}
}

// errStaleStream means a kept stream ended before any of the response
// arrived: the agent closed it while idle. The request can go again on a
// fresh stream if its body can be sent again.
var errStaleStream = errors.New("edge: the agent closed an idle stream")

// streamReadBuffer is the read buffer a kept stream holds.
const streamReadBuffer = 32 << 10

// streamWriters write requests onto streams: request bodies go out in
// 64 KiB frames, and a kept stream holds no write buffer while it waits.
// A request whose head and body fit in 8 KiB, as most webhooks do, takes a
// small writer: a fresh 64 KiB one, after the collector emptied the pool,
// costs more to zero than the request costs to write.
var (
	streamWriters      = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}
	smallStreamWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, smallRequest) }}
)

// smallRequest is the small writer's size; a body of at most half of it
// leaves the head the other half.
const smallRequest = 8 << 10

func (t *streamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	cs, reused, err := t.get(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &dialError{err}
	}
	// Cancelling the request ends the stream; the agent sees the request
	// go away, as it would a closed connection.
	stop := context.AfterFunc(req.Context(), cs.cutOff)
	var written *streamWrite
	fail := func(err error) (*http.Response, error) {
		stop()
		cs.conn.Close()
		// The body's writer ends with the stream, or with the sender's
		// body, which its deadline bounds; it must be done before the
		// handler goes on, since the journal's copy of the body fills as
		// it reads. A sender's body that failed is why the stream was
		// cut: say so, rather than blame the agent.
		if written != nil {
			if werr := written.wait(); errors.Is(werr, ErrBodyAborted) {
				return nil, werr
			}
		}
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}

	// Small bodies are written before the answer is read. A large one is
	// written beside the reading, so the app may answer (a 413, say)
	// before it has read it all.
	if req.ContentLength < 0 || req.ContentLength > MaxRetryBody {
		written = &streamWrite{done: make(chan struct{})}
		go func() { written.err = writeStreaming(cs, req); close(written.done) }()
	} else if err := writeRequest(cs.conn, req, true); err != nil {
		if reused {
			err = errStaleStream
		}
		return fail(err)
	}

	// ReadResponse reports a stream that ends before its first byte as an
	// unexpected EOF, like one cut mid-answer; only the first is stale.
	if _, err := cs.br.Peek(1); err != nil {
		if reused && errors.Is(err, io.EOF) {
			err = errStaleStream
		}
		return fail(err)
	}
	cs.in.N = maxResponseHead
	resp, err := readResponse(cs.br, req)
	if err != nil {
		if cs.in.N <= 0 {
			err = errHeadTooLarge
		}
		return fail(err)
	}
	if written != nil && cs.cut.Load() && written.wait() != nil {
		// The app answered a body the edge had cut short.
		return fail(errStreamCut)
	}
	cs.in.N = math.MaxInt64
	resp.Body = &streamBody{body: resp.Body, t: t, cs: cs, stop: stop, written: written,
		reusable: !resp.Close && !req.Close}
	return resp, nil
}

// writeStreaming writes a request whose body streams from the sender. When
// the sender's body fails (over the limit, too slow, cut off, malformed),
// the request must not reach the app as if it were whole, and the edge must
// not wait for an answer to it: the stream is ended at once, which the
// agent sees as a body cut short, and the reading side stops waiting.
func writeStreaming(cs *clientStream, req *http.Request) error {
	body := &WatchedBody{ReadCloser: req.Body}
	out := *req
	out.Body = body
	err := writeRequest(cs.conn, &out, false)
	bodyErr := body.Failed()
	if bodyErr == nil {
		return err
	}
	// Whatever the app answers to a half body is not an answer to this
	// request.
	cs.cutOff()
	return &BodyError{bodyErr}
}

// writeRequest writes req onto a stream. inMemory says its body is a kept
// copy (RetryableBody's), which writeWire may write with the head in one
// frame; a body that streams from the sender goes through
// http.Request.Write, which sends the head first, so the app sees the
// request while its body is on its way.
func writeRequest(w io.Writer, req *http.Request, inMemory bool) error {
	pool := &streamWriters
	if req.ContentLength >= 0 && req.ContentLength <= smallRequest/2 {
		pool = &smallStreamWriters
	}
	bw := pool.Get().(*bufio.Writer)
	bw.Reset(w)
	var wrote bool
	var err error
	if inMemory {
		wrote, err = writeWire(bw, req)
	}
	if !wrote {
		err = req.Write(bw)
	}
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	pool.Put(bw)
	return err
}

// readResponse reads the final response, skipping interim 1xx ones (a 100
// Continue the agent sent while the body was on its way).
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	for range max1xx + 1 {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
		resp.Body.Close()
	}
	return nil, fmt.Errorf("edge: the agent sent more than %d interim answers", max1xx)
}

// get returns a kept stream or opens one.
func (t *streamTransport) get(ctx context.Context) (cs *clientStream, reused bool, err error) {
	for {
		t.mu.Lock()
		n := len(t.idle)
		if n == 0 {
			t.mu.Unlock()
			break
		}
		cs = t.idle[n-1]
		t.idle[n-1] = nil
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		if cs.atBoundary() {
			return cs, true, nil
		}
		cs.conn.Close()
	}
	c, err := t.open(ctx)
	if err != nil {
		return nil, false, err
	}
	in := &io.LimitedReader{R: c, N: math.MaxInt64}
	return &clientStream{conn: c, br: bufio.NewReaderSize(in, streamReadBuffer), in: in}, false, nil
}

// atBoundary reports whether nothing has arrived on a kept stream since its
// last answer ended. Bytes there are an answer to no request (an agent
// that answered twice, or queued an answer for the next request) and
// must never be read as the next request's answer; a stream the agent
// closed is found out here too, before a request is written to it.
func (cs *clientStream) atBoundary() bool {
	if cs.br.Buffered() > 0 {
		return false
	}
	// A read deadline already past returns at once: with what the stream
	// holds, or with a timeout when it holds nothing.
	if cs.conn.SetReadDeadline(time.Unix(1, 0)) != nil {
		return false
	}
	_, err := cs.br.Peek(1)
	if cs.conn.SetReadDeadline(time.Time{}) != nil {
		return false
	}
	return isTimeout(err)
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// put keeps a stream for the next request, or closes it.
func (t *streamTransport) put(cs *clientStream) {
	t.mu.Lock()
	if !t.closed && len(t.idle) < t.maxIdle && cs.br.Buffered() == 0 {
		cs.idleSince = t.clock.Now()
		t.idle = append(t.idle, cs)
		if t.expiry == nil {
			t.expiry = t.clock.AfterFunc(t.idleTimeout, t.expire)
		}
		cs = nil
	}
	t.mu.Unlock()
	if cs != nil {
		cs.conn.Close()
	}
}

// expire closes the streams kept unused for idleTimeout and comes back
// when the oldest of the others is due.
func (t *streamTransport) expire() {
	t.mu.Lock()
	cutoff := t.clock.Now().Add(-t.idleTimeout)
	n := 0
	for n < len(t.idle) && !t.idle[n].idleSince.After(cutoff) {
		n++
	}
	stale := append([]*clientStream(nil), t.idle[:n]...)
	kept := copy(t.idle, t.idle[n:])
	clear(t.idle[kept:])
	t.idle = t.idle[:kept]
	t.expiry = nil
	if len(t.idle) > 0 && !t.closed {
		t.expiry = t.clock.AfterFunc(t.idle[0].idleSince.Add(t.idleTimeout).Sub(t.clock.Now()), t.expire)
	}
	t.mu.Unlock()
	for _, cs := range stale {
		cs.conn.Close()
	}
}

// close ends the kept streams and keeps none from now on.
func (t *streamTransport) close() {
	t.mu.Lock()
	idle := t.idle
	t.idle, t.closed = nil, true
	if t.expiry != nil {
		t.expiry.Stop()
		t.expiry = nil
	}
	t.mu.Unlock()
	for _, cs := range idle {
		cs.conn.Close()
	}
}

// streamBody hands the stream back once the response was read to its end
// and the request written in full; otherwise it closes the stream.
type streamBody struct {
	body     io.ReadCloser
	t        *streamTransport
	cs       *clientStream
	stop     func() bool
	written  *streamWrite // nil when the request was written before reading
	reusable bool
	eof      bool
	once     sync.Once
}

func (b *streamBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *streamBody) Close() error {
	var err error
	b.once.Do(func() {
		if !b.eof {
			// Closing the body would read the rest of it first.
			b.cs.conn.Close()
		}
		err = b.body.Close()
		keep := b.stop() && b.eof && b.reusable
		if b.written != nil {
			// A write still under way (the app answered before reading the
			// whole body) ends with the stream; wait for it, as the
			// journal's copy of the body fills as it reads.
			select {
			case <-b.written.done:
				keep = keep && b.written.err == nil
			default:
				keep = false
				b.cs.conn.Close()
				b.written.wait()
			}
		}
		if keep {
			b.t.put(b.cs)
		} else {
			b.cs.conn.Close()
		}
	})
	return err
}

// streamWrite is a request being written beside the reading of its answer.
type streamWrite struct {
	done chan struct{}
	err  error // set before done is closed
}

func (w *streamWrite) wait() error {
	<-w.done
	return w.err
}
