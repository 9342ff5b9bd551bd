package test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// sendTo posts to a tunnel's path with a test id; it returns the answer's
// status, the app's echo (when an app answered) and the agent's error code.
func sendTo(t *testing.T, c *http.Client, url, id string) (int, appEcho, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"id":"`+id+`"}`))
	req.Header.Set("X-Test-Id", id)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	var echo appEcho
	if resp.StatusCode == http.StatusOK {
		echo = decodeEcho(t, resp)
	} else {
		resp.Body.Close()
	}
	return resp.StatusCode, echo, resp.Header.Get("Hooktunnel-Error")
}

// One agent serves three local targets: the default app, a second app
// under a path prefix it strips, and a third where nothing listens. Each
// route reaches its own app; the dead one answers 502 for its routes only.
func TestOneAgentSeveralTargets(t *testing.T) {
	t.Parallel()
	tok := newToken("multi", true, "multi")
	main, stripe := startApp(t), startApp(t)
	down := "127.0.0.1:" + freePort(t)
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	pol := writeFile(t, "agent.yaml", `
routes:
  - path: /github
  - path: /stripe/
targets:
  - path: /stripe
    target: `+stripe.addr+`
    strip_prefix: true
`)
	a := startAgent(t, e, tok, main.port(), "--name", "multi", "--policy", pol, "--route", "/down/=http://"+down)
	c := e.client(10 * time.Second)

	status, echo, _ := sendTo(t, c, e.hookURL("multi", "/github"), "gh")
	if status != 200 || echo.Path != "/github" || !main.sawID("gh") || stripe.sawID("gh") {
		t.Errorf("/github: %d, app path %q, main saw it %v, stripe saw it %v", status, echo.Path, main.sawID("gh"), stripe.sawID("gh"))
	}
	status, echo, _ = sendTo(t, c, e.hookURL("multi", "/stripe/events"), "st")
	if status != 200 || echo.Path != "/events" || !stripe.sawID("st") || main.sawID("st") {
		t.Errorf("/stripe/events: %d, app path %q (want /events), stripe saw it %v, main saw it %v", status, echo.Path, stripe.sawID("st"), main.sawID("st"))
	}
	status, _, code := sendTo(t, c, e.hookURL("multi", "/down/x"), "dn")
	if status != http.StatusBadGateway || code != "app_unreachable" || main.sawID("dn") || stripe.sawID("dn") {
		t.Errorf("/down/x: %d %q, want 502 app_unreachable", status, code)
	}
	if status, _, _ := sendTo(t, c, e.hookURL("multi", "/github"), "gh2"); status != 200 || !main.sawID("gh2") {
		t.Errorf("after the dead target's 502, /github answered %d", status)
	}

	if !a.waitOutput("nothing accepts connections on "+down+" yet", 10*time.Second) {
		t.Errorf("no warning for the dead target:\n%s", a.stderr.String())
	}
	if strings.Contains(a.stderr.String(), "nothing accepts connections on "+main.addr) {
		t.Error("a warning for a target that is up")
	}
	out := a.stdout.String()
	for _, want := range []string{
		"/github  ->  http://" + main.addr,
		"/stripe/  ->  http://" + stripe.addr + " (/stripe)",
		"/down/  ->  http://" + down + " (/down/)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the agent did not print %q:\n%s", want, out)
		}
	}
	checkRouteTargets(t, e, "multi", map[string]routeTarget{
		"/github":  {Local: "http://" + main.addr},
		"/stripe/": {Local: "http://" + stripe.addr + " (strips /stripe)"},
		"/down/":   {Local: "http://" + down},
	})
}

type routeTarget struct{ Target, Local string }

// checkRouteTargets compares each route's target in /api/v1/tunnels.
func checkRouteTargets(t *testing.T, e *edgeProc, name string, want map[string]routeTarget) {
	t.Helper()
	var out struct {
		Tunnels []struct {
			Name   string
			Routes []struct{ Path, Target, Local string }
		}
	}
	e.adminGet(t, "/api/v1/tunnels", &out)
	got := map[string]routeTarget{}
	for _, tu := range out.Tunnels {
		if tu.Name == name {
			for _, r := range tu.Routes {
				got[r.Path] = routeTarget{r.Target, r.Local}
			}
		}
	}
	for path, w := range want {
		if got[path] != w {
			t.Errorf("/api/v1/tunnels %s %s: target %+v, want %+v", name, path, got[path], w)
		}
	}
}

// Bad --route and --target values are one-line errors with exit 2.
func TestTargetFlagsRefusedAtStart(t *testing.T) {
	t.Parallel()
	tok := newToken("x", true, "x")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	bad := writeFile(t, "bad.yaml", "targets:\n  - path: /a\n    target: ftp://x\n")
	tunnels := writeFile(t, "tunnels.yaml", "tunnels:\n  - name: a\n    target: 8000\n")
	noName := writeFile(t, "noname.yaml", "tunnels:\n  - name: a\n    target: 8000\n  - target: 8001\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"route to a bad target", []string{"8000", "--route", "/a=ftp://x"}, `--route "/a=ftp://x": agent: target "ftp://x" must be http:// or https://`},
		{"target without a name", []string{"8000", "--target", "7000"}, `--target "7000": want NAME=ADDR`},
		{"policy file with a bad target", []string{"8000", "--policy", bad}, "bad.yaml:3: targets[0].target: "},
		{"no target at all", []string{"--route", "/a"}, "agent: no target"},
		{"tunnels: and a positional target", []string{"8000", "--policy", tunnels}, "lists tunnels: give each tunnel its target"},
		{"tunnels: and --route", []string{"--policy", tunnels, "--route", "/a"}, "lists tunnels: give each tunnel its target"},
		{"a tunnel without a name", []string{"--policy", noName}, "noname.yaml:4: tunnels[1].name: give each tunnel a name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startProc(t, "agent", append([]string{"agent", "--edge", e.url(), "--token", tok.token, "--inspect", "off"}, tc.args...)...)
			code, ok := p.exited(20 * time.Second)
			if !ok || code != 2 {
				t.Fatalf("exited %v with %d, want 2:\n%s", ok, code, p.stderr.String())
			}
			msg := strings.TrimSpace(p.stderr.String())
			if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, tc.want) {
				t.Errorf("stderr %q, want one line with %q", msg, tc.want)
			}
		})
	}
}

