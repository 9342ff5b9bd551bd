package test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// adminGet decodes a GET on the edge's admin API into v.
func (e *edgeProc) adminGet(t *testing.T, path string, v any) int {
	t.Helper()
	resp, err := http.Get("http://" + e.ip() + ":" + e.adminPort + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}

func (e *edgeProc) messages(t *testing.T, query string) []store.Message {
	t.Helper()
	var page store.Page
	e.adminGet(t, "/api/v1/messages?"+query, &page)
	return page.Messages
}

// waitMessage waits until the journal has a message matching ok.
func (e *edgeProc) waitMessage(t *testing.T, query string, ok func(store.Message) bool) store.Message {
	t.Helper()
	var found store.Message
	eventually(t, 20*time.Second, "a journal message ("+query+")", func() bool {
		for _, m := range e.messages(t, query) {
			if ok(m) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// countingApp counts the deliveries of each Hooktunnel-Message-Id and
// answers with the statuses it is told to, in order.
type countingApp struct {
	addr     string
	mu       sync.Mutex
	byID     map[string]int
	headers  []http.Header
	statuses []int
}

func startCountingApp(t *testing.T, statuses ...int) *countingApp {
	t.Helper()
	c := &countingApp{byID: map[string]int{}, statuses: statuses}
	c.addr = serveLoopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		c.mu.Lock()
		c.byID[r.Header.Get("Hooktunnel-Message-Id")]++
		c.headers = append(c.headers, r.Header.Clone())
		status := http.StatusOK
		if len(c.statuses) > 0 {
			status, c.statuses = c.statuses[0], c.statuses[1:]
		}
		c.mu.Unlock()
		w.WriteHeader(status)
	}))
	return c
}

func (c *countingApp) port() string { return portOf(c.addr) }

func (c *countingApp) deliveries(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byID[id]
}

func TestJournalShowsAndReplaysWebhooks(t *testing.T) {
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
	body := []byte(`{"action":"opened","pull_request":{"number":7}}`)
	req, _ := http.NewRequest("POST", e.hookURL("hooks", "/github?source=test"), bytes.NewReader(body))
	req.Header.Set("X-Hub-Signature-256", githubSign(ghNew, body))
	req.Header.Set("X-GitHub-Delivery", "delivery-77")
	req.Header.Set("X-Test-Id", "original")
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	resp.Body.Close()
	post(c, e.hookURL("hooks", "/github"), "unsigned") // refused: no signature

	m := e.waitMessage(t, "tunnel=hooks&decision=forwarded", func(m store.Message) bool { return m.DeliveryID == "delivery-77" })
	if m.Body != nil {
		t.Error("listings carry bodies")
	}
	var full store.Message
	if s := e.adminGet(t, "/api/v1/messages/"+m.ID, &full); s != 200 {
		t.Fatalf("show: %d", s)
	}
	checks := map[string][2]string{
		"body":      {string(full.Body), string(body)},
		"signature": {full.Header.Get("X-Hub-Signature-256"), githubSign(ghNew, body)},
		"query":     {full.Query, "source=test"},
		"route":     {full.Route, "/github"},
		"provider":  {full.Provider, "github"},
		"secret":    {full.SecretRef, "env:HT_GH_NEW"},
		"status":    {fmt.Sprint(full.Status), "200"},
	}
	for what, c := range checks {
		if c[0] != c[1] {
			t.Errorf("message %s = %q, want %q", what, c[0], c[1])
		}
	}
	if len(full.Attempts) != 1 || len(full.ResponseBody) == 0 {
		t.Errorf("attempts %v, response body %d bytes", full.Attempts, len(full.ResponseBody))
	}
	refused := e.waitMessage(t, "decision=refused", func(m store.Message) bool { return m.Reason == "signature_missing" })
	if refused.Status != 401 || refused.Detail == "" {
		t.Errorf("refused message: %+v", refused)
	}

	// Replay: the app gets the request again, journaled as a new message.
	resp, err = http.Post("http://127.0.0.1:"+e.adminPort+"/api/v1/messages/"+m.ID+"/replay", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var replay struct {
		ID       string `json:"id"`
		ReplayOf string `json:"replay_of"`
		Status   int    `json:"status"`
	}
	json.NewDecoder(resp.Body).Decode(&replay)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || replay.ReplayOf != m.ID || replay.Status != 200 {
		t.Fatalf("replay: %d %+v", resp.StatusCode, replay)
	}
	again := e.waitMessage(t, "tunnel=hooks", func(x store.Message) bool { return x.ID == replay.ID })
	if again.ReplayOf != m.ID {
		t.Errorf("replayed message: %+v", again)
	}
	// The replay is what the provider sent: its signature (an app that
	// checks it accepts the replay), the public host with its port and the
	// X-Forwarded-* of the first delivery.
	var replayed store.Message
	e.adminGet(t, "/api/v1/messages/"+replay.ID, &replayed)
	var first, second appEcho
	if err := json.Unmarshal(full.ResponseBody, &first); err != nil {
		t.Fatalf("the first delivery's answer: %v", err)
	}
	if err := json.Unmarshal(replayed.ResponseBody, &second); err != nil {
		t.Fatalf("the replay's answer: %v", err)
	}
	for _, h := range []string{"X-Hub-Signature-256", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Github-Delivery", "Content-Type"} {
		if got, want := second.Header.Get(h), first.Header.Get(h); got != want || want == "" {
			t.Errorf("replay: the app got %s %q, the first delivery %q", h, got, want)
		}
	}
	if second.Host != first.Host || second.Path != first.Path || second.Query != first.Query || second.BodySHA != first.BodySHA {
		t.Errorf("replay: the app got %s %s?%s (%s), the first delivery %s %s?%s (%s)",
			second.Host, second.Path, second.Query, second.BodySHA, first.Host, first.Path, first.Query, first.BodySHA)
	}

	// A replay from another site's page is refused.
	req, _ = http.NewRequest("POST", "http://127.0.0.1:"+e.adminPort+"/api/v1/messages/"+m.ID+"/replay", nil)
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site replay: %v %v", resp.StatusCode, err)
	}
	if s := e.adminGet(t, "/api/v1/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV", nil); s != 404 {
		t.Errorf("unknown id: %d", s)
	}
}

// Large bodies are copied for the journal into buffers the edge recycles
// once they are written: a buffer handed back too early would show up as
// another webhook's bytes in the journal.
func TestJournalKeepsLargeBodiesIntact(t *testing.T) {
	t.Parallel()
	tok := newToken("bulk", false, "bulk")
	e := startEdge(t, edgeConfig([]agentToken{tok}, `
tunnels:
  bulk:
    routes:
      - path: /big
`))
	a := startApp(t)
	startAgent(t, e, tok, a.port(), "--name", "bulk")
	c := e.client(30 * time.Second)
	sent := map[string][]byte{}
	for round := range 3 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := range 12 {
			n := fmt.Sprintf("%d-%d", round, i)
			body := make([]byte, 40<<10+i*23<<10) // 40 KiB to about 300 KiB
			rand.Read(body)
			sent["n="+n] = body
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := c.Post(e.hookURL("bulk", "/big?n="+n), "application/octet-stream", bytes.NewReader(body))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("POST %s: %v", n, err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("POST %s: status %d", n, resp.StatusCode)
				}
			}()
		}
		wg.Wait()
	}
	var listed []store.Message
	eventually(t, 20*time.Second, "every webhook in the journal", func() bool {
		listed = e.messages(t, "tunnel=bulk&limit=100")
		return len(listed) == len(sent)
	})
	for _, m := range listed {
		var full store.Message
		if s := e.adminGet(t, "/api/v1/messages/"+m.ID, &full); s != http.StatusOK {
			t.Fatalf("show %s: status %d", m.ID, s)
		}
		want, ok := sent[full.Query]
		if !ok {
			t.Fatalf("message %s has query %q, which was not sent", m.ID, full.Query)
		}
		if !bytes.Equal(full.Body, want) || full.BodySize != int64(len(want)) || full.BodyTruncated {
			t.Errorf("message %s (%s): journal kept %d bytes (size %d, truncated %v), sha256 %x; sent %d bytes, sha256 %x",
				m.ID, full.Query, len(full.Body), full.BodySize, full.BodyTruncated, sha256.Sum256(full.Body), len(want), sha256.Sum256(want))
		}
	}
}

