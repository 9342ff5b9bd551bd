package agent

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"

	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// TargetConfig is one more local app the agent serves besides its
// default target: the requests under a path prefix, or those the edge
// config's routes send to it by name (`target: billing`). It is one entry
// of `targets:` in the agent's --policy file, of --route PATH=TARGET, or
// of --target NAME=ADDR.
type TargetConfig struct {
	// Name is what an edge route's `target:` calls it; "" for none.
	Name string `yaml:"name,omitempty"`
	// Path is the path prefix it serves ("/webhooks/github" serves that
	// path and everything below it); "" for none. The longest prefix that
	// matches a request wins.
	Path string `yaml:"path,omitempty"`
	// Target is the app's PORT, HOST:PORT or URL, as the agent's
	// positional argument.
	Target string `yaml:"target"`
	// StripPrefix removes Path from the request's path before the app
	// sees it (/webhooks/stripe/x reaches the app as /x).
	StripPrefix bool `yaml:"strip_prefix,omitempty"`
	// AddPrefix is put before the path the app sees (after StripPrefix).
	AddPrefix string `yaml:"add_prefix,omitempty"`
}

// ErrUnknownTarget is a request the edge sent to a target name the agent
// does not map to an address.
var ErrUnknownTarget = errors.New("agent: no target of that name")

// localTarget is a compiled target with its own reverse proxy.
type localTarget struct {
	name   string
	prefix string // "" when it serves no path prefix
	url    *url.URL
	strip  bool
	add    string
	proxy  *httputil.ReverseProxy
}

// String is how the agent shows the target: its address, and what
// routes to it.
func (t *localTarget) String() string {
	switch {
	case t.name != "" && t.prefix != "":
		return t.url.String() + " (" + t.name + ", " + t.prefix + ")"
	case t.name != "":
		return t.url.String() + " (" + t.name + ")"
	case t.prefix != "":
		return t.url.String() + " (" + t.prefix + ")"
	}
	return t.url.String()
}

// info describes the target to the edge: the address, and what the
// agent does to the path.
func (t *localTarget) info() tunnel.TargetInfo {
	local := t.url.String()
	switch {
	case t.strip && t.add != "":
		local += " (strips " + t.prefix + ", adds " + t.add + ")"
	case t.strip:
		local += " (strips " + t.prefix + ")"
	case t.add != "":
		local += " (adds " + t.add + ")"
	}
	return tunnel.TargetInfo{Name: t.name, Path: t.prefix, Local: local}
}

// path is the path the app sees for a request path the target matched.
// A path the edge sent to the target by name may be outside its prefix:
// there is nothing to strip then.
func (t *localTarget) path(p string) string {
	if t.strip && tunnel.PathUnder(t.prefix, p) {
		p = p[len(strings.TrimSuffix(t.prefix, "/")):]
	}
	p = t.add + p
	if p == "" {
		return "/"
	}
	return p
}

// targetSet is every local target of an agent, compiled once.
type targetSet struct {
	def      *localTarget // the positional target; nil when there is none
	byName   map[string]*localTarget
	byPrefix []*localTarget // longest prefix first
	all      []*localTarget // in the order given, the default first
}

// proxyMaker builds the reverse proxy of one target.
type proxyMaker func(target *url.URL) *httputil.ReverseProxy

