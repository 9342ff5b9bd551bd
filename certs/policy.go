package certs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// ErrHostNotAllowed is returned by a HostPolicy for a host the edge must
// not ask a CA about: a random SNI, a name outside the domain, a tunnel
// nobody configured or registered.
var ErrHostNotAllowed = errors.New("certs: host is not allowed by the certificate policy")

// HostPolicy decides whether the edge may obtain a certificate for host.
// It is the same shape as autocert.HostPolicy, so the ACME source can hand
// it to autocert as it is.
type HostPolicy func(ctx context.Context, host string) error

// TunnelHosts is the edge's policy: the apex and <name>.<apex> for every
// name known reports, nothing else. known is asked only for names that are
// one valid DNS label, so a hostile SNI never reaches it. An error from
// known refuses the host (fail closed).
func TunnelHosts(apex string, known func(ctx context.Context, name string) (bool, error)) HostPolicy {
	apex = NormalizeHost(apex)
	return func(ctx context.Context, host string) error {
		host = NormalizeHost(host)
		if host == "" {
			return fmt.Errorf("%w: no server name", ErrHostNotAllowed)
		}
		if apex != "" && host == apex {
			return nil
		}
		name, ok := strings.CutSuffix(host, "."+apex)
		if !ok || apex == "" || !validLabel(name) {
			return fmt.Errorf("%w: %q is not <tunnel>.%s", ErrHostNotAllowed, host, apex)
		}
		ok, err := known(ctx, name)
		if err != nil {
			return fmt.Errorf("%w: %q: %v", ErrHostNotAllowed, host, err)
		}
		if !ok {
			return fmt.Errorf("%w: no tunnel %q is configured or registered", ErrHostNotAllowed, name)
		}
		return nil
	}
}

// NormalizeHost lowercases a host name and drops a port and a final dot,
// so "Demo.Hooks.Example.com.:443" and "demo.hooks.example.com" are one
// host. (autocert's HTTP-01 handler passes r.Host, port included.)
func NormalizeHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// validLabel reports whether s is one DNS label: letters, digits and '-',
// not at either end, at most 63 bytes. Tunnel names are a subset.
func validLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// privateSuffixes are names no public CA issues for (RFC 6761, RFC 6762,
// RFC 8375 and common LAN suffixes).
var privateSuffixes = []string{"localhost", "test", "example", "invalid", "local", "internal", "lan", "home.arpa"}

// IsPublicName reports whether domain looks like a name a public ACME CA
// could issue for: a dotted DNS name that is not an IP address and not
// under a special-use or LAN suffix. The edge defaults to ACME for such a
// domain and to plain HTTP otherwise.
func IsPublicName(domain string) bool {
	domain = NormalizeHost(domain)
	if domain == "" || net.ParseIP(domain) != nil || !strings.Contains(domain, ".") {
		return false
	}
	for _, s := range privateSuffixes {
		if domain == s || strings.HasSuffix(domain, "."+s) {
			return false
		}
	}
	for _, label := range strings.Split(domain, ".") {
		if !validLabel(label) {
			return false
		}
	}
	return true
}
