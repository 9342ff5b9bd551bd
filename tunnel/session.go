package tunnel

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

// Session is one agent's connection as both sides see it: a yamux session
// over a websocket plus its control stream. On the agent it is a
// net.Listener of the streams the edge opens (serve HTTP on it); on the edge
// Open starts a stream to the agent.
type Session struct {
	mux     *yamux.Session
	control net.Conn
	reader  *bufio.Reader

	writeMu   sync.Mutex
	goAway    chan struct{}
	goAwayOne sync.Once
	readDone  chan struct{}
}

var _ net.Listener = (*Session)(nil)

// ErrSessionClosed is returned by Open and Accept once the session is over.
var ErrSessionClosed = errors.New("tunnel: session closed")

func newSession(mux *yamux.Session, control net.Conn) *Session {
	return &Session{
		mux:      mux,
		control:  control,
		reader:   bufio.NewReaderSize(control, controlBuffer),
		goAway:   make(chan struct{}),
		readDone: make(chan struct{}),
	}
}

// Accept waits for the next stream the peer opens.
func (s *Session) Accept() (net.Conn, error) {
	c, err := s.mux.AcceptStream()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSessionClosed, err)
	}
	return c, nil
}

// AcceptContext is Accept that gives up when ctx ends, leaving the session
// open: a server can stop accepting while its in-flight streams finish.
func (s *Session) AcceptContext(ctx context.Context) (net.Conn, error) {
	c, err := s.mux.AcceptStreamWithContext(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %v", ErrSessionClosed, err)
	}
	return c, nil
}

// Open starts a stream to the peer. yamux's OpenStream takes no context
// and blocks while too many streams wait for the peer to accept them, so
// it runs on its own goroutine: when ctx ends first Open returns ctx.Err()
// at once, and that goroutine closes the stream if it opens late.
func (s *Session) Open(ctx context.Context) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.mux.IsClosed() {
		return nil, ErrSessionClosed
	}
	type opened struct {
		c   net.Conn
		err error
	}
	// Unbuffered: the stream is handed over only when Open takes it, so
	// exactly one side owns it.
	handoff := make(chan opened)
	go func() {
		c, err := s.mux.OpenStream()
		select {
		case handoff <- opened{c, err}:
		case <-ctx.Done():
			if err == nil {
				c.Close()
			}
		}
	}()
	select {
	case o := <-handoff:
		if o.err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSessionClosed, o.err)
		}
		return o.c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Addr is this side's address of the underlying connection, as yamux's
// Session.Addr is; RemoteAddr is the peer's.
func (s *Session) Addr() net.Addr { return s.mux.LocalAddr() }

// RemoteAddr is the peer's address.
func (s *Session) RemoteAddr() net.Addr { return s.mux.RemoteAddr() }

// Close ends the session and every stream in it. It is idempotent.
func (s *Session) Close() error {
	return s.mux.Close()
}

// Done is closed when the session is over, whoever ended it.
func (s *Session) Done() <-chan struct{} { return s.mux.CloseChan() }

// IsClosed reports whether the session is over.
func (s *Session) IsClosed() bool { return s.mux.IsClosed() }

// NumStreams is the number of open streams.
func (s *Session) NumStreams() int { return s.mux.NumStreams() }

// GoAway tells the peer this side is shutting down: it should connect
// again (to this or another edge) while in-flight requests finish here.
func (s *Session) GoAway(reason string) error {
	return s.send(control{Type: controlGoAway, Reason: reason})
}

// GoingAway is closed when the peer has said it is going away.
func (s *Session) GoingAway() <-chan struct{} { return s.goAway }

func (s *Session) send(m control) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	_ = s.control.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err = s.control.Write(append(b, '\n'))
	return err
}

// controlBuffer is the control stream's read buffer: control messages are
// small and rare, and an idle edge holds one per agent.
const controlBuffer = 512

// Control are the handlers of the control messages a peer may send; a nil
// handler ignores its message.
type Control struct {
	// GoAway: the peer is shutting down; GoingAway is closed too.
	GoAway func()
	// Inspect: the agent's local inspector wants to reach the edge's API
	// over streams it opens; the edge starts accepting them.
	Inspect func()
}

// ServeControl reads the peer's control messages until the session ends,
// calling the matching handler of c. The edge runs it on the goroutine
// that admitted the agent, to spend no goroutine of its own per idle
// agent. Unknown message types are ignored so newer peers can add some.
func (s *Session) ServeControl(c Control) {
	defer close(s.readDone)
	var inspectOnce sync.Once
	for {
		line, err := readLine(s.reader)
		if err != nil {
			return
		}
		var m control
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		switch m.Type {
		case controlGoAway:
			s.goAwayOne.Do(func() {
				close(s.goAway)
				if c.GoAway != nil {
					c.GoAway()
				}
			})
		case controlInspect:
			if c.Inspect != nil {
				inspectOnce.Do(c.Inspect)
			}
		}
	}
}

// RequestInspector asks the edge to serve its API on streams this side
// opens (the agent's inspector).
func (s *Session) RequestInspector() error {
	return s.send(control{Type: controlInspect})
}

// readLine reads one newline-terminated message of at most maxMessage bytes.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxMessage {
			return nil, ErrMessageTooLarge
		}
		if err == nil {
			return line[:len(line)-1], nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
}

func writeJSON(c net.Conn, v any, deadline time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_ = c.SetWriteDeadline(deadline)
	defer c.SetWriteDeadline(time.Time{})
	_, err = c.Write(append(b, '\n'))
	return err
}
