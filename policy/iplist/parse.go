package iplist

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Format names, stored with each list so a reader of iplists.json knows how
// the addresses were read.
const (
	FormatGitHubMeta      = "github-meta"
	FormatStripeIPs       = "stripe-ips"
	FormatAddressArray    = "address-array"
	FormatAtlassianEgress = "atlassian-egress"
)

// maxEntries bounds what one document may list. The largest real list
// (Atlassian) has a few hundred; anything near this is not a webhook list.
const maxEntries = 10000

// Broadest prefixes accepted. A source that suddenly lists 0.0.0.0/0 (a bug,
// or a compromised document) must not turn an allowlist into allow-all.
const (
	minBitsV4 = 8
	minBitsV6 = 16
)

// ParseGitHubMeta reads the `hooks` array of GitHub's meta API
// (https://api.github.com/meta): the addresses webhook deliveries come from.
// The other arrays (web, api, actions…) are deliberately ignored.
func ParseGitHubMeta(doc []byte) ([]netip.Prefix, error) {
	var meta struct {
		Hooks *[]string `json:"hooks"`
	}
	if err := decodeJSON(doc, &meta); err != nil {
		return nil, err
	}
	if meta.Hooks == nil {
		return nil, fmt.Errorf("%w: no \"hooks\" array", ErrFormat)
	}
	return normalize(*meta.Hooks, "hooks")
}

// ParseStripeIPs reads the `WEBHOOKS` array of Stripe's
// ips_webhooks.json: bare IPv4 addresses.
func ParseStripeIPs(doc []byte) ([]netip.Prefix, error) {
	var ips struct {
		Webhooks *[]string `json:"WEBHOOKS"`
	}
	if err := decodeJSON(doc, &ips); err != nil {
		return nil, err
	}
	if ips.Webhooks == nil {
		return nil, fmt.Errorf("%w: no \"WEBHOOKS\" array", ErrFormat)
	}
	return normalize(*ips.Webhooks, "WEBHOOKS")
}

// ParseAddressArray reads a bare JSON array of addresses or CIDRs, the shape
// PagerDuty's ip-safelists/*-json documents have.
func ParseAddressArray(doc []byte) ([]netip.Prefix, error) {
	var entries []string
	if err := decodeJSON(doc, &entries); err != nil {
		return nil, err
	}
	if entries == nil {
		return nil, fmt.Errorf("%w: expected an array of addresses, got null", ErrFormat)
	}
	return normalize(entries, "")
}

// ParseAtlassianIPRanges reads https://ip-ranges.atlassian.com/ and keeps
// the items Atlassian marks with direction "egress": its products' outgoing
// connections, webhooks among them. "ingress" items are where Atlassian
// receives traffic and never send anything. With product set, only items
// listing that product are kept; without it, items whose only product is
// "email" are left out, because those are outbound mail relays (broad blocks
// shared with a mail provider) that never deliver webhooks.
func ParseAtlassianIPRanges(doc []byte, product string) ([]netip.Prefix, error) {
	var ranges struct {
		Items *[]struct {
			CIDR      string   `json:"cidr"`
			Direction []string `json:"direction"`
			Product   []string `json:"product"`
		} `json:"items"`
	}
	if err := decodeJSON(doc, &ranges); err != nil {
		return nil, err
	}
	if ranges.Items == nil {
		return nil, fmt.Errorf("%w: no \"items\" array", ErrFormat)
	}
	var cidrs []string
	for _, it := range *ranges.Items {
		if !slices.Contains(it.Direction, "egress") {
			continue
		}
		if product != "" && !slices.Contains(it.Product, product) {
			continue
		}
		if product == "" && !slices.ContainsFunc(it.Product, func(p string) bool { return p != "email" }) {
			continue
		}
		cidrs = append(cidrs, it.CIDR)
	}
	return normalize(cidrs, "items[egress].cidr")
}

func decodeJSON(doc []byte, v any) error {
	if err := json.Unmarshal(doc, v); err != nil {
		return fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return nil
}

// normalize turns entries into masked, sorted, deduplicated prefixes. One bad
// entry fails the whole document: it means the format changed under us, and
// keeping the previous list is safer than trusting half of a new one.
func normalize(entries []string, field string) ([]netip.Prefix, error) {
	if len(entries) > maxEntries {
		return nil, fmt.Errorf("%w: %d entries, more than the %d a webhook list can plausibly have", ErrFormat, len(entries), maxEntries)
	}
	out := make([]netip.Prefix, 0, len(entries))
	for i, e := range entries {
		p, err := ParseEntry(e)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		out = append(out, p)
	}
	return sortPrefixes(out)
}

// sortPrefixes sorts by address then length, drops duplicates, and refuses
// an empty result.
func sortPrefixes(ps []netip.Prefix) ([]netip.Prefix, error) {
	if len(ps) == 0 {
		return nil, ErrEmpty
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Bits(), b.Bits())
	})
	return slices.Compact(ps), nil
}

// ParseEntry reads one address ("192.0.2.1", a host prefix) or CIDR
// ("192.0.2.0/24", masked) as a provider publishes it. Addresses a provider
// cannot send from (private, loopback, link-local, multicast, unspecified,
// IPv4-mapped, zoned) and implausibly broad prefixes are errors.
func ParseEntry(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, fmt.Errorf("%w: %q is not a CIDR", ErrBadEntry, clip(s))
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%w: %q is not an address", ErrBadEntry, clip(s))
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%w: %q has a zone", ErrBadEntry, clip(s))
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	p = p.Masked()
	a := p.Addr()
	switch {
	case a.Is4In6():
		return netip.Prefix{}, fmt.Errorf("%w: %q is an IPv4-mapped IPv6 range; publish it as IPv4", ErrBadEntry, clip(s))
	case a.Is4() && p.Bits() < minBitsV4, a.Is6() && p.Bits() < minBitsV6:
		return netip.Prefix{}, fmt.Errorf("%w: %q is broader than /%d; refusing a range that wide", ErrBadEntry, clip(s), minBits(a))
	}
	for _, np := range nonPublic() {
		if p.Overlaps(np) {
			return netip.Prefix{}, fmt.Errorf("%w: %q overlaps %s, which no provider sends from", ErrBadEntry, clip(s), np)
		}
	}
	return p, nil
}

// nonPublic are ranges a webhook cannot come from across the internet. A
// provider list touching one would let a neighbour on the edge's own network
// pass the allowlist.
func nonPublic() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("224.0.0.0/3"), // multicast and reserved
		netip.MustParsePrefix("::/127"),      // unspecified and loopback
		netip.MustParsePrefix("fc00::/7"),
		netip.MustParsePrefix("fe80::/10"),
		netip.MustParsePrefix("ff00::/8"),
	}
}

func minBits(a netip.Addr) int {
	if a.Is4() {
		return minBitsV4
	}
	return minBitsV6
}

// clip keeps error messages one short line when a document is garbage.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
