package policy

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// ipSet is a compiled allowlist.
type ipSet struct {
	prefixes []netip.Prefix
}

// compileIPs reads allowlist entries: CIDRs, single addresses, or names of
// provider lists from lists. An unknown name or a bad CIDR is an error,
// never "allow".
func compileIPs(entries []string, lists map[string][]netip.Prefix) (*ipSet, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	s := &ipSet{}
	for i, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case strings.Contains(e, "/"):
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fieldf(fmt.Sprintf("[%d]", i), "%q is not a CIDR", e)
			}
			s.prefixes = append(s.prefixes, p.Masked())
		default:
			if a, err := netip.ParseAddr(e); err == nil {
				s.prefixes = append(s.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
			named, ok := lists[e]
			if !ok {
				return nil, fieldf(fmt.Sprintf("[%d]", i), "%q is neither an address, a CIDR nor a known provider list (%s)", e, strings.Join(sortedListNames(lists), ", "))
			}
			s.prefixes = append(s.prefixes, named...)
		}
	}
	return s, nil
}

func (s *ipSet) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP is the address a request came from: the peer, unless the peer
// is a trusted proxy, in which case X-Forwarded-For is read from the right
// and the first address that is not a trusted proxy wins. A forged
// left-most entry therefore never counts.
func ClientIP(peer netip.Addr, forwardedFor []string, trusted []netip.Prefix) netip.Addr {
	peer = peer.Unmap()
	if !inPrefixes(peer, trusted) {
		return peer
	}
	client := peer
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		parts := strings.Split(forwardedFor[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return client // garbage: stop at the last address we trust
			}
			client = a.Unmap()
			if !inPrefixes(client, trusted) {
				return client
			}
		}
	}
	return client
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParsePrefixes reads CIDRs or addresses (trusted_proxies).
func ParsePrefixes(entries []string) ([]netip.Prefix, error) {
	s, err := compileIPs(entries, nil)
	if err != nil || s == nil {
		return nil, err
	}
	return s.prefixes, nil
}

func sortedListNames(lists map[string][]netip.Prefix) []string {
	names := slices.Sorted(maps.Keys(lists))
	if len(names) == 0 {
		return []string{"none loaded"}
	}
	return names
}
