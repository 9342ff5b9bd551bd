package iplist

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
)

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestParsers(t *testing.T) {
	t.Parallel()
	atlassian := func(doc []byte) ([]netip.Prefix, error) { return ParseAtlassianIPRanges(doc, "") }
	bitbucket := func(doc []byte) ([]netip.Prefix, error) { return ParseAtlassianIPRanges(doc, "bitbucket") }
	const atlassianDoc = `{"creationDate":"x","syncToken":1,"items":[
		{"cidr":"104.192.136.0/21","direction":["egress","ingress"],"product":["jira","bitbucket"]},
		{"cidr":"185.166.140.0/22","direction":["ingress"],"product":["jira"]},
		{"cidr":"167.89.0.0/17","direction":["egress"],"product":["email"]},
		{"cidr":"18.246.31.224/28","direction":["egress"],"product":["jira","confluence"]},
		{"cidr":"2401:1d80:3000::/36","direction":["egress"],"product":["bitbucket"]}]}`
	tests := []struct {
		name  string
		parse func([]byte) ([]netip.Prefix, error)
		doc   string
		want  []string
		err   error
	}{
		{name: "github hooks only", parse: ParseGitHubMeta,
			doc:  `{"verifiable_password_authentication":false,"hooks":["192.30.252.0/22","2a0a:a440::/29"],"web":["20.0.0.0/8"]}`,
			want: []string{"192.30.252.0/22", "2a0a:a440::/29"}},
		{name: "github masks, sorts and deduplicates", parse: ParseGitHubMeta,
			doc:  `{"hooks":["192.30.252.7/22"," 140.82.112.0/20","192.30.252.0/22","140.82.115.1"]}`,
			want: []string{"140.82.112.0/20", "140.82.115.1/32", "192.30.252.0/22"}},
		{name: "github without hooks", parse: ParseGitHubMeta, doc: `{"web":["192.30.252.0/22"]}`, err: ErrFormat},
		{name: "github hooks null", parse: ParseGitHubMeta, doc: `{"hooks":null}`, err: ErrFormat},
		{name: "github empty hooks", parse: ParseGitHubMeta, doc: `{"hooks":[]}`, err: ErrEmpty},
		{name: "github hooks of numbers", parse: ParseGitHubMeta, doc: `{"hooks":[1,2]}`, err: ErrFormat},
		{name: "github an HTML error page", parse: ParseGitHubMeta, doc: `<html>rate limited</html>`, err: ErrFormat},
		{name: "github a bad CIDR fails the document", parse: ParseGitHubMeta,
			doc: `{"hooks":["192.30.252.0/22","192.30.252.0/33"]}`, err: ErrBadEntry},
		{name: "stripe addresses become host prefixes", parse: ParseStripeIPs,
			doc:  `{"WEBHOOKS":["54.187.216.72","3.18.12.63","3.18.12.63"]}`,
			want: []string{"3.18.12.63/32", "54.187.216.72/32"}},
		{name: "stripe API list is not the webhook list", parse: ParseStripeIPs, doc: `{"API":["3.18.12.63"]}`, err: ErrFormat},
		{name: "stripe empty", parse: ParseStripeIPs, doc: `{"WEBHOOKS":[]}`, err: ErrEmpty},
		{name: "address array", parse: ParseAddressArray,
			doc:  `["44.242.69.192","2001:db8::1","52.89.71.0/24"]`,
			want: []string{"44.242.69.192/32", "52.89.71.0/24", "2001:db8::1/128"}},
		{name: "address array null", parse: ParseAddressArray, doc: `null`, err: ErrFormat},
		{name: "address array of an object", parse: ParseAddressArray, doc: `{"ips":["44.242.69.192"]}`, err: ErrFormat},
		{name: "address array empty", parse: ParseAddressArray, doc: `[]`, err: ErrEmpty},
		{name: "address array trailing garbage", parse: ParseAddressArray, doc: `["44.242.69.192"] x`, err: ErrFormat},
		{name: "atlassian keeps egress, drops ingress and mail relays", parse: atlassian, doc: atlassianDoc,
			want: []string{"18.246.31.224/28", "104.192.136.0/21", "2401:1d80:3000::/36"}},
		{name: "bitbucket keeps egress marked bitbucket", parse: bitbucket, doc: atlassianDoc,
			want: []string{"104.192.136.0/21", "2401:1d80:3000::/36"}},
		{name: "atlassian without direction is empty, not everything", parse: atlassian,
			doc: `{"items":[{"cidr":"104.192.136.0/21","product":["jira"]}]}`, err: ErrEmpty},
		{name: "atlassian egress item without cidr", parse: atlassian,
			doc: `{"items":[{"direction":["egress"],"product":["jira"]}]}`, err: ErrBadEntry},
		{name: "atlassian without items", parse: atlassian, doc: `{"ranges":[]}`, err: ErrFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.parse([]byte(tc.doc))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if got != nil {
					t.Errorf("got %v with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := prefixes(t, tc.want...); !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestParseEntry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"192.30.252.0/22", "192.30.252.0/22"},
		{"192.30.253.9/22", "192.30.252.0/22"},
		{"3.18.12.63", "3.18.12.63/32"},
		{"2606:50c0::/32", "2606:50c0::/32"},
		{"2606:50c0::1", "2606:50c0::1/128"},
		{"  8.8.8.0/24\t", "8.8.8.0/24"},
		{"", ""},
		{"github", ""},
		{"1.2.3.4/", ""},
		{"1.2.3.4/24/1", ""},
		{"0.0.0.0/0", ""},
		{"9.0.0.0/7", ""},
		{"::/0", ""},
		{"2000::/15", ""},
		{"10.1.2.3", ""},
		{"172.20.0.0/16", ""},
		{"192.168.1.0/24", ""},
		{"127.0.0.1", ""},
		{"169.254.169.254", ""},
		{"100.64.0.1", ""},
		{"224.0.0.1", ""},
		{"0.1.2.3", ""},
		{"::1", ""},
		{"::", ""},
		{"fe80::1", ""},
		{"fd00::1", ""},
		{"ff02::1", ""},
		{"::ffff:8.8.8.8", ""},
		{"2001:db8::1%eth0", ""},
	}
	for _, tc := range tests {
		got, err := ParseEntry(tc.in)
		if tc.want == "" {
			if err == nil || !errors.Is(err, ErrBadEntry) {
				t.Errorf("ParseEntry(%q) = %v, %v; want an ErrBadEntry", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != netip.MustParsePrefix(tc.want) {
			t.Errorf("ParseEntry(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestParseErrorsNameTheEntry(t *testing.T) {
	t.Parallel()
	_, err := ParseGitHubMeta([]byte(`{"hooks":["192.30.252.0/22","10.0.0.0/8"]}`))
	if err == nil || err.Error() != `hooks[1]: iplist: bad address entry: "10.0.0.0/8" overlaps 10.0.0.0/8, which no provider sends from` {
		t.Errorf("err = %v", err)
	}
}

func TestParseRefusesHugeDocuments(t *testing.T) {
	t.Parallel()
	doc := []byte("[")
	for i := range maxEntries + 1 {
		if i > 0 {
			doc = append(doc, ',')
		}
		doc = append(doc, `"8.8.8.8"`...)
	}
	doc = append(doc, ']')
	if _, err := ParseAddressArray(doc); !errors.Is(err, ErrFormat) {
		t.Errorf("err = %v, want ErrFormat", err)
	}
}

func TestSourcesAreWellFormed(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, s := range Sources() {
		if !validName(s.Name) || seen[s.Name] {
			t.Errorf("source %q: bad or duplicate name", s.Name)
		}
		seen[s.Name] = true
		if s.Parse == nil || s.Format == "" || s.About == "" {
			t.Errorf("source %q: incomplete", s.Name)
		}
		if len(s.URL) < 9 || s.URL[:8] != "https://" {
			t.Errorf("source %q: default URL %q is not https", s.Name, s.URL)
		}
	}
	if _, err := SourceFor("slack"); !errors.Is(err, ErrUnknownList) {
		t.Errorf("SourceFor(slack) err = %v, want ErrUnknownList", err)
	}
}
