package test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// A TCP load balancer at 127.0.0.2 passes senders' addresses with the
// PROXY protocol; the allowlist sees them, and the agent (at 127.0.0.1,
// not a trusted proxy) connects as usual.
func TestProxyProtocolFromTrustedProxies(t *testing.T) {
	t.Parallel()
	tok := newToken("lb", false, "lb")
	e := startEdge(t, edgeConfig([]agentToken{tok}, `
trusted_proxies: [127.0.0.2/32]
proxy_protocol: true
tunnels:
  lb:
    routes:
      - path: /hook
        allow_ips: [203.0.113.0/24]
`))
	a := startApp(t)
	startAgent(t, e, tok, a.port(), "--name", "lb")
	send := func(header string) (int, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", "127.0.0.1:"+e.port)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "%sPOST /hook HTTP/1.1\r\nHost: lb.localhost:%s\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", header, e.port)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if s, err := send("PROXY TCP4 203.0.113.7 10.0.0.1 40000 443\r\n"); err != nil || s != http.StatusOK {
		t.Errorf("an allowed sender through the balancer: %d, %v", s, err)
	}
	if s, err := send("PROXY TCP4 198.51.100.1 10.0.0.1 40000 443\r\n"); err != nil || s != http.StatusForbidden {
		t.Errorf("a sender outside the allowlist: %d, %v; want 403", s, err)
	}
	if s, err := send(""); err == nil && s == http.StatusOK {
		t.Error("a trusted proxy's connection without a PROXY header was served")
	}
	m := e.waitMessage(t, "tunnel=lb&decision=forwarded", func(store.Message) bool { return true })
	if m.SourceIP != "203.0.113.7" {
		t.Errorf("journaled source %q, want the address the PROXY header named", m.SourceIP)
	}
	// A connection that is not from a trusted proxy cannot claim an address.
	c, err := net.Dial("tcp", "127.0.0.1:"+e.port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PROXY TCP4 203.0.113.7 10.0.0.1 40000 443\r\nPOST /hook HTTP/1.1\r\nHost: lb.localhost\r\nContent-Length: 0\r\n\r\n")
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	if strings.Contains(line, " 200 ") {
		t.Errorf("an untrusted peer's PROXY header was believed: %q", line)
	}
}
