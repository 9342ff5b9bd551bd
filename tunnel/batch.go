package tunnel

import (
	"encoding/binary"
	"net"
	"sync"
	"time"
)

// yamux frame header: version, type, flags, stream id, length.
const (
	yamuxHeaderSize = 12
	yamuxTypeData   = 0
)

// batchingConn sits between yamux and the websocket. yamux's single send
// loop writes one frame at a time, a data frame as two calls (its 12-byte
// header, then the body); written as they come, every call is a websocket
// message and a syscall, and on loopback the sender's syscall also pays for
// the receiver's TCP processing. batchingConn queues what yamux writes and
// a flusher goroutine sends everything queued as one message: under load,
// many frames share one syscall; with one request in flight, a frame goes
// out as soon as the flusher runs. The flusher exits when the queue is
// empty, so an idle session keeps no goroutine and no buffer.
//
// A data frame's header is queued but not handed to the flusher until its
// body follows (yamux writes it next), so a frame is never split across two
// messages.
type batchingConn struct {
	net.Conn

	mu       sync.Mutex
	drained  *sync.Cond // the flusher took the queue
	queue    []byte
	ready    int           // queue[:ready] ends on a frame boundary
	flushing bool          // a flusher goroutine owns the sending
	err      error         // the first write error; every later Write returns it
	idle     chan struct{} // closed when the flusher exits, if Close waits
}

// closeFlushTimeout bounds how long Close waits for queued frames to go out:
// what yamux wrote before closing (a refusal, a go-away) should reach the
// peer, but a peer that stopped reading must not hold Close up.
const closeFlushTimeout = 2 * time.Second

// Close sends what is queued, then closes the connection.
func (c *batchingConn) Close() error {
	c.mu.Lock()
	var idle chan struct{}
	if c.flushing {
		if c.idle == nil {
			c.idle = make(chan struct{})
		}
		idle = c.idle
	}
	c.mu.Unlock()
	if idle != nil {
		t := time.NewTimer(closeFlushTimeout)
		select {
		case <-idle:
		case <-t.C:
		}
		t.Stop()
	}
	return c.Conn.Close()
}

// maxBatch bounds the queue: a Write that would grow it past this waits
// for the flusher (yamux then waits too, and its keepalive notices a peer
// that stopped reading).
const maxBatch = 512 << 10

// Queue buffers are shared by every session in the process: a session
// holds one only while it has something to send. Most batches are a few
// small frames (a keepalive is one), so a queue starts in a small buffer
// and moves to a large one when it outgrows it; both sizes are recycled, as
// a fresh large buffer costs more to zero and fault in than to fill.
var (
	smallBatchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, smallBatch); return &b }}
	largeBatchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, maxBatch); return &b }}
)

const smallBatch = 16 << 10

func getBatchBuffer() []byte { return (*smallBatchBuffers.Get().(*[]byte))[:0] }

func putBatchBuffer(b []byte) {
	switch cap(b) {
	case smallBatch:
		smallBatchBuffers.Put(&b)
	case maxBatch:
		largeBatchBuffers.Put(&b)
	}
}

// enqueue appends p to the queue, moving it to a large buffer when it
// outgrows a small one.
func (c *batchingConn) enqueue(p []byte) {
	if c.queue == nil {
		c.queue = getBatchBuffer()
	}
	if n := len(c.queue) + len(p); n > cap(c.queue) && n <= maxBatch {
		large := append((*largeBatchBuffers.Get().(*[]byte))[:0], c.queue...)
		putBatchBuffer(c.queue)
		c.queue = large
	}
	c.queue = append(c.queue, p...)
}

func newBatchingConn(c net.Conn) *batchingConn {
	b := &batchingConn{Conn: c}
	b.drained = sync.NewCond(&b.mu)
	return b
}

func (c *batchingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && c.ready > 0 && len(c.queue)+len(p) > maxBatch {
		c.drained.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	c.enqueue(p)
	if isDataHeader(p) {
		return len(p), nil // wait for the body
	}
	c.ready = len(c.queue)
	if !c.flushing {
		c.flushing = true
		go c.flush()
	}
	return len(p), nil
}

func isDataHeader(p []byte) bool {
	return len(p) == yamuxHeaderSize && p[1] == yamuxTypeData && binary.BigEndian.Uint32(p[8:]) > 0
}

// flush sends the ready part of the queue as one message until nothing is
// ready.
func (c *batchingConn) flush() {
	c.mu.Lock()
	for c.ready > 0 && c.err == nil {
		batch, rest := c.queue[:c.ready], c.queue[c.ready:]
		// The rest (at most a held header) starts the next queue; an empty
		// queue takes a buffer when something comes.
		c.queue = nil
		if len(rest) > 0 {
			c.queue = append(getBatchBuffer(), rest...)
		}
		c.ready = 0
		c.drained.Broadcast()
		c.mu.Unlock()

		_, err := c.Conn.Write(batch)

		c.mu.Lock()
		if err != nil {
			c.err = err
			c.drained.Broadcast()
		}
		putBatchBuffer(batch)
	}
	c.flushing = false
	if c.idle != nil {
		close(c.idle)
		c.idle = nil
	}
	c.mu.Unlock()
}
