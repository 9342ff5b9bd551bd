package test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Two tenants' Standard Webhooks keys: B's lives in the edge's environment
// (tunnel tenb verifies with it); A's is on A's machine only.
var (
	tenantBKey    = []byte("tenant-b-signing-key-0123456789ab")
	tenantBSecret = "whsec_" + base64.StdEncoding.EncodeToString(tenantBKey)
	tenantAKey    = []byte("tenant-a-own-key-abcdef0123456789")
	tenantASecret = "whsec_" + base64.StdEncoding.EncodeToString(tenantAKey)
)

func standardSign(key []byte, id, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// A hostile agent declares forward_secret: env:HT_B_SECRET, the name of
// tenant B's secret in the edge's environment. Were the edge to resolve
// it, the agent would receive its own body signed with B's key and could
// replay it onto B's verifying route. The agent's references are its
// own: the edge signs with what the agent's machine holds.
func TestDeclaredForwardSecretIsTheAgents(t *testing.T) {
	t.Setenv("HT_B_SECRET", tenantBSecret)
	evil := newToken("evil", true, "evil")
	tenb := newToken("tenb", false, "tenb")
	e := startEdge(t, edgeConfig([]agentToken{evil, tenb}, `
tunnels:
  tenb:
    routes:
      - path: /hook
        verify: {provider: standard-webhooks, secrets: [env:HT_B_SECRET]}
`))
	appA, appB := startApp(t), startApp(t)
	startAgent(t, e, tenb, appB.port(), "--name", "tenb")
	policyA := writeFile(t, "policy.yaml", `
forward_secret: env:HT_B_SECRET
routes:
  - path: /in
  - path: /signed
    verify: {provider: github, secrets: [env:HT_A_GH]}
`)
	agentA := startAgentEnv(t, e, evil, appA.port(), []string{"HT_B_SECRET=" + tenantASecret, "HT_A_GH=" + ghNew},
		"--name", "evil", "--policy", policyA)
	if !agentA.waitOutput("is online", 60*time.Second) {
		t.Fatalf("agent A did not come online:\n%s", agentA.stderr.String())
	}
	c := e.client(20 * time.Second)

	// A's own webhook, signed by the edge for A's app.
	body := []byte(`{"type":"invoice.paid","amount":100000}`)
	resp, err := c.Post(e.hookURL("evil", "/in"), "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	var echo appEcho
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &echo) != nil {
		t.Fatalf("A's webhook: %d %s", resp.StatusCode, raw)
	}
	id, ts, sig := echo.Header.Get("Webhook-Id"), echo.Header.Get("Webhook-Timestamp"), echo.Header.Get("Webhook-Signature")
	if id == "" || sig == "" {
		t.Fatalf("the edge did not sign the edge → app hop: %v", echo.Header)
	}
	if sig != standardSign(tenantAKey, id, ts, body) {
		t.Errorf("the edge did not sign with the key on A's machine (HT_B_SECRET there); signature %s", sig)
	}

	// Replayed onto tenant B's route, which verifies with B's key.
	req, _ := http.NewRequest("POST", e.hookURL("tenb", "/hook"), strings.NewReader(string(body)))
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", sig)
	req.Header.Set("X-Test-Id", "forged")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || appB.sawID("forged") {
		t.Fatalf("A's body, signed by the edge, was accepted by tenant B's route: %d %s (B's app saw it: %v)",
			resp.StatusCode, raw, appB.sawID("forged"))
	}

	// A literal secret the agent resolved itself still verifies.
	signed := []byte(`{"action":"opened"}`)
	req, _ = http.NewRequest("POST", e.hookURL("evil", "/signed"), strings.NewReader(string(signed)))
	req.Header.Set("X-Hub-Signature-256", githubSign(ghNew, signed))
	req.Header.Set("X-GitHub-Delivery", "a-1")
	req.Header.Set("X-Test-Id", "literal")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !appA.sawID("literal") {
		t.Errorf("a delivery signed with the agent's own secret: %d, app saw it: %v", resp.StatusCode, appA.sawID("literal"))
	}
}

// A hostile agent that sends references (not values) in its declared
// routes is refused, in one line that is the same whether the variable or
// file exists on the edge or not: no oracle. The real agent resolves its
// own references, so the reference it sends is the value of one of its
// variables (HT_A_REF=env:HT_B_SECRET).
func TestDeclaredSecretReferencesAreRefused(t *testing.T) {
	t.Setenv("HT_B_SECRET", tenantBSecret)
	existing := filepath.Join(t.TempDir(), "edge-secret")
	if err := os.WriteFile(existing, []byte("edge-only\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	evil := newToken("evil", true, "evil")
	e := startEdge(t, edgeConfig([]agentToken{evil}, ""))
	app := startApp(t)
	policyFile := writeFile(t, "policy.yaml", `
routes:
  - path: /in
    verify: {provider: github, secrets: [env:HT_A_REF]}
`)
	const want = "declared routes: routes[0].verify.secrets[0]: secret references (env:, file:) are not accepted from an agent; the agent resolves them itself"
	refs := []struct{ name, ref string }{
		{"env set on the edge", "env:HT_B_SECRET"},
		{"env set nowhere", "env:HT_NEVER_SET_7D3A"},
		{"file that exists on the edge", "file:" + existing},
		{"file that does not exist", "file:" + existing + ".nope"},
	}
	var lines []string
	for _, rc := range refs {
		agent := startAgentEnv(t, e, evil, app.port(), []string{"HT_A_REF=" + rc.ref}, "--name", "evil", "--policy", policyFile)
		eventually(t, 60*time.Second, "agent ("+rc.name+") to exit or come online", func() bool {
			select {
			case <-agent.done:
				return true
			default:
				return strings.Contains(agent.stdout.String(), "is online")
			}
		})
		code, exited := agent.exited(10 * time.Second)
		if !exited {
			t.Fatalf("%s: the edge admitted an agent declaring %s", rc.name, rc.ref)
		}
		var line string
		for l := range strings.SplitSeq(agent.stderr.String(), "\n") {
			if strings.HasPrefix(l, "hooktunnel: ") {
				line = l
			}
		}
		if code != 2 || !strings.Contains(line, want) {
			t.Errorf("%s: exit %d, last line %q; want exit 2 and %q", rc.name, code, line, want)
		}
		lines = append(lines, line)
	}
	for i := range lines {
		if lines[i] != lines[0] {
			t.Errorf("the refusal tells references apart:\n%q (%s)\n%q (%s)", lines[0], refs[0].name, lines[i], refs[i].name)
		}
	}
}

func TestTokenNewLeastPrivilege(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"default", nil, "may_declare_routes: false"},
		{"asked for", []string{"--may-declare-routes"}, "may_declare_routes: true"},
	}
	for _, tc := range tests {
		p := startProc(t, "token", append([]string{"token", "new", "--name", "x"}, tc.args...)...)
		if code, ok := p.exited(60 * time.Second); !ok || code != 0 {
			t.Fatalf("%s: token new exited %d (%v): %s", tc.name, code, ok, p.stderr.String())
		}
		if !strings.Contains(p.stdout.String(), tc.want) {
			t.Errorf("%s: token new printed\n%s\nwant %q", tc.name, p.stdout.String(), tc.want)
		}
	}
}
