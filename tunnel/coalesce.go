package tunnel

import (
	"encoding/binary"
	"net"
)

// yamux frame header: version, type, flags, stream id, length.
const (
	yamuxHeaderSize = 12
	yamuxTypeData   = 0
)

// coalescingConn sits between yamux and the websocket. yamux writes each
// data frame as two calls, its 12-byte header and then the body; over a
// websocket that is two messages and two syscalls. This joins them: the
// header of a data frame with a body is held and sent with the body, which
// yamux's single send loop always writes next. Every other frame (window
// updates, pings, go-away, empty data) goes through at once.
type coalescingConn struct {
	net.Conn
	header  [yamuxHeaderSize]byte
	holding bool
	buf     []byte
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	if c.holding {
		c.holding = false
		c.buf = append(append(c.buf[:0], c.header[:]...), p...)
		if _, err := c.Conn.Write(c.buf); err != nil {
			return 0, err
		}
		if cap(c.buf) > 64<<10 {
			c.buf = nil // don't pin a large frame's buffer while idle
		}
		return len(p), nil
	}
	if len(p) == yamuxHeaderSize && p[1] == yamuxTypeData && binary.BigEndian.Uint32(p[8:]) > 0 {
		copy(c.header[:], p)
		c.holding = true
		return len(p), nil
	}
	return c.Conn.Write(p)
}
