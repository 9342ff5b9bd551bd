package agent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// The pipe serves the requests of a session's streams as a raw tunnel
// would, with only their framing read: each goes to its app over a kept
// connection, its head rewritten as the proxy would (the target's path,
// Host, the edge's own headers removed), its body and the app's answer
// copied through. The edge has parsed and checked the request already,
// and parses the answer for its journal; the pipe costs a few
// microseconds a request where a full HTTP server and client cost many.
//
// What the pipe does not handle as the common case (https targets,
// upgrades, Expect, hop-by-hop headers, a head it does not take) it hands
// to the full server and proxy: the stream and the bytes read of it go to
// an http.Server, which serves the stream from then on.

// pipe serves the streams of one session.
type pipe struct {
	handler    *tunnelRouter
	pool       *appPool
	hostHeader string
	errorLog   func(msg string, args ...any)
	serverLog  *log.Logger

	mu       sync.Mutex
	streams  map[*pipeStream]bool // true while idle between requests
	active   int
	closing  bool
	quiet    chan struct{} // closed once closing and none is active
	slow     *http.Server  // started at the first hand-off
	slowLn   *handOffListener
	handOffs atomic.Int64 // streams given to the full server
	// accepting ends when the pipe closes: it takes no new stream.
	accepting     context.Context
	stopAccepting context.CancelFunc
}

// pipeHeadMax bounds a request head the pipe reads; a longer one goes to
// the full server, which takes up to 1 MiB.
const pipeHeadMax = 16 << 10

// streamReadBuffer is what each stream reads the edge's bytes through.
const streamReadBuffer = 8 << 10

func newPipe(h *tunnelRouter, pool *appPool, hostHeader string, errorLog func(string, ...any), serverLog *log.Logger) *pipe {
	ctx, stop := context.WithCancel(context.Background())
	return &pipe{handler: h, pool: pool, hostHeader: hostHeader, errorLog: errorLog, serverLog: serverLog,
		streams: map[*pipeStream]bool{}, quiet: make(chan struct{}), accepting: ctx, stopAccepting: stop}
}

// serve accepts the session's streams until it ends or the pipe closes.
func (p *pipe) serve(accept func(context.Context) (net.Conn, error)) {
	for {
		c, err := accept(p.accepting)
		if err != nil {
			return
		}
		s := &pipeStream{p: p, c: c, br: bufio.NewReaderSize(c, streamReadBuffer)}
		s.x.result = make(chan bool, 1)
		p.mu.Lock()
		if p.closing {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.streams[s] = true
		p.mu.Unlock()
		go s.run()
	}
}

// busy marks s as serving a request; false when the pipe is closing.
func (p *pipe) busy(s *pipeStream) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	p.streams[s] = false
	p.active++
	return true
}

// rest marks s idle again; false when the pipe is closing (s must end).
func (p *pipe) rest(s *pipeStream) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if idle, ok := p.streams[s]; ok && !idle {
		p.streams[s] = true
		p.active--
		p.quietLocked()
	}
	return !p.closing
}

// drop forgets s, which has ended or gone to the full server.
func (p *pipe) drop(s *pipeStream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if idle, ok := p.streams[s]; ok {
		delete(p.streams, s)
		if !idle {
			p.active--
		}
		p.quietLocked()
	}
}

func (p *pipe) quietLocked() {
	if p.closing && p.active == 0 {
		select {
		case <-p.quiet:
		default:
			close(p.quiet)
		}
	}
}

// close ends every stream at once.
func (p *pipe) close() {
	p.stopAccepting()
	p.mu.Lock()
	p.closing = true
	for s := range p.streams {
		s.c.Close()
	}
	slow := p.slow
	p.quietLocked()
	p.mu.Unlock()
	if slow != nil {
		slow.Close()
	}
}

// shutdown ends the idle streams, lets the others finish the request they
// serve, and ends them; when ctx ends first, it ends them all at once.
func (p *pipe) shutdown(ctx context.Context) error {
	p.stopAccepting()
	p.mu.Lock()
	p.closing = true
	for s, idle := range p.streams {
		if idle {
			s.c.Close()
		}
	}
	slow := p.slow
	p.quietLocked()
	p.mu.Unlock()
	var slowErr error
	if slow != nil {
		slowErr = slow.Shutdown(ctx)
	}
	select {
	case <-p.quiet:
		return slowErr
	case <-ctx.Done():
		p.close()
		return ctx.Err()
	}
}

// handOff gives the stream to the full server, with the bytes read of it.
func (p *pipe) handOff(s *pipeStream, read []byte) {
	p.handOffs.Add(1)
	p.drop(s)
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		s.c.Close()
		return
	}
	if p.slow == nil {
		p.slowLn = newHandOffListener(s.c.LocalAddr())
		p.slow = &http.Server{Handler: p.handler, ErrorLog: p.serverLog}
		go p.slow.Serve(p.slowLn)
	}
	ln := p.slowLn
	p.mu.Unlock()
	ln.give(&replayConn{Conn: s.c, r: io.MultiReader(bytes.NewReader(bytes.Clone(read)), s.br)})
}

// pipeStream is one stream of the session and the reader of its bytes.
type pipeStream struct {
	p  *pipe
	c  net.Conn
	br *bufio.Reader
	// What a request uses, kept for the next one: the stream serves its
	// requests one after another, and its goroutines hand them over
	// through x.result.
	req pipeRequest
	ans answer
	x   exchange
}

