package iplist

import (
	"errors"
	"net/netip"
	"testing"
)

// checkParsed holds every parser to the same promise: an error, or a
// non-empty, masked, sorted, deduplicated list of public prefixes.
func checkParsed(t *testing.T, ps []netip.Prefix, err error) {
	t.Helper()
	if err != nil {
		if ps != nil {
			t.Fatalf("prefixes %v returned with error %v", ps, err)
		}
		if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrBadEntry) && !errors.Is(err, ErrEmpty) {
			t.Fatalf("error %v wraps no sentinel", err)
		}
		return
	}
	if len(ps) == 0 {
		t.Fatal("no error and no prefixes")
	}
	for i, p := range ps {
		if !p.IsValid() || p != p.Masked() {
			t.Fatalf("prefix %v is invalid or unmasked", p)
		}
		if _, err := ParseEntry(p.String()); err != nil {
			t.Fatalf("prefix %v would not be accepted back: %v", p, err)
		}
		if i > 0 && !(ps[i-1].Addr().Less(p.Addr()) || ps[i-1].Addr() == p.Addr() && ps[i-1].Bits() < p.Bits()) {
			t.Fatalf("prefixes out of order or duplicated: %v then %v", ps[i-1], p)
		}
	}
}

func FuzzParseGitHubMeta(f *testing.F) {
	f.Add([]byte(`{"hooks":["192.30.252.0/22","2a0a:a440::/29"]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		ps, err := ParseGitHubMeta(doc)
		checkParsed(t, ps, err)
	})
}

func FuzzParseStripeIPs(f *testing.F) {
	f.Add([]byte(`{"WEBHOOKS":["3.18.12.63","3.130.192.231"]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		ps, err := ParseStripeIPs(doc)
		checkParsed(t, ps, err)
	})
}

func FuzzParseAddressArray(f *testing.F) {
	f.Add([]byte(`["44.242.69.192","52.89.71.166"]`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		ps, err := ParseAddressArray(doc)
		checkParsed(t, ps, err)
	})
}

func FuzzParseAtlassianIPRanges(f *testing.F) {
	f.Add([]byte(`{"items":[{"cidr":"104.192.136.0/21","direction":["egress"],"product":["bitbucket"]}]}`), "bitbucket")
	f.Fuzz(func(t *testing.T, doc []byte, product string) {
		ps, err := ParseAtlassianIPRanges(doc, product)
		checkParsed(t, ps, err)
	})
}

// FuzzDecode covers iplists.json, which an operator may edit by hand. The
// seed is small on purpose: minimizing a mutated copy of the whole snapshot
// takes the fuzzer longer than a run lasts.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":1,"lists":[{"name":"github","fetched":"2026-10-07T21:43:13Z","cidrs":["192.30.252.0/22","2a0a:a440::/29"]}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		ls, err := decode(doc, false)
		if err != nil {
			return
		}
		for _, name := range ls.Names() {
			l, _ := ls.Get(name)
			if !validName(l.Name) || l.Fetched.IsZero() {
				t.Fatalf("list %+v accepted", l)
			}
			checkParsed(t, l.Prefixes, nil)
		}
	})
}
