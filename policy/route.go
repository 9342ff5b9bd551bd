package policy

import (
	"fmt"
	"strings"
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
		case seg == "":
			return pattern{}, fmt.Errorf("%q has an empty segment", p)
		case seg == "." || seg == "..":
			return pattern{}, fmt.Errorf("%q has a %q segment", p, seg)
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

// canonicalPath reports whether a request path is in the form an app would
// see after cleaning it: absolute, no empty, "." or ".." segments. Matching
// anything else could let "/hooks/../admin" through a "/hooks/" route.
func canonicalPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	rest := p[1:]
	for rest != "" {
		seg, after, found := strings.Cut(rest, "/")
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		if !found {
			break
		}
		rest = after
	}
	return true
}
