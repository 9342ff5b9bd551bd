package policy

import (
	"errors"
	"path"
	"slices"
	"strings"
	"testing"
)

func TestRouteMatch(t *testing.T) {
	t.Parallel()
	p, err := Config{Routes: []RouteConfig{
		{Path: "/webhooks/github"},
		{Path: "/webhooks/github", Methods: []string{"put"}},
		{Path: "/stripe/", Methods: []string{"POST", "GET"}},
		{Path: "/t/{team}/events"},
		{Path: "/files/{rest...}", Methods: []string{"*"}},
	}}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path string
		wantIndex          int
		wantErr            error
		wantAllow          []string
	}{
		{name: "exact", method: "POST", path: "/webhooks/github", wantIndex: 0},
		{name: "exact with other listed method", method: "PUT", path: "/webhooks/github", wantIndex: 1},
		{name: "exact with unlisted method", method: "GET", path: "/webhooks/github", wantErr: ErrMethodNotAllowed, wantAllow: []string{"POST", "PUT"}},
		{name: "exact does not match trailing slash", method: "POST", path: "/webhooks/github/", wantErr: ErrNoRoute},
		{name: "exact does not match child", method: "POST", path: "/webhooks/github/x", wantErr: ErrNoRoute},
		{name: "prefix of exact", method: "POST", path: "/webhooks", wantErr: ErrNoRoute},
		{name: "subtree root", method: "POST", path: "/stripe/", wantIndex: 2},
		{name: "subtree child", method: "GET", path: "/stripe/a/b", wantIndex: 2},
		{name: "subtree without slash", method: "POST", path: "/stripe", wantErr: ErrNoRoute},
		{name: "wildcard segment", method: "POST", path: "/t/acme/events", wantIndex: 3},
		{name: "wildcard needs a segment", method: "POST", path: "/t//events", wantErr: ErrBadPath},
		{name: "wildcard one segment only", method: "POST", path: "/t/a/b/events", wantErr: ErrNoRoute},
		{name: "rest wildcard any method", method: "DELETE", path: "/files/a/b", wantIndex: 4},
		{name: "rest wildcard empty", method: "GET", path: "/files/", wantIndex: 4},
		{name: "dot dot refused", method: "POST", path: "/stripe/../admin", wantErr: ErrBadPath},
		{name: "dot refused", method: "POST", path: "/stripe/./x", wantErr: ErrBadPath},
		{name: "relative refused", method: "POST", path: "stripe/x", wantErr: ErrBadPath},
		{name: "dot dot with a path parameter refused", method: "POST", path: "/stripe/..;/admin", wantErr: ErrBadPath},
		{name: "dot dot with a named path parameter refused", method: "POST", path: "/stripe/..;jsessionid=1/admin", wantErr: ErrBadPath},
		{name: "dot with a path parameter refused", method: "POST", path: "/stripe/.;x/a", wantErr: ErrBadPath},
		{name: "empty segment with a path parameter refused", method: "POST", path: "/stripe/;x/a", wantErr: ErrBadPath},
		{name: "trailing dot dot with a path parameter refused", method: "POST", path: "/stripe/a/..;", wantErr: ErrBadPath},
		{name: "backslash refused", method: "POST", path: `/stripe/..\admin`, wantErr: ErrBadPath},
		{name: "backslash alone refused", method: "POST", path: `/stripe/a\b`, wantErr: ErrBadPath},
		{name: "NUL refused", method: "POST", path: "/stripe/a\x00", wantErr: ErrBadPath},
		{name: "DEL refused", method: "POST", path: "/stripe/a\x7f", wantErr: ErrBadPath},
		{name: "overlong UTF-8 dot refused", method: "POST", path: "/stripe/\xc0\xae\xc0\xae/admin", wantErr: ErrBadPath},
		{name: "path parameter on a name matches", method: "POST", path: "/stripe/a;v=1", wantIndex: 2},
		{name: "dots inside a name match", method: "POST", path: "/stripe/..a/b..", wantIndex: 2},
		{name: "UTF-8 matches", method: "POST", path: "/stripe/caf\u00e9", wantIndex: 2},
		{name: "root unmatched", method: "POST", path: "/", wantErr: ErrNoRoute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, allow, err := p.Match(tc.method, tc.path)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Match(%s %s) error = %v, want %v", tc.method, tc.path, err, tc.wantErr)
				}
				if !slices.Equal(allow, tc.wantAllow) {
					t.Errorf("allow = %v, want %v", allow, tc.wantAllow)
				}
				return
			}
			if err != nil {
				t.Fatalf("Match(%s %s): %v", tc.method, tc.path, err)
			}
			if r.Index != tc.wantIndex {
				t.Errorf("Match(%s %s) = route %d (%s), want %d", tc.method, tc.path, r.Index, r.Path, tc.wantIndex)
			}
		})
	}
}

