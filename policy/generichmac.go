package policy

import (
	"cmp"
	"fmt"
	"strings"
	"time"
)

// genericTimestampTolerance applies when the generic scheme names a
// timestamp header and the route sets no tolerance: the five minutes most
// providers that sign a timestamp use.
const genericTimestampTolerance = 5 * time.Minute

// newGenericHMAC builds the "hmac" provider: a scheme described entirely by
// the route's verify block, for senders hooktunnel has no table entry for.
func newGenericHMAC(s VerifierSpec) (Verifier, error) {
	c := s.Config
	if c.Header == "" {
		return nil, fieldf("verify.header", "is required: name the header that carries the signature")
	}
	if !ValidHeaderName(c.Header) {
		return nil, fieldf("verify.header", "%q is not a valid header name", c.Header)
	}
	alg := cmp.Or(c.Algorithm, "sha256")
	if _, ok := hashNamed(alg); !ok {
		return nil, fieldf("verify.algorithm", "%q is not one of sha1, sha256, sha512", c.Algorithm)
	}
	var enc macEncoding
	switch e := cmp.Or(c.Encoding, "hex"); e {
	case "hex":
		enc = macHex
	case "base64":
		enc = macBase64
	default:
		return nil, fieldf("verify.encoding", "%q is not one of hex, base64", c.Encoding)
	}
	for _, f := range [...]struct{ field, name string }{
		{"verify.timestamp_header", c.TimestampHeader},
		{"verify.id_header", c.IDHeader},
	} {
		if f.name != "" && !ValidHeaderName(f.name) {
			return nil, fieldf(f.field, "%q is not a valid header name", f.name)
		}
	}
	content, err := parseTemplate(cmp.Or(c.Template, "{body}"))
	if err != nil {
		return nil, AtField("verify.template", err)
	}
	if !hasPart(content, partBody) {
		// A signature that does not cover the body would let anyone who
		// saw one request send any body under it.
		return nil, fieldf("verify.template", "must include {body}, or the body would not be authenticated")
	}
	if hasPart(content, partTimestamp) && c.TimestampHeader == "" {
		return nil, fieldf("verify.template", "uses {timestamp}, so verify.timestamp_header must name the header it comes from")
	}
	if len(s.Secrets) == 0 {
		return nil, fieldf("verify.secrets", "at least one secret is required")
	}

	m := newMACScheme(c.Header, alg, enc, c.Prefix, s.Secrets)
	if len(content) != 1 || content[0].kind != partBody {
		m.content = content
	}
	if c.TimestampHeader != "" {
		m.tsHeader = c.TimestampHeader
		m.tolerance = cmp.Or(s.Tolerance, genericTimestampTolerance)
	}
	if c.IDHeader != "" {
		m.idHeaders = []string{c.IDHeader}
	}
	return m, nil
}

type partKind int

const (
	partLiteral partKind = iota
	partBody
	partTimestamp
	partMethod
	partURL
	partHeader
)

// contentPart is one piece of a signed-content template: literal text, or
// what a placeholder stands for (text is the header name for partHeader).
type contentPart struct {
	kind partKind
	text string
}

// parseTemplate compiles "{timestamp}.{body}" and the like. There is no
// escape for a literal "{": no sender we know of signs one.
func parseTemplate(t string) ([]contentPart, error) {
	var parts []contentPart
	for pos := 0; pos < len(t); {
		open := strings.IndexByte(t[pos:], '{')
		if open < 0 {
			parts = append(parts, contentPart{kind: partLiteral, text: t[pos:]})
			break
		}
		if open > 0 {
			parts = append(parts, contentPart{kind: partLiteral, text: t[pos : pos+open]})
		}
		open += pos
		end := strings.IndexByte(t[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("the { at byte %d is not closed", open)
		}
		name := t[open+1 : open+end]
		p, err := placeholder(name)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
		pos = open + end + 1
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("is empty")
	}
	return parts, nil
}

func placeholder(name string) (contentPart, error) {
	switch name {
	case "body":
		return contentPart{kind: partBody}, nil
	case "timestamp":
		return contentPart{kind: partTimestamp}, nil
	case "method":
		return contentPart{kind: partMethod}, nil
	case "url":
		return contentPart{kind: partURL}, nil
	}
	if h, ok := strings.CutPrefix(name, "header:"); ok {
		if !ValidHeaderName(h) {
			return contentPart{}, fmt.Errorf("{header:%s} does not name a valid header", h)
		}
		return contentPart{kind: partHeader, text: h}, nil
	}
	return contentPart{}, fmt.Errorf("unknown placeholder {%s}; use {body}, {timestamp}, {method}, {url} or {header:Name}", name)
}

func hasPart(parts []contentPart, k partKind) bool {
	for _, p := range parts {
		if p.kind == k {
			return true
		}
	}
	return false
}

// ValidHeaderName reports whether s is a valid HTTP field name (an RFC 9110
// token): what a config may name, what the edge writes onto a stream, and
// what the agent's pipe reads from one (as bytes, not copied to a string).
func ValidHeaderName[T ~string | ~[]byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte[s[i]] {
			return false
		}
	}
	return true
}

// tokenByte is the bytes of a token.
var tokenByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
