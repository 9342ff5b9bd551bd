package agent

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// ParseTarget reads the local app's address as users write it: a port
// ("8000"), host:port ("192.168.1.5:8000"), or a URL
// ("https://localhost:8443").
func ParseTarget(s string) (*url.URL, error) {
	if s == "" {
		return nil, fmt.Errorf("agent: no target: give the local port, host:port or URL of the app")
	}
	if port, err := strconv.Atoi(s); err == nil {
		if port <= 0 || port > 65535 {
			return nil, fmt.Errorf("agent: target port %d is out of range", port)
		}
		return &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", s)}, nil
	}
	if !strings.Contains(s, "://") {
		host, port, err := net.SplitHostPort(s)
		if err != nil || port == "" {
			return nil, fmt.Errorf("agent: target %q is not a port, host:port or URL", s)
		}
		if err := checkPort(s, port); err != nil {
			return nil, err
		}
		if host == "" {
			host = "127.0.0.1"
		}
		return &url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("agent: target %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("agent: target %q must be http:// or https://", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("agent: target %q has no host", s)
	}
	if port := u.Port(); port != "" || strings.HasSuffix(u.Host, ":") {
		if err := checkPort(s, port); err != nil {
			return nil, err
		}
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// checkPort refuses a target port that is not a number from 1 to 65535
// ("localhost:abc"), which no retry would ever reach.
func checkPort(target, port string) error {
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("agent: target %q: port %q is not a number from 1 to 65535", target, port)
	}
	return nil
}
