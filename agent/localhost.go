package agent

import (
	"context"
	"net"
	"strings"
)

// IsLocalhost reports whether host is localhost or a name under
// .localhost, which RFC 6761 (6.3) reserves for the loopback interface.
// Browsers and curl resolve them to 127.0.0.1 and ::1 without asking DNS,
// and so does the agent: the demo's hooks.localhost and demo.localhost
// work as they do in the browser, and no query about them leaves the
// machine.
func IsLocalhost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// LoopbackDialer is a net.Dialer that sends localhost and names under
// .localhost to 127.0.0.1, then ::1, without a DNS query. Every other
// address is dialed as the embedded Dialer would.
type LoopbackDialer struct {
	net.Dialer
}

// DialContext is net.Dialer's, with .localhost names mapped to loopback.
func (d *LoopbackDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil || !IsLocalhost(host) {
		return d.Dialer.DialContext(ctx, network, address)
	}
	var first error
	for _, ip := range loopbackIPs(network) {
		c, err := d.Dialer.DialContext(ctx, network, net.JoinHostPort(ip, port))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// loopbackIPs are the addresses a localhost name stands for on network,
// IPv4 first as curl and the browsers try them.
func loopbackIPs(network string) []string {
	switch network {
	case "tcp4", "udp4":
		return []string{"127.0.0.1"}
	case "tcp6", "udp6":
		return []string{"::1"}
	}
	return []string{"127.0.0.1", "::1"}
}
