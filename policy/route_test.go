package policy

import (
	"errors"
	"slices"
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
		{"partial wildcard", RouteConfig{Path: "/a/x{id}"}, "routes[0].path"},
		{"rest not last", RouteConfig{Path: "/a/{r...}/b"}, "routes[0].path"},
		{"bad method", RouteConfig{Path: "/a", Methods: []string{"POST", "GE T"}}, "routes[0].methods[1]"},
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
		// A literal route matches its own path.
		if canonicalPath(routePath) && !containsBrace(routePath) {
			if _, _, err := p.Match("POST", routePath); err != nil {
				t.Fatalf("route %q does not match its own path: %v", routePath, err)
			}
		}
	})
}

func containsBrace(s string) bool {
	for _, c := range s {
		if c == '{' || c == '}' {
			return true
		}
	}
	return false
}
