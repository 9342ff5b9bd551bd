package test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// Refused requests are what a user debugs: the journal keeps the body the
// edge read of one (a bad signature's), unless the route opts out, and a
// replay that cannot work says why in words that are true.
func TestRefusedBodiesAreKeptAndReplayTellsWhyNot(t *testing.T) {
	t.Setenv("HT_RB_SECRET", ghNew)
	tok := newToken("rb", false, "rb")
	e := startEdge(t, edgeConfig([]agentToken{tok}, `
tunnels:
  rb:
    routes:
      - path: /kept
        verify: {provider: github, secrets: [env:HT_RB_SECRET]}
      - path: /private
        verify: {provider: github, secrets: [env:HT_RB_SECRET]}
        refused_bodies: false
`))
	app := startCountingApp(t)
	startAgent(t, e, tok, app.port(), "--name", "rb")
	c := e.client(10 * time.Second)
	send := func(method, path, body string) {
		t.Helper()
		req, _ := http.NewRequest(method, e.hookURL("rb", path), strings.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", githubSign("not-the-secret", []byte(body)))
		req.Header.Set("X-Test-Id", path+method)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	send("POST", "/kept", `{"debug":"me"}`)
	send("POST", "/private", `{"keep":"out"}`)
	send("PUT", "/kept", `{"wrong":"method"}`)

	find := func(path, reason string) store.Message {
		t.Helper()
		m := e.waitMessage(t, "tunnel=rb&decision=refused", func(m store.Message) bool { return m.Path == path && m.Reason == reason })
		var full store.Message
		e.adminGet(t, "/api/v1/messages/"+m.ID, &full)
		return full
	}
	replay := func(id string) (int, string) {
		t.Helper()
		resp, err := http.Post("http://127.0.0.1:"+e.adminPort+"/api/v1/messages/"+id+"/replay", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Message string }
		b, _ := io.ReadAll(resp.Body)
		json.Unmarshal(b, &out)
		return resp.StatusCode, out.Message
	}

	kept := find("/kept", "bad_signature")
	if !bytes.Equal(kept.Body, []byte(`{"debug":"me"}`)) {
		t.Errorf("the refused webhook's body in the journal: %q", kept.Body)
	}
	if status, msg := replay(kept.ID); status != http.StatusAccepted {
		t.Errorf("replay of a refused webhook with its body: %d %s", status, msg)
	}

	private := find("/private", "bad_signature")
	if private.Body != nil {
		t.Errorf("refused_bodies: false kept the body %q", private.Body)
	}
	if status, msg := replay(private.ID); status != http.StatusConflict || !strings.Contains(msg, "refused (bad_signature)") {
		t.Errorf("replay without a body: %d %q, want 409 naming the refusal", status, msg)
	}

	method := find("/kept", "method_not_allowed")
	if status, msg := replay(method.ID); status != http.StatusConflict || !strings.Contains(msg, "before the edge read its body") || strings.Contains(msg, "journal level") {
		t.Errorf("replay of a request refused before its body was read: %d %q", status, msg)
	}
}