// compileTargets checks the default target (may be "" when there are
// others) and the list, and builds a proxy for each. Errors name the
// entry's field ("targets[1].path").
func compileTargets(def string, list []TargetConfig, mk proxyMaker) (*targetSet, error) {
	s := &targetSet{byName: map[string]*localTarget{}}
	if def != "" || len(list) == 0 {
		u, err := ParseTarget(def)
		if err != nil {
			return nil, err
		}
		s.def = &localTarget{url: u, proxy: mk(u)}
		s.all = append(s.all, s.def)
	}
	prefixes := map[string]bool{}
	for i, tc := range list {
		field := fmt.Sprintf("targets[%d]", i)
		t, err := compileTarget(tc)
		if err != nil {
			return nil, policy.AtField(field, err)
		}
		if t.name != "" {
			if s.byName[t.name] != nil {
				return nil, policy.AtField(field+".name", fmt.Errorf("%q is given twice", t.name))
			}
			s.byName[t.name] = t
		}
		if t.prefix != "" {
			if prefixes[t.prefix] {
				return nil, policy.AtField(field+".path", fmt.Errorf("%q is given twice", t.prefix))
			}
			prefixes[t.prefix] = true
			s.byPrefix = append(s.byPrefix, t)
		}
		t.proxy = mk(t.url)
		s.all = append(s.all, t)
	}
	sort.SliceStable(s.byPrefix, func(i, j int) bool { return len(s.byPrefix[i].prefix) > len(s.byPrefix[j].prefix) })
	return s, nil
}

func compileTarget(tc TargetConfig) (*localTarget, error) {
	if tc.Name == "" && tc.Path == "" {
		return nil, errors.New("give a name, a path or both: what does this target serve?")
	}
	if tc.Name != "" && !policy.ValidTargetName(tc.Name) {
		return nil, policy.AtField("name", fmt.Errorf("%q is not a target name (lowercase letters, digits, '-' and '_', at most 63)", tc.Name))
	}
	t := &localTarget{name: tc.Name, strip: tc.StripPrefix}
	if tc.Path != "" {
		if err := checkPrefix(tc.Path); err != nil {
			return nil, policy.AtField("path", err)
		}
		t.prefix = tc.Path
	} else if tc.StripPrefix {
		return nil, policy.AtField("strip_prefix", errors.New("needs a path to strip"))
	}
	if tc.AddPrefix != "" {
		if err := checkPrefix(tc.AddPrefix); err != nil {
			return nil, policy.AtField("add_prefix", err)
		}
		t.add = strings.TrimSuffix(tc.AddPrefix, "/")
	}
	u, err := ParseTarget(tc.Target)
	if err != nil {
		return nil, policy.AtField("target", err)
	}
	t.url = u
	return t, nil
}

// checkPrefix accepts an absolute, literal path: no wildcard, query or
// dot segment.
func checkPrefix(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("%q must start with /", p)
	case strings.ContainsAny(p, "{}?#%\\ "):
		return fmt.Errorf("%q must be a literal path prefix (no wildcard, query, escape or space)", p)
	case strings.Contains(p, "//"):
		return fmt.Errorf("%q has an empty segment", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("%q has a dot segment", p)
		}
	}
	return nil
}

// RoutePrefix is the literal path prefix of a route pattern: the part
// before its first wildcard ("/hooks/{id}/x" → "/hooks/"), the whole path
// when it has none.
func RoutePrefix(pattern string) string {
	if i := strings.Index(pattern, "{"); i >= 0 {
		return pattern[:i]
	}
	return pattern
}

// forPath is the target of the longest prefix that matches path, else the
// default (nil when there is none).
func (s *targetSet) forPath(path string) *localTarget {
	for _, t := range s.byPrefix {
		if tunnel.PathUnder(t.prefix, path) {
			return t
		}
	}
	return s.def
}

// forName is the target the edge named.
func (s *targetSet) forName(name string) (*localTarget, error) {
	if t := s.byName[name]; t != nil {
		return t, nil
	}
	return nil, ErrUnknownTarget
}

// first is the target that keys the tunnel name the edge allocates: the
// default, else the first one given.
func (s *targetSet) first() *localTarget { return s.all[0] }

// proxySettings are what every target's proxy shares.
type proxySettings struct {
	hostHeader string
	tls        *tls.Config
	errorLog   func(msg string, args ...any)
}

// maker builds every target's proxy on one transport.
func (p proxySettings) maker() proxyMaker {
	transport := newTransport(p.tls)
	return func(u *url.URL) *httputil.ReverseProxy { return newProxy(u, p.hostHeader, transport, p.errorLog) }
}
