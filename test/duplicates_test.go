package test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// bodyCounter counts the requests it receives by path and body; requests
// to /held wait until release is closed.
type bodyCounter struct {
	addr    string
	release chan struct{}
	mu      sync.Mutex
	counts  map[string]int // path + " " + body SHA-256
}

func startBodyCounter(t *testing.T) *bodyCounter {
	t.Helper()
	a := &bodyCounter{release: make(chan struct{}), counts: map[string]int{}}
	a.addr = serveLoopback(t, a)
	return a
}

func (a *bodyCounter) port() string { return portOf(a.addr) }

func (a *bodyCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.counts[r.URL.Path+" "+sha256Hex(body)]++
	a.mu.Unlock()
	if r.URL.Path == "/held" {
		select {
		case <-a.release:
		case <-r.Context().Done():
			return
		}
	}
	status := http.StatusOK
	if s, err := strconv.Atoi(r.URL.Query().Get("status")); err == nil {
		status = s
	}
	w.WriteHeader(status)
}

func (a *bodyCounter) count(path string, body []byte) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.counts[path+" "+sha256Hex(body)]
}

const duplicatesEdgeConfig = `
tunnels:
  dup:
    routes:
      - path: /sync
        verify: {provider: github, secrets: [env:HT_DUP_GH]}
      - path: /held
        verify: {provider: github, secrets: [env:HT_DUP_GH]}
      - path: /queue
        verify: {provider: github, secrets: [env:HT_DUP_GH]}
        mode: queue
        ordered: true
`

const dupSecret = "dup-gh-secret-0123456789"

// githubDelivery is a GitHub-signed POST; delivery "" sends no
// X-GitHub-Delivery.
func githubDelivery(t *testing.T, c *http.Client, url string, body []byte, delivery string) *http.Response {
	t.Helper()
	resp, err := sendGitHub(c, url, body, delivery)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// sendGitHub is githubDelivery for other goroutines than the test's; the
// response's body is read and closed.
func sendGitHub(c *http.Client, url string, body []byte, delivery string) (*http.Response, error) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", githubSign(dupSecret, body))
	if delivery != "" {
		req.Header.Set("X-GitHub-Delivery", delivery)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

func TestDuplicates(t *testing.T) {
	t.Setenv("HT_DUP_GH", dupSecret)
	tok := newToken("dup", false, "dup")
	e := startEdge(t, edgeConfig([]agentToken{tok}, duplicatesEdgeConfig))
	app := startBodyCounter(t)
	startAgent(t, e, tok, app.port(), "--name", "dup")
	c := e.client(30 * time.Second)

	// GitHub signs the body, not X-GitHub-Delivery: a captured delivery
	// replayed with that header changed or removed is the same delivery.
	t.Run("sync: delivery id changed or removed", func(t *testing.T) {
		body := []byte(`{"action":"opened","number":7}`)
		for i, delivery := range []string{"d-1", "d-1-forged", "", "d-1"} {
			resp := githubDelivery(t, c, e.hookURL("dup", "/sync"), body, delivery)
			dup := resp.Header.Get("Hooktunnel-Duplicate") == "true"
			if resp.StatusCode != http.StatusOK || dup != (i > 0) {
				t.Errorf("copy %d (delivery %q): %d, duplicate %v", i, delivery, resp.StatusCode, dup)
			}
		}
		if n := app.count("/sync", body); n != 1 {
			t.Errorf("the app received the delivery %d times, want 1", n)
		}
	})

	t.Run("sync: a failed delivery is retried", func(t *testing.T) {
		body := []byte(`{"action":"closed","number":8}`)
		if resp := githubDelivery(t, c, e.hookURL("dup", "/sync?status=500"), body, "d-2"); resp.StatusCode != 500 {
			t.Fatalf("first attempt: %d, want the app's 500", resp.StatusCode)
		}
		resp := githubDelivery(t, c, e.hookURL("dup", "/sync"), body, "d-2")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Hooktunnel-Duplicate") != "" || app.count("/sync", body) != 2 {
			t.Errorf("the provider's retry after a 500: %d, the app received it %d times, want 2", resp.StatusCode, app.count("/sync", body))
		}
	})

	// A queue route commits a delivery once: copies are acknowledged, not
	// queued again.
	t.Run("queue: the same delivery three times", func(t *testing.T) {
		body := []byte(`{"action":"queued","number":9}`)
		for i := range 3 {
			resp := githubDelivery(t, c, e.hookURL("dup", "/queue"), body, "d-3")
			want := http.StatusOK
			if i == 0 {
				want = http.StatusAccepted
			}
			if resp.StatusCode != want {
				t.Errorf("copy %d: %d, want %d", i, resp.StatusCode, want)
			}
		}
		// The route is ordered: once a later message arrives, every
		// earlier one has been delivered.
		sentinel := []byte(`{"action":"sentinel"}`)
		githubDelivery(t, c, e.hookURL("dup", "/queue"), sentinel, "d-4")
		eventually(t, 30*time.Second, "the queue to deliver", func() bool { return app.count("/queue", sentinel) == 1 })
		if n := app.count("/queue", body); n != 1 {
			t.Errorf("the app received the queued delivery %d times, want 1", n)
		}
	})

	// Check and record are one step: of simultaneous copies, one is
	// forwarded and the others, while it is in flight, are answered 409
	// with Retry-After.
	t.Run("simultaneous copies", func(t *testing.T) {
		body := []byte(`{"action":"raced","number":10}`)
		const copies = 20
		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		retryAfter := true
		answered := 0
		start := make(chan struct{})
		for i := range copies {
			wg.Go(func() {
				<-start
				resp, err := sendGitHub(c, e.hookURL("dup", "/held"), body, "d-5-"+strconv.Itoa(i%3))
				mu.Lock()
				defer mu.Unlock()
				answered++
				if err != nil {
					t.Error(err)
					return
				}
				statuses[resp.StatusCode]++
				if resp.StatusCode == http.StatusConflict && resp.Header.Get("Retry-After") == "" {
					retryAfter = false
				}
			})
		}
		close(start)
		// The app holds what it receives: wait until every other copy is
		// answered, or more than one reached the app.
		eventually(t, 30*time.Second, "the copies to be answered", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return answered == copies-1 || app.count("/held", body) > 1
		})
		close(app.release)
		wg.Wait()
		if n := app.count("/held", body); n != 1 {
			t.Errorf("the app received %d of %d simultaneous copies, want 1", n, copies)
		}
		if statuses[http.StatusOK] != 1 || statuses[http.StatusConflict] != copies-1 || !retryAfter {
			t.Errorf("statuses %v (Retry-After on every 409: %v), want one 200 and %d × 409", statuses, retryAfter, copies-1)
		}
	})
}
