package test

import (
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// agentTunnelsFile is an agent's --policy file serving github (routes it
// declares) and stripe (routes from the edge config) over one session,
// each with its own app.
func agentTunnelsFile(t *testing.T, github, stripe *app) string {
	t.Helper()
	return writeFile(t, "tunnels.yaml", `
tunnels:
  - name: github
    target: `+github.addr+`
    routes:
      - path: /hooks/github
  - name: stripe
    target: http://`+stripe.addr+`
`)
}

// One agent serves two tunnels from one config file over one session:
// each tunnel's webhooks (live, queued) reach its own app, a sender cannot
// pick the other tunnel with the edge's header, the API and the agent's
// inspector list both, and the agent's end takes both offline.
func TestSeveralTunnelsOneAgent(t *testing.T) {
	t.Parallel()
	tok := newToken("pair", true, "github", "stripe")
	e := startEdge(t, edgeConfig([]agentToken{tok, newToken("third", true, "other")}, `
tunnels:
  stripe:
    routes:
      - path: /live
      - path: /queued
        mode: queue
  other:
    routes:
      - path: /other
`))
	gh, st := startApp(t), startApp(t)
	port := freePort(t)
	a := startAgent(t, e, tok, "", "--policy", agentTunnelsFile(t, gh, st), "--inspect", "127.0.0.1:"+port)
	if !a.waitOutput("Tunnel stripe is online", 10*time.Second) {
		t.Fatalf("the agent did not print stripe's URLs:\n%s", a.stdout.String())
	}
	out := a.stdout.String()
	for _, want := range []string{
		"Tunnel github is online",
		e.hookURL("github", "/hooks/github") + "  ->  http://" + gh.addr,
		e.hookURL("stripe", "/live") + "  ->  http://" + st.addr,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the agent did not print %q:\n%s", want, out)
		}
	}
	c := e.client(10 * time.Second)

	// A sender's Hooktunnel-Tunnel does not move its webhook to stripe's
	// app, and no app sees the header.
	req, _ := http.NewRequest("POST", e.hookURL("github", "/hooks/github"), strings.NewReader(`{}`))
	req.Header.Set("X-Test-Id", "gh")
	req.Header.Set("Hooktunnel-Tunnel", "stripe")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		t.Fatalf("github: %d", resp.StatusCode)
	}
	echo := decodeEcho(t, resp)
	if !gh.sawID("gh") || st.sawID("gh") || echo.Header.Get("Hooktunnel-Tunnel") != "" {
		t.Errorf("github's webhook: github's app saw it %v, stripe's %v, the app's Hooktunnel-Tunnel %q",
			gh.sawID("gh"), st.sawID("gh"), echo.Header.Get("Hooktunnel-Tunnel"))
	}
	status, echo, _ := sendTo(t, c, e.hookURL("stripe", "/live"), "st")
	if status != 200 || !st.sawID("st") || gh.sawID("st") || echo.Header.Get("Hooktunnel-Tunnel") != "" {
		t.Errorf("stripe's webhook: %d, stripe's app saw it %v, github's %v", status, st.sawID("st"), gh.sawID("st"))
	}
	if status, _, _ := sendTo(t, c, e.hookURL("stripe", "/queued"), "q"); status != http.StatusAccepted {
		t.Errorf("stripe's queued route answered %d, want 202", status)
	}
	eventually(t, 20*time.Second, "the queued webhook to reach stripe's app", func() bool { return st.sawID("q") })
	if gh.sawID("q") {
		t.Error("the queued webhook reached github's app")
	}

	checkRouteTargets(t, e, "github", map[string]routeTarget{"/hooks/github": {Local: "http://" + gh.addr}})
	checkRouteTargets(t, e, "stripe", map[string]routeTarget{"/live": {Local: "http://" + st.addr}})
	sessions := map[string]string{}
	var list tunnelList
	e.adminGet(t, "/api/v1/tunnels", &list)
	for _, tu := range list.Tunnels {
		if len(tu.Agents) == 1 {
			sessions[tu.Name] = tu.Agents[0].Session
		}
	}
	if sessions["github"] == "" || sessions["github"] != sessions["stripe"] {
		t.Errorf("the API's sessions %v: want github and stripe on one", sessions)
	}

	// The inspector shows the agent's two tunnels, not the edge's third.
	eventually(t, 20*time.Second, "the inspector to list both tunnels", func() bool {
		r, err := http.Get("http://127.0.0.1:" + port + "/api/v1/tunnels")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		list = tunnelList{}
		json.NewDecoder(r.Body).Decode(&list)
		return len(list.Tunnels) == 2
	})
	if names := list.names(); names != "github,stripe" {
		t.Errorf("the inspector lists %s, want github,stripe", names)
	}

	a.signal(syscall.SIGKILL)
	for _, u := range []string{e.hookURL("github", "/hooks/github"), e.hookURL("stripe", "/live")} {
		eventually(t, 30*time.Second, "503 from "+u+" once the agent is gone", func() bool {
			status, _, _ := sendTo(t, c, u, "after")
			return status == http.StatusServiceUnavailable
		})
	}
}

type tunnelList struct {
	Tunnels []struct {
		Name   string
		Agents []struct{ Session string }
	}
}

func (l tunnelList) names() string {
	var out []string
	for _, tu := range l.Tunnels {
		out = append(out, tu.Name)
	}
	return strings.Join(out, ",")
}

// A token that grants one of the file's tunnels only: the edge refuses the
// agent, naming the tunnel, and serves none of them.
func TestSeveralTunnelsRefusedTogether(t *testing.T) {
	t.Parallel()
	tok := newToken("half", true, "github")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	gh, st := startApp(t), startApp(t)
	p := startAgentNoWait(t, e, tok, "", "--policy", agentTunnelsFile(t, gh, st))
	code, ok := p.exited(30 * time.Second)
	if !ok {
		t.Fatal("the refused agent kept running")
	}
	lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
	last := lines[len(lines)-1]
	if code != 2 || !strings.Contains(last, "does not grant tunnel stripe") {
		t.Errorf("exit %d, last line %q; want 2 and a line naming stripe", code, last)
	}
	var list tunnelList
	e.adminGet(t, "/api/v1/tunnels", &list)
	for _, tu := range list.Tunnels {
		if len(tu.Agents) > 0 {
			t.Errorf("tunnel %s has an agent after the refusal", tu.Name)
		}
	}
}