// run serves the stream's requests, from the next one on, until it ends;
// the stream is idle when it starts.
func (s *pipeStream) run() {
	defer s.recover()
	for {
		if _, err := s.br.Peek(1); err != nil || !s.p.busy(s) {
			s.end()
			return
		}
		if !s.serveOne() {
			return
		}
	}
}

// recover ends a stream whose request made the pipe panic, as the full
// server does: the agent goes on.
func (s *pipeStream) recover() {
	if err := recover(); err != nil {
		s.p.errorLog("the agent failed on a request; its stream was closed", "err", err, "stack", string(debug.Stack()))
		s.end()
	}
}

// end closes the stream.
func (s *pipeStream) end() {
	s.c.Close()
	s.p.drop(s)
}

// serveOne serves the request whose first bytes have arrived. It reports
// whether this goroutine goes on with the stream (it is idle again);
// otherwise the stream has ended, gone to the full server, or another
// goroutine has it.
func (s *pipeStream) serveOne() bool {
	buf := getBuffer()
	defer putBuffer(buf)
	raw, err := readHead(s.br, (*buf)[:0], pipeHeadMax)
	*buf = raw[:0]
	if err != nil && !errors.Is(err, errHeadTooLarge) {
		s.end()
		return false
	}
	req := &s.req
	*req = pipeRequest{head: head{fields: req.fields[:0]}}
	if err != nil || !req.parse(raw) {
		s.p.handOff(s, raw)
		return false
	}
	rt, no := s.p.handler.pick(req.tunnelName, req.requestID)
	var t *localTarget
	if no == nil {
		t, no = rt.pick(req.targetName, req.url.Path, req.requestID)
	}
	if no != nil {
		return s.refuse(req, no)
	}
	out := getBuffer()
	defer putBuffer(out)
	head, ok := req.appHead((*out)[:0], t, s.p.hostHeader)
	*out = head[:0]
	if !ok {
		s.p.handOff(s, raw)
		return false
	}
	return s.forward(req, t, head)
}

// refuse answers a request no target serves, as the router does.
func (s *pipeStream) refuse(req *pipeRequest, no *noTarget) bool {
	return s.agentAnswer(req, http.StatusBadGateway, no.code, no.msg, s.discardBody(req))
}

// discardBody reads the request's body to its end, as the full server
// does after a handler that did not read it: up to maxDiscard, past which
// the stream is closed after the answer. It reports whether the stream
// can go on.
func (s *pipeStream) discardBody(req *pipeRequest) bool {
	n, err := io.Copy(io.Discard, io.LimitReader(req.body(s.br), maxDiscard+1))
	return err == nil && n <= maxDiscard
}

// maxDiscard is what the pipe reads of a body nobody wants, as the full
// server does (maxPostHandlerReadBytes).
const maxDiscard = 256 << 10

// agentAnswer writes the agent's own answer, as writeAgentError does, and
// reports whether this goroutine goes on with the stream.
func (s *pipeStream) agentAnswer(req *pipeRequest, status int, code, msg string, keep bool) bool {
	out := getBuffer()
	defer putBuffer(out)
	*out = appendAgentAnswer((*out)[:0], status, code, msg, req.requestID, !keep || s.p.isClosing())
	if _, err := s.c.Write(*out); err != nil || !keep || !s.p.rest(s) {
		s.end()
		return false
	}
	return true
}

func (p *pipe) isClosing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closing
}

// buffers are the pipe's head and copy buffers.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) <= 1<<20 {
		*b = (*b)[:0]
		buffers.Put(b)
	}
}

// handOffListener hands the full server the streams the pipe gives it.
type handOffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandOffListener(addr net.Addr) *handOffListener {
	return &handOffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handOffListener) give(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *handOffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handOffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handOffListener) Addr() net.Addr { return l.addr }

// replayConn is a stream whose first bytes the pipe has read already.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// urlOf reads into u the request target the full server would read
// (url.ParseRequestURI). A target of a plain path (letters, digits and
// the punctuation a path keeps unescaped) and any query it reads itself,
// as that function would, with one allocation; it leaves the rest to it.
func urlOf(target []byte, u *url.URL) bool {
	path, query, hasQuery := bytes.Cut(target, []byte{'?'})
	if !plainPath(path) || bytes.ContainsFunc(query, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		parsed, err := url.ParseRequestURI(string(target))
		if err != nil {
			return false
		}
		*u = *parsed
		return true
	}
	s := string(target)
	*u = url.URL{Path: s[:len(path)]}
	switch {
	case hasQuery && len(query) == 0:
		u.ForceQuery = true
	case hasQuery:
		u.RawQuery = s[len(path)+1:]
	}
	return true
}

// plainPath reports whether p starts with a slash and holds only what a
// path keeps as it is: url.URL reads it with no escape to undo, and
// writes it back the same (its RawPath is empty).
func plainPath(p []byte) bool {
	if len(p) == 0 || p[0] != '/' {
		return false
	}
	for _, c := range p {
		if !pathByte[c] {
			return false
		}
	}
	return true
}

var pathByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "-_.~$&+,/:;=@" {
		t[c] = true
	}
	return t
}()
