package policy

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// pattern is a compiled route path: literal segments, {name} wildcards that
// match one segment, and an open end (a trailing "/" or a final {name...})
// that matches the whole subtree below.
type pattern struct {
	segments []string // "" marks a wildcard
	subtree  bool
}

// parsePattern compiles a route path in the syntax of net/http patterns
// (without method or host).
func parsePattern(p string) (pattern, error) {
	if !strings.HasPrefix(p, "/") {
		return pattern{}, fmt.Errorf("%q must start with /", p)
	}
	var pat pattern
	rest := p[1:]
	if rest == "" {
		return pattern{subtree: true}, nil
	}
	if strings.HasSuffix(rest, "/") {
		pat.subtree = true
		rest = rest[:len(rest)-1]
	}
	for i, seg := range strings.Split(rest, "/") {
		last := i == strings.Count(rest, "/")
		switch {
		case badSegment(seg) != "":
			return pattern{}, fmt.Errorf("%q has %s, which no request may have", p, badSegment(seg))
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
			name := seg[1 : len(seg)-1]
			if strings.HasSuffix(name, "...") {
				if !last || pat.subtree {
					return pattern{}, fmt.Errorf("%q: {%s} must be the last segment", p, name)
				}
				name = strings.TrimSuffix(name, "...")
				pat.subtree = true
				if !validWildcard(name) {
					return pattern{}, fmt.Errorf("%q: bad wildcard name %q", p, name)
				}
				continue
			}
			if !validWildcard(name) {
				return pattern{}, fmt.Errorf("%q: bad wildcard name %q", p, name)
			}
			pat.segments = append(pat.segments, "")
		case strings.ContainsAny(seg, "{}"):
			return pattern{}, fmt.Errorf("%q: a wildcard must be a whole segment", p)
		default:
			pat.segments = append(pat.segments, seg)
		}
	}
	return pat, nil
}

func validWildcard(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// match reports whether a canonical path matches the pattern.
func (pat pattern) match(path string) bool {
	rest := strings.TrimPrefix(path, "/")
	trailingSlash := rest == "" || strings.HasSuffix(rest, "/")
	rest = strings.TrimSuffix(rest, "/")
	n := 0 // segments of path seen
	for rest != "" {
		seg, after, _ := strings.Cut(rest, "/")
		if n < len(pat.segments) {
			if want := pat.segments[n]; want != "" && seg != want {
				return false
			}
		} else if !pat.subtree {
			return false
		}
		n++
		rest = after
	}
	switch {
	case n < len(pat.segments):
		return false
	case n > len(pat.segments):
		return pat.subtree
	case pat.subtree:
		return trailingSlash // "/a/" matches "/a/", "/a" does not
	default:
		return !trailingSlash
	}
}

// specificity orders patterns when several match: more literal segments
// first, then more segments, then exact before subtree.
func (pat pattern) specificity() int {
	literals := 0
	for _, s := range pat.segments {
		if s != "" {
			literals++
		}
	}
	score := literals*1000 + len(pat.segments)*10
	if !pat.subtree {
		score++
	}
	return score
}

// canonicalPath reports whether a request path (decoded) is in the form
// an app would see after cleaning it, and that no common server reads as
// another path. Matching anything else could let "/hooks/../admin" or
// "/hooks/..;/admin" through a "/hooks/" route.
func canonicalPath(p string) bool { return pathProblem(p) == "" }

// pathProblem says why a request path is not canonical, or "": it must be
// absolute and every segment pass badSegment.
func pathProblem(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "no leading /"
	}
	rest := p[1:]
	for rest != "" {
		seg, after, found := strings.Cut(rest, "/")
		if why := badSegment(seg); why != "" {
			return why
		}
		if !found {
			break
		}
		rest = after
	}
	return ""
}

// badSegment says what makes a path segment (decoded) unsafe to route on,
// or "" when nothing does:
//   - empty, "." or "..";
//   - the same followed by ";" parameters ("..;x"): Tomcat and Spring drop
//     them, so "/hooks/..;/admin" is "/admin" to the app;
//   - a backslash, raw or sent as %5c: Windows servers and some frameworks
//     read it as "/";
//   - control characters (NUL ends the path for C code) and bytes that
//     are not UTF-8 (old decoders read the overlong "%c0%ae" as ".").
func badSegment(seg string) string {
	switch name, _, _ := strings.Cut(seg, ";"); {
	case name == "" || name == "." || name == "..":
		if name != seg {
			return "path parameters on an empty, . or .. segment"
		}
		return "an empty, . or .. segment"
	case strings.ContainsRune(seg, '\\'):
		return "a backslash"
	case strings.ContainsFunc(seg, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "a control character"
	case !utf8.ValidString(seg):
		return "bytes that are not UTF-8"
	}
	return ""
}

// equal reports whether two patterns match the same paths.
func (pat pattern) equal(o pattern) bool {
	return pat.subtree == o.subtree && slices.Equal(pat.segments, o.segments)
}
