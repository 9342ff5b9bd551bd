package agent

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"sync"
)

// smallBody is the largest request body the pipe reads whole before it
// writes the request to the app, in one write; a larger one, or chunks,
// stream beside the answer, so an app may answer (a 413, say) before it
// has read it all. The edge sends bodies up to its own bound (64 KiB)
// whole, so none of those is ever cut short.
const smallBody = 64 << 10

// exchange is one request on its way to the app, shared by the goroutine
// that relays the app's answer and the one that follows the stream (sends
// a streamed body, then waits for the next request).
type exchange struct {
	app *appConn

	mu         sync.Mutex
	done       bool  // the relay is finished with app
	cut        error // the stream failed, or ended, while the exchange ran
	bodyFailed bool  // it failed in the middle of the request body
	bodySent   bool  // the whole request body went to the app
	closes     bool  // the app closes the connection after its answer (the relay's own)
	// result tells the follower whether the stream can go on: the answer
	// went out whole, and the pipe is not closing.
	result chan bool
}

// reset readies the stream's exchange for a request to ac; its result is
// empty (the last one was taken).
func (x *exchange) reset(ac *appConn, bodySent bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.app, x.done, x.cut, x.bodyFailed, x.bodySent, x.closes = ac, false, nil, false, bodySent, false
}

// abort ends the exchange for a stream that failed: the app sees its
// request go away, as it would a closed connection.
func (x *exchange) abort(err error, bodyFailed bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done || x.cut != nil {
		return
	}
	x.cut, x.bodyFailed = err, bodyFailed
	x.app.Close()
}

// finish is the relay's last look at the exchange: after it, abort leaves
// the app's connection alone.
func (x *exchange) finish() (bodyFailed, bodySent bool, cut error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.done = true
	return x.bodyFailed, x.bodySent, x.cut
}

func (x *exchange) sent() {
	x.mu.Lock()
	x.bodySent = true
	x.mu.Unlock()
}

// forward sends the request, whose head for the app is head, to t's app
// and its answer back. It always reports false: another goroutine goes on
// with the stream, or it has ended.
func (s *pipeStream) forward(req *pipeRequest, t *localTarget, head []byte) bool {
	small := req.length >= 0 && req.length <= smallBody
	if small && req.length > 0 {
		n := len(head)
		head = slices.Grow(head, int(req.length))[:n+int(req.length)]
		if _, err := io.ReadFull(s.br, head[n:]); err != nil {
			f := failureOf(err, true, false)
			f.log(s.p.errorLog, req.requestID, t.url, err)
			s.agentAnswer(req, f.status, f.code, f.msg, false)
			return false
		}
	}
	ac, err := s.send(targetAddr(t.url), head)
	if err != nil {
		f := failureOf(err, false, false)
		f.log(s.p.errorLog, req.requestID, t.url, err)
		keep := small || s.discardBody(req)
		return s.agentAnswer(req, f.status, f.code, f.msg, keep)
	}
	x := &s.x
	x.reset(ac, small)
	go s.follow(x, req, !small)
	answered := s.relay(x, req, t)
	_, bodySent, cut := x.finish()
	if answered && cut == nil && bodySent && !x.closes && ac.br.Buffered() == 0 {
		s.p.pool.put(ac)
	} else {
		ac.Close()
	}
	if answered && s.p.rest(s) {
		x.result <- true
	} else {
		s.c.Close()
		x.result <- false
	}
	return false
}

// send writes head to a connection to the app at addr. A kept
// connection the app closed just now is dialed again once.
func (s *pipeStream) send(addr string, head []byte) (*appConn, error) {
	ctx := context.Background()
	for try := 0; ; try++ {
		ac, err := s.p.pool.get(ctx, addr, try > 0)
		if err != nil {
			return nil, err
		}
		if _, err = ac.Write(head); err == nil {
			return ac, nil
		}
		ac.Close()
		if !ac.reused || try > 0 {
			return nil, err
		}
	}
}

// follow follows the stream while the relay waits for the app: it sends a
// streamed body, then waits for the stream's next request (a stream that
// ends first aborts the exchange), and serves it once the answer is out.
func (s *pipeStream) follow(x *exchange, req *pipeRequest, stream bool) {
	defer s.recover()
	keep := true
	if stream {
		keep = s.sendBody(x, req)
	}
	if keep {
		if _, err := s.br.Peek(1); err != nil {
			x.abort(err, false)
			keep = false
		}
	}
	if !<-x.result || !keep {
		s.end()
		return
	}
	s.run()
}

