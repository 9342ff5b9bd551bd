package test

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The habits a user brings from other CLIs: --version, one-line refusals
// that name the flag to change, token list and revoke, completion.

func TestVersionFlag(t *testing.T) {
	t.Parallel()
	flag, _, code := runCLI(t, "--version")
	sub, _, code2 := runCLI(t, "version")
	if code != 0 || code2 != 0 || flag != sub || !strings.HasPrefix(flag, "hooktunnel ") {
		t.Errorf("--version: exit %d %q; version: exit %d %q", code, flag, code2, sub)
	}
}

func TestAgentRefusesABadPortAtOnce(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"localhost:abc", "localhost:0", "http://localhost:99999"} {
		_, stderr, code := runCLI(t, "agent", target, "--edge", "http://localhost:1", "--token", "ht_x")
		if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "is not a number from 1 to 65535") {
			t.Errorf("agent %s: exit %d, stderr %q; want 2 and one line about the port", target, code, stderr)
		}
	}
}

func TestEdgePortInUseNamesTheFlag(t *testing.T) {
	t.Parallel()
	e := startEdge(t, edgeConfig(nil, ""))
	tests := []struct{ flag, port, other string }{
		{"listen", e.port, "admin-listen"},
		{"admin-listen", e.adminPort, "listen"},
	}
	for _, tc := range tests {
		addr := "127.0.0.1:" + tc.port
		_, stderr, code := runCLI(t, "edge", "--domain", "localhost", "--tls", "off", "--data", t.TempDir(),
			"--"+tc.flag, addr, "--"+tc.other, "127.0.0.1:0")
		what := strings.ReplaceAll(tc.flag, "-", " ")
		want := "hooktunnel: edge: " + what + " " + addr + ": address already in use (another edge? change --" + tc.flag + ")\n"
		if code != 1 || stderr != want {
			t.Errorf("--%s on a busy port: exit %d, stderr %q; want 1 and %q", tc.flag, code, stderr, want)
		}
	}
}

func TestEdgeDataDirNotWritableNamesTheFlag(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	if err := os.Chmod(parent, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(parent, 0o700) })
	data := filepath.Join(parent, "data")
	if os.Geteuid() == 0 { // root writes anywhere: a directory no one can make
		if runtime.GOOS != "linux" {
			t.Skip("as root, an unwritable data directory needs Linux's /proc")
		}
		data = "/proc/self/hooktunnel-data"
	}
	_, stderr, code := runCLI(t, "edge", "--domain", "localhost", "--tls", "off", "--data", data,
		"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "data directory "+data+": ") || !strings.Contains(stderr, "pass --data DIR") {
		t.Errorf("exit %d, stderr %q; want 1 and one line naming the directory and --data", code, stderr)
	}
}

// token list shows the config's agents and never a token; token revoke
// removes one entry, keeps the rest of the file, and reloads the edge,
// which ends the agent's session. Completion offers tunnels and message
// ids from the same edge.
func TestTokenListRevokeAndCompletion(t *testing.T) {
	t.Parallel()
	laptop := newToken("laptop", true, "laptop")
	ci := newToken("ci", false, "ci")
	config := edgeConfig([]agentToken{laptop, ci}, "\n# CI's routes\ntunnels:\n  ci:\n    routes:\n      - path: /build   # the runner\n")
	config = "# the test edge\n" + strings.Replace(config, "  - name: ci", "  # the CI runner\n  - name: ci", 1)
	e := startEdge(t, config)
	app := startApp(t)
	agent := startAgent(t, e, laptop, app.port(), "--name", "laptop", "--route", "/hook")
	if s := post(e.client(10*time.Second), e.hookURL("laptop", "/hook"), "cli-1"); s != 200 {
		t.Fatalf("webhook: %d", s)
	}

	out, stderr, code := runCLI(t, "token", "list", "--config", e.config)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !regexp.MustCompile(`^laptop +laptop +yes$`).MatchString(lines[1]) || !regexp.MustCompile(`^ci +ci +no$`).MatchString(lines[2]) {
		t.Errorf("token list: exit %d %s\n%s", code, stderr, out)
	}
	for _, secret := range []string{laptop.token, laptop.hash, ci.hash} {
		if strings.Contains(out, secret) {
			t.Errorf("token list printed a token or its hash:\n%s", out)
		}
	}

	api := "--api=http://127.0.0.1:" + e.adminPort
	out, _, _ = runCLI(t, "__complete", "messages", "list", api, "--tunnel", "")
	if !regexp.MustCompile(`(?m)^laptop$`).MatchString(out) {
		t.Errorf("completion of --tunnel:\n%s", out)
	}
	out, _, _ = runCLI(t, "__complete", "messages", "show", api, "")
	if !regexp.MustCompile(`(?m)^[0-9A-Z]{26}\tPOST /hook forwarded$`).MatchString(out) {
		t.Errorf("completion of a message id:\n%s", out)
	}
	out, _, _ = runCLI(t, "__complete", "verify", "--provider", "")
	if !regexp.MustCompile(`(?m)^github$`).MatchString(out) || !regexp.MustCompile(`(?m)^stripe$`).MatchString(out) {
		t.Errorf("completion of --provider:\n%s", out)
	}
	out, _, _ = runCLI(t, "__complete", "token", "revoke", "--config", e.config, "")
	if !strings.HasPrefix(out, "laptop\nci\n") {
		t.Errorf("completion of an agent name:\n%s", out)
	}

	out, stderr, code = runCLI(t, "token", "revoke", "laptop", "--config", e.config, "--admin", "http://127.0.0.1:"+e.adminPort)
	if code != 0 || !strings.Contains(out, `Removed agent "laptop"`) || !strings.Contains(out, "reloaded its config (1 agents, 1 tunnels)") {
		t.Errorf("token revoke: exit %d\n%s%s", code, out, stderr)
	}
	data, _ := os.ReadFile(e.config)
	want := strings.Replace(config, "  - name: laptop\n    token_sha256: "+laptop.hash+"\n    tunnels: [\"laptop\"]\n    may_declare_routes: true\n", "", 1)
	if string(data) != want {
		t.Errorf("the config after revoke:\n%s\nwant:\n%s", data, want)
	}
	if code, ok := agent.exited(30 * time.Second); !ok || code != 2 {
		t.Errorf("the revoked agent: exited %v with %d, want exit 2", ok, code)
	}
	_, stderr, code = runCLI(t, "token", "revoke", "laptop", "--config", e.config)
	if code != 2 || stderr != "hooktunnel: "+e.config+" has no agent named \"laptop\" (agents: ci)\n" {
		t.Errorf("revoking it again: exit %d, %q", code, stderr)
	}
}
