package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	ui "github.com/hooktunnel/hooktunnel/test/browser"
)

// The browser helpers are shared with edge/web's tests.
var (
	uiBrowser    = ui.Start
	uiDo         = ui.Do
	uiScreenshot = ui.Screenshot
)

func uiEval[T any](t *testing.T, tab context.Context, js string) T { return ui.Eval[T](t, tab, js) }

// uiWait polls a JavaScript condition in the page for up to 20 s.
func uiWait(t *testing.T, tab context.Context, what, js string) {
	t.Helper()
	ui.Wait(t, tab, what, js, 20*time.Second)
}

// hitCounter is an app that counts the requests of each X-Test-Id.
type hitCounter struct {
	addr string
	mu   sync.Mutex
	hits map[string]int
}

func startHitCounter(t *testing.T) *hitCounter {
	t.Helper()
	c := &hitCounter{hits: map[string]int{}}
	c.addr = serveLoopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.hits[r.Header.Get("X-Test-Id")]++
		n := c.hits[r.Header.Get("X-Test-Id")]
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"received":%d}`, n)
	}))
	return c
}

func (c *hitCounter) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits[id]
}

func (c *hitCounter) port() string { return portOf(c.addr) }

// uiTunnel is an edge and an agent serving tunnel "demo" for a hitCounter.
func uiTunnel(t *testing.T) (*edgeProc, *hitCounter) {
	t.Helper()
	app := startHitCounter(t)
	tok := newToken("demo", true, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	startAgent(t, e, tok, app.port(), "--name", "demo", "--route", "/hooks/{id}")
	return e, app
}

// The web UI in a real browser: a webhook shows up in the open page
// without a reload, its details show what was sent, and Replay delivers
// it to the app again as a new message.
func TestWebUI(t *testing.T) {
	t.Parallel()
	tab, problems := uiBrowser(t, 3*time.Minute) // first: skips without a browser
	e, app := uiTunnel(t)

	uiDo(t, tab, "open the UI", chromedp.Navigate("http://127.0.0.1:"+e.adminPort+"/"))
	uiWait(t, tab, "the live event stream", `document.getElementById('live').dataset.state === 'live'`)
	uiDo(t, tab, "mark the page", chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))

	testID := "webui-" + newToken("x", false).token[3:15]
	path := "/hooks/" + testID
	payload := `{"event":"push","ref":"refs/heads/main","commits":[{"id":"c0ffee","message":"fix <b>it</b>"}]}`
	req, _ := http.NewRequest(http.MethodPost, e.hookURL("demo", path+"?source=browser-test"), strings.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-Id", testID)
	req.Header.Set("X-Custom-Header", "sent-by-the-webui-test")
	resp, err := e.client(30 * time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || app.count(testID) != 1 {
		t.Fatalf("webhook: status %d, app saw it %d times", resp.StatusCode, app.count(testID))
	}

	// The new row appears live: no reload, no polling by the test.
	rowJS := fmt.Sprintf(`[...document.querySelectorAll('#rows tr')].find(tr => tr.querySelector('.path').textContent.startsWith(%q))`, path)
	uiWait(t, tab, "the webhook's row in the list", "!!"+rowJS)
	if !uiEval[bool](t, tab, `window.notReloaded === true`) {
		t.Fatal("the page reloaded to show the webhook")
	}
	id := uiEval[string](t, tab, rowJS+".dataset.id")
	row := fmt.Sprintf(`#rows tr[data-id=%q]`, id)
	if got := uiEval[string](t, tab, `document.querySelector('`+row+`').innerText`); !strings.Contains(got, "POST") || !strings.Contains(got, "200") || !strings.Contains(got, "forwarded") {
		t.Errorf("row reads %q, want POST, 200, forwarded", got)
	}

	// The detail view shows the headers and the body, pretty.
	uiDo(t, tab, "open the message", chromedp.Click(chromedp.CSS(row)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#detail [data-for=%q] pre.json`, id))))
	detail := uiEval[string](t, tab, `document.getElementById('detail').innerText`)
	for _, want := range []string{"X-Custom-Header", "sent-by-the-webui-test", `"ref": "refs/heads/main"`, `"message": "fix <b>it</b>"`, "source", "browser-test", `"received": 1`} {
		if !strings.Contains(detail, want) {
			t.Errorf("the detail view does not show %q:\n%s", want, detail)
		}
	}
	uiScreenshot(t, tab, "webui-detail.png")

	// Replay delivers again and selects the new message.
	uiDo(t, tab, "replay", chromedp.Click(chromedp.ID("replay")),
		chromedp.WaitVisible(chromedp.CSS(`#detail a.replay-of`)))
	eventually(t, 20*time.Second, "the app to get the replay", func() bool { return app.count(testID) == 2 })
	if got := uiEval[string](t, tab, `document.querySelector('#detail a.replay-of').textContent`); got != id {
		t.Errorf("replay_of link shows %q, want %s", got, id)
	}
	newID := uiEval[string](t, tab, `document.querySelector('#detail article').dataset.for`)
	uiWait(t, tab, "the replay's row, selected", fmt.Sprintf(`document.querySelector('#rows tr[data-id=%q]')?.getAttribute('aria-current') === 'true'`, newID))
	if !strings.Contains(uiEval[string](t, tab, `document.getElementById('detail').innerText`), `"received": 2`) {
		t.Error("the replay's detail does not show the app's second answer")
	}
	var replayed struct {
		ReplayOf string `json:"replay_of"`
		Status   int    `json:"status"`
	}
	if code := e.adminGet(t, "/api/v1/messages/"+newID, &replayed); code != http.StatusOK || replayed.ReplayOf != id || replayed.Status != http.StatusOK {
		t.Errorf("the API has the replay %s as %d %+v, want replay_of %s and status 200", newID, code, replayed, id)
	}
	uiScreenshot(t, tab, "webui-replay.png")

	if p := problems(); len(p) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(p, "\n"))
	}
}

