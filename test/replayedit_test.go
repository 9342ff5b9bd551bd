package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// `messages replay ID --edit` opens the request in the user's editor and
// sends what was saved: a changed body and an added header reach the app,
// and the new message says it was an edited replay.
func TestReplayWithEdit(t *testing.T) {
	tok := newToken("ed", false, "ed")
	e := startEdge(t, edgeConfig([]agentToken{tok}, `
tunnels:
  ed:
    routes:
      - path: /hook
`))
	app := startApp(t)
	startAgent(t, e, tok, app.port(), "--name", "ed")
	resp, err := e.client(10*time.Second).Post(e.hookURL("ed", "/hook"), "application/json", strings.NewReader(`{"hello":"original"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	orig := e.waitMessage(t, "tunnel=ed", func(m store.Message) bool { return m.Decision == "forwarded" })

	// The "editor" (plain sh, no GNU tools): saves a request with a header
	// added and the body changed.
	editor := filepath.Join(t.TempDir(), "editor.sh")
	script := "#!/bin/sh\nprintf 'Content-Type: application/json\\nX-Edited: yes\\n\\n{\"hello\":\"edited\"}' > \"$1\"\n"
	if err := os.WriteFile(editor, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", editor)
	out, errOut, code := runCLI(t, "messages", "replay", orig.ID, "--edit", "--api=http://127.0.0.1:"+e.adminPort)
	if code != 0 {
		t.Fatalf("replay --edit: exit %d: %s%s", code, out, errOut)
	}
	id := regexp.MustCompile(`as (\S+)`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("replay --edit printed: %s", out)
	}
	var replayed store.Message
	e.adminGet(t, "/api/v1/messages/"+id[1], &replayed)
	var echo appEcho
	if err := json.Unmarshal(replayed.ResponseBody, &echo); err != nil {
		t.Fatalf("the app's answer to the edited replay: %v (%q)", err, replayed.ResponseBody)
	}
	if echo.Header.Get("X-Edited") != "yes" || echo.BodySHA != sha256Hex([]byte(`{"hello":"edited"}`)) {
		t.Errorf("the app got X-Edited %q and body sha %s; want the edited request", echo.Header.Get("X-Edited"), echo.BodySHA)
	}
	if replayed.ReplayOf != orig.ID || replayed.Detail != "an edited replay" || string(replayed.Body) != `{"hello":"edited"}` {
		t.Errorf("the edited replay in the journal: replay_of %q, detail %q, body %q", replayed.ReplayOf, replayed.Detail, replayed.Body)
	}
}
