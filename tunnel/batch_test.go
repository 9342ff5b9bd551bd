package tunnel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// recordingConn keeps every Write it gets as one message, as the websocket
// would send it; writes can be made slow or made to fail.
type recordingConn struct {
	net.Conn
	mu       sync.Mutex
	messages [][]byte
	delay    time.Duration
	gate     chan struct{} // if set, the first Write waits for it to close
	fail     error
	closed   bool
}

func (c *recordingConn) Write(p []byte) (int, error) {
	time.Sleep(c.delay)
	if c.gate != nil {
		<-c.gate
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return 0, c.fail
	}
	if c.closed {
		return 0, net.ErrClosed
	}
	c.messages = append(c.messages, bytes.Clone(p))
	return len(p), nil
}

func (c *recordingConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *recordingConn) sent() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.messages...)
}

// frame is a yamux frame as its send loop writes it: the header, then
// (for a data frame with a body) the body in a second call.
func frame(typ byte, stream uint32, body []byte) [][]byte {
	h := make([]byte, yamuxHeaderSize)
	h[1] = typ
	binary.BigEndian.PutUint32(h[4:], stream)
	binary.BigEndian.PutUint32(h[8:], uint32(len(body)))
	if typ == yamuxTypeData && len(body) > 0 {
		return [][]byte{h, body}
	}
	return [][]byte{h}
}

// splitFrames cuts a message into yamux frames and fails if one is cut
// short: a frame must never straddle two messages.
func splitFrames(t *testing.T, msg []byte) int {
	t.Helper()
	n := 0
	for len(msg) > 0 {
		if len(msg) < yamuxHeaderSize {
			t.Fatalf("message ends inside a frame header: %x", msg)
		}
		size := 0
		if msg[1] == yamuxTypeData {
			size = int(binary.BigEndian.Uint32(msg[8:]))
		}
		if len(msg) < yamuxHeaderSize+size {
			t.Fatalf("message ends inside a %d-byte frame body", size)
		}
		msg = msg[yamuxHeaderSize+size:]
		n++
	}
	return n
}

const yamuxTypeWindowUpdate = 1

func TestBatchingConnKeepsFramesWholeAndInOrder(t *testing.T) {
	rc := &recordingConn{delay: 50 * time.Microsecond}
	c := newBatchingConn(rc)
	var want bytes.Buffer
	frames := 0
	for i := range 2000 {
		typ := byte(yamuxTypeData)
		if i%5 == 0 {
			typ = yamuxTypeWindowUpdate
		}
		body := bytes.Repeat([]byte{byte(i)}, rand.IntN(3000))
		if i%7 == 0 {
			body = nil // an empty data frame (a FIN) has no body call
		}
		for _, p := range frame(typ, uint32(i%9+1), body) {
			want.Write(p)
			if _, err := c.Write(p); err != nil {
				t.Fatal(err)
			}
		}
		frames++
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	var got bytes.Buffer
	seen := 0
	msgs := rc.sent()
	for _, m := range msgs {
		seen += splitFrames(t, m)
		got.Write(m)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("the peer got %d bytes that differ from the %d written", got.Len(), want.Len())
	}
	if seen != frames {
		t.Errorf("peer saw %d frames, want %d", seen, frames)
	}
}

func TestBatchingConnSendsQueuedFramesTogether(t *testing.T) {
	// The first send is held up; everything written meanwhile must go out
	// in one message after it.
	rc := &recordingConn{gate: make(chan struct{})}
	c := newBatchingConn(rc)
	const frames = 500
	for i := range frames {
		for _, p := range frame(yamuxTypeData, uint32(i%9+1), []byte("a webhook")) {
			if _, err := c.Write(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(rc.gate)
	c.Close()
	msgs := rc.sent()
	seen := 0
	for _, m := range msgs {
		seen += splitFrames(t, m)
	}
	// Two messages: what the flusher took first (held up), then the rest
	// together; one if the flusher first ran after the last Write.
	if seen != frames || len(msgs) > 2 {
		t.Errorf("%d frames in %d messages; want %d in at most 2", seen, len(msgs), frames)
	}
}

func TestBatchingConnCloseSendsWhatIsQueued(t *testing.T) {
	rc := &recordingConn{delay: 20 * time.Millisecond}
	c := newBatchingConn(rc)
	for _, p := range frame(yamuxTypeData, 3, []byte("welcome")) {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	msgs := rc.sent()
	if len(msgs) != 1 || !bytes.HasSuffix(msgs[0], []byte("welcome")) {
		t.Fatalf("sent before close: %q; want the frame", msgs)
	}
}

func TestBatchingConnReportsWriteErrors(t *testing.T) {
	broken := errors.New("connection reset")
	c := newBatchingConn(&recordingConn{fail: broken})
	for _, p := range frame(yamuxTypeWindowUpdate, 1, nil) {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err) // queued; the failure comes later
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Write(frame(yamuxTypeWindowUpdate, 1, nil)[0])
		if errors.Is(err, broken) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Write after a failed send returned %v, want %v", err, broken)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBatchingConnBoundsTheQueue(t *testing.T) {
	rc := &recordingConn{delay: time.Millisecond}
	c := newBatchingConn(rc)
	body := make([]byte, 64<<10)
	for range 64 { // 4 MiB through a 512 KiB queue
		for _, p := range frame(yamuxTypeData, 1, body) {
			if _, err := c.Write(p); err != nil {
				t.Fatal(err)
			}
		}
		c.mu.Lock()
		queued := len(c.queue)
		c.mu.Unlock()
		if queued > maxBatch {
			t.Fatalf("queue holds %d bytes, bound is %d", queued, maxBatch)
		}
	}
	c.Close()
	total := 0
	for _, m := range rc.sent() {
		splitFrames(t, m)
		total += len(m)
	}
	if want := 64 * (yamuxHeaderSize + len(body)); total != want {
		t.Errorf("peer got %d bytes, want %d", total, want)
	}
}
