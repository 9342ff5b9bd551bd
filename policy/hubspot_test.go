package policy

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestHubSpotSDKVectors(t *testing.T) {
	t.Parallel()
	runSDKVectors(t, "hubspot", hubspotSignatureHeader)
}

func TestHubSpotSignedURI(t *testing.T) {
	t.Parallel()
	// The generator decoded each received URL as HubSpot's docs say and had
	// the SDK sign that; hubspotURI must reach the same string.
	for _, vec := range loadSDKVectors(t, "hubspot").Vectors {
		t.Run(vec.Name, func(t *testing.T) {
			t.Parallel()
			if got := hubspotURI(vec.request(t).URL); got != vec.SignedURL {
				t.Fatalf("hubspotURI = %q, want %q", got, vec.SignedURL)
			}
		})
	}
}

func TestHubSpotRefusals(t *testing.T) {
	t.Parallel()
	const sig, ts = hubspotSignatureHeader, hubspotTimestampHeader
	runSDKRefusals(t, "hubspot", "encoded characters in the query are signed decoded", []sdkRefusal{
		{name: "body tampered by one byte", edit: sdkTamperBody, want: ErrBadSignature},
		{name: "trailing newline added to body", edit: sdkAppendNewline, want: ErrBadSignature},
		{name: "wrong secret", secrets: []string{"zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"}, want: ErrBadSignature},
		{name: "truncated signature", edit: sdkTruncateHeader(sig, 4), want: ErrSignatureMalformed},
		{name: "missing signature", edit: sdkDelHeader(sig), want: ErrSignatureMissing},
		{name: "missing timestamp", edit: sdkDelHeader(ts), want: ErrTimestampMissing},
		{name: "timestamp in seconds", edit: sdkSetHeader(ts, "1735689600"), want: ErrBadSignature},
		{name: "method changed", edit: func(r *Request) { r.Method = "PUT" }, want: ErrBadSignature},
		{name: "host changed", edit: func(r *Request) { r.URL.Host = "other.example.com" }, want: ErrBadSignature},
		{name: "scheme changed", edit: func(r *Request) { r.URL.Scheme = "http" }, want: ErrBadSignature},
		{name: "kept escape decoded", edit: func(r *Request) { r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "%20", " ", 1) }, want: ErrBadSignature},
		{name: "listed escape sent decoded is the same URI", edit: func(r *Request) { r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "%40", "@", 1) }, want: nil},
		{name: "no URL", edit: func(r *Request) { r.URL = nil }, want: ErrBadSignature},
		{name: "at the 5 min tolerance", clock: sdkAged(5 * time.Minute), want: nil},
		{name: "stale", clock: sdkAged(5*time.Minute + time.Millisecond), want: ErrStaleTimestamp},
		{name: "future", clock: sdkAged(-5*time.Minute - time.Millisecond), want: ErrFutureTimestamp},
	})
}

func TestHubSpotDecode(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"https://h/p?a=%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B", "https://h/p?a=:/?@!$'()*,;"},
		{"https://h/p?a=%3a%2f", "https://h/p?a=:/"},
		{"https://h/p?a=%20%26%3D%25%2B", "https://h/p?a=%20%26%3D%25%2B"},
		{"https://h/p?a=%", "https://h/p?a=%"},
		{"https://h/p?a=%3", "https://h/p?a=%3"},
		{"https://h/p?a=%zz%3A", "https://h/p?a=%zz:"},
		{"https://h/p%2Fq", "https://h/p/q"},
	}
	for _, tc := range tests {
		if got := hubspotDecode(tc.in); got != tc.want {
			t.Errorf("hubspotDecode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Seeds are in testdata/fuzz/FuzzParseHubSpotSignature.
func FuzzParseHubSpotSignature(f *testing.F) {
	f.Fuzz(func(t *testing.T, h string) {
		mac, err := parseHubSpotSignature(h)
		if err != nil {
			var ref *Refusal
			if !errors.As(err, &ref) {
				t.Fatalf("error %v is not a Refusal", err)
			}
			return
		}
		if len(mac) != 32 {
			t.Fatalf("accepted a %d-byte signature from %q", len(mac), h)
		}
	})
}

// Seeds are in testdata/fuzz/FuzzHubSpotURI.
func FuzzHubSpotURI(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		got := hubspotURI(u)
		// Decoding only ever shortens, three bytes into one.
		if n := len(u.Scheme + "://" + u.Host + u.EscapedPath() + "?" + u.RawQuery); len(got) > n {
			t.Fatalf("hubspotURI(%q) = %q grew", raw, got)
		}
		// A decoded character is never a hex digit, so no new escape appears.
		if again := hubspotDecode(got); again != got {
			t.Fatalf("hubspotDecode is not idempotent on %q: %q", got, again)
		}
	})
}
