package policy

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Config is a tunnel's policy: the same YAML schema in the edge config
// (`tunnels.<name>`) and in an agent's --policy file.
type Config struct {
	Routes []RouteConfig `yaml:"routes" json:"routes"`
}

// RouteConfig is one entry of `routes:`.
type RouteConfig struct {
	// Path in net/http pattern syntax: exact, ending in "/" for a subtree,
	// {name} for one segment, {name...} for the rest.
	Path string `yaml:"path" json:"path"`
	// Methods allowed; default [POST]. "*" allows every method.
	Methods []string `yaml:"methods,omitempty" json:"methods,omitempty"`
}

// Route is a compiled route. It is immutable.
type Route struct {
	Index   int
	Path    string
	Methods []string // nil means any method
	pattern pattern
}

// allows reports whether the route accepts method.
func (r *Route) allows(method string) bool {
	if r.Methods == nil {
		return true
	}
	for _, m := range r.Methods {
		if m == method {
			return true
		}
	}
	return false
}

// Policy is a compiled Config: what the hot path reads. It is immutable and
// safe for concurrent use; reloading builds a new one.
type Policy struct {
	routes []*Route // most specific first
}

// Compile validates c once and returns its compiled form. Errors are
// FieldErrors naming the field ("routes[2].methods[0]").
func (c Config) Compile() (*Policy, error) {
	p := &Policy{}
	for i, rc := range c.Routes {
		r, err := rc.compile(i)
		if err != nil {
			return nil, AtField(fmt.Sprintf("routes[%d]", i), err)
		}
		p.routes = append(p.routes, r)
	}
	sort.SliceStable(p.routes, func(i, j int) bool {
		return p.routes[i].pattern.specificity() > p.routes[j].pattern.specificity()
	})
	return p, nil
}

func (rc RouteConfig) compile(index int) (*Route, error) {
	if rc.Path == "" {
		return nil, fieldf("path", "is required")
	}
	pat, err := parsePattern(rc.Path)
	if err != nil {
		return nil, AtField("path", err)
	}
	r := &Route{Index: index, Path: rc.Path, pattern: pat}
	methods := rc.Methods
	if len(methods) == 0 {
		methods = []string{http.MethodPost}
	}
	for i, m := range methods {
		if m == "*" {
			r.Methods = nil
			break
		}
		if !validMethod(m) {
			return nil, fieldf(fmt.Sprintf("methods[%d]", i), "%q is not an HTTP method", m)
		}
		r.Methods = append(r.Methods, strings.ToUpper(m))
	}
	return r, nil
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, r := range m {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

// Routes returns the compiled routes in the order they were configured.
func (p *Policy) Routes() []*Route {
	out := append([]*Route(nil), p.routes...)
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

// Match finds the route for a request. A path no route covers is
// ErrNoRoute; a path some route covers for other methods is
// ErrMethodNotAllowed, with those methods in allow; a path that is not
// canonical is ErrBadPath. A policy with no routes matches nothing.
func (p *Policy) Match(method, path string) (r *Route, allow []string, err error) {
	if !canonicalPath(path) {
		return nil, nil, refuse(ErrBadPath, "path "+quoteShort(path)+" is not canonical (empty, . or .. segments)")
	}
	seen := map[string]bool{}
	for _, r := range p.routes {
		if !r.pattern.match(path) {
			continue
		}
		if r.allows(method) {
			return r, nil, nil
		}
		for _, m := range r.Methods {
			if !seen[m] {
				seen[m] = true
				allow = append(allow, m)
			}
		}
	}
	if len(allow) > 0 {
		sort.Strings(allow)
		return nil, allow, refuse(ErrMethodNotAllowed, "method "+quoteShort(method)+" is not allowed here; allowed: "+strings.Join(allow, ", "))
	}
	return nil, nil, refuse(ErrNoRoute, "no route of this tunnel matches "+quoteShort(path))
}

// quoteShort quotes untrusted input for an error message, cut to a length
// that keeps refusals short.
func quoteShort(s string) string {
	const max = 128
	if len(s) > max {
		s = s[:max] + "…"
	}
	return fmt.Sprintf("%q", s)
}
