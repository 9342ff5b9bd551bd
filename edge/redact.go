package edge

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hooktunnel/hooktunnel/policy"
)

// redacted replaces the values the journal must never hold, and
// redactedInQuery is how it is written in a query.
const redacted = "[redacted]"

var redactedInQuery = url.QueryEscape(redacted)

// alwaysRedacted are the headers whose values never reach the journal,
// whatever the route: credentials.
var alwaysRedacted = canonicalSet(append(policy.CredentialHeaders(), "Set-Cookie"))

// providerSignatures are the signature headers of the providers policy
// knows: kept, although their names look like credentials (see
// policy.SignatureHeaders).
var providerSignatures = canonicalSet(policy.SignatureHeaders())

func canonicalSet(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, h := range names {
		m[http.CanonicalHeaderKey(h)] = true
	}
	return m
}

// redactHeader returns a copy of h with sensitive values replaced; extra
// names (canonical) come from the route.
func redactHeader(h http.Header, extra []string) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if alwaysRedacted[k] || slices.Contains(extra, k) || looksSecret(k) && !providerSignatures[k] {
			masked := make([]string, len(vs))
			for i := range masked {
				masked[i] = redacted
			}
			out[k] = masked
			continue
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// looksSecret catches headers named like credentials that no list knows.
// It runs on every header and query name of every request and answer, so
// a short ASCII name (any header name) is lowered on the stack, not into
// a new string.
func looksSecret(name string) bool {
	var buf [64]byte
	lower := buf[:0]
	for i := range len(name) {
		c := name[i]
		if c >= utf8.RuneSelf || i == len(buf) {
			// A few non-ASCII letters lower to ASCII ones (K, the Kelvin sign).
			lower = []byte(strings.ToLower(name))
			break
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	for _, word := range secretWords {
		if bytes.Contains(lower, word) {
			return true
		}
	}
	return false
}

// secretWords are the parts of names that looksSecret catches, lowercase.
var secretWords = [][]byte{[]byte("secret"), []byte("token"), []byte("signature"), []byte("password"), []byte("api-key"), []byte("api_key"), []byte("apikey")}

// redactQuery masks the named parameters of a raw query, keeping the rest
// byte for byte.
// Parameters named like credentials are masked too, and so is every
// parameter whose name cannot be decoded: the journal cannot tell what it
// holds.
func redactQuery(raw string, names []string) string {
	if raw == "" {
		return raw
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		key, _, _ := strings.Cut(p, "=")
		if k, err := url.QueryUnescape(key); err != nil || slices.Contains(names, k) || looksSecret(k) {
			parts[i] = key + "=" + redactedInQuery
		}
	}
	return strings.Join(parts, "&")
}

// deliverable drops the headers the journal redacted: a queued or replayed
// delivery must not send "[redacted]" to the app as if it were a value.
func deliverable(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if len(vs) > 0 && vs[0] == redacted {
			continue
		}
		out[k] = vs
	}
	return out
}

// deliverableQuery drops the parameters the journal redacted, as
// deliverable does for headers.
func deliverableQuery(raw string) string {
	if !strings.Contains(raw, redactedInQuery) {
		return raw
	}
	var kept []string
	for _, p := range strings.Split(raw, "&") {
		if _, v, _ := strings.Cut(p, "="); v != redactedInQuery {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "&")
}
