package edge

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/hooktunnel/hooktunnel/edge/cluster"
	"github.com/hooktunnel/hooktunnel/edge/relay"
	"github.com/hooktunnel/hooktunnel/edge/store"
)

// deliver is the one road to the app: every delivery (a sender's request
// as it arrives, a queued message, a replay) goes through the relay here,
// and here its attempt is recorded. The app's answer is written to w: the
// sender's connection, or a capture of it for the journal.
//
// An attempt with a status got an answer; err then says only that the
// answer was cut short (errAnswerCut). An attempt without one did not, and
// err is the relay's reason.
func (e *Edge) deliver(tunnel string, req *http.Request, n int, w http.ResponseWriter) (store.Attempt, error) {
	start := e.clock.Now()
	a := store.Attempt{N: n, At: start.UTC(), Edge: e.id}
	resp, err := e.relay.Deliver(tunnel, req)
	if err != nil {
		a.Duration, a.Error = e.clock.Now().Sub(start), err.Error()
		return a, err
	}
	defer resp.Body.Close()
	if by := resp.Header.Get(cluster.HeaderDeliveredBy); by != "" {
		// Relayed: the edge that held the agent's session delivered it.
		a.Edge = by
		resp.Header.Del(cluster.HeaderDeliveredBy)
	}
	a.Status = resp.StatusCode
	if failed := relay.AppFailure(resp); failed != nil {
		a.Error = failed.Error()
	}
	err = copyAnswer(w, resp)
	a.Duration = e.clock.Now().Sub(start)
	if err != nil {
		err = fmt.Errorf("%w: %w", errAnswerCut, err)
		if a.Error == "" {
			a.Error = err.Error()
		}
	}
	return a, err
}

// errAnswerCut is an answer that did not arrive whole: the agent's
// connection ended, or the sender's, while it was being copied.
var errAnswerCut = errors.New("edge: the app's answer was cut short")

// copyAnswer writes the app's answer to w, less the headers that belong to
// the hop from the agent. A body of unknown length is flushed as it comes,
// as a reverse proxy does.
func copyAnswer(w http.ResponseWriter, resp *http.Response) error {
	removeHopByHop(resp.Header)
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	for k := range resp.Trailer {
		h.Add("Trailer", k)
	}
	w.WriteHeader(resp.StatusCode)
	dst := io.Writer(w)
	if resp.ContentLength == -1 {
		dst = flushingWriter{w, http.NewResponseController(w)}
	}
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	_, err := io.CopyBuffer(dst, resp.Body, *buf)
	for k, v := range resp.Trailer {
		h[k] = v
	}
	return err
}

// flushingWriter flushes after every write: an answer that streams reaches
// the sender as it is written.
type flushingWriter struct {
	io.Writer
	rc *http.ResponseController
}

func (f flushingWriter) Write(p []byte) (int, error) {
	n, err := f.Writer.Write(p)
	if err == nil {
		_ = f.rc.Flush()
	}
	return n, err
}

// copyBuffers are the buffers answers are copied through.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// answerCapture is an app's answer kept for the journal, for deliveries
// no sender waits on (the queue's, replays).
type answerCapture struct {
	header http.Header
	status int
	body   *cappedBuffer
	read   int64
}

// maxStoredAnswer bounds what the edge reads of an answer to a stored
// delivery; the journal keeps at most journal.max_response_body of it.
const maxStoredAnswer = 16 << 20

// errAnswerTooLong ends the reading of an answer past maxStoredAnswer.
var errAnswerTooLong = errors.New("edge: the answer is longer than 16 MiB; the rest was not read")

func newAnswerCapture(keep int64) *answerCapture {
	return &answerCapture{header: http.Header{}, body: &cappedBuffer{max: keep}}
}

func (c *answerCapture) Header() http.Header { return c.header }
func (c *answerCapture) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

func (c *answerCapture) Write(p []byte) (int, error) {
	c.read += int64(len(p))
	if c.read > maxStoredAnswer {
		return 0, errAnswerTooLong
	}
	return c.body.Write(p)
}
