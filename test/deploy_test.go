package test

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/test/need"
)

// The deploy/ files are what an operator copies onto a VM; these tests run
// them as systemd would, with the paths moved into temp directories.

const (
	deployDir       = "../deploy"
	installedBinary = "/usr/local/bin/hooktunnel"
)

// unitLines returns the values of key= in a unit file, in order.
func unitLines(t *testing.T, unit, key string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(deployDir, unit))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+"="); ok {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no %s=", unit, key)
	}
	return out
}

// expandExec splits a unit's command line the way systemd does for the
// forms the deploy units use: "${NAME}" is exactly one argument, "$NAME"
// is the value split on whitespace (none when empty). paths maps the
// installed paths to the ones the test uses.
func expandExec(t *testing.T, line string, env map[string]string, paths map[string]string) []string {
	t.Helper()
	braced := regexp.MustCompile(`^\$\{(\w+)\}$`)
	bare := regexp.MustCompile(`^\$(\w+)$`)
	var args []string
	for _, w := range strings.Fields(line) {
		switch {
		case braced.MatchString(w):
			args = append(args, env[braced.FindStringSubmatch(w)[1]])
		case bare.MatchString(w):
			args = append(args, strings.Fields(env[bare.FindStringSubmatch(w)[1]])...)
		case strings.Contains(w, "$"):
			t.Fatalf("expandExec: cannot expand %q in %q", w, line)
		default:
			if p, ok := paths[w]; ok {
				w = p
			}
			args = append(args, w)
		}
	}
	return args
}

// readEnvFile parses a systemd EnvironmentFile: NAME=value lines.
func readEnvFile(t *testing.T, name string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(deployDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not NAME=value", name, line)
		}
		env[k] = v
	}
	return env
}

// envRefs lists the NAMEs a config file reads as env:NAME.
func envRefs(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(deployDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`env:(\w+)`).FindAllStringSubmatch(string(data), -1) {
		names = append(names, m[1])
	}
	if len(names) == 0 {
		t.Fatalf("%s reads no env:NAME secret", name)
	}
	return names
}

func TestDeployEdgeExampleChecks(t *testing.T) {
	t.Parallel()
	secrets := envRefs(t, "edge.example.yaml")
	var env []string
	for _, name := range secrets {
		env = append(env, name+"=example-secret-"+strings.ToLower(name))
	}
	data := t.TempDir()
	check := expandExec(t, unitLines(t, "hooktunnel-edge.service", "ExecStartPre")[0], nil, map[string]string{
		installedBinary:             binary,
		"/etc/hooktunnel/edge.yaml": filepath.Join(deployDir, "edge.example.yaml"),
		"/var/lib/hooktunnel":       data,
	})
	run := func(env []string, args ...string) (string, int) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil && cmd.ProcessState == nil {
			t.Fatal(err)
		}
		return string(out), cmd.ProcessState.ExitCode()
	}
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"as documented", env, []string{binary, "edge", "--config", filepath.Join(deployDir, "edge.example.yaml"), "--check"}, 0, ": ok"},
		{"the unit's ExecStartPre", env, check, 0, ": ok"},
		{"without its secrets", nil, check, 2, "_SECRET is not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, code := run(tc.env, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("%s\nexit %d, want %d with %q; output:\n%s", strings.Join(tc.args, " "), code, tc.code, tc.want, out)
			}
		})
	}
}

func TestDeployUnitsVerify(t *testing.T) {
	t.Parallel()
	analyze, ok := need.SystemdAnalyze()
	if !ok {
		need.Missing(t, need.SystemdAnalyzeMissing)
	}
	// verify wants every Exec*= binary to exist: point the copies at the
	// binary under test, the units' names and everything else unchanged.
	dir := t.TempDir()
	var units []string
	for _, name := range []string{"hooktunnel-edge.service", "hooktunnel-agent.service"} {
		data, err := os.ReadFile(filepath.Join(deployDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "ExecStart="+installedBinary+" ") {
			t.Errorf("%s: ExecStart does not run %s", name, installedBinary)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(data), installedBinary, binary)), 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, p)
	}
	out, err := exec.Command(analyze, append([]string{"verify"}, units...)...).CombinedOutput()
	// verify exits 0 on unknown keys but says so: any output is a finding.
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The sandboxing keeps each unit's exposure "OK" (at most 2.0 of 10).
	for _, u := range units {
		out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold=20", "--no-pager", u).CombinedOutput()
		if err != nil {
			t.Errorf("systemd-analyze security %s: %v\n%s", filepath.Base(u), err, out)
		}
	}
}

// TestDeployAgentExample starts the agent unit's ExecStart, expanded with
// deploy/agent.example.env as systemd would, against an edge; the routes
// of deploy/agent.example.policy.yaml take webhooks.
func TestDeployAgentExample(t *testing.T) {
	// t.Setenv: the agent gets the env file's secrets through its
	// environment, like under systemd. Not parallel for that reason.
	env := readEnvFile(t, "agent.example.env")
	name := env["HOOKTUNNEL_NAME"]
	tok := newToken(name, true, name)
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	app := startApp(t)
	env["HOOKTUNNEL_TOKEN"] = tok.token
	env["HOOKTUNNEL_EDGE"] = e.url()
	env["HOOKTUNNEL_TARGET"] = app.port()
	env["HOOKTUNNEL_AGENT_ARGS"] = "--inspect off --log-level debug"
	for k, v := range env {
		t.Setenv(k, v)
	}
	args := expandExec(t, unitLines(t, "hooktunnel-agent.service", "ExecStart")[0], env, map[string]string{
		installedBinary:                     binary,
		"/etc/hooktunnel/agent-policy.yaml": filepath.Join(deployDir, "agent.example.policy.yaml"),
	})
	if args[0] != binary {
		t.Fatalf("ExecStart does not run %s: %q", installedBinary, args)
	}
	a := startProc(t, "agent", args[1:]...)
	if !a.waitOutput("Tunnel "+name+" is online", 60*time.Second) {
		t.Fatalf("the agent unit's command did not come online: %q", args)
	}
	if want := e.hookURL(name, "/hooks/github"); !strings.Contains(a.stdout.String(), want) {
		t.Errorf("the agent did not print %s:\n%s", want, a.stdout.String())
	}
	c := e.client(20 * time.Second)
	post := func(path string, sign bool) int {
		t.Helper()
		body := `{"zen":"Design for failure."}`
		req, _ := http.NewRequest(http.MethodPost, e.hookURL(name, path), strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sign {
			mac := hmac.New(sha256.New, []byte(env["GITHUB_HOOK_SECRET"]))
			mac.Write([]byte(body))
			req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
			req.Header.Set("X-GitHub-Event", "ping")
			req.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name string
		path string
		sign bool
		want int
	}{
		{"GitHub, signed with the env file's secret", "/hooks/github", true, http.StatusOK},
		{"GitHub, unsigned", "/hooks/github", false, http.StatusUnauthorized},
		{"deploy hook with the env file's token", "/hooks/deploy/prod?token=" + env["DEPLOY_HOOK_TOKEN"], false, http.StatusOK},
		{"deploy hook without it", "/hooks/deploy/prod", false, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := post(tc.path, tc.sign); got != tc.want {
				t.Errorf("POST %s: %d, want %d", tc.path, got, tc.want)
			}
		})
	}
}
