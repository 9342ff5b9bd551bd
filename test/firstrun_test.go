package test

import (
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