// The messages CLI against a real edge: a table, the detail, a replay, the
// API's JSON as is, and one-line errors with the right exit codes.
func TestMessagesCLI(t *testing.T) {
	t.Parallel()
	e, app := uiTunnel(t)
	api := "--api=http://127.0.0.1:" + e.adminPort
	req, _ := http.NewRequest(http.MethodPost, e.hookURL("demo", "/hooks/cli?x=1"), strings.NewReader(`{"hello":"cli"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-Id", "cli")
	resp, err := e.client(30 * time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = e.client(30*time.Second).Post(e.hookURL("demo", "/nope"), "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The journal is written off the request path: wait until both are in.
	eventually(t, 20*time.Second, "both webhooks in the journal", func() bool { return len(e.messages(t, "")) == 2 })

	out, errOut, code := runCLI(t, "messages", "list", api)
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	if want := "asking http://127.0.0.1:" + e.adminPort + "\n"; errOut != want {
		t.Errorf("list: stderr %q, want %q (which edge it asks)", errOut, want)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TIME") || !strings.Contains(lines[2], "POST /hooks/cli?x=1") || !strings.Contains(lines[1], "refused: ") {
		t.Fatalf("list printed:\n%s", out)
	}
	id := strings.Fields(lines[2])[2]

	out, errOut, code = runCLI(t, "messages", "show", id, api)
	for _, want := range []string{`^POST /hooks/cli\?x=1\n`, `\n  decision +forwarded\n`, `\n  X-Test-Id: cli\n`, `\n    "hello": "cli"\n`, `\nResponse 200\n`, `\n    "received": 1\n`} {
		if code != 0 || !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("show (exit %d, %s) does not print %#q:\n%s", code, errOut, want, out)
		}
	}

	out, errOut, code = runCLI(t, "messages", "replay", id, api)
	if code != 0 || !strings.Contains(out, "Replayed "+id+" as ") || app.count("cli") != 2 {
		t.Errorf("replay: exit %d, app saw %d: %s%s", code, app.count("cli"), out, errOut)
	}

	out, _, code = runCLI(t, "messages", "list", api, "--json", "--limit", "1")
	var page struct {
		Messages []struct {
			ReplayOf string `json:"replay_of"`
		} `json:"messages"`
		Next string `json:"next"`
	}
	if err := json.Unmarshal([]byte(out), &page); code != 0 || err != nil || len(page.Messages) != 1 || page.Messages[0].ReplayOf != id || page.Next == "" {
		t.Errorf("list --json: exit %d, %v:\n%s", code, err, out)
	}

	_, errOut, code = runCLI(t, "messages", "show", "01NOSUCHMESSAGE0000000000", api)
	if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "not_found") {
		t.Errorf("show of an unknown id: exit %d, stderr %q; want 1 and one line", code, errOut)
	}
	_, errOut, code = runCLI(t, "messages", "list", api, "--status", "6xx")
	if code != 2 {
		t.Errorf("list --status 6xx: exit %d (%s), want 2", code, errOut)
	}
}
