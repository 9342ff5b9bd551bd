package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hooktunnel/hooktunnel/edge/store"
	ui "github.com/hooktunnel/hooktunnel/test/browser"
)

// The browser helpers are shared with the end-to-end UI test.
var (
	browser    = ui.Start
	do         = ui.Do
	waitFor    = ui.Wait
	screenshot = ui.Screenshot
)

func eval[T any](t *testing.T, ctx context.Context, js string) T { return ui.Eval[T](t, ctx, js) }

func jsonMessage(i int, tunnel string) store.Message {
	body := fmt.Sprintf(`{"action":"opened","number":%d,"repository":{"full_name":"acme/app","private":true},"sender":{"login":"octocat"}}`, i)
	return store.Message{
		Tunnel: tunnel, Route: "/hooks/" + tunnel, SourceIP: "192.30.252.41",
		Method: "POST", Path: "/hooks/" + tunnel, Query: fmt.Sprintf("n=%d&token=[redacted]", i),
		Header: map[string][]string{
			"Content-Type":        {"application/json"},
			"X-Github-Event":      {"pull_request"},
			"X-Hub-Signature-256": {"[redacted]"},
		},
		Body: []byte(body), BodySize: int64(len(body)),
		Decision: "forwarded", Provider: "github", SecretRef: "env:GH_SECRET", DeliveryID: fmt.Sprintf("delivery-%d", i),
		Status: 200, ResponseHeader: map[string][]string{"Content-Type": {"application/json"}},
		ResponseBody: []byte(`{"ok":true}`), Duration: time.Duration(1+i%40) * 1300 * time.Microsecond,
	}
}

// seed fills the fake with 250 messages of every kind.
func seed(f *fakeAPI) (hostile, binary, queued *store.Message) {
	for i := range 250 {
		tunnel := []string{"github", "stripe", "slack"}[i%3]
		m := jsonMessage(i, tunnel)
		switch {
		case i == 210:
			m.Path = `/hooks/<img src=x onerror="window.pwned=1">`
			m.Header["X-Evil"] = []string{`<script>window.pwned=2</script>`}
			m.Body = []byte(`{"html":"<b onmouseover=\"window.pwned=3\">hi</b>"}`)
			hostile = f.add(m)
			continue
		case i == 220:
			m.Header["Content-Type"] = []string{"application/octet-stream"}
			m.Body = []byte{0x00, 0x01, 0x02, 0xff, 0xfe, 'P', 'K', 0x03, 0x04}
			m.BodySize = int64(len(m.Body))
			binary = f.add(m)
			continue
		case i == 230:
			m.Decision, m.Queue, m.Status = "queued", store.QueueDelivered, 202
			at := f.start.Add(2 * time.Hour)
			m.Attempts = []store.Attempt{
				{N: 1, At: at, Error: "agent offline", Duration: 2 * time.Millisecond},
				{N: 2, At: at.Add(time.Second), Status: 502, Duration: 31 * time.Millisecond},
				{N: 3, At: at.Add(5 * time.Second), Status: 200, Duration: 12 * time.Millisecond},
			}
			queued = f.add(m)
			continue
		case i%10 == 3:
			m.Decision, m.Reason, m.Detail, m.Status = "refused", "bad_signature", "signature in X-Hub-Signature-256 does not match", 401
			m.Body, m.ResponseBody, m.ResponseHeader = nil, []byte(`{"error":"bad_signature"}`), nil
		case i%17 == 5:
			m.Status = 500
		}
		f.add(m)
	}
	return hostile, binary, queued
}

