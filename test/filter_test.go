package test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// Only the events a route's filter takes reach the app; the rest are
// acknowledged with Hooktunnel-Filtered, journaled as filtered and
// counted, and never forwarded. A bad signature is refused before any
// filter reads the body.
func TestFilterOnlyMatchingEventsReachTheApp(t *testing.T) {
	t.Setenv("HT_GH_NEW", ghNew)
	tok := newToken("hooks", false, "hooks")
	e := startEdge(t, edgeConfig([]agentToken{tok}, `
tunnels:
  hooks:
    routes:
      - path: /github
        verify: {provider: github, secrets: [env:HT_GH_NEW]}
        filter: headers["X-GitHub-Event"] == "pull_request" && body.action in ["opened", "synchronize"]
      - path: /github
        verify: {provider: github, secrets: [env:HT_GH_NEW]}
        filter: headers["x-github-event"] == "push" && body.ref == "refs/heads/main"
      - path: /stripe
        filter: body.type.startsWith("invoice.") && body.type != "invoice.upcoming"
        on_mismatch: reject
`))
	app := startCountingApp(t)
	startAgent(t, e, tok, app.port(), "--name", "hooks")
	c := e.client(20 * time.Second)

	send := func(path, event, body, secret string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", e.hookURL("hooks", path), bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", "application/json")
		if event != "" {
			req.Header.Set("X-GitHub-Event", event)
			req.Header.Set("X-GitHub-Delivery", "d-"+event+"-"+body[:20])
			req.Header.Set("X-Hub-Signature-256", githubSign(secret, []byte(body)))
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	tests := []struct {
		name, path, event, body string
		secret                  string
		status                  int
		forwarded               bool
	}{
		{"pr opened", "/github", "pull_request", `{"action":"opened","number":1}`, ghNew, 200, true},
		{"pr closed", "/github", "pull_request", `{"action":"closed","number":2}`, ghNew, 200, false},
		{"push to main, by the second route", "/github", "push", `{"ref":"refs/heads/main","after":"a1"}`, ghNew, 200, true},
		{"push to a branch", "/github", "push", `{"ref":"refs/heads/feature","after":"b2"}`, ghNew, 200, false},
		{"pr opened with a bad signature", "/github", "pull_request", `{"action":"opened","number":3}`, "not-the-secret", 401, false},
		{"invoice.paid", "/stripe", "", `{"type":"invoice.paid","id":"evt_1"}`, "", 200, true},
		{"invoice.upcoming, rejected", "/stripe", "", `{"type":"invoice.upcoming","id":"evt_2"}`, "", 422, false},
	}
	forwarded := 0
	for _, tc := range tests {
		resp := send(tc.path, tc.event, tc.body, tc.secret)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		filtered := resp.Header.Get("Hooktunnel-Filtered") == "true"
		if want := tc.status != 401 && !tc.forwarded; filtered != want {
			t.Errorf("%s: Hooktunnel-Filtered %v, want %v", tc.name, filtered, want)
		}
		if tc.forwarded {
			forwarded++
		}
	}
	total := func() int {
		app.mu.Lock()
		defer app.mu.Unlock()
		n := 0
		for _, c := range app.byID {
			n += c
		}
		return n
	}
	if got := total(); got != forwarded {
		t.Errorf("the app got %d requests, want %d", got, forwarded)
	}

	var filtered []store.Message
	eventually(t, 20*time.Second, "the filtered messages in the journal", func() bool {
		filtered = e.messages(t, "tunnel=hooks&decision=filtered")
		return len(filtered) == 3
	})
	for _, m := range filtered {
		if m.Reason != "filtered" || !strings.Contains(m.Detail, "filter") {
			t.Errorf("filtered message %s %s: reason %q detail %q", m.Path, m.Route, m.Reason, m.Detail)
		}
	}
	e.waitMessage(t, "tunnel=hooks&decision=refused", func(m store.Message) bool { return m.Reason == "bad_signature" })
	metrics := e.scrape(t)
	var counted float64
	for series, v := range metrics {
		if strings.HasPrefix(series, "hooktunnel_requests_total{") && strings.Contains(series, `outcome="filtered"`) {
			counted += v
		}
	}
	if counted != 3 {
		t.Errorf("hooktunnel_requests_total{outcome=\"filtered\"} = %v, want 3", counted)
	}
}

// `hooktunnel verify --filter` tells for captured deliveries whether a
// filter takes them, after their signature, before it goes live.
func TestFilterVerifyCommand(t *testing.T) {
	t.Setenv("HT_GH_NEW", ghNew)
	dir := t.TempDir()
	capture := func(name, body string, signed bool) string {
		sig := ""
		if signed {
			sig = "X-Hub-Signature-256: " + githubSign(ghNew, []byte(body)) + "\r\n"
		}
		raw := "POST /github HTTP/1.1\r\nHost: hooks.example.com\r\nContent-Type: application/json\r\nX-GitHub-Event: pull_request\r\n" +
			sig + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
		return writeCapture(t, dir, name, raw)
	}
	opened := capture("opened.http", `{"action":"opened","number":1}`, true)
	closed := capture("closed.http", `{"action":"closed","number":2}`, true)
	forged := capture("forged.http", `{"action":"opened","number":3}`, false)
	filter := `headers["X-GitHub-Event"] == "pull_request" && body.action in ["opened", "synchronize"]`

	run := runVerify(t, "--provider", "github", "--secret", "env:HT_GH_NEW", "--filter", filter, opened, closed, forged)
	run.want(t, 1, 3)
	for i, want := range []string{"ok", "filtered: ", "signature_missing: "} {
		if !strings.HasPrefix(run.lines[i].Reason, want) || run.lines[i].Allow != (i == 0) {
			t.Errorf("%s: allow %v, reason %q; want %q", run.lines[i].File, run.lines[i].Allow, run.lines[i].Reason, want)
		}
	}
	// Without --provider the filter alone is tried.
	runVerify(t, "--filter", filter, opened).want(t, 0, 1)
	// A filter that does not compile is a usage error naming the flag.
	bad := runVerify(t, "--filter", `evnt == "push"`, opened)
	if bad.code != 2 || !strings.Contains(bad.stderr, "--filter: undeclared reference to 'evnt'") {
		t.Errorf("bad filter: exit %d, stderr %q", bad.code, bad.stderr)
	}
}

// `hooktunnel verify --config` checks captured deliveries against the
// routes of a tunnel of an edge config file: each goes to the route its
// path matches, with that route's signature check and filter, the routes
// sharing a path tried in file order; the line names the route.
func TestFilterVerifyConfig(t *testing.T) {
	t.Setenv("HT_GH_NEW", ghNew)
	dir := t.TempDir()
	capture := func(name, path, body string, signed bool) string {
		sig := ""
		if signed {
			sig = "X-Hub-Signature-256: " + githubSign(ghNew, []byte(body)) + "\r\n"
		}
		raw := "POST " + path + " HTTP/1.1\r\nHost: gh.hooks.example.com\r\nContent-Type: application/json\r\nX-GitHub-Event: pull_request\r\n" +
			sig + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
		return writeCapture(t, dir, name, raw)
	}
	opened := capture("opened.http", "/github", `{"action":"opened","number":1}`, true)
	closed := capture("closed.http", "/github", `{"action":"closed","number":2}`, true)
	labeled := capture("labeled.http", "/github", `{"action":"labeled","number":3}`, true)
	forged := capture("forged.http", "/github", `{"action":"opened","number":4}`, false)
	elsewhere := capture("elsewhere.http", "/gitlab", `{"action":"opened","number":5}`, true)
	config := func(name, content string) string { return writeCapture(t, dir, name, content) }
	edgeYAML := config("edge.yaml", `tunnels:
  gh:
    routes:
      - path: /github
        verify: {provider: github, secrets: [env:HT_GH_NEW]}
        filter: body.action == "opened"
      - path: /github
        verify: {provider: github, secrets: [env:HT_GH_NEW]}
        filter: body.action == "closed"
        on_mismatch: reject
  stripe:
    routes:
      - path: /stripe
`)

	run := runVerify(t, "--config", edgeYAML, "--tunnel", "gh", opened, closed, labeled, forged, elsewhere)
	run.want(t, 1, 5)
	for i, want := range []struct{ reason, route string }{
		{"ok", "tunnels.gh.routes[0]"},
		{"ok", "tunnels.gh.routes[1]"},
		{"filtered: ", "tunnels.gh.routes[1]"},
		{"signature_missing: ", "tunnels.gh.routes[0]"},
		{"no_route: ", ""},
	} {
		got := run.lines[i]
		if !strings.HasPrefix(got.Reason, want.reason) || got.Route != want.route || got.Allow != (want.reason == "ok") {
			t.Errorf("%s: allow %v, reason %q, route %q; want %q at %q", got.File, got.Allow, got.Reason, got.Route, want.reason, want.route)
		}
	}
	run.assertNoSecret(t, ghNew)

	for _, tc := range []struct {
		name, stderr string
		args         []string
	}{
		{"several tunnels and no --tunnel", "several tunnels (gh, stripe): name one with --tunnel", []string{"--config", edgeYAML}},
		{"an unknown tunnel", "--tunnel gitlab: the file has no such tunnel (it has: gh, stripe)", []string{"--config", edgeYAML, "--tunnel", "gitlab"}},
		{"flags that the file sets", "leave out --provider", []string{"--config", edgeYAML, "--tunnel", "gh", "--provider", "github"}},
		{"--tunnel without --config", "give --config too", []string{"--tunnel", "gh", "--filter", "true"}},
		{"a filter that does not compile", "bad.yaml:5: tunnels.gh.routes[0].filter: ", []string{"--config", config("bad.yaml", `tunnels:
  gh:
    routes:
      - path: /github
        filter: body.action == 1 +
`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runVerify(t, append(tc.args, opened)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, tc.stderr)
			}
		})
	}
}

// `hooktunnel edge --check` prints each warning at its file and line, as
// it prints errors, so an operator finds the route among many.
func TestFilterCheckWarningLines(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "edge.yaml")
	config := `domain: hooks.test
tunnels:
  gh:
    routes:
      - path: /a
      - path: /a
        filter: event == "push"
      - path: /b
        verify: {provider: github, secrets: [a-literal-secret]}
        filter: "false"
`
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, "edge", "edge", "--config", file, "--check")
	if code, _ := p.exited(30 * time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, p.stderr.String())
	}
	for _, want := range []string{
		file + ":6: warning: tunnels.gh.routes[1]: can never match: routes[0] has the same path",
		file + ":7: warning: tunnels.gh.routes[1].filter: the route verifies no signature",
		file + ":10: warning: tunnels.gh.routes[2].filter: is false",
	} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p.stderr.String())
		}
	}
}

