package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// Why a delivery got no answer from the app. Deliver's errors wrap one of
// these (or are the context's error when the caller gave up).
var (
	// ErrNoAgent: no agent serves the tunnel, or none could take the
	// request; it never left the edge.
	ErrNoAgent = errors.New("relay: no agent is connected for the tunnel")
	// ErrAgentLost: the agent's connection ended, or it answered what is
	// no answer, before the app's answer arrived.
	ErrAgentLost = errors.New("relay: the agent's connection ended before the app answered")
	// ErrBodyAborted: the sender's body failed on its way (too large, too
	// slow, cut off, malformed); the app saw the request cut short.
	ErrBodyAborted = errors.New("relay: the request body failed on its way")
	// ErrAppUnreachable: the agent answered for the app, which did not
	// (see AppFailure).
	ErrAppUnreachable = errors.New("relay: the agent could not reach the app")
)

// BodyError is ErrBodyAborted with the sender's own error, which says why.
type BodyError struct{ Err error }

func (e *BodyError) Error() string        { return "relay: reading the request body: " + e.Err.Error() }
func (e *BodyError) Unwrap() error        { return e.Err }
func (e *BodyError) Is(target error) bool { return target == ErrBodyAborted }

// AppFailure is ErrAppUnreachable, with the agent's reason, when resp is
// the agent's answer for an app that did not answer; nil when the app
// answered.
func AppFailure(resp *http.Response) error {
	code := resp.Header.Get(tunnel.HeaderError)
	if code == "" || resp.StatusCode < 500 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrAppUnreachable, code)
}

// MaxRetryBody bounds the request bodies kept in memory for a retry:
// webhooks are small; a large body streams, so it is not copied.
const MaxRetryBody = 64 << 10

// DeliverLocal sends req to one of the tunnel's agents connected to this
// edge, never to another edge, and returns the app's answer, whose body the
// caller closes (that frees the session's slot and hands the stream back).
//
// When the agent it picked goes away before answering, the request goes to
// the next agent: at once if the stream could not even be opened (the
// request never left the edge), and also when the body was small enough to
// keep (MaxRetryBody), since the app cannot have answered. A small request
// whose kept stream the agent had closed goes again once, on a fresh
// stream. The retry carries the same headers, so an app that saw the first
// attempt can tell: delivery is at least once, as a provider's own retry
// would be.
//
// req is sent as it is, and is the relay's from here on: the caller has
// set its headers, its Host and the tunnel's name as its URL host. Its
// context bounds the delivery. With ErrNoAgent, req's body is whole again,
// so the request may go to another edge.
func (r *Relay) DeliverLocal(tunnelName string, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	t := r.lookup(tunnelName)
	if t.pick(nil) == nil {
		return nil, ErrNoAgent // the body stays unread
	}
	body, replayable, err := RetryableBody(req)
	if err != nil {
		return nil, err
	}
	var tried map[*Session]bool
	var lastErr error
	staleRetried := false
	for {
		s := t.pick(tried)
		if s == nil {
			if body != nil {
				// Every attempt failed before the body was read, or it was
				// kept: it can go to another edge whole.
				req.Body = body()
			}
			if lastErr != nil {
				return nil, fmt.Errorf("%w: %v", ErrNoAgent, lastErr)
			}
			return nil, ErrNoAgent
		}
		if !s.acquire(ctx.Done()) {
			return nil, ctx.Err()
		}
		if body != nil {
			req.Body = body()
		}
		resp, err := s.streams.RoundTrip(req)
		if err == nil {
			resp.Body = &releasingBody{ReadCloser: resp.Body, release: s.release}
			return resp, nil
		}
		s.release()
		switch {
		case errors.Is(err, ErrBodyAborted):
			return nil, err // the sender's body failed: why the stream was cut
		case ctx.Err() != nil:
			// The caller gave up (the sender went away): that is the
			// reason, whatever the attempt failed on, and no other agent
			// is to be tried.
			return nil, ctx.Err()
		}
		if errors.Is(err, errStaleStream) && replayable && !staleRetried {
			staleRetried = true // once, on a fresh stream of any agent
			lastErr = err
			continue
		}
		var de *dialError
		if !errors.As(err, &de) && !(replayable && s.conn.IsClosed()) {
			return nil, classify(ctx, err)
		}
		if tried == nil {
			tried = map[*Session]bool{}
		}
		tried[s] = true
		lastErr = err
	}
}

// classify wraps a failed exchange's error in the sentinel that says whose
// it was.
func classify(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, ErrBodyAborted):
		return err
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return err
	}
	return fmt.Errorf("%w: %v", ErrAgentLost, err)
}

// RetryableBody returns how to get the request body for each attempt:
// nil for none. Small bodies of known length (at most MaxRetryBody) are
// read once, with ReadDeclared, and replayed; larger ones stream, and only
// a failed dial may retry them (nothing was read yet: the inner transport
// only closes the body, which the NopCloser absorbs). replayable says
// whether any attempt may go again; a failure reading a small body is a
// *BodyError.
func RetryableBody(req *http.Request) (body func() io.ReadCloser, replayable bool, err error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, true, nil
	}
	if req.ContentLength < 0 || req.ContentLength > MaxRetryBody {
		sent := req.Body
		return func() io.ReadCloser { return io.NopCloser(sent) }, false, nil
	}
	data, err := ReadDeclared(req.Body, req.ContentLength)
	if err != nil {
		return nil, false, &BodyError{err}
	}
	return func() io.ReadCloser { return io.NopCloser(bytes.NewReader(data)) }, true, nil
}

// firstBodyRead is the most of a declared length ReadDeclared allocates
// before any byte has arrived: a declaration costs nothing to make, so a
// larger body grows its buffer as its bytes arrive.
const firstBodyRead = 4 << 10

// ReadDeclared reads a body of n declared bytes (n ≤ MaxRetryBody): a
// typical webhook in one allocation of its size, where io.ReadAll would
// grow through several. It reads no more than n; a body that ends sooner
// is returned short, as its reader reports it.
func ReadDeclared(r io.Reader, n int64) ([]byte, error) {
	buf := make([]byte, 0, min(n, firstBodyRead))
	lr := io.LimitReader(r, n)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) == n {
				// Whole; the sender's body reports a short one itself
				// (io.ErrUnexpectedEOF), and a longer one is cut at n,
				// as the declaration says.
				return buf, nil
			}
			// Grow as append would, but never past the declared n.
			buf = append(buf, 0)[:len(buf)]
			buf = buf[:len(buf):min(int64(cap(buf)), n)]
		}
		m, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// releasingBody frees the session's slot when the response is done.
type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// dialError marks a failure to open a stream: the request never left the
// edge, so another agent may take it.
type dialError struct{ err error }

func (e *dialError) Error() string { return "open stream to agent: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }
