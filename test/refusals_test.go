package test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// refusalBody is the JSON the edge answers with when it refuses.
type refusalBody struct {
	Error     string `json:"error"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	tok := newToken("demo", true, "demo")
	offline := newToken("idle", true, "idle")
	e := startEdge(t, edgeConfig([]agentToken{tok, offline}, `
tunnels:
  idle:
    routes:
      - path: /hook
`))
	a := startApp(t)
	startAgent(t, e, tok, a.port(), "--name", "demo", "--route", "/hook", "--route", "PUT /hook", "--route", "/files/")
	c := e.client(20 * time.Second)
	tests := []struct {
		name, method, url string
		host              string // overrides the Host header
		wantStatus        int
		wantError         string
		wantHeader        [2]string
	}{
		{name: "unknown tunnel", method: "POST", url: e.hookURL("nope", "/hook"), wantStatus: 404, wantError: "unknown_tunnel"},
		{name: "host outside the domain", method: "POST", url: e.hookURL("demo", "/hook"), host: "example.org", wantStatus: 404, wantError: "unknown_host"},
		{name: "apex is not a tunnel", method: "POST", url: e.hookURL("demo", "/hook"), host: "localhost", wantStatus: 404, wantError: "unknown_host"},
		{name: "no route", method: "POST", url: e.hookURL("demo", "/other"), wantStatus: 404, wantError: "no_route"},
		{name: "method not allowed", method: "GET", url: e.hookURL("demo", "/hook"), wantStatus: 405, wantError: "method_not_allowed", wantHeader: [2]string{"Allow", "POST, PUT"}},
		{name: "path escaping its route", method: "POST", url: e.hookURL("demo", "/files/../admin"), wantStatus: 400, wantError: "bad_path"},
		{name: "configured tunnel with no agent", method: "POST", url: e.hookURL("idle", "/hook"), wantStatus: 503, wantError: "tunnel_offline", wantHeader: [2]string{"Retry-After", "5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader("{}"))
			if tc.host != "" {
				req.Host = tc.host
			}
			if strings.Contains(tc.url, "..") {
				req.URL.Opaque = req.URL.Path // sent as is, not cleaned
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body refusalBody
			raw, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("refusal is not JSON: %q", raw)
			}
			if resp.StatusCode != tc.wantStatus || body.Error != tc.wantError {
				t.Errorf("got %d %q, want %d %q (%s)", resp.StatusCode, body.Error, tc.wantStatus, tc.wantError, raw)
			}
			if body.Message == "" || len(body.RequestID) != 26 {
				t.Errorf("refusal lacks a message or request id: %s", raw)
			}
			if h := tc.wantHeader; h[0] != "" && resp.Header.Get(h[0]) != h[1] {
				t.Errorf("%s = %q, want %q", h[0], resp.Header.Get(h[0]), h[1])
			}
		})
	}
	if a.sawID("") || len(a.seen) != 0 {
		t.Errorf("the app saw refused requests: %v", a.seen)
	}
}

// The answer for an app that is down goes back to the public sender: it
// says so with the request id, and names no address of the private
// network; the agent's log and the journal keep what the operator needs.
func TestAppDownAnswers502(t *testing.T) {
	t.Parallel()
	tok := newToken("demo", true, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	port := freePort(t)
	ag := startAgent(t, e, tok, port, "--name", "demo", "--route", "/hook") // nothing listens there
	resp, err := e.client(20*time.Second).Post(e.hookURL("demo", "/hook"), "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body refusalBody
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("not JSON: %q", raw)
	}
	if resp.StatusCode != http.StatusBadGateway || body.Error != "app_unreachable" || !strings.Contains(body.Message, "did not answer") || len(body.RequestID) != 26 {
		t.Errorf("app down: %d %s", resp.StatusCode, raw)
	}
	if strings.Contains(string(raw), "127.0.0.1") || strings.Contains(string(raw), ":"+port) {
		t.Errorf("the public answer names the app's address: %s", raw)
	}
	m := e.waitMessage(t, "tunnel=demo", func(m store.Message) bool { return m.ID == body.RequestID })
	if m.Status != http.StatusBadGateway || m.Reason != "app_unreachable" {
		t.Errorf("journal: status %d reason %q, want 502 app_unreachable", m.Status, m.Reason)
	}
	if !ag.waitOutput("request_id="+body.RequestID, 10*time.Second) || !strings.Contains(ag.stderr.String()+ag.stdout.String(), "127.0.0.1:"+port) {
		t.Errorf("the agent's log does not name the target under the request id:\n%s", ag.stderr.String())
	}
}

func TestAgentRefusedExitsWithStatus2(t *testing.T) {
	t.Parallel()
	tok := newToken("demo", true, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	tests := []struct {
		name string
		tok  agentToken
		args []string
		want string
	}{
		{"unknown token", newToken("stranger", true, "demo"), []string{"--name", "demo"}, "token is not valid"},
		{"name not granted", tok, []string{"--name", "other"}, "does not grant tunnel other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startAgentNoWait(t, e, tc.tok, "8000", tc.args...)
			code, ok := p.exited(30 * time.Second)
			if !ok {
				t.Fatal("the refused agent kept running (retrying a permanent refusal?)")
			}
			lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
			last := lines[len(lines)-1]
			if code != 2 || !strings.Contains(last, tc.want) || !strings.HasPrefix(last, "hooktunnel: ") {
				t.Errorf("exit %d, last line %q; want 2 and a line with %q", code, last, tc.want)
			}
			if strings.Contains(p.stderr.String(), tc.tok.token) {
				t.Error("the agent printed its token")
			}
		})
	}
}

func TestSlowAppDoesNotBlockOtherTunnels(t *testing.T) {
	t.Parallel()
	slowTok, fastTok := newToken("slow", true, "slow"), newToken("fast", true, "fast")
	e := startEdge(t, edgeConfig([]agentToken{slowTok, fastTok}, ""))
	slow, fast := startApp(t), startApp(t)
	startAgent(t, e, slowTok, slow.port(), "--name", "slow", "--route", "/slow")
	startAgent(t, e, fastTok, fast.port(), "--name", "fast", "--route", "/hook")
	c := e.client(60 * time.Second)
	done := make(chan int, 50)
	for i := 0; i < 50; i++ {
		go func() { done <- post(c, e.hookURL("slow", "/slow"), "") }()
	}
	// While 50 requests hang in the slow app, the other tunnel answers.
	for i := 0; i < 20; i++ {
		if s := post(c, e.hookURL("fast", "/hook"), ""); s != http.StatusOK {
			t.Fatalf("fast tunnel: status %d while the slow app hangs", s)
		}
	}
	close(slow.release)
	for i := 0; i < 50; i++ {
		if s := <-done; s != http.StatusOK {
			t.Errorf("slow request: status %d", s)
		}
	}
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	t.Parallel()
	for _, who := range []string{"agent", "edge"} {
		t.Run(who, func(t *testing.T) {
			d := demoTunnel(t, "/slow")
			c := d.e.client(60 * time.Second)
			result := make(chan int, 1)
			go func() { result <- post(c, d.e.hookURL("demo", "/slow"), "inflight") }()
			eventually(t, 20*time.Second, "the request to reach the app", func() bool { return d.app.sawID("inflight") })
			p := d.agent
			if who == "edge" {
				p = d.e.proc
			}
			p.signal(syscall.SIGTERM)
			// The process waits for the in-flight request before it exits.
			if _, exited := p.exited(300 * time.Millisecond); exited {
				t.Fatalf("the %s exited with a request in flight", who)
			}
			close(d.app.release)
			if s := <-result; s != http.StatusOK {
				t.Errorf("in-flight request: status %d, want 200", s)
			}
			code, ok := p.exited(30 * time.Second)
			if !ok || code != 0 {
				t.Errorf("the %s did not exit cleanly: exited %v, code %d", who, ok, code)
			}
		})
	}
}

func TestConfigErrorsNameFileLineAndField(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct{ name, yaml, want string }{
		{"bad method", "domain: hooks.test\ntunnels:\n  gh:\n    routes:\n      - path: /a\n        methods: [POST, \"GE T\"]\n", ":6: tunnels.gh.routes[0].methods[1]: \"GE T\" is not an HTTP method"},
		{"unknown field", "domain: hooks.test\nagnets: []\n", `:2: unknown field "agnets" (did you mean "agents"?)`},
		{"bad token hash", "domain: hooks.test\nagents:\n  - name: a\n    token_sha256: abc\n    tunnels: [a]\n", ":4: agents[0].token_sha256: must be 64 hex digits"},
		{"bad type", "domain: hooks.test\nlimits:\n  idle_timeout: soon\n", ":3:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			os.WriteFile(file, []byte(tc.yaml), 0o600)
			p := startProc(t, "edge", "edge", "--config", file, "--check")
			code, _ := p.exited(30 * time.Second)
			if code != 2 || !strings.Contains(p.stderr.String(), file+tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, p.stderr.String(), file+tc.want)
			}
		})
	}
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("domain: hooks.test\ntunnels:\n  gh:\n    routes:\n      - path: /a\n"), 0o600)
	p := startProc(t, "edge", "edge", "--config", good, "--check")
	if code, _ := p.exited(30 * time.Second); code != 0 {
		t.Errorf("a good config: exit %d: %s", code, p.stderr.String())
	}
}

// A misspelt key or a value in the wrong form is told in the file's own
// words, on one line: the field path, the YAML names, the accepted form.
func TestConfigErrorsInTheFilesWords(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct{ name, yaml, want string }{
		{"misspelt route field",
			"# the demo\ndomain: hooks.test\nagents: []\ntunnels:\n  demo:\n    routes:\n      - path: /hook\n        methds: [POST]\n",
			`:8: tunnels.demo.routes[0]: unknown field "methds" (did you mean "methods"?)`},
		{"retention in words",
			"domain: hooks.test\nretention: 7 days\n",
			`:2: retention: "7 days" is not a duration (use Go's form: 168h, 90m, 30s)`},
		{"body size",
			"domain: hooks.test\ntunnels:\n  demo:\n    routes:\n      - path: /hook\n        max_body: 10 megs\n",
			`:6: tunnels.demo.routes[0].max_body: "10 megs" is not a size (e.g. 10MiB, 512KiB or 4096)`},
		{"one method for a list",
			"domain: hooks.test\ntunnels:\n  demo:\n    routes:\n      - path: /hook\n        methods: POST\n",
			`:6: tunnels.demo.routes[0].methods: "POST" is not a list (write [POST], or one "- item" line each)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			os.WriteFile(file, []byte(tc.yaml), 0o600)
			p := startProc(t, "edge", "edge", "--config", file, "--check")
			code, _ := p.exited(30 * time.Second)
			want := "hooktunnel: " + file + tc.want + "\n"
			if code != 2 || p.stderr.String() != want {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and:\n%s", code, p.stderr.String(), want)
			}
		})
	}
}

func TestTunnelNameIsKeptAcrossRestarts(t *testing.T) {
	t.Parallel()
	tok := newToken("laptop", true, "*")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	a := startApp(t)
	first := startAgent(t, e, tok, a.port(), "--route", "/hook")
	name := tunnelName(t, first)
	first.signal(syscall.SIGTERM)
	first.exited(30 * time.Second)
	e.signal(syscall.SIGTERM)
	e.exited(30 * time.Second)
	e.start(t)
	second := startAgent(t, e, tok, a.port(), "--route", "/hook")
	if got := tunnelName(t, second); got != name {
		t.Errorf("after restarts the tunnel is %q, was %q", got, name)
	}
	if s := post(e.client(10*time.Second), e.hookURL(name, "/hook"), ""); s != http.StatusOK {
		t.Errorf("webhook to the kept name: status %d", s)
	}
}

// tunnelName reads the tunnel name from the agent's "Tunnel X is online".
func tunnelName(t *testing.T, agent *proc) string {
	t.Helper()
	for _, line := range strings.Split(agent.stdout.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "Tunnel "); ok {
			name, _, _ := strings.Cut(rest, " ")
			return name
		}
	}
	t.Fatalf("no tunnel name in agent output: %s", agent.stdout.String())
	return ""
}