// on_mismatch: queue_hold keeps what the filter does not take, held:
// answered 202, journaled as filtered and held, never delivered until an
// operator releases it; released, the queue delivers it once with its id.
// Releasing it again is refused.
func TestFilterQueueHold(t *testing.T) {
	tok := newToken("hooks", false, "hooks")
	e := startEdge(t, edgeConfig([]agentToken{tok}, `
tunnels:
  hooks:
    routes:
      - path: /stripe
        filter: body.type.startsWith("invoice.")
        on_mismatch: queue_hold
        journal: metadata
`))
	app := startCountingApp(t)
	startAgent(t, e, tok, app.port(), "--name", "hooks")
	c := e.client(20 * time.Second)

	body := `{"type":"customer.created","id":"evt_held"}`
	resp, err := c.Post(e.hookURL("hooks", "/stripe"), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Hooktunnel-Filtered") != "true" || !strings.Contains(string(answer), `"held"`) {
		t.Fatalf("a request the filter does not take: %d %q %s; want 202, filtered, held", resp.StatusCode, resp.Header.Get("Hooktunnel-Filtered"), answer)
	}
	held := e.waitMessage(t, "tunnel=hooks&decision=filtered", func(m store.Message) bool { return m.Path == "/stripe" })
	if held.Queue != store.QueueHeld || held.Status != http.StatusAccepted || held.Reason != "filtered" {
		t.Fatalf("journaled as %s/%s status %d reason %q; want filtered, held, 202", held.Decision, held.Queue, held.Status, held.Reason)
	}
	// A matching request is forwarded at once: the agent is there, so by
	// the time the app has it, a held message would have gone too.
	resp, err = c.Post(e.hookURL("hooks", "/stripe"), "application/json", strings.NewReader(`{"type":"invoice.paid"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a matching request: %d", resp.StatusCode)
	}
	if n := app.deliveries(held.ID); n != 0 {
		t.Fatalf("the app got the held message %d times before its release", n)
	}

	api := "--api=http://127.0.0.1:" + e.adminPort
	out, errOut, code := runCLI(t, "messages", "list", api, "--decision", "filtered")
	if code != 0 || !strings.Contains(out, "(held)") {
		t.Errorf("messages list (exit %d) does not show the held state:\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, "messages", "release", api, held.ID)
	if code != 0 || !strings.Contains(out, "Released "+held.ID) {
		t.Fatalf("messages release: exit %d\n%s%s", code, out, errOut)
	}
	eventually(t, 20*time.Second, "the released message at the app", func() bool { return app.deliveries(held.ID) > 0 })
	e.waitMessage(t, "tunnel=hooks&decision=filtered", func(m store.Message) bool { return m.ID == held.ID && m.Queue == store.QueueDelivered })
	var done store.Message
	e.adminGet(t, "/api/v1/messages/"+held.ID, &done)
	if n := app.deliveries(held.ID); n != 1 || len(done.Attempts) != 1 || done.Attempts[0].Status != 200 {
		t.Errorf("released: the app got it %d times, attempts %+v; want once, 200", n, done.Attempts)
	}

	out, errOut, code = runCLI(t, "messages", "release", api, held.ID)
	if code != 1 || !strings.Contains(errOut, "not held") {
		t.Errorf("a second release: exit %d\n%s%s; want 1 and not held", code, out, errOut)
	}
	resp, err = http.Post("http://127.0.0.1:"+e.adminPort+"/api/v1/messages/"+held.ID+"/release", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("a second release through the API: %d, want 409", resp.StatusCode)
	}
	var audit struct {
		Entries []struct{ Action, Target string }
	}
	e.adminGet(t, "/api/v1/audit?action=message.release", &audit)
	if len(audit.Entries) != 1 || audit.Entries[0].Target != held.ID {
		t.Errorf("audit trail: %+v; want one message.release of %s", audit.Entries, held.ID)
	}
}
