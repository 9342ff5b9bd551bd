package policy

import (
	"net/netip"
	"testing"
)

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.5", "203.0.113.9, 10.1.1.1")
	f.Add("198.51.100.1", "garbage")
	f.Add("10.0.0.5", ",,,")
	trusted, _ := ParsePrefixes([]string{"10.0.0.0/8"})
	f.Fuzz(func(t *testing.T, peer, xff string) {
		p, err := netip.ParseAddr(peer)
		if err != nil {
			return
		}
		got := ClientIP(p, []string{xff}, trusted)
		if !got.IsValid() {
			t.Fatalf("ClientIP(%s, %q) is not an address", peer, xff)
		}
		if !inPrefixes(p.Unmap(), trusted) && got != p.Unmap() {
			t.Fatalf("an untrusted peer's X-Forwarded-For was believed: %s", got)
		}
	})
}

func FuzzParseSizeAndRate(f *testing.F) {
	for _, s := range []string{"25MiB", "1.5KB", "10/s", "600/m", "0/h", "1e309/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseByteSize(s); err == nil && n < 0 {
			t.Fatalf("ParseByteSize(%q) = %d", s, n)
		}
		if r, err := parseRate(s); err == nil && !(r > 0) {
			t.Fatalf("parseRate(%q) = %v", s, r)
		}
	})
}