func TestNoSecretReachesTheDatabase(t *testing.T) {
	t.Setenv("HT_GH_NEW", ghNew)
	t.Setenv("HT_TOKEN", hookToken)
	tok := newToken("hooks", false, "hooks")
	e := startEdge(t, edgeConfig([]agentToken{tok}, `
tunnels:
  hooks:
    redact: {headers: [X-Customer-Key], query: [session]}
    routes:
      - path: /github
        verify: {provider: github, secrets: [env:HT_GH_NEW]}
      - path: /static
        token: {query: key, secrets: [env:HT_TOKEN]}
`))
	// An app that does not echo the request: what the app answers is
	// journaled as it is.
	a := startCountingApp(t)
	startAgent(t, e, tok, a.port(), "--name", "hooks")
	c := e.client(20 * time.Second)
	body := []byte(`{"zen":"secrets stay out"}`)
	sig := githubSign(ghNew, body)
	req, _ := http.NewRequest("POST", e.hookURL("hooks", "/github?session=sess-abc-123"), bytes.NewReader(body))
	req.Header.Set("X-Hub-Signature-256", sig)
	req.Header.Set("Authorization", "Bearer bearer-xyz-789")
	req.Header.Set("Cookie", "sid=cookie-qrs-456")
	req.Header.Set("X-Customer-Key", "customer-key-000")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	post(c, e.hookURL("hooks", "/static?key="+hookToken), "with-token")
	e.waitMessage(t, "tunnel=hooks", func(m store.Message) bool { return m.Route == "/static" })
	e.waitMessage(t, "tunnel=hooks", func(m store.Message) bool { return m.Route == "/github" })

	var all []byte
	files, _ := filepath.Glob(filepath.Join(e.data, "hooktunnel.db*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		all = append(all, b...)
	}
	if len(files) == 0 || !bytes.Contains(all, []byte("secrets stay out")) {
		t.Fatalf("the database files %v do not hold the journal", files)
	}
	for _, secret := range []string{ghNew, "bearer-xyz-789", "cookie-qrs-456", "customer-key-000", "sess-abc-123", hookToken} {
		if bytes.Contains(all, []byte(secret)) {
			t.Errorf("the database holds %q", secret)
		}
	}
	// The provider's signature is no secret (the MAC of a body the journal
	// holds): it is kept, so a replay is what the provider sent.
	if !bytes.Contains(all, []byte(sig)) {
		t.Errorf("the database does not hold the provider's signature %q", sig)
	}
}

func TestRetentionPurgesOldMessages(t *testing.T) {
	t.Parallel()
	tok := newToken("demo", true, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, "retention: 168h\n"))
	a := startApp(t)
	startAgent(t, e, tok, a.port(), "--name", "demo", "--route", "/hook")
	post(e.client(10*time.Second), e.hookURL("demo", "/hook"), "old")
	e.waitMessage(t, "tunnel=demo", func(store.Message) bool { return true })
	// A reload that shortens retention purges at once, not at the next
	// purge_interval (10m): the message, already older than 1ms, goes. (The
	// purge's timing itself is tested in the edge package, on a fake clock.)
	os.WriteFile(e.config, []byte(edgeConfig([]agentToken{tok}, "retention: 1ms\n")), 0o600)
	resp, err := http.Post("http://127.0.0.1:"+e.adminPort+"/api/v1/reload", "application/json", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("reload: %v %v", resp, err)
	}
	resp.Body.Close()
	eventually(t, 10*time.Second, "the message to be purged", func() bool { return len(e.messages(t, "tunnel=demo")) == 0 })
}