// sendBody copies a streamed request body to the app. When the app stops
// taking it (it answered early and closed), the rest is read and dropped,
// up to maxDiscard, as the full server does. It reports whether the
// stream is still in step (the body was read to its end).
func (s *pipeStream) sendBody(x *exchange, req *pipeRequest) bool {
	buf := getBuffer()
	defer putBuffer(buf)
	p := (*buf)[:cap(*buf)]
	const room = 16 // before the data, for a chunk's size line
	body := req.body(s.br)
	chunked := req.length < 0
	var writeErr error
	var dropped int64
	for {
		n, err := body.Read(p[room : len(p)-2])
		if n > 0 && writeErr == nil {
			out := p[room : room+n]
			if chunked {
				size := strconv.AppendInt(p[:0:room], int64(n), 16)
				size = append(size, '\r', '\n')
				start := room - len(size)
				copy(p[start:], size)
				out = append(p[start:room+n], '\r', '\n')
			}
			_, writeErr = x.app.Write(out)
		} else if n > 0 {
			if dropped += int64(n); dropped > maxDiscard {
				return false
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			x.abort(err, true)
			return false
		}
	}
	if chunked && writeErr == nil {
		_, writeErr = x.app.Write([]byte("0\r\n\r\n"))
	}
	if writeErr == nil {
		x.sent()
	}
	return true
}

// relay reads the app's answer and writes it to the stream. It reports
// whether the answer went out whole; when it did not, and nothing of it
// had gone out, the agent answers in its place (the stream may go on).
func (s *pipeStream) relay(x *exchange, req *pipeRequest, t *localTarget) bool {
	ac := x.app
	hb := getBuffer()
	defer putBuffer(hb)
	a := &s.ans
	for interim := 0; ; interim++ {
		raw, err := readHead(ac.br, (*hb)[:0], maxAnswerHead)
		*hb = raw[:0]
		if err == nil {
			a.reset()
			err = a.read(raw, req.method)
		}
		if err == nil && a.status == 101 {
			err = errAppUpgrade
		}
		if err == nil && a.status < 200 && interim == max1xx {
			err = errApp1xx
		}
		if err != nil {
			return s.appFailed(x, req, t, err)
		}
		if a.status >= 200 {
			break
		}
		ob := getBuffer()
		_, err = s.c.Write(appendInterim((*ob)[:0], &a.head, a.status))
		putBuffer(ob)
		if err != nil {
			return false
		}
	}
	x.closes = a.close

	pb := getBuffer()
	defer putBuffer(pb)
	p := (*pb)[:cap(*pb)]
	const room = 16
	body := a.body(ac)
	var n int
	var err error
	for n == 0 && err == nil {
		n, err = body.Read(p[room : len(p)-2])
	}
	ended := errors.Is(err, io.EOF)
	if err != nil && !ended {
		// Cut before the head went out: the edge sees the answer end.
		return false
	}
	var trailers []byte
	if cb, ok := body.(*chunkedBody); ok {
		trailers = cb.trailers
	}
	// An answer of unknown length goes out in chunks, flushed as they
	// come, as the proxy sends it; even an empty one.
	chunks := !a.noBody && a.length < 0
	ob := getBuffer()
	defer putBuffer(ob)
	out := a.appendHead((*ob)[:0], p[room:room+n], chunks, s.p.isClosing())
	for {
		switch {
		case chunks && n > 0:
			out = appendChunk(out, p[room:room+n])
		case n > 0 && len(out) == 0:
			// Past the head: straight from the read buffer, not copied.
			if _, werr := s.c.Write(p[room : room+n]); werr != nil {
				return false
			}
		case n > 0:
			out = append(out, p[room:room+n]...) // with the head: one write
		}
		if ended && chunks {
			out = append(out, "0\r\n"...)
			out = append(out, trailers...)
			out = append(out, "\r\n"...)
		}
		if len(out) > 0 {
			if _, werr := s.c.Write(out); werr != nil {
				return false
			}
		}
		if ended {
			return true
		}
		out = out[:0]
		n, err = body.Read(p[room : len(p)-2])
		if errors.Is(err, io.EOF) {
			ended = true
			if cb, ok := body.(*chunkedBody); ok {
				trailers = cb.trailers
			}
		} else if err != nil {
			return false // the edge sees the answer cut short
		}
	}
}

// appFailed answers in the app's place, as the proxy does. The app's
// connection is closed after it, never kept: what the app sent, or has
// yet to send, is out of step with the requests.
func (s *pipeStream) appFailed(x *exchange, req *pipeRequest, t *localTarget, err error) bool {
	x.closes = true
	bodyFailed, _, cut := x.finish()
	if cut != nil {
		err = cut
	}
	f := failureOf(err, bodyFailed, cut != nil && !bodyFailed)
	f.log(s.p.errorLog, req.requestID, t.url, err)
	ob := getBuffer()
	defer putBuffer(ob)
	*ob = appendAgentAnswer((*ob)[:0], f.status, f.code, f.msg, req.requestID, cut != nil || s.p.isClosing())
	_, werr := s.c.Write(*ob)
	return werr == nil && cut == nil
}
