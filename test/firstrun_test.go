package test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/test/need"
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

// An agent pointed at something retrying cannot fix says what to do in
// one line; with --give-up-after (3 by default in a terminal) it exits 2
// after that many tries, and without (a service) it keeps trying.
func TestAgentGivesUpOnWhatRetryingCannotFix(t *testing.T) {
	t.Parallel()
	tok := newToken("demo", true, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	tlsEdge := startTLSEdge(t, edgeConfig([]agentToken{tok}, ""), "--tls", "self-signed")
	notAnEdge := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notAnEdge.Close)
	tests := []struct {
		name string
		edge string
		want string
	}{
		{"plain HTTP to a TLS port", "http://" + tlsEdge.addr(), "hooktunnel: agent: the edge's port speaks TLS, not plain HTTP: use --edge https://" + tlsEdge.addr()},
		{"the admin port", "http://127.0.0.1:" + e.adminPort, "hooktunnel: agent: this is the edge's admin listener, not its public one: point --edge (or --edge-addr) at the port of the edge's --listen"},
		{"a server that is not an edge", notAnEdge.URL, "hooktunnel: agent: no hooktunnel edge answers at this URL: check --edge"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := startAgentNoWait(t, e, tok, "8000", "--edge", tc.edge, "--give-up-after", "3")
			code, ok := a.exited(60 * time.Second)
			if !ok {
				t.Fatalf("the agent did not give up:\n%s", a.stderr.String())
			}
			if code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			if !strings.Contains(a.stderr.String(), tc.want) {
				t.Errorf("no line %q in:\n%s", tc.want, a.stderr.String())
			}
			if !strings.Contains(a.stderr.String(), "(gave up after 3 tries)") {
				t.Errorf("the last line does not say it gave up:\n%s", a.stderr.String())
			}
			if n := strings.Count(a.stderr.String(), tc.want); n != 2 {
				t.Errorf("the hint is printed %d times, want once and in the last line", n)
			}
		})
	}
	t.Run("a service keeps trying", func(t *testing.T) {
		t.Parallel()
		// Not a terminal, no --give-up-after: as under systemd.
		a := startAgentNoWait(t, e, tok, "8000", "--edge", notAnEdge.URL)
		if !a.waitOutput("attempt=4", 60*time.Second) {
			t.Fatalf("the agent did not try a fourth time:\n%s", a.stderr.String())
		}
		select {
		case <-a.done:
			t.Fatalf("the agent exited:\n%s", a.stderr.String())
		default:
		}
	})
}

// An agent started before its app says that nothing accepts connections
// on the target yet, and again once the app is up.
func TestAgentSaysWhenTheAppIsUp(t *testing.T) {
	t.Parallel()
	tok := newToken("demo", true, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	port := freePort(t) // the app's, not listening yet
	target := "127.0.0.1:" + port
	agent := startAgent(t, e, tok, port, "--name", "demo", "--route", "/hook")
	if !agent.waitOutput("nothing accepts connections on "+target+" yet: is the app running?", 30*time.Second) {
		t.Fatalf("the agent did not say the app is down:\n%s", agent.stderr.String())
	}
	if strings.Contains(agent.stderr.String(), "is up") {
		t.Fatalf("the agent says the app is up before it is:\n%s", agent.stderr.String())
	}
	ln, err := net.Listen("tcp", target)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	if !agent.waitOutput("the app on "+target+" is up", 30*time.Second) {
		t.Fatalf("the agent did not say the app is up:\n%s", agent.stderr.String())
	}
	if n := strings.Count(agent.stderr.String(), "nothing accepts connections"); n != 1 {
		t.Errorf("the warning is printed %d times, want once", n)
	}
}

// A second agent on the machine gets the next free inspector port from
// 4040 up, and says where it is; an --inspect address the user chose that
// is taken is an error naming the flag.
func TestSecondAgentGetsTheNextInspectorPort(t *testing.T) {
	t.Parallel()
	free := 0
	for port := 4040; port <= 4049; port++ {
		if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			ln.Close()
			free++
		}
	}
	if free < 2 {
		// Another inspector (or ngrok) holds them on a developer's
		// machine; a CI machine has them free.
		if need.CI() {
			t.Fatalf("only %d of the ports 4040 to 4049 are free", free)
		}
		t.Skipf("only %d of the ports 4040 to 4049 are free here (another inspector or ngrok holds them)", free)
	}
	tok := newToken("demo", true, "one", "two")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	app := startApp(t)
	inspectorLine := regexp.MustCompile(`inspector: http://(127\.0\.0\.1:(\d+))`)
	var addrs []string
	for _, name := range []string{"one", "two"} {
		// The default inspector: not the harness's --inspect off.
		a := startProc(t, "agent "+name, "agent", app.port(), "--edge", e.url(), "--token", tok.token, "--name", name, "--route", "/hook")
		if !a.waitOutput("is online", 60*time.Second) {
			t.Fatalf("agent %s did not come online:\n%s", name, a.stderr.String())
		}
		m := inspectorLine.FindStringSubmatch(a.stderr.String())
		if m == nil {
			t.Fatalf("agent %s does not say where its inspector is:\n%s", name, a.stderr.String())
		}
		if port, _ := strconv.Atoi(m[2]); port < 4040 || port > 4049 {
			t.Errorf("agent %s: inspector on %s, want a port from 4040 to 4049", name, m[1])
		}
		resp, err := http.Get("http://" + m[1] + "/api/v1/tunnels")
		if err != nil {
			t.Fatalf("agent %s's inspector: %v", name, err)
		}
		resp.Body.Close()
		addrs = append(addrs, m[1])
	}
	if addrs[0] == addrs[1] {
		t.Fatalf("both agents say their inspector is on %s", addrs[0])
	}

	taken := startProc(t, "agent", "agent", app.port(), "--edge", e.url(), "--token", tok.token, "--name", "one", "--inspect", addrs[0])
	code, ok := taken.exited(30 * time.Second)
	if !ok || code != 2 {
		t.Fatalf("an agent with a taken --inspect address: exited=%v code=%d, want 2\n%s", ok, code, taken.stderr.String())
	}
	if want := "hooktunnel: --inspect " + addrs[0] + ": "; !strings.Contains(taken.stderr.String(), want) {
		t.Errorf("the error does not start with %q:\n%s", want, taken.stderr.String())
	}
}