// The edge config names a route's target; the agent maps the names to
// addresses with --target. A sender cannot pick the target, the app never
// sees the header, an unknown name is refused, and a reload of the edge's
// routes re-maps them on the same session.
func TestEdgeRoutesNameTheAgentsTargets(t *testing.T) {
	t.Parallel()
	tok := newToken("named", false, "named")
	main, billing, shop := startApp(t), startApp(t), startApp(t)
	routes := func(billingTarget string) string {
		return `
tunnels:
  named:
    routes:
      - path: /billing
        target: ` + billingTarget + `
      - path: /shop
        target: shop
      - path: /plain
      - path: /ghost
        target: ghost
      - path: /queued
        target: billing
        mode: queue
`
	}
	e := startEdge(t, edgeConfig([]agentToken{tok}, routes("billing")))
	a := startAgent(t, e, tok, main.port(), "--name", "named", "--target", "billing="+billing.addr, "--target", "shop=http://"+shop.addr)
	c := e.client(10 * time.Second)
	for _, want := range []string{
		"/billing  ->  http://" + billing.addr + " (billing)",
		"/shop  ->  http://" + shop.addr + " (shop)",
		"/plain  ->  http://" + main.addr,
		`/ghost  ->  no target named "ghost" (502)`,
	} {
		// The route lines follow the "is online" line startAgent waited for.
		if !a.waitOutput(want, 10*time.Second) {
			t.Errorf("the agent did not print %q:\n%s", want, a.stdout.String())
		}
	}
	checkRouteTargets(t, e, "named", map[string]routeTarget{
		"/billing": {"billing", "http://" + billing.addr},
		"/shop":    {"shop", "http://" + shop.addr},
		"/plain":   {"", "http://" + main.addr},
		"/ghost":   {"ghost", ""},
	})

	for _, tc := range []struct {
		path, id string
		app      *app
	}{
		{"/billing", "b1", billing},
		{"/shop", "s1", shop},
		{"/plain", "p1", main},
	} {
		status, echo, _ := sendTo(t, c, e.hookURL("named", tc.path), tc.id)
		if status != 200 || !tc.app.sawID(tc.id) || echo.Path != tc.path {
			t.Errorf("%s: %d, path %q, reached its app: %v", tc.path, status, echo.Path, tc.app.sawID(tc.id))
		}
		if _, leaked := echo.Header["Hooktunnel-Target"]; leaked {
			t.Errorf("%s: the app saw Hooktunnel-Target", tc.path)
		}
	}

	// A sender's own Hooktunnel-Target is dropped at the edge.
	req, _ := http.NewRequest("POST", e.hookURL("named", "/plain"), strings.NewReader("{}"))
	req.Header.Set("X-Test-Id", "forged")
	req.Header.Set("Hooktunnel-Target", "billing")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	echo := decodeEcho(t, resp)
	if resp.StatusCode != 200 || !main.sawID("forged") || billing.sawID("forged") || echo.Header.Get("Hooktunnel-Target") != "" {
		t.Errorf("a sender's Hooktunnel-Target: %d, main %v, billing %v, app header %q",
			resp.StatusCode, main.sawID("forged"), billing.sawID("forged"), echo.Header.Get("Hooktunnel-Target"))
	}

	status, _, code := sendTo(t, c, e.hookURL("named", "/ghost"), "g1")
	if status != http.StatusBadGateway || code != "unknown_target" {
		t.Errorf("a target the agent does not map: %d %q, want 502 unknown_target", status, code)
	}
	if !a.waitOutput("target=ghost", 5*time.Second) {
		t.Errorf("the agent did not log the unknown target:\n%s", a.stderr.String())
	}

	// Queued deliveries go to the route's target too.
	if status, _, _ := sendTo(t, c, e.hookURL("named", "/queued"), "q1"); status != http.StatusAccepted {
		t.Errorf("/queued answered %d", status)
	}
	eventually(t, 20*time.Second, "the queued message at the billing app", func() bool { return billing.sawID("q1") })

	// Reload: /billing now goes to the shop app, on the same session.
	session := sessionOf(t, e, "named")
	if err := os.WriteFile(e.config, []byte(edgeConfig([]agentToken{tok}, routes("shop"))), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err = http.Post("http://127.0.0.1:"+e.adminPort+"/api/v1/reload", "application/json", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("reload: %v %v", resp, err)
	}
	resp.Body.Close()
	if status, _, _ := sendTo(t, c, e.hookURL("named", "/billing"), "b2"); status != 200 || !shop.sawID("b2") || billing.sawID("b2") {
		t.Errorf("after the reload /billing: %d, shop %v, billing %v", status, shop.sawID("b2"), billing.sawID("b2"))
	}
	checkRouteTargets(t, e, "named", map[string]routeTarget{"/billing": {"shop", "http://" + shop.addr}})
	if got := sessionOf(t, e, "named"); got != session {
		t.Errorf("the reload dropped the session: %s → %s", session, got)
	}
	if n := strings.Count(a.stdout.String(), "is online"); n != 1 {
		t.Errorf("the agent came online %d times", n)
	}
}