func TestMostSpecificRouteWins(t *testing.T) {
	t.Parallel()
	p, err := Config{Routes: []RouteConfig{
		{Path: "/", Methods: []string{"*"}},
		{Path: "/hooks/{id}"},
		{Path: "/hooks/github"},
	}}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/hooks/github": 2, "/hooks/x": 1, "/other": 0, "/": 0} {
		r, _, err := p.Match("POST", path)
		if err != nil || r.Index != want {
			t.Errorf("Match(%s) = %v, %v; want route %d", path, r, err, want)
		}
	}
}

func TestNoRoutesDeniesAll(t *testing.T) {
	t.Parallel()
	p, err := Config{}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Match("POST", "/"); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("empty policy matched: %v", err)
	}
}

func TestRouteConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		route     RouteConfig
		wantField string
	}{
		{"missing path", RouteConfig{}, "routes[0].path"},
		{"relative path", RouteConfig{Path: "hooks"}, "routes[0].path"},
		{"empty segment", RouteConfig{Path: "/a//b"}, "routes[0].path"},
		{"dot dot", RouteConfig{Path: "/a/../b"}, "routes[0].path"},
		{"dot dot with a path parameter", RouteConfig{Path: "/a/..;/b"}, "routes[0].path"},
		{"backslash", RouteConfig{Path: `/a\b`}, "routes[0].path"},
		{"partial wildcard", RouteConfig{Path: "/a/x{id}"}, "routes[0].path"},
		{"rest not last", RouteConfig{Path: "/a/{r...}/b"}, "routes[0].path"},
		{"bad method", RouteConfig{Path: "/a", Methods: []string{"POST", "GE T"}}, "routes[0].methods[1]"},
		{"target with upper case", RouteConfig{Path: "/a", Target: "Billing"}, "routes[0].target"},
		{"target with a newline", RouteConfig{Path: "/a", Target: "billing\nX-Evil: 1"}, "routes[0].target"},
		{"target too long", RouteConfig{Path: "/a", Target: strings.Repeat("a", 64)}, "routes[0].target"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Config{Routes: []RouteConfig{tc.route}}.Compile()
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Compile error = %v, want a FieldError", err)
			}
			if fe.Field != tc.wantField {
				t.Errorf("field = %q, want %q (%v)", fe.Field, tc.wantField, err)
			}
		})
	}
}

func FuzzRouteMatch(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/a/{x}/c", "/a/", "/a/{r...}"} {
		f.Add(s, "/a/b/c")
	}
	for _, req := range []string{"/a/..;/b", "/a/.;x/b", "/a/;x/b", `/a/..\b`, "/a/b;v=1", "/a/\xc0\xae/b", "/a/b\x00"} {
		f.Add("/a/", req)
	}
	f.Fuzz(func(t *testing.T, routePath, reqPath string) {
		p, err := Config{Routes: []RouteConfig{{Path: routePath, Methods: []string{"*"}}}}.Compile()
		if err != nil {
			return
		}
		r, _, err := p.Match("POST", reqPath)
		if err == nil && !canonicalPath(reqPath) {
			t.Fatalf("non-canonical path %q matched %q", reqPath, routePath)
		}
		if err == nil && r.Path != routePath {
			t.Fatalf("matched wrong route")
		}
		// What a lenient app server makes of a matched path stays within
		// the route (for routes that do not spell out ";" themselves).
		if err == nil && !strings.Contains(routePath, ";") {
			if _, _, err := p.Match("POST", appView(reqPath)); err != nil {
				t.Fatalf("%q matched %q, but an app reads it as %q, outside the route: %v", reqPath, routePath, appView(reqPath), err)
			}
		}
		// A literal route matches its own path.
		if canonicalPath(routePath) && !containsBrace(routePath) {
			if _, _, err := p.Match("POST", routePath); err != nil {
				t.Fatalf("route %q does not match its own path: %v", routePath, err)
			}
		}
	})
}

// appView is the path a lenient app server makes of p: ";" parameters
// dropped from every segment (Tomcat, Spring), `\` read as "/" (IIS),
// then dot segments resolved.
func appView(p string) string {
	segs := strings.Split(strings.ReplaceAll(p, `\`, "/"), "/")
	for i, s := range segs {
		segs[i], _, _ = strings.Cut(s, ";")
	}
	joined := strings.Join(segs, "/")
	clean := path.Clean(joined)
	if strings.HasSuffix(joined, "/") && clean != "/" {
		clean += "/"
	}
	return clean
}

func containsBrace(s string) bool {
	for _, c := range s {
		if c == '{' || c == '}' {
			return true
		}
	}
	return false
}
