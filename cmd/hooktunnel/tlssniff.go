package main

import (
	"context"
	"errors"
	"net"
)

// errSpeaksTLS is the answer to a plain-HTTP request that is a TLS record
// (a handshake or an alert): the server at that port speaks TLS. net/http
// passes a read error on wrapped, so a caller finds it with errors.Is.
var errSpeaksTLS = errors.New("the server speaks TLS, not plain HTTP")

// tlsSniffing returns dial with its connections failing their first read
// with errSpeaksTLS when the peer's first bytes are a TLS record.
func tlsSniffing(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &tlsSniffConn{Conn: c}, nil
	}
}

// tlsSniffConn looks at the first bytes read; net/http reads a
// connection from one goroutine.
type tlsSniffConn struct {
	net.Conn
	seen bool
}

func (c *tlsSniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.seen || n == 0 {
		return n, err
	}
	c.seen = true
	if isTLSRecord(p[:n]) {
		return 0, errSpeaksTLS
	}
	return n, err
}

// isTLSRecord reports whether b starts like a TLS record: content type
// alert (21) or handshake (22), then major version 3. An HTTP answer
// starts "HTTP/".
func isTLSRecord(b []byte) bool {
	if len(b) == 0 || b[0] != 21 && b[0] != 22 {
		return false
	}
	return len(b) < 2 || b[1] == 3
}
