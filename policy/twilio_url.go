package policy

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The twilio SDK's validateRequest accepts a signature over any of several
// spellings of the URL: as received, and as normalized by WHATWG new URL(),
// then re-encoded by node:querystring; each with and without the default
// port. This file reproduces those spellings.

// legacyParam is one name of a query or form body with its values in order.
type legacyParam struct {
	name   string
	values []string
}

// legacyMaxKeys is node:querystring's default maxKeys: separators past it
// are ignored.
const legacyMaxKeys = 1000

// parseLegacyQuery parses as node:querystring.parse does (and so Express's
// urlencoded parser): '+' is a space, bad escapes stay literal, empty
// segments are skipped, repeated names are grouped in first-seen order.
func parseLegacyQuery(s string) []legacyParam {
	if s == "" {
		return nil
	}
	var params []legacyParam
	for i, seg := range strings.Split(s, "&") {
		if i == legacyMaxKeys {
			break
		}
		if seg == "" {
			continue
		}
		name, value, _ := strings.Cut(seg, "=")
		name, value = legacyUnescape(name), legacyUnescape(value)
		if j := slices.IndexFunc(params, func(p legacyParam) bool { return p.name == name }); j >= 0 {
			params[j].values = append(params[j].values, value)
			continue
		}
		params = append(params, legacyParam{name: name, values: []string{value}})
	}
	return params
}

func legacyUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") && utf8.ValidString(s) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && legacyHexDigit(s[i+1]) && legacyHexDigit(s[i+2]):
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b = append(b, byte(n))
			i += 2
		default:
			b = append(b, c)
		}
	}
	// Node decodes the bytes as UTF-8, replacing what is not.
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func legacyHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// legacyQueryString is node:querystring.stringify of the parsed params. A
// JavaScript object lists array-index names first, in numeric order.
func legacyQueryString(params []legacyParam) string {
	ordered := slices.Clone(params)
	slices.SortStableFunc(ordered, func(a, b legacyParam) int {
		ai, aok := jsArrayIndex(a.name)
		bi, bok := jsArrayIndex(b.name)
		switch {
		case aok && bok:
			return cmp.Compare(ai, bi)
		case aok:
			return -1
		case bok:
			return 1
		}
		return 0
	})
	var parts []string
	for _, p := range ordered {
		for _, v := range p.values {
			parts = append(parts, legacyEscape(p.name)+"="+legacyEscape(v))
		}
	}
	return strings.Join(parts, "&")
}

func jsArrayIndex(s string) (int64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n < 1<<32-1 && strconv.FormatInt(n, 10) == s
}

// legacyEscape is node:querystring.escape: all but A-Z a-z 0-9 - _ . ! ~ * ' ( ).
func legacyEscape(s string) string {
	const upperhex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperhex[c>>4])
		b.WriteByte(upperhex[c&15])
	}
	return b.String()
}

// twilioURLCandidates lists the spellings of u the SDK tries, in its order,
// without duplicates.
func twilioURLCandidates(u *url.URL) []string {
	received := *u
	received.User, received.Fragment, received.RawFragment = nil, "", ""
	asReceived := received.String()
	normalized := whatwgURL(&received)
	var out []string
	for _, c := range []string{
		twilioRemovePort(asReceived), twilioAddPort(asReceived),
		twilioRemovePort(normalized), twilioAddPort(normalized),
		withLegacyQuery(twilioRemovePort(normalized)), withLegacyQuery(twilioAddPort(normalized)),
	} {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// whatwgURL approximates new URL(u).toString() for what Go's parser lets
// through: lower-case host, "/" for an empty path, and the special-scheme
// query percent-encode set (controls, space, " # < > ' and non-ASCII).
func whatwgURL(u *url.URL) string {
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	s := strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + path
	if u.RawQuery == "" && !u.ForceQuery {
		return s
	}
	var b strings.Builder
	const upperhex = "0123456789ABCDEF"
	for i := 0; i < len(u.RawQuery); i++ {
		c := u.RawQuery[i]
		if c <= ' ' || c > '~' || strings.IndexByte("\"#<>'", c) >= 0 {
			b.WriteByte('%')
			b.WriteByte(upperhex[c>>4])
			b.WriteByte(upperhex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return s + "?" + b.String()
}

// withLegacyQuery re-encodes the query as node:querystring would.
func withLegacyQuery(s string) string {
	i := strings.IndexByte(s, '?')
	if i < 0 || i == len(s)-1 {
		return s
	}
	return s[:i+1] + legacyQueryString(parseLegacyQuery(s[i+1:]))
}

// twilioSplitURL splits "scheme://[user@]host[:port]rest" as the SDK's
// splitUrl does; ok is false without a scheme.
func twilioSplitURL(s string) (prefix, host, port, rest string, ok bool) {
	schemeEnd := strings.Index(s, "://")
	if schemeEnd <= 0 {
		return "", "", "", "", false
	}
	start := schemeEnd + 3
	end := len(s)
	if i := strings.IndexAny(s[start:], "/?#"); i >= 0 {
		end = start + i
	}
	authority := s[start:end]
	userEnd := strings.LastIndexByte(authority, '@') + 1
	hostPort := authority[userEnd:]
	portStart := -1
	bracket := strings.LastIndexByte(hostPort, ']') + 1
	if i := strings.IndexByte(hostPort[bracket:], ':'); i >= 0 {
		portStart = bracket + i
	}
	prefix = s[:start] + authority[:userEnd]
	if portStart < 0 {
		return prefix, hostPort, "", s[end:], true
	}
	return prefix, hostPort[:portStart], hostPort[portStart:], s[end:], true
}

func twilioAddPort(s string) string {
	prefix, host, port, rest, ok := twilioSplitURL(s)
	if !ok || port != "" {
		return s
	}
	port = ":80"
	if strings.HasPrefix(strings.ToLower(prefix), "https://") {
		port = ":443"
	}
	return prefix + host + port + rest
}

func twilioRemovePort(s string) string {
	prefix, host, _, rest, ok := twilioSplitURL(s)
	if !ok {
		return s
	}
	return prefix + host + rest
}
