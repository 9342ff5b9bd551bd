package web

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// recorder is a tunnel's public URL standing in for the edge: it keeps
// the requests a copied curl command sends.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, uri string
	header      http.Header
	body        []byte
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, recorded{r.Method, r.RequestURI, r.Header.Clone(), body})
	rec.mu.Unlock()
}

func (rec *recorder) last(t *testing.T) recorded {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) == 0 {
		t.Fatal("the curl command sent nothing")
	}
	return rec.reqs[len(rec.reqs)-1]
}

// The list shows each message's event and delivery id, and "Copy as curl"
// copies a command that sends the request again as the journal kept it:
// method, path and query, headers (redacted ones left out) and the body
// byte for byte, text or binary (curl -g: a [redacted] query is no glob). A message whose body was not kept cannot
// be copied.
func TestUIEventColumnAndCopyAsCurl(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is missing (%v): the copied command is run to check it", err)
	}
	rec := &recorder{}
	target := httptest.NewServer(rec)
	t.Cleanup(target.Close)

	f := newFakeAPI()
	gh := jsonMessage(1, "github")
	gh.Event = "pull_request.opened"
	gh.Path, gh.Query = "/hooks/it's here", "n=1&q=a%20b"
	gh.Header["User-Agent"] = []string{"GitHub-Hookshot/044aadd"}
	// It arrived at one edge of a cluster and was delivered by another.
	gh.Edge = "edge-b-1f2e3d"
	gh.Attempts = []store.Attempt{{N: 1, At: gh.ReceivedAt, Status: 200, Edge: "edge-a-4c5b6a"}}
	ghMsg := f.add(gh)
	bin := jsonMessage(2, "github")
	bin.Header["Content-Type"] = []string{"application/octet-stream"}
	bin.Body = []byte{0x00, 0x01, '\'', 0xff, '\n', 'P', 'K'}
	bin.BodySize = int64(len(bin.Body))
	binMsg := f.add(bin)
	refused := jsonMessage(3, "github")
	refused.Decision, refused.Status, refused.Body = "refused", 401, nil
	refusedMsg := f.add(refused)

	api := f.handler()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/tunnels", func(w http.ResponseWriter, r *http.Request) {
		writeJSONTest(w, http.StatusOK, map[string]any{"tunnels": []map[string]any{
			{"name": "github", "urls": []string{target.URL + "/hooks/github"}},
		}})
	})
	mux.Handle("/", api)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(f.closed) })
	tab, problems := browser(t, 90*time.Second)

	do(t, tab, "open the UI", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#rows tr`)))
	row := fmt.Sprintf(`#rows tr[data-id=%q]`, ghMsg.ID)
	if got := eval[string](t, tab, `document.querySelector('`+row+` .c-event .event').textContent`); got != "pull_request.opened" {
		t.Errorf("event column %q", got)
	}
	if got := eval[string](t, tab, `document.querySelector('`+row+` .c-event .delivery').textContent`); got != ghMsg.DeliveryID {
		t.Errorf("delivery id in the list %q, want %s", got, ghMsg.DeliveryID)
	}
	waitFor(t, tab, "the tunnel list", `tunnelOrigins.size > 0`, 10*time.Second)
	// The clipboard, as the page sees it.
	do(t, tab, "watch the clipboard", chromedp.Evaluate[chromedp.Void](`window.copied = null;
		Object.defineProperty(navigator.clipboard, 'writeText', { value: (s) => { window.copied = s; return Promise.resolve(); } })`))

	copyAndRun := func(t *testing.T, m *store.Message) recorded {
		t.Helper()
		do(t, tab, "open the message and copy it as curl", chromedp.Evaluate[chromedp.Void](`window.copied = null`),
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#rows tr[data-id=%q]`, m.ID))),
			chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#detail [data-for=%q] #copy-curl`, m.ID))),
			chromedp.Click(chromedp.ID(`copy-curl`)))
		waitFor(t, tab, "the copied command", `typeof window.copied === 'string'`, 10*time.Second)
		cmd := eval[string](t, tab, `window.copied`)
		out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("the copied command failed: %v\n%s\n%s", err, cmd, out)
		}
		return rec.last(t)
	}

	t.Run("text body", func(t *testing.T) {
		got := copyAndRun(t, ghMsg)
		if got.method != "POST" || got.uri != "/hooks/it's%20here?n=1&q=a%20b" {
			t.Errorf("request %s %s", got.method, got.uri)
		}
		if !bytes.Equal(got.body, ghMsg.Body) {
			t.Errorf("body %q, want %q", got.body, ghMsg.Body)
		}
		for _, k := range []string{"Content-Type", "X-Github-Event", "User-Agent"} {
			if got.header.Get(k) != ghMsg.Header.Get(k) {
				t.Errorf("%s: %q, want %q", k, got.header.Get(k), ghMsg.Header.Get(k))
			}
		}
		if v, ok := got.header["X-Hub-Signature-256"]; ok {
			t.Errorf("a redacted header was sent: %q", v)
		}
		if text := eval[string](t, tab, `document.getElementById('d-event').textContent`); text != "pull_request.opened" {
			t.Errorf("detail event %q", text)
		}
		if text := eval[string](t, tab, `document.getElementById('d-edge').textContent`); text != gh.Edge {
			t.Errorf("detail arrived at %q, want %q", text, gh.Edge)
		}
		if text := eval[string](t, tab, `document.getElementById('d-delivered-by').textContent`); text != "edge-a-4c5b6a" {
			t.Errorf("detail delivered by %q", text)
		}
	})
	t.Run("binary body", func(t *testing.T) {
		if got := copyAndRun(t, binMsg); !bytes.Equal(got.body, binMsg.Body) {
			t.Errorf("body %q, want %q", got.body, binMsg.Body)
		}
	})
	t.Run("body not kept", func(t *testing.T) {
		do(t, tab, "open the refused message", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#rows tr[data-id=%q]`, refusedMsg.ID))),
			chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#detail [data-for=%q] #copy-curl`, refusedMsg.ID))))
		if !eval[bool](t, tab, `document.getElementById('copy-curl').disabled`) {
			t.Error("Copy as curl is enabled for a message whose body was not kept")
		}
	})
	if p := problems(); len(p) > 0 {
		t.Errorf("the page logged errors:\n%v", p)
	}
}
