package edge

import (
	"bytes"
	"io"
	"net/http"
)

// cappedBuffer keeps the first max bytes written to it and counts the rest.
type cappedBuffer struct {
	buf   bytes.Buffer
	max   int64
	total int64
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.total += int64(len(p))
	if room := c.max - int64(c.buf.Len()); room > 0 {
		c.buf.Write(p[:min(int64(len(p)), room)])
	}
	return len(p), nil
}

// bytes hands over what was kept; the buffer is not used afterwards, so
// no copy is made.
func (c *cappedBuffer) bytes() []byte {
	if c == nil || c.buf.Len() == 0 {
		return nil
	}
	return c.buf.Bytes()
}

func (c *cappedBuffer) truncated() bool { return c != nil && c.total > int64(c.buf.Len()) }

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

// responseCapture records the app's answer for the journal as it streams
// to the sender: status, headers, and the first bytes of the body.
type responseCapture struct {
	http.ResponseWriter
	status int
	body   *cappedBuffer
}

func (c *responseCapture) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *responseCapture) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(p)
	return c.ResponseWriter.Write(p)
}

func (c *responseCapture) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *responseCapture) Unwrap() http.ResponseWriter { return c.ResponseWriter }
