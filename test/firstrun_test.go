package test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The first hour of a new user: the agent reaches the edge and the app
// the way they are written in the README and the browser, and says what
// to do when it cannot.

// hooks.localhost and app.localhost are loopback names (RFC 6761), as in
// the browser and curl: the agent dials them without asking DNS, which
// has no answer for them on most machines.
func TestAgentDialsLocalhostNames(t *testing.T) {
	t.Parallel()
	tok := newToken("demo", true, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""), "--domain", "hooks.localhost")
	a := startApp(t)
	edgeURL := "http://hooks.localhost:" + e.port
	target := "http://app.localhost:" + a.port()
	agent := startAgentNoWait(t, e, tok, target, "--edge", edgeURL, "--name", "demo", "--route", "/hook")
	if !agent.waitOutput("is online", 60*time.Second) {
		t.Fatalf("the agent with --edge %s did not come online:\n%s", edgeURL, agent.stderr.String())
	}
	if strings.Contains(agent.stderr.String(), "no such host") {
		t.Errorf("the agent looked up a .localhost name:\n%s", agent.stderr.String())
	}
	resp, err := e.client(20*time.Second).Post("http://demo.hooks.localhost:"+e.port+"/hook", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	echo := decodeEcho(t, resp)
	if resp.StatusCode != 200 || echo.Path != "/hook" {
		t.Errorf("webhook to the target %s: %d %+v", target, resp.StatusCode, echo)
	}
}

// An agent that dials the edge by its IP address (no DNS yet, or a name
// of the VM other than the edge's domain) reaches the agent endpoint:
// the token decides, not the Host.
func TestAgentDialsTheEdgeByIPAddress(t *testing.T) {
	t.Parallel()
	tok := newToken("demo", true, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	a := startApp(t)
	for _, edgeURL := range []string{"http://127.0.0.1:" + e.port, "http://edge-vm.internal.test:" + e.port} {
		t.Run(edgeURL, func(t *testing.T) {
			args := []string{"--edge", edgeURL, "--name", "demo", "--route", "/hook"}
			if !strings.HasPrefix(edgeURL, "http://127.") {
				args = append(args, "--edge-addr", "127.0.0.1:"+e.port)
			}
			agent := startAgentNoWait(t, e, tok, a.port(), args...)
			if !agent.waitOutput("is online", 60*time.Second) {
				t.Fatalf("the agent with --edge %s did not come online:\n%s", edgeURL, agent.stderr.String())
			}
			resp, err := e.client(20*time.Second).Post(e.hookURL("demo", "/hook"), "application/json", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			if echo := decodeEcho(t, resp); resp.StatusCode != 200 || echo.Path != "/hook" {
				t.Errorf("webhook through the agent: %d %+v", resp.StatusCode, echo)
			}
			agent.cmd.Process.Kill()
			<-agent.done
		})
	}
}

// On a tunnel host every path is the tunnel's, the agent endpoint's
// included: an upgrade there goes to the app, never to the agent
// endpoint.
func TestTunnelHostKeepsTheConnectPath(t *testing.T) {
	t.Parallel()
	d := demoTunnel(t, "GET /_hooktunnel/v1/connect")
	req, _ := http.NewRequest(http.MethodGet, d.e.hookURL("demo", "/_hooktunnel/v1/connect"), nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("X-Test-Id", "connect-path-on-tunnel-host")
	resp, err := d.e.client(20 * time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !d.app.sawID("connect-path-on-tunnel-host") {
		t.Errorf("the app did not get the request to the connect path on its tunnel host: %s", resp.Status)
	}
}