func TestUIInBrowser(t *testing.T) {
	t.Parallel()
	f := newFakeAPI()
	hostile, binary, queued := seed(f)
	srv := httptest.NewServer(f.handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(f.closed) }) // ends event streams before srv.Close waits for them
	tab, problems := browser(t, 90*time.Second)

	do(t, tab, "open the UI", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#rows tr`)))
	waitFor(t, tab, "the event stream", `document.getElementById('live').dataset.state === 'live'`, 10*time.Second)
	if n := eval[int](t, tab, `document.querySelectorAll('#rows tr').length`); n != 100 {
		t.Errorf("first page: %d rows, want 100", n)
	}
	waitFor(t, tab, "the alerts indicator", `!document.getElementById('alerts').hidden`, 10*time.Second)
	if got := eval[string](t, tab, `document.getElementById('alerts').textContent`); got != "1 alert firing" {
		t.Errorf("alerts indicator = %q", got)
	}

	t.Run("escapes what senders control", func(t *testing.T) {
		sel := fmt.Sprintf(`#rows tr[data-id=%q]`, hostile.ID)
		do(t, tab, "open the hostile message", chromedp.Click(chromedp.CSS(sel)), chromedp.WaitVisible(chromedp.CSS(`#detail .j-key`)))
		if got, want := eval[string](t, tab, `document.querySelector('`+sel+` .path').textContent`), hostile.Path+"?"+hostile.Query; got != want {
			t.Errorf("row path %q, want %q", got, want)
		}
		text := eval[string](t, tab, `document.getElementById('detail').textContent`)
		for _, want := range []string{`<script>window.pwned=2</script>`, `<b onmouseover=\"window.pwned=3\">hi</b>`} {
			if !strings.Contains(text, want) {
				t.Errorf("detail does not show %s as text", want)
			}
		}
		if n := eval[int](t, tab, `document.querySelectorAll('#rows img, #detail img, #detail script, #detail b').length`); n != 0 {
			t.Errorf("%d elements made from message data", n)
		}
		if eval[bool](t, tab, `window.pwned !== undefined`) {
			t.Error("a message ran script in the page")
		}
	})

	t.Run("detail of a JSON message", func(t *testing.T) {
		top := eval[string](t, tab, `document.querySelector('#rows tr').dataset.id`)
		do(t, tab, "open the newest message", chromedp.Click(chromedp.CSS(`#rows tr`)),
			chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#detail [data-for=%q] .j-key`, top))))
		text := eval[string](t, tab, `document.getElementById('detail').innerText`)
		for _, want := range []string{"X-Github-Event", "pull_request", "[redacted]", `"full_name": "acme/app"`, "delivery-249", "env:GH_SECRET", "token", `"ok": true`} {
			if !strings.Contains(text, want) {
				t.Errorf("detail does not show %q:\n%s", want, text)
			}
		}
		if !strings.Contains(eval[string](t, tab, `location.hash`), "id="+top) {
			t.Error("the selected message is not in the URL")
		}
	})

	t.Run("binary body and attempts", func(t *testing.T) {
		do(t, tab, "open the binary message", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#rows tr[data-id=%q]`, binary.ID))),
			chromedp.WaitVisible(chromedp.CSS(`#detail pre.hex`)))
		if got := eval[string](t, tab, `document.querySelector('#detail pre.hex').textContent`); !strings.Contains(got, "00 01 02 ff fe 50 4b 03") || !strings.Contains(got, "|.....PK..|") {
			t.Errorf("hex dump:\n%s", got)
		}
		do(t, tab, "open the queued message", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#rows tr[data-id=%q]`, queued.ID))),
			chromedp.WaitVisible(chromedp.CSS(`#detail ol.timeline`)))
		if n := eval[int](t, tab, `document.querySelectorAll('#detail ol.timeline li').length`); n != 3 {
			t.Errorf("timeline has %d attempts, want 3", n)
		}
		if !strings.Contains(eval[string](t, tab, `document.querySelector('#detail ol.timeline').innerText`), "agent offline") {
			t.Error("the timeline does not show the failed attempt's error")
		}
		do(t, tab, "scroll to the attempts", chromedp.Evaluate[chromedp.Void](`document.getElementById('detail').scrollTop = 1e6`))
		screenshot(t, tab, "ui-attempts.png")
	})

	t.Run("load older pages", func(t *testing.T) {
		do(t, tab, "load older", chromedp.Click(chromedp.ID(`older`)))
		waitFor(t, tab, "200 rows", `document.querySelectorAll('#rows tr').length === 200`, 10*time.Second)
		do(t, tab, "load older", chromedp.Click(chromedp.ID(`older`)))
		waitFor(t, tab, "all 250 rows and no more button", `document.querySelectorAll('#rows tr').length === 250 && document.getElementById('older').hidden`, 10*time.Second)
		if got := f.lastListing().Get("limit"); got != "100" {
			t.Errorf("pages of %s, want 100", got)
		}
	})

	t.Run("live message and replay", func(t *testing.T) {
		m := f.add(jsonMessage(999, "github"))
		sel := fmt.Sprintf(`#rows tr[data-id=%q]`, m.ID)
		wctx, cancel := context.WithTimeout(tab, 10*time.Second)
		defer cancel()
		do(t, wctx, "the live message", chromedp.WaitVisible(chromedp.CSS(sel)))
		if first := eval[string](t, tab, `document.querySelector('#rows tr').dataset.id`); first != m.ID {
			t.Errorf("the live message is not at the top (%s is)", first)
		}
		do(t, tab, "replay it", chromedp.Click(chromedp.CSS(sel)), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#detail [data-for=%q]`, m.ID))),
			chromedp.Click(chromedp.ID(`replay`)), chromedp.WaitVisible(chromedp.CSS(`#detail a.replay-of`)))
		if got := f.replayed(); len(got) != 1 || got[0] != m.ID {
			t.Errorf("replays %v, want [%s]", got, m.ID)
		}
		if got := eval[string](t, tab, `document.querySelector('#detail a.replay-of').textContent`); got != m.ID {
			t.Errorf("replay_of link %q, want %s", got, m.ID)
		}
		waitFor(t, tab, "the replay in the list, selected", `document.querySelector('#rows tr').getAttribute('aria-current') === 'true'`, 10*time.Second)
		screenshot(t, tab, "ui-detail.png")
	})

	t.Run("edit and replay", func(t *testing.T) {
		m := f.add(jsonMessage(1002, "github"))
		sel := fmt.Sprintf(`#rows tr[data-id=%q]`, m.ID)
		wctx, cancel := context.WithTimeout(tab, 10*time.Second)
		defer cancel()
		do(t, wctx, "open it", chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)),
			chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#detail [data-for=%q]`, m.ID))),
			chromedp.Click(chromedp.ID(`edit-replay`)), chromedp.WaitVisible(chromedp.ID(`edit-body`)))
		do(t, wctx, "edit and send", chromedp.Evaluate[chromedp.Void](`(() => {
			const hs = document.getElementById('edit-headers'); hs.value += '\nX-Edited: yes';
			const b = document.getElementById('edit-body'); b.value = '{"edited":true}';
		})()`), chromedp.Click(chromedp.ID(`edit-send`)), chromedp.WaitVisible(chromedp.CSS(`#detail a.replay-of`)))
		edit, ok := f.lastEdit()
		if !ok {
			t.Fatal("no edited replay reached the API")
		}
		if string(edit.Body) != `{"edited":true}` || edit.Header.Get("X-Edited") != "yes" || edit.Header.Get("Content-Type") != m.Header.Get("Content-Type") {
			t.Errorf("edited replay sent header %v body %q", edit.Header, edit.Body)
		}
	})

	t.Run("release a held message", func(t *testing.T) {
		m := jsonMessage(1003, "github")
		m.Decision, m.Reason, m.Status, m.Queue = "filtered", "filtered", 202, store.QueueHeld
		added := f.add(m)
		sel := fmt.Sprintf(`#rows tr[data-id=%q]`, added.ID)
		wctx, cancel := context.WithTimeout(tab, 10*time.Second)
		defer cancel()
		do(t, wctx, "the held message in the list", chromedp.WaitVisible(chromedp.CSS(sel+` .queue.q-held`)))
		do(t, wctx, "open it and release it", chromedp.Click(chromedp.CSS(sel)),
			chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#detail [data-for=%q]`, added.ID))),
			chromedp.Click(chromedp.ID(`release`)))
		waitFor(t, tab, "the detail shows it pending, without Release",
			`!document.getElementById('release') && !!document.querySelector('#detail .d-actions .queue.q-pending')`, 10*time.Second)
		if got := f.released(); len(got) != 1 || got[0] != added.ID {
			t.Errorf("releases %v, want [%s]", got, added.ID)
		}
		// A message that is not held has no Release button.
		other := f.add(jsonMessage(1004, "github"))
		do(t, wctx, "open a forwarded message", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#rows tr[data-id=%q]`, other.ID))),
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#rows tr[data-id=%q]`, other.ID))),
			chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#detail [data-for=%q]`, other.ID))))
		if eval[bool](t, tab, `!!document.getElementById('release')`) {
			t.Error("a forwarded message has a Release button")
		}
	})

	t.Run("replay blocked without a body", func(t *testing.T) {
		m := jsonMessage(1001, "github")
		m.Decision, m.Reason, m.Body, m.BodySize = "refused", "bad_signature", nil, 120
		added := f.add(m)
		sel := fmt.Sprintf(`#rows tr[data-id=%q]`, added.ID)
		wctx, cancel := context.WithTimeout(tab, 10*time.Second)
		defer cancel()
		do(t, wctx, "open the refused message", chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)),
			chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#detail [data-for=%q]`, added.ID))))
		if !eval[bool](t, tab, `document.getElementById('replay').disabled`) {
			t.Error("Replay is enabled for a message whose body the journal does not have")
		}
		if title := eval[string](t, tab, `document.getElementById('replay').title`); !strings.Contains(title, "refused (bad_signature)") {
			t.Errorf("Replay's title %q does not say why", title)
		}
	})

	t.Run("filters", func(t *testing.T) {
		do(t, tab, "show refusals", chromedp.SetValue(chromedp.ID(`f-decision`), "refused"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('f-decision').dispatchEvent(new Event('change'))`))
		refused := f.count(url.Values{"decision": {"refused"}})
		waitFor(t, tab, "only refusals", fmt.Sprintf(`[...document.querySelectorAll('#rows tr')].every(tr => tr.querySelector('.badge').textContent === 'refused') && document.querySelectorAll('#rows tr').length === %d`, refused), 10*time.Second)
		if got := f.lastListing().Get("decision"); got != "refused" {
			t.Errorf("listing asked for decision %q", got)
		}
		if !strings.Contains(eval[string](t, tab, `document.querySelector('#rows tr .c-decision').textContent`), "bad_signature") {
			t.Error("a refusal's row does not show its reason")
		}
		f.add(jsonMessage(1000, "github")) // forwarded: must not show up
		do(t, tab, "search", chromedp.SendKeys(chromedp.ID(`f-q`), "hooks/stripe"))
		want := f.count(url.Values{"decision": {"refused"}, "q": {"hooks/stripe"}})
		if want == 0 || want == refused {
			t.Fatalf("the seed has %d refusals, %d on stripe: the search would not be seen", refused, want)
		}
		waitFor(t, tab, "the search", fmt.Sprintf(`document.querySelectorAll('#rows tr').length === %d`, want), 10*time.Second)
		if got := f.lastListing(); got.Get("q") != "hooks/stripe" || got.Get("decision") != "refused" {
			t.Errorf("listing query %v", got)
		}
		screenshot(t, tab, "ui-filtered.png")
		do(t, tab, "clear the filters", chromedp.Click(chromedp.ID(`f-clear`)))
		waitFor(t, tab, "the full list", `document.querySelectorAll('#rows tr').length === 100`, 10*time.Second)
	})

	t.Run("the list stays bounded", func(t *testing.T) {
		var last *store.Message
		for i := range 700 {
			last = f.add(jsonMessage(2000+i, "stripe"))
		}
		waitFor(t, tab, "the newest live message", fmt.Sprintf(`document.querySelector('#rows tr').dataset.id === %q`, last.ID), 10*time.Second)
		if n := eval[int](t, tab, `document.querySelectorAll('#rows tr').length`); n != 500 {
			t.Errorf("%d rows in the DOM, want the cap of 500", n)
		}
		do(t, tab, "load older after the cap", chromedp.Click(chromedp.ID(`older`)))
		waitFor(t, tab, "older rows, newest dropped", `document.querySelectorAll('#rows tr').length === 500 && !document.getElementById('banner').hidden`, 10*time.Second)
	})

	if p := problems(); len(p) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(p, "\n"))
	}
}

// The UI asks for the admin token when the API wants one, and then sends
// it with every call, the event stream included.
func TestUIAsksForTheAdminToken(t *testing.T) {
	t.Parallel()
	f := newFakeAPI()
	f.add(jsonMessage(1, "github"))
	const token = "admin-secret"
	api := f.handler()
	var mu sync.Mutex
	authed := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			if r.Header.Get("Authorization") != "Bearer "+token {
				writeJSONTest(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized", "message": "token needed"})
				return
			}
			mu.Lock()
			authed[r.URL.Path] = true
			mu.Unlock()
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(f.closed) })
	tab, _ := browser(t, 60*time.Second)

	do(t, tab, "open the UI and give the token", chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID(`auth-token`)),
		chromedp.SendKeys(chromedp.ID(`auth-token`), token+"\n"),
		chromedp.WaitVisible(chromedp.CSS(`#rows tr`)))
	waitFor(t, tab, "the event stream", `document.getElementById('live').dataset.state === 'live'`, 10*time.Second)
	m := f.add(jsonMessage(2, "github"))
	waitFor(t, tab, "a live message", fmt.Sprintf(`!!document.querySelector('#rows tr[data-id=%q]')`, m.ID), 10*time.Second)
	mu.Lock()
	defer mu.Unlock()
	for _, p := range []string{"/api/v1/messages", "/api/v1/events"} {
		if !authed[p] {
			t.Errorf("%s was never called with the token", p)
		}
	}
}
