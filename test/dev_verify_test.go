package test

import (
	"bytes"
	"encoding/json"
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

// devProc is a running `hooktunnel dev` and the URL it printed.
type devProc struct {
	*proc
	edge *edgeProc // for its client and admin port
	url  string    // the printed tunnel URL
}

func startDev(t *testing.T, env []string, args ...string) *devProc {
	t.Helper()
	port, admin := freePort(t), freePort(t)
	all := append([]string{"dev", "--echo", "--listen", "127.0.0.1:" + port, "--admin-listen", "127.0.0.1:" + admin}, args...)
	p := startProcEnv(t, "dev", env, all...)
	if !p.waitOutput("Web UI:", 60*time.Second) {
		t.Fatalf("dev did not come up:\n%s\n%s", p.stdout.String(), p.stderr.String())
	}
	u := regexp.MustCompile(`http://\S+\.localhost:\d+/`).FindString(p.stdout.String())
	if u == "" {
		t.Fatalf("dev printed no tunnel URL:\n%s", p.stdout.String())
	}
	return &devProc{proc: p, edge: &edgeProc{port: port, adminPort: admin}, url: strings.TrimSuffix(u, "/")}
}

// send posts body to path with a GitHub signature header (none if sig is
// empty) and returns the status and the echo app's view of the request.
func (d *devProc) send(t *testing.T, path string, body []byte, sig string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", d.url+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "ping")
	if sig != "" {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	resp, err := d.edge.client(20 * time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var echo map[string]any
	json.NewDecoder(resp.Body).Decode(&echo)
	return resp.StatusCode, echo
}

// `hooktunnel dev --verify github --secret …` checks signatures as the
// edge would: a correctly signed request (under either secret of a
// rotation) reaches the app, a wrongly signed or unsigned one gets 401.
// The recipe it prints for a signed test works as printed.
func TestDevVerifiesSignatures(t *testing.T) {
	t.Parallel()
	const secret, old = "dev-secret-0123456789", "dev-secret-old-987654321"
	d := startDev(t, nil, "--verify", "github", "--secret", secret, "--secret", old)
	if !strings.Contains(d.stdout.String(), "X-Hub-Signature-256") {
		t.Errorf("dev does not say how to send a signed test:\n%s", d.stdout.String())
	}
	body := []byte(`{"zen":"Approachable is better than simple.","hook_id":7}`)
	tests := []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"signed", body, githubSign(secret, body), http.StatusOK},
		{"signed with the old secret", []byte(`{"hook_id":8}`), githubSign(old, []byte(`{"hook_id":8}`)), http.StatusOK},
		{"wrong secret", []byte(`{"hook_id":9}`), githubSign("not-the-secret", []byte(`{"hook_id":9}`)), http.StatusUnauthorized},
		{"body changed", []byte(`{"hook_id":10}`), githubSign(secret, []byte(`{"hook_id":11}`)), http.StatusUnauthorized},
		{"unsigned", []byte(`{"hook_id":12}`), "", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		status, echo := d.send(t, "/hooks/gh", tc.body, tc.sig)
		if status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, status, tc.want)
		}
		if tc.want == http.StatusOK && echo["method"] != "POST" {
			t.Errorf("%s: the app did not get it: %v", tc.name, echo)
		}
	}

	// The printed recipe, run as printed with SECRET set.
	if _, err := exec.LookPath("openssl"); err != nil {
		need.Missing(t, "openssl is missing: the printed recipe is not run (apt-get install openssl)")
	}
	out := d.stdout.String()
	start := strings.Index(out, "  body=")
	end := strings.Index(out, "Check a captured delivery")
	if start < 0 || end < start {
		t.Fatalf("no recipe in:\n%s", out)
	}
	script := out[start:end]
	// curl resolves *.localhost itself; keep it on this edge's port.
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "SECRET="+secret)
	res, err := cmd.CombinedOutput()
	if err != nil || !regexp.MustCompile(`"method":\s*"POST"`).Match(res) {
		t.Errorf("the printed recipe failed (%v):\n%s\n%s", err, script, res)
	}
}

// `hooktunnel dev --config edge.yaml` runs a production edge config on
// this machine: its routes and verification, on the dev listeners, with
// its domain, TLS and data directory overridden.
func TestDevRunsAnEdgeConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "edge.yaml")
	config := `domain: hooks.example.com
tls: acme
acme: {email: ops@example.com}
data: ` + filepath.Join(dir, "not-this-one") + `
agents:
  - name: prod
    token_sha256: ` + strings.Repeat("ab", 32) + `
    tunnels: [github]
tunnels:
  github:
    routes:
      - path: /webhooks/github
        methods: [POST]
        verify: {provider: github, secrets: [env:HT_DEV_GH_SECRET]}
`
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	const secret = "dev-config-secret-42"
	d := startDev(t, []string{"HT_DEV_GH_SECRET=" + secret}, "--config", file)
	if !strings.Contains(d.url, "github.localhost") {
		t.Errorf("the dev tunnel is %s, want the config's tunnel github", d.url)
	}
	body := []byte(`{"action":"opened"}`)
	if status, echo := d.send(t, "/webhooks/github", body, githubSign(secret, body)); status != http.StatusOK || echo["method"] != "POST" {
		t.Errorf("signed: status %d, app saw %v", status, echo)
	}
	if status, _ := d.send(t, "/webhooks/github", []byte(`{"n":2}`), githubSign("wrong", []byte(`{"n":2}`))); status != http.StatusUnauthorized {
		t.Errorf("wrongly signed: status %d, want 401", status)
	}
	if status, _ := d.send(t, "/elsewhere", body, githubSign(secret, body)); status != http.StatusNotFound {
		t.Errorf("a path no route has: status %d, want 404", status)
	}
	if _, err := os.Stat(filepath.Join(dir, "not-this-one")); err == nil {
		t.Error("dev wrote to the config's data directory")
	}
}

// Flags that cannot mean anything are usage errors (exit 2), before
// anything listens.
func TestDevVerifyUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"secret without verify", []string{"--secret", "x"}, "--secret needs --verify"},
		{"verify without secret", []string{"--verify", "github"}, "needs the webhook's secret"},
		{"unknown provider", []string{"--verify", "gitbub", "--secret", "x"}, "gitbub"},
		{"verify with config", []string{"--verify", "github", "--secret", "x", "--config", "edge.yaml"}, "with --config"},
		{"empty env secret", []string{"--verify", "github", "--secret", "env:HT_DEV_UNSET_SECRET_X"}, "HT_DEV_UNSET_SECRET_X"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port, admin := freePort(t), freePort(t)
			p := startProc(t, "dev", append([]string{"dev", "--echo", "--listen", "127.0.0.1:" + port, "--admin-listen", "127.0.0.1:" + admin}, tc.args...)...)
			code, ok := p.exited(30 * time.Second)
			if !ok || code != 2 || !strings.Contains(p.stderr.String(), tc.want) {
				t.Errorf("exit %d (ended %v), want 2 with %q:\n%s", code, ok, tc.want, p.stderr.String())
			}
		})
	}
}
