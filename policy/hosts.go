package policy

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Sentinel errors of Hosts.Check.
var (
	// ErrHostNotAllowed: the request names a Host the listener does not
	// answer, as a page of another site does once its name is rebound to
	// the listener's address (DNS rebinding).
	ErrHostNotAllowed = errors.New("policy: host not allowed")
	// ErrCrossSite: a state-changing request made by a page of another
	// origin (cross-site request forgery).
	ErrCrossSite = errors.New("policy: cross-site request")
)

// Hosts decides which Host values a local listener answers (the edge's
// admin API, an agent's inspector). A browser sends the name it resolved
// in Host, so a page of evil.example whose name now resolves to 127.0.0.1
// arrives with Host: evil.example. An IP literal resolves nothing and
// cannot be rebound: it always passes, as does localhost; any other name
// must be listed. Ports are ignored and names compared case-insensitively.
// The zero value and nil allow IP literals and localhost only.
type Hosts struct {
	names map[string]bool
}

// CompileHosts reads a list of names: DNS names without scheme, port or
// wildcard. Errors name the entry ("[1]").
func CompileHosts(names []string) (*Hosts, error) {
	h := &Hosts{names: map[string]bool{}}
	for i, raw := range names {
		name, err := hostName(raw)
		if err != nil {
			return nil, fieldf(fmt.Sprintf("[%d]", i), "%q %v", raw, err)
		}
		h.names[name] = true
	}
	return h, nil
}

// hostName validates one listed name and returns its canonical form.
func hostName(raw string) (string, error) {
	name := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(raw)), ".")
	switch {
	case name == "":
		return "", errors.New("is empty")
	case strings.Contains(name, "://") || strings.Contains(name, "/"):
		return "", errors.New("is a URL: list the name alone (hooks-admin.example.com)")
	case strings.Contains(name, "*"):
		return "", errors.New("is a wildcard: list each name")
	}
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return "", errors.New("is an IP address: addresses are always answered, list names only")
	}
	if strings.Contains(name, ":") {
		return "", errors.New("has a port: list the name alone, any port is answered")
	}
	if len(name) > 253 {
		return "", errors.New("is longer than a DNS name may be")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return "", errors.New("is not a DNS name")
		}
	}
	return name, nil
}

// Check reports whether the listener should answer a request with this
// method, headers and Host (r.Host): ErrHostNotAllowed when Host is
// neither an IP literal, localhost nor a listed name; for a method that
// changes state, ErrCrossSite when a browser says another site made it:
// Sec-Fetch-Site: cross-site, or an Origin that is neither the request's
// own (scheme aside) nor a listed name. Both errors are Refusals.
func (h *Hosts) Check(method string, header http.Header, host string) error {
	name, _, ok := splitHost(host)
	if !ok || !h.allowsName(name) {
		return refuse(ErrHostNotAllowed, fmt.Sprintf("Host %q is neither an IP address, localhost nor a listed name", host))
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil // reads: the browser keeps another origin from seeing the answer
	}
	if header.Get("Sec-Fetch-Site") == "cross-site" {
		return refuse(ErrCrossSite, "a page of another site sent this request")
	}
	origin := header.Get("Origin")
	if origin == "" {
		return nil // not a browser, or a browser that omits it for same-origin requests
	}
	if !h.allowsOrigin(origin, host) {
		return refuse(ErrCrossSite, fmt.Sprintf("Origin %q is neither this listener's nor a listed name", origin))
	}
	return nil
}

// allowsName reports whether a canonical host name (no port) is answered.
func (h *Hosts) allowsName(name string) bool {
	if name == "localhost" {
		return true
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return true
	}
	return h != nil && h.names[name]
}

// allowsOrigin reports whether origin is the request's own origin (host
// and port as in Host) or a listed name. Only listed names count beyond
// the same origin: another port of localhost or another address is
// another site.
func (h *Hosts) allowsOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.TrimSuffix(origin, "/") != u.Scheme+"://"+u.Host {
		return false // "null", a malformed origin, one with a path or user: nobody's
	}
	oName, oPort, ok := splitHost(u.Host)
	if !ok {
		return false
	}
	if h != nil && h.names[oName] {
		return true
	}
	name, port, _ := splitHost(host)
	return oName == name && oPort == port
}

// splitHost splits a Host header value into its canonical name (lower
// case, no trailing dot, IP literals in netip's form, no brackets) and its
// port. ok is false for an empty host or a malformed value.
func splitHost(hostport string) (name, port string, ok bool) {
	host := hostport
	switch {
	case strings.HasPrefix(hostport, "["):
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return "", "", false
		}
		host, port = hostport[1:end], hostport[end+1:]
		if port != "" {
			if port[0] != ':' {
				return "", "", false
			}
			port = port[1:]
		}
		if _, err := netip.ParseAddr(host); err != nil {
			return "", "", false // brackets hold an IPv6 address, nothing else
		}
	case strings.Count(hostport, ":") == 1:
		host, port, _ = strings.Cut(hostport, ":")
	}
	if port != "" && (len(port) > 5 || strings.Trim(port, "0123456789") != "") {
		return "", "", false
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.String(), port, true
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" || strings.ContainsAny(host, ":[]") {
		return "", "", false
	}
	return host, port, true
}
