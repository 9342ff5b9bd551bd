package agent

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// fakeProxies names each target's proxy by its URL, so a test sees which
// target a request went to and the path the app would get.
func fakeProxies(u *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{Rewrite: func(*httputil.ProxyRequest) {}, Transport: echoTransport{u.Host}}
}

type echoTransport struct{ host string }

func (e echoTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Target", e.host)
	rec.Header().Set("X-Path", r.URL.Path)
	if _, leaked := r.Header[tunnel.HeaderTarget]; leaked {
		rec.Header().Set("X-Leaked", "yes")
	}
	if _, leaked := r.Header[tunnel.HeaderTunnel]; leaked {
		rec.Header().Set("X-Leaked", "yes")
	}
	rec.WriteHeader(http.StatusOK)
	return rec.Result(), nil
}

func threeTargets(t *testing.T) *targetSet {
	t.Helper()
	s, err := compileTargets("8000", []TargetConfig{
		{Path: "/webhooks/github", Target: "8001"},
		{Path: "/webhooks/stripe", Target: "8002", StripPrefix: true},
		{Path: "/webhooks/", Target: "8003", AddPrefix: "/in/"},
		{Path: "/webhooks/stripe/connect", Target: "8004", StripPrefix: true, AddPrefix: "/connect"},
		{Name: "billing", Target: "8005"},
		{Name: "shop", Path: "/shop", Target: "8006"},
	}, fakeProxies)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLongestPrefixPicksTheTarget(t *testing.T) {
	t.Parallel()
	s := threeTargets(t)
	for _, tc := range []struct {
		name, path, target, appPath string
	}{
		{"exact prefix", "/webhooks/github", "127.0.0.1:8001", "/webhooks/github"},
		{"below the prefix", "/webhooks/github/push", "127.0.0.1:8001", "/webhooks/github/push"},
		{"not on a segment boundary", "/webhooks/githubx", "127.0.0.1:8003", "/in/webhooks/githubx"},
		{"stripped to the root", "/webhooks/stripe", "127.0.0.1:8002", "/"},
		{"stripped below", "/webhooks/stripe/events", "127.0.0.1:8002", "/events"},
		{"longer prefix wins", "/webhooks/stripe/connect/x", "127.0.0.1:8004", "/connect/x"},
		{"longer prefix exact", "/webhooks/stripe/connect", "127.0.0.1:8004", "/connect"},
		{"subtree prefix with add", "/webhooks/slack", "127.0.0.1:8003", "/in/webhooks/slack"},
		{"subtree prefix itself", "/webhooks/", "127.0.0.1:8003", "/in/webhooks/"},
		{"parent of a subtree prefix", "/webhooks", "127.0.0.1:8000", "/webhooks"},
		{"named target with a path", "/shop/order", "127.0.0.1:8006", "/shop/order"},
		{"nothing matches: default", "/other", "127.0.0.1:8000", "/other"},
		{"root: default", "/", "127.0.0.1:8000", "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := s.forPath(tc.path)
			if got == nil || got.url.Host != tc.target {
				t.Fatalf("forPath(%q) = %v, want %s", tc.path, got, tc.target)
			}
			if p := got.path(tc.path); p != tc.appPath {
				t.Errorf("the app sees %q, want %q", p, tc.appPath)
			}
		})
	}
}

func TestNoDefaultTargetAnswers502ForUnmatchedPaths(t *testing.T) {
	t.Parallel()
	s, err := compileTargets("", []TargetConfig{{Path: "/a", Target: "8001"}}, fakeProxies)
	if err != nil {
		t.Fatal(err)
	}
	if s.forPath("/b") != nil || s.forPath("/a/x") == nil {
		t.Fatal("without a default only the prefixes are served")
	}
	if s.first().url.Host != "127.0.0.1:8001" {
		t.Errorf("the tunnel name is keyed by %v", s.first())
	}
	rec := httptest.NewRecorder()
	(&router{targets: s, errorLog: func(string, ...any) {}}).ServeHTTP(rec, httptest.NewRequest("POST", "/b", nil))
	if rec.Code != http.StatusBadGateway || rec.Header().Get("Hooktunnel-Error") != codeNoTarget {
		t.Errorf("unmatched path: %d %q", rec.Code, rec.Header().Get("Hooktunnel-Error"))
	}
}

func TestRouterFollowsTheEdgesTargetName(t *testing.T) {
	t.Parallel()
	rt := &router{targets: threeTargets(t), errorLog: func(string, ...any) {}, edgeNames: true}
	for _, tc := range []struct {
		name, header, path string
		status             int
		target, code       string
	}{
		{"a name wins over the path", "billing", "/webhooks/github", 200, "127.0.0.1:8005", ""},
		{"a name with a path", "shop", "/elsewhere", 200, "127.0.0.1:8006", ""},
		{"no name: the path", "", "/webhooks/github/x", 200, "127.0.0.1:8001", ""},
		{"an unknown name is refused", "payroll", "/webhooks/github", 502, "", codeUnknownTarget},
		{"a name given only as a path is unknown", "webhooks", "/", 502, "", codeUnknownTarget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", tc.path, nil)
			if tc.header != "" {
				req.Header.Set(tunnel.HeaderTarget, tc.header)
			}
			rec := httptest.NewRecorder()
			rt.ServeHTTP(rec, req)
			if rec.Code != tc.status || rec.Header().Get("X-Target") != tc.target || rec.Header().Get("Hooktunnel-Error") != tc.code {
				t.Fatalf("got %d to %q (error %q), want %d to %q (error %q)", rec.Code, rec.Header().Get("X-Target"),
					rec.Header().Get("Hooktunnel-Error"), tc.status, tc.target, tc.code)
			}
			if rec.Header().Get("X-Leaked") != "" {
				t.Error("the app saw the Hooktunnel-Target header")
			}
			if tc.code != "" {
				var body struct{ Error, Message string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != tc.code || !strings.Contains(body.Message, "--target") {
					t.Errorf("refusal body %q", rec.Body.String())
				}
			}
		})
	}
}

func TestTargetConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		list  []TargetConfig
		field string
	}{
		{"neither name nor path", []TargetConfig{{Target: "8000"}}, "targets[0]"},
		{"bad name", []TargetConfig{{Name: "Billing!", Target: "8000"}}, "targets[0].name"},
		{"relative path", []TargetConfig{{Path: "hooks", Target: "8000"}}, "targets[0].path"},
		{"wildcard path", []TargetConfig{{Path: "/hooks/{id}", Target: "8000"}}, "targets[0].path"},
		{"dot segment", []TargetConfig{{Path: "/a/../b", Target: "8000"}}, "targets[0].path"},
		{"strip without a path", []TargetConfig{{Name: "a", StripPrefix: true, Target: "8000"}}, "targets[0].strip_prefix"},
		{"bad add_prefix", []TargetConfig{{Path: "/a", AddPrefix: "x", Target: "8000"}}, "targets[0].add_prefix"},
		{"bad target", []TargetConfig{{Path: "/a", Target: "ftp://x"}}, "targets[0].target"},
		{"port out of range", []TargetConfig{{Path: "/a", Target: "70000"}}, "targets[0].target"},
		{"name twice", []TargetConfig{{Name: "a", Target: "1"}, {Name: "a", Target: "2"}}, "targets[1].name"},
		{"path twice", []TargetConfig{{Path: "/a", Target: "1"}, {Path: "/a", Target: "2"}}, "targets[1].path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compileTargets("8000", tc.list, fakeProxies)
			if err == nil || !strings.HasPrefix(err.Error(), tc.field+": ") {
				t.Fatalf("err = %v, want one about %s", err, tc.field)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error on several lines: %q", err)
			}
		})
	}
}

func TestRoutePrefix(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/webhooks/github": "/webhooks/github",
		"/webhooks/":       "/webhooks/",
		"/hooks/{id}/x":    "/hooks/",
		"/hooks/{rest...}": "/hooks/",
		"/":                "/",
	} {
		if got := RoutePrefix(in); got != want {
			t.Errorf("RoutePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnknownTargetIsASentinel(t *testing.T) {
	t.Parallel()
	if _, err := threeTargets(t).forName("nope"); !errors.Is(err, ErrUnknownTarget) {
		t.Errorf("err = %v", err)
	}
}

// Behind an edge that does not set Hooktunnel-Target itself (an older
// one), the header is the sender's: it picks nothing and is removed.
func TestTargetHeaderIgnoredUnlessTheEdgeSetsIt(t *testing.T) {
	t.Parallel()
	rt := &router{targets: threeTargets(t), errorLog: func(string, ...any) {}}
	req := httptest.NewRequest("POST", "/webhooks/github", nil)
	req.Header.Set(tunnel.HeaderTarget, "billing")
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("X-Target") != "127.0.0.1:8001" || rec.Header().Get("X-Leaked") != "" {
		t.Errorf("got %d to %q, leaked %q; want the path's target and no header", rec.Code, rec.Header().Get("X-Target"), rec.Header().Get("X-Leaked"))
	}
}

// FuzzRouter feeds the router any path and target name from the edge: it
// never panics, the app never sees the header, and the path the app gets
// is absolute.
func FuzzRouter(f *testing.F) {
	for _, seed := range [][2]string{
		{"/webhooks/stripe", ""}, {"/webhooks/stripe/x", ""}, {"/webhooks/", ""}, {"/", "billing"},
		{"/webhooks/stripe/connect", "shop"}, {"/a", "nope\x00"}, {"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, path, name string) {
		s, err := compileTargets("8000", []TargetConfig{
			{Path: "/webhooks/stripe", Target: "8002", StripPrefix: true},
			{Path: "/webhooks/", Target: "8003", AddPrefix: "/in/"},
			{Name: "billing", Target: "8005"},
		}, fakeProxies)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("POST", "/", nil)
		req.URL.Path = path
		req.Header[tunnel.HeaderTarget] = []string{name}
		rec := httptest.NewRecorder()
		(&router{targets: s, errorLog: func(string, ...any) {}, edgeNames: true}).ServeHTTP(rec, req)
		if rec.Header().Get("X-Leaked") != "" {
			t.Fatal("the app saw the header")
		}
		if got := rec.Header().Get("X-Path"); rec.Code == 200 && path != "" && strings.HasPrefix(path, "/") && !strings.HasPrefix(got, "/") {
			t.Fatalf("path %q reached the app as %q", path, got)
		}
	})
}
