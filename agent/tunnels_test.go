package agent

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// twoTunnels is an agent config serving github on 8001 and stripe on
// 8002 (and its billing target on 8003) over one session.
func twoTunnels() Config {
	cfg := DefaultConfig()
	cfg.Edge, cfg.Token = "https://hooks.example.com", "tok"
	cfg.Tunnels = []TunnelConfig{
		{Name: "github", Target: "8001", Policy: policy.Config{Routes: []policy.RouteConfig{{Path: "/hooks/github"}}}},
		{Name: "stripe", Target: "8002", Targets: []TargetConfig{{Name: "billing", Target: "8003"}}},
	}
	return cfg
}

func TestSeveralTunnelsHello(t *testing.T) {
	t.Parallel()
	tunnels, hello, err := compileTunnels(twoTunnels(), fakeProxies)
	if err != nil {
		t.Fatal(err)
	}
	if len(tunnels) != 2 || len(hello.Tunnels) != 2 {
		t.Fatalf("%d tunnels, hello with %d, want 2", len(tunnels), len(hello.Tunnels))
	}
	// The first one's, for an edge that predates tunnels.
	if hello.Name != "github" || hello.Target != "http://127.0.0.1:8001" || len(hello.Routes) == 0 {
		t.Fatalf("single-tunnel fields %+v, want github's", hello)
	}
	st := hello.Tunnels[1]
	if st.Name != "stripe" || st.Target != "http://127.0.0.1:8002" || len(st.Routes) != 0 || len(st.Targets) != 2 || st.Targets[1].Name != "billing" {
		t.Fatalf("stripe's hello %+v", st)
	}
	// What the agent sends, the edge takes.
	b, _ := json.Marshal(hello)
	if _, err := tunnel.DecodeHello(append(b[:len(b)-1], []byte(`,"protocol":1}`)...)); err != nil {
		t.Fatalf("the edge would refuse the hello: %v", err)
	}
}

func TestSeveralTunnelsConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"with --name", func(c *Config) { c.Name = "x" }, ErrTunnelsAndSingle.Error()},
		{"with a positional target", func(c *Config) { c.Target = "9000" }, ErrTunnelsAndSingle.Error()},
		{"no name", func(c *Config) { c.Tunnels[1].Name = "" }, "tunnels[1].name: give each tunnel a name"},
		{"a name twice", func(c *Config) { c.Tunnels[1].Name = "github" }, `tunnels[1].name: "github" is given twice`},
		{"no target", func(c *Config) { c.Tunnels[0].Target = "" }, "tunnels[0].target: is missing: give the tunnel's local app"},
		{"a bad route", func(c *Config) { c.Tunnels[0].Policy.Routes[0].Path = "nope" }, "tunnels[0].routes[0]"},
		{"a bad target", func(c *Config) { c.Tunnels[1].Targets[0].Name = "Bad" }, "tunnels[1].targets[0].name"},
		{"too many", func(c *Config) {
			for i := 0; i < tunnel.MaxTunnels; i++ {
				c.Tunnels = append(c.Tunnels, TunnelConfig{Name: "t" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Target: "8000"})
			}
		}, "at most 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := twoTunnels()
			tc.change(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

func TestTunnelRouterPicksTheTunnelsTargets(t *testing.T) {
	t.Parallel()
	a, err := New(twoTunnels())
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range a.tunnels {
		tn.targets = mustTargets(t, tn.targets)
	}
	several := tunnel.Welcome{SetsTarget: true, Tunnels: []tunnel.TunnelWelcome{{Tunnel: "github"}, {Tunnel: "stripe"}}}
	older := tunnel.Welcome{SetsTarget: true, Tunnel: "github"}
	for _, tc := range []struct {
		name           string
		welcome        tunnel.Welcome
		tunnel, target string
		status         int
		app            string // the app's host, "" when none answers
	}{
		{"github", several, "github", "", 200, "127.0.0.1:8001"},
		{"stripe", several, "stripe", "", 200, "127.0.0.1:8002"},
		{"stripe's named target", several, "stripe", "billing", 200, "127.0.0.1:8003"},
		{"a name of another tunnel's target", several, "github", "billing", 502, ""},
		{"an unknown tunnel", several, "other", "", 502, ""},
		{"no tunnel named", several, "", "", 502, ""},
		{"an older edge: the sender's header is ignored", older, "stripe", "", 200, "127.0.0.1:8001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "http://x/hooks/github", nil)
			if tc.tunnel != "" {
				r.Header.Set(tunnel.HeaderTunnel, tc.tunnel)
			}
			if tc.target != "" {
				r.Header.Set(tunnel.HeaderTarget, tc.target)
			}
			w := httptest.NewRecorder()
			a.handler(tc.welcome).ServeHTTP(w, r)
			if w.Code != tc.status || w.Header().Get("X-Target") != tc.app {
				t.Fatalf("status %d at %q, want %d at %q (%s)", w.Code, w.Header().Get("X-Target"), tc.status, tc.app, w.Body)
			}
			if w.Header().Get("X-Leaked") != "" {
				t.Fatal("the app got the edge's header")
			}
		})
	}
}

// mustTargets rebuilds a target set with the fake proxies.
func mustTargets(t testing.TB, s *targetSet) *targetSet {
	t.Helper()
	var list []TargetConfig
	def := ""
	for _, lt := range s.all {
		if lt == s.def {
			def = lt.url.Host
			continue
		}
		list = append(list, TargetConfig{Name: lt.name, Path: lt.prefix, Target: lt.url.Host})
	}
	out, err := compileTargets(def, list, fakeProxies)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOlderEdgeIsSaid(t *testing.T) {
	t.Parallel()
	_, hello, err := compileTunnels(twoTunnels(), fakeProxies)
	if err != nil {
		t.Fatal(err)
	}
	line := olderEdge(hello, tunnel.Welcome{Tunnel: "github"})
	if !strings.Contains(line, "only github is online; stripe are not") {
		t.Fatalf("said %q", line)
	}
	if line := olderEdge(hello, tunnel.Welcome{Tunnels: []tunnel.TunnelWelcome{{Tunnel: "github"}, {Tunnel: "stripe"}}}); line != "" {
		t.Fatalf("said %q to an edge that serves both", line)
	}
}

func TestFileTunnels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml, want string // want "" to accept
	}{
		{"two tunnels", `
tunnels:
  - name: github
    target: 8001
    routes: [{path: /hooks/github}]
  - name: stripe
    targets: [{path: /hooks/stripe, target: 8002}]
    routes: [{path: /hooks/stripe}]
`, ""},
		{"routes beside tunnels", `
routes: [{path: /x}]
tunnels: [{name: a, target: 8000}]
`, "tunnels: routes: and targets: go inside each tunnel"},
		{"a route error names its tunnel", `
tunnels:
  - {name: a, target: 8000}
  - {name: b, target: 8000, routes: [{path: nope}]}
`, "tunnels[1].routes[0]"},
		{"an unknown field", `
tunnels: [{name: a, target: 8000, tagret: 1}]
`, "tagret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "agent.yaml")
			if err := os.WriteFile(file, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := LoadFile(file)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(c.Tunnels) != 2 || c.Tunnels[1].Policy.Routes[0].Path != "/hooks/stripe" {
					t.Fatalf("read %+v", c.Tunnels)
				}
				return
			}
			var ce *policy.ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a config error with %q", err, tc.want)
			}
		})
	}
}

// FuzzTunnelRouter: whatever tunnel and target names the edge's headers
// carry, no header reaches the app, and a request reaches an app only for
// a tunnel the agent serves, and then that tunnel's.
func FuzzTunnelRouter(f *testing.F) {
	for _, seed := range [][3]string{
		{"github", "", "/hooks/github"}, {"stripe", "billing", "/"}, {"other", "", "/"},
		{"", "", "/"}, {"GITHUB", "", "/"}, {"stripe\x00", "", "/"}, {"github", "billing", "/x"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	a, err := New(twoTunnels())
	if err != nil {
		f.Fatal(err)
	}
	apps := map[string][]string{}
	for _, tn := range a.tunnels {
		tn.targets = mustTargets(f, tn.targets)
		for _, lt := range tn.targets.all {
			apps[tn.name] = append(apps[tn.name], lt.url.Host)
		}
	}
	h := a.handler(tunnel.Welcome{SetsTarget: true, Tunnels: []tunnel.TunnelWelcome{{Tunnel: "github"}, {Tunnel: "stripe"}}})
	f.Fuzz(func(t *testing.T, tunnelName, target, path string) {
		req := httptest.NewRequest("POST", "/", nil)
		req.URL.Path = path
		req.Header[tunnel.HeaderTunnel] = []string{tunnelName, "github"}
		req.Header[tunnel.HeaderTarget] = []string{target}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Header().Get("X-Leaked") != "" {
			t.Fatal("the app saw an edge header")
		}
		if rec.Code != 200 {
			return
		}
		if !slices.Contains(apps[tunnelName], rec.Header().Get("X-Target")) {
			t.Fatalf("tunnel %q reached %s", tunnelName, rec.Header().Get("X-Target"))
		}
	})
}
