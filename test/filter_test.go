package test

import (
	"bytes"
	"io"
	"net/http"
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
