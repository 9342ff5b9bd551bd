package edge

import (
	"io"
	"net/http"
)

// cappedBuffer keeps the first max bytes written to it and counts the rest.
// A pooled one grows through the recycled body buffers (bodybuf.go), so its
// final buffer can be handed back once the journal has written it.
//
// With a budget, every byte of capacity it holds is reserved there first;
// when the budget has no room, it drops what it kept and keeps nothing
// more (dropped), counting on.
type cappedBuffer struct {
	buf    []byte
	max    int64
	total  int64
	pooled bool
	// declared is the length the sender declared (0 for none): a body
	// declared under the first grow's 4 KiB gets a buffer its size. It
	// never sizes more than that: a declaration costs nothing to make.
	declared int64

	budget   *bodyBudget
	reserved int64 // of budget, for buf's capacity
	dropped  bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.total += int64(len(p))
	if room := c.max - int64(len(c.buf)); room > 0 && !c.dropped {
		keep := p[:min(int64(len(p)), room)]
		if c.pooled && len(c.buf)+len(keep) > cap(c.buf) && !c.grow(len(c.buf)+len(keep)) {
			return len(p), nil
		}
		c.buf = append(c.buf, keep...)
	}
	return len(p), nil
}

// grow moves the bytes kept into a recycled buffer with room for n, at
// least twice the current one (never more than max), and recycles the
// old; false when the budget had no room and the copy was dropped.
func (c *cappedBuffer) grow(n int) bool {
	first := firstGrow
	if c.declared > 0 && c.declared < firstGrow {
		first = int(c.declared)
	}
	size := min(max(n, 2*cap(c.buf), first), int(c.max))
	next := getBodyBuffer(size)
	if c.budget != nil && !c.budget.take(int64(cap(next))-c.reserved) {
		putBodyBuffer(next)
		c.drop()
		return false
	}
	next = append(next, c.buf...)
	putBodyBuffer(c.buf)
	c.buf, c.reserved = next, int64(cap(next))
	return true
}

// firstGrow is the least a pooled buffer takes on its first grow.
const firstGrow = 4 << 10

// drop lets go of what was kept and of its reservation.
func (c *cappedBuffer) drop() {
	putBodyBuffer(c.buf)
	c.buf = nil
	if c.budget != nil {
		c.budget.give(c.reserved)
	}
	c.reserved, c.dropped = 0, true
}

// bytes hands over what was kept; the buffer is not used afterwards, so
// no copy is made.
func (c *cappedBuffer) bytes() []byte {
	if c == nil || len(c.buf) == 0 {
		return nil
	}
	return c.buf
}

func (c *cappedBuffer) truncated() bool { return c != nil && c.total > int64(len(c.buf)) }

// teeBody copies what the proxy reads of a request body into a buffer for
// the journal, without holding up the stream.
type teeBody struct {
	io.ReadCloser
	copy *cappedBuffer
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	t.copy.Write(p[:n])
	return n, err
}

// responseRecorder remembers the status of the answer for the log and the
// journal and, once body is set (a forwarded request), the first bytes of
// the app's answer as they stream to the sender. Unwrap lets
// http.ResponseController reach the real writer to flush streamed bodies.
type responseRecorder struct {
	http.ResponseWriter
	code int
	body *cappedBuffer
}

func (c *responseRecorder) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *responseRecorder) Write(p []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	if c.body != nil {
		c.body.Write(p)
	}
	return c.ResponseWriter.Write(p)
}

func (c *responseRecorder) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *responseRecorder) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *responseRecorder) status() int { return c.code }