func TestQueueDeliversWhenTheAgentComesBack(t *testing.T) {
	t.Parallel()
	tok := newToken("q", false, "q")
	e := startEdge(t, edgeConfig([]agentToken{tok}, `
tunnels:
  q:
    forward_secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
    routes:
      - path: /queued
        mode: queue
        queue_limit: {messages: 3}
      - path: /bad
        mode: queue
      - path: /fallback
        offline: queue
`))
	c := e.client(10 * time.Second)
	var ids []string
	for i := 0; i < 3; i++ {
		resp, err := c.Post(e.hookURL("q", "/queued"), "application/json", strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		var ack struct{ ID string }
		json.NewDecoder(resp.Body).Decode(&ack)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || ack.ID == "" {
			t.Fatalf("queued webhook %d: %d %+v", i, resp.StatusCode, ack)
		}
		ids = append(ids, ack.ID)
	}
	resp, _ := c.Post(e.hookURL("q", "/queued"), "application/json", strings.NewReader(`{"n":4}`))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a full queue answered %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	resp.Body.Close()
	if s := post(c, e.hookURL("q", "/fallback"), "offline"); s != http.StatusAccepted {
		t.Errorf("offline: queue answered %d, want 202", s)
	}
	if s := post(c, e.hookURL("q", "/bad"), "bad"); s != http.StatusAccepted {
		t.Errorf("queue route answered %d", s)
	}

	// The app takes them all. A failed delivery's retry falls due on the
	// edge's clock: edge.TestQueueRetriesWhenDueOnTheEdgesClock moves it
	// there rather than wait here.
	app := startCountingApp(t)
	startAgent(t, e, tok, app.port(), "--name", "q")
	for _, id := range ids {
		m := e.waitMessage(t, "tunnel=q", func(m store.Message) bool { return m.ID == id && m.Queue == "delivered" })
		if app.deliveries(id) < 1 {
			t.Errorf("message %s delivered without reaching the app", m.ID)
		}
	}
	var first store.Message
	e.adminGet(t, "/api/v1/messages/"+ids[0], &first)
	if len(first.Attempts) < 1 {
		t.Errorf("no attempts recorded: %+v", first)
	}
	app.mu.Lock()
	h := app.headers[len(app.headers)-1]
	app.mu.Unlock()
	if h.Get("Hooktunnel-Message-Id") == "" || h.Get("Hooktunnel-Attempt") == "" || !strings.HasPrefix(h.Get("Webhook-Signature"), "v1,") {
		t.Errorf("delivery headers: %v", h)
	}
	e.waitMessage(t, "tunnel=q", func(m store.Message) bool { return m.Path == "/fallback" && m.Queue == "delivered" })
	e.waitMessage(t, "tunnel=q", func(m store.Message) bool { return m.Path == "/bad" && m.Queue == "delivered" })
	// Five messages: five deliveries, none twice.
	app.mu.Lock()
	total := len(app.headers)
	app.mu.Unlock()
	if total != 5 {
		t.Errorf("the app got %d deliveries, want 5", total)
	}
}

func TestInspectorShowsOnlyItsTunnel(t *testing.T) {
	t.Parallel()
	mine, other := newToken("mine", true, "mine"), newToken("other", true, "other")
	e := startEdge(t, edgeConfig([]agentToken{mine, other}, ""))
	a := startApp(t)
	port := freePort(t)
	startAgent(t, e, mine, a.port(), "--name", "mine", "--route", "/hook", "--inspect", "127.0.0.1:"+port)
	startAgent(t, e, other, a.port(), "--name", "other", "--route", "/hook")
	c := e.client(10 * time.Second)
	post(c, e.hookURL("mine", "/hook"), "m")
	post(c, e.hookURL("other", "/hook"), "o")
	e.waitMessage(t, "tunnel=other", func(store.Message) bool { return true })
	var page store.Page
	eventually(t, 20*time.Second, "the inspector to list the agent's webhook", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port + "/api/v1/messages")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		page = store.Page{}
		json.NewDecoder(resp.Body).Decode(&page)
		return len(page.Messages) > 0
	})
	for _, m := range page.Messages {
		if m.Tunnel != "mine" {
			t.Errorf("the inspector shows tunnel %s's message", m.Tunnel)
		}
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/")
	if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("the inspector's UI: %v %v", resp, err)
	}
}
