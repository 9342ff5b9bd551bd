package edge

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The PROXY protocol (HAProxy's, versions 1 and 2) lets a TCP load
// balancer in front of the edge pass on the sender's address. With
// `proxy_protocol: true` a connection from a peer in trusted_proxies must
// start with the header, and its source address becomes the request's
// remote address; connections from any other peer are served as they are,
// so nobody else can claim an address.

var (
	errProxyHeader = errors.New("edge: bad PROXY protocol header")
	proxyV2Sig     = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// maxProxyV1 is the longest v1 header the specification allows.
const maxProxyV1 = 107

// parseProxyHeader reads one PROXY header from r and returns the source
// address it names; ok is false for "UNKNOWN"/LOCAL headers, which keep
// the peer's address.
func parseProxyHeader(r *bufio.Reader) (src netip.AddrPort, ok bool, err error) {
	peek, err := r.Peek(len(proxyV2Sig))
	if err == nil && bytes.Equal(peek, proxyV2Sig) {
		return parseProxyV2(r)
	}
	line, err := r.ReadSlice('\n')
	if err != nil || len(line) > maxProxyV1 || !bytes.HasSuffix(line, []byte("\r\n")) {
		return src, false, fmt.Errorf("%w: no v1 line ending in CRLF within %d bytes", errProxyHeader, maxProxyV1)
	}
	f := strings.Split(string(line[:len(line)-2]), " ")
	if len(f) < 2 || f[0] != "PROXY" {
		return src, false, fmt.Errorf("%w: does not start with PROXY", errProxyHeader)
	}
	if f[1] == "UNKNOWN" {
		return src, false, nil
	}
	if (f[1] != "TCP4" && f[1] != "TCP6") || len(f) != 6 {
		return src, false, fmt.Errorf("%w: v1 needs TCP4|TCP6 src dst sport dport", errProxyHeader)
	}
	addr, err := netip.ParseAddr(f[2])
	port, perr := strconv.ParseUint(f[4], 10, 16)
	if err != nil || perr != nil || addr.Is4() != (f[1] == "TCP4") || addr.Zone() != "" {
		return src, false, fmt.Errorf("%w: bad v1 source address", errProxyHeader)
	}
	if _, err := netip.ParseAddr(f[3]); err != nil {
		return src, false, fmt.Errorf("%w: bad v1 destination address", errProxyHeader)
	}
	return netip.AddrPortFrom(addr, uint16(port)), true, nil
}

func parseProxyV2(r *bufio.Reader) (src netip.AddrPort, ok bool, err error) {
	var head [16]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return src, false, fmt.Errorf("%w: short v2 header", errProxyHeader)
	}
	verCmd, fam, n := head[12], head[13], int(binary.BigEndian.Uint16(head[14:]))
	if verCmd>>4 != 2 {
		return src, false, fmt.Errorf("%w: v2 version %d", errProxyHeader, verCmd>>4)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return src, false, fmt.Errorf("%w: short v2 addresses", errProxyHeader)
	}
	switch cmd := verCmd & 0x0f; {
	case cmd == 0: // LOCAL: the proxy's own connection (health checks)
		return src, false, nil
	case cmd != 1:
		return src, false, fmt.Errorf("%w: v2 command %d", errProxyHeader, cmd)
	}
	switch fam >> 4 {
	case 1: // IPv4
		if n < 12 {
			return src, false, fmt.Errorf("%w: short v2 IPv4 addresses", errProxyHeader)
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[0:4])), binary.BigEndian.Uint16(body[8:10])), true, nil
	case 2: // IPv6
		if n < 36 {
			return src, false, fmt.Errorf("%w: short v2 IPv6 addresses", errProxyHeader)
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[0:16])), binary.BigEndian.Uint16(body[32:34])), true, nil
	}
	return src, false, nil // UNSPEC or unix sockets: keep the peer
}

// proxyListener reads the PROXY header of trusted peers' connections.
type proxyListener struct {
	net.Listener
	trusted func() []netip.Prefix
	timeout time.Duration
}

func (l *proxyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	peer, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	if !inTrusted(peer.Addr().Unmap(), l.trusted()) {
		return c, nil
	}
	// The header is read on first use, in the connection's own goroutine,
	// so a slow proxy never holds up Accept.
	return &proxyConn{Conn: c, timeout: l.timeout}, nil
}

func inTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// proxyConn is a trusted proxy's connection: its PROXY header is read
// before anything else, once.
type proxyConn struct {
	net.Conn
	timeout time.Duration
	once    sync.Once
	r       *bufio.Reader
	src     net.Addr
	err     error
}

func (c *proxyConn) init() {
	c.once.Do(func() {
		c.r = bufio.NewReaderSize(c.Conn, 256)
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
		src, ok, err := parseProxyHeader(c.r)
		_ = c.Conn.SetReadDeadline(time.Time{})
		c.err = err
		if ok {
			c.src = net.TCPAddrFromAddrPort(src)
		}
	})
}

func (c *proxyConn) Read(b []byte) (int, error) {
	c.init()
	if c.err != nil {
		return 0, c.err
	}
	return c.r.Read(b)
}

func (c *proxyConn) RemoteAddr() net.Addr {
	c.init()
	if c.src != nil {
		return c.src
	}
	return c.Conn.RemoteAddr()
}
