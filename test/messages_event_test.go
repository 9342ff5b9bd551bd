package test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// Which webhook is which: a verified GitHub delivery is journaled with its
// event (X-GitHub-Event + action) and delivery id, `messages list` shows
// both, a search finds it by a word of its body, and `messages export`
// writes a request `hooktunnel verify` reads back.
func TestMessagesShowEventSearchBodyAndExport(t *testing.T) {
	t.Setenv("HT_GH_NEW", ghNew)
	tok := newToken("hooks", false, "hooks")
	e := startEdge(t, edgeConfig([]agentToken{tok}, `
tunnels:
  hooks:
    routes:
      - path: /github
        verify: {provider: github, secrets: [env:HT_GH_NEW]}
      - path: /plain
`))
	a := startApp(t)
	startAgent(t, e, tok, a.port(), "--name", "hooks")
	c := e.client(20 * time.Second)
	body := []byte(`{"action":"opened","pull_request":{"number":7,"title":"needle-in-the-body-41"}}`)
	req, _ := http.NewRequest("POST", e.hookURL("hooks", "/github?source=test"), bytes.NewReader(body))
	req.Header.Set("X-Hub-Signature-256", githubSign(ghNew, body))
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	resp.Body.Close()
	// An unverified route names no event, whatever the request says.
	plain, _ := http.NewRequest("POST", e.hookURL("hooks", "/plain"), strings.NewReader(`{"type":"invoice.paid"}`))
	plain.Header.Set("X-GitHub-Event", "push")
	if resp, err := c.Do(plain); err == nil {
		resp.Body.Close()
	}

	m := e.waitMessage(t, "tunnel=hooks", func(m store.Message) bool { return m.Path == "/github" })
	if m.Event != "pull_request.opened" || m.DeliveryID != "72d3162e-cc78-11e3-81ab-4c9367dc0958" {
		t.Errorf("journaled event %q, delivery %q", m.Event, m.DeliveryID)
	}
	p := e.waitMessage(t, "tunnel=hooks", func(m store.Message) bool { return m.Path == "/plain" })
	if p.Event != "" {
		t.Errorf("an unverified request got the event %q", p.Event)
	}

	api := "--api=http://127.0.0.1:" + e.adminPort
	out, errOut, code := runCLI(t, "messages", "list", api)
	if code != 0 || !strings.Contains(out, "EVENT") || !strings.Contains(out, "pull_request.opened") || !strings.Contains(out, "72d3162e-cc78-11e3-81ab-4c9367dc0958") {
		t.Errorf("messages list (exit %d) does not show the event and delivery id:\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, "messages", "list", api, "--q", "needle-in-the-body-41")
	if code != 0 || !strings.Contains(out, m.ID) || strings.Contains(out, p.ID) {
		t.Errorf("a search for a word of the body (exit %d):\n%s%s", code, out, errOut)
	}

	raw, errOut, code := runCLI(t, "messages", "export", api, m.ID)
	if code != 0 {
		t.Fatalf("messages export: exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(raw, "POST /github?source=test HTTP/1.1\r\n") || !strings.HasSuffix(raw, "\r\n\r\n"+string(body)) {
		t.Errorf("export is not the request as sent:\n%s", raw)
	}
	file := filepath.Join(t.TempDir(), "req.http")
	if err := os.WriteFile(file, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	// The journal keeps the provider's signature: the export passes the
	// same check as the delivery did.
	if strings.Contains(errOut, "X-Hub-Signature-256") {
		t.Errorf("export says the signature header was redacted: %s", errOut)
	}
	run := runVerify(t, "--provider", "github", "--secret", ghNew, file)
	run.want(t, 0, 1)
	if !run.lines[0].Allow || run.lines[0].DeliveryID != m.DeliveryID {
		t.Errorf("verify of the export: %+v", run.lines[0])
	}
}
