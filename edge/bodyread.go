package edge

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hooktunnel/hooktunnel/policy"
)

// Why a sender's body did not arrive whole. Each is a refusal kind, so
// policyStatus maps it to HTTP with policy's own.
var (
	// errBodyRead is a body that ended before it was complete: the sender
	// closed the connection or stopped mid-chunk.
	errBodyRead = errors.New("edge: the sender aborted the request body")
	// errBodyMalformed is a body whose framing is broken (bogus chunk
	// sizes, say).
	errBodyMalformed = errors.New("edge: the request body is malformed")
	// errBodyTimeout is a body that arrived too slowly: below the minimum
	// rate, or not whole within the body timeout.
	errBodyTimeout = errors.New("edge: the request body arrived too slowly")
)

// bodyGrace is how long a body may take before the minimum rate applies:
// a sender's first bytes may wait on its own slow start.
const bodyGrace = 5 * time.Second

// pacedBody reads a sender's body under a deadline that moves with the
// bytes that arrive: bodyGrace, then min_body_rate on average, and never
// past body_timeout. A sender that trickles a byte every few seconds holds
// its connection (and, on a streaming route, a stream to the agent) for
// bodyGrace at most, not for as long as it likes.
type pacedBody struct {
	body    io.ReadCloser
	conn    *http.ResponseController
	start   time.Time
	rate    float64 // bytes per second
	timeout time.Duration

	// The handler ends the body while a stream may still be writing it.
	mu       sync.Mutex
	read     int64
	deadline time.Time
	ended    bool
}

func newPacedBody(body io.ReadCloser, w http.ResponseWriter, start time.Time, lim LimitsConfig) *pacedBody {
	b := &pacedBody{body: body, conn: http.NewResponseController(w), start: start,
		rate: float64(lim.MinBodyRate), timeout: lim.BodyTimeout}
	b.setDeadline(b.due())
	return b
}

// due is when the body must have arrived, from what arrived so far.
func (b *pacedBody) due() time.Time {
	d := bodyGrace
	if b.rate > 0 {
		d += time.Duration(float64(b.read) / b.rate * float64(time.Second))
	}
	return b.start.Add(min(d, b.timeout))
}

func (b *pacedBody) setDeadline(t time.Time) {
	// An unsupported connection (an HTTP/2 stream of an old peer) keeps
	// the server's own timeouts; nothing else to do.
	_ = b.conn.SetReadDeadline(t)
	b.deadline = t
}

func (b *pacedBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.read += int64(n)
	switch {
	case err == io.EOF:
		b.end()
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = fmt.Errorf("%w: %d bytes in %s", errBodyTimeout, b.read, time.Since(b.start).Round(time.Millisecond))
	case n > 0:
		// Moving the deadline costs a timer update; do it when it moves by
		// a useful amount.
		if due := b.due(); due.Sub(b.deadline) >= 250*time.Millisecond {
			b.setDeadline(due)
		}
	}
	return n, err
}

// end lifts the deadline once the body is in: the app's answer may take
// as long as it takes, and the server's background read must not fail on
// a deadline meant for the body.
func (b *pacedBody) end() {
	if !b.ended {
		b.ended = true
		b.setDeadline(time.Time{})
	}
}

func (b *pacedBody) Close() error { return b.body.Close() }

// readFailed explains why reading a sender's body failed, as a refusal.
func readFailed(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return bodyTooLarge(mbe.Limit)
	case errors.Is(err, errBodyTimeout):
		return &policy.Refusal{Kind: errBodyTimeout, Detail: "the request body arrived too slowly (" + err.Error() + ")"}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), isConnError(err):
		return &policy.Refusal{Kind: errBodyRead, Detail: "the sender closed the connection before the whole body arrived"}
	}
	return &policy.Refusal{Kind: errBodyMalformed, Detail: "the request body is malformed (bad chunked encoding)"}
}

// isConnError reports an error of the sender's connection itself (reset,
// closed) rather than of what it sent.
func isConnError(err error) bool {
	var opErr interface{ Timeout() bool }
	return errors.As(err, &opErr) || errors.Is(err, os.ErrClosed)
}

// bodyTooLarge is the refusal of a body over the route's limit.
func bodyTooLarge(limit int64) error {
	return &policy.Refusal{Kind: policy.ErrBodyTooLarge, Detail: fmt.Sprintf("the body is larger than this route's max_body of %s", policy.ByteSize(limit))}
}
