package test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// post sends one webhook tagged with id and returns the status (0 on a
// transport error).
func post(c *http.Client, url, id string) int {
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"id":"`+id+`"}`))
	req.Header.Set("X-Test-Id", id)
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestTwoAgentsShareATunnelAndSurviveOneKilled(t *testing.T) {
	tok := newToken("demo", true, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	appA, appB := startApp(t), startApp(t)
	agentA := startAgent(t, e, tok, appA.port(), "--name", "demo", "--route", "/hook")
	startAgent(t, e, tok, appB.port(), "--name", "demo", "--route", "/hook")
	c := e.client(30 * time.Second)
	url := e.hookURL("demo", "/hook")

	const total, workers = 600, 8
	var next, sent atomic.Int64
	var mu sync.Mutex
	failed := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				id := fmt.Sprintf("req-%d", i)
				if status := post(c, url, id); status != http.StatusOK {
					mu.Lock()
					failed[id] = status
					mu.Unlock()
				}
				if sent.Add(1) == total/3 {
					agentA.cmd.Process.Kill() // kill -9, mid-run
				}
			}
		}()
	}
	wg.Wait()
	<-agentA.done
	for id, status := range failed {
		if !appA.sawID(id) {
			t.Errorf("%s failed with status %d without having reached the killed agent's app", id, status)
		}
	}
	if len(failed) > workers {
		t.Errorf("%d requests failed; at most the %d in flight on the killed agent may", len(failed), workers)
	}
	var servedA, servedB int
	for i := 1; i <= total; i++ {
		id := fmt.Sprintf("req-%d", i)
		if appA.sawID(id) {
			servedA++
		}
		if appB.sawID(id) {
			servedB++
		}
	}
	if servedA == 0 || servedB < total/2 {
		t.Errorf("agent A's app served %d, agent B's %d: requests were not spread, or B did not carry on", servedA, servedB)
	}
}

func TestAgentKilledThenRestarted(t *testing.T) {
	t.Parallel()
	d := demoTunnel(t, "/hook")
	c := d.e.client(20 * time.Second)
	url := d.e.hookURL("demo", "/hook")
	if s := post(c, url, "before"); s != http.StatusOK {
		t.Fatalf("before: status %d", s)
	}
	d.agent.cmd.Process.Kill()
	eventually(t, 15*time.Second, "503 from the edge after the agent died", func() bool {
		return post(c, url, "while-down") == http.StatusServiceUnavailable
	})
	assertOffline(t, c, url)
	startAgent(t, d.e, d.tok, d.app.port(), d.args...)
	if s := post(c, url, "after"); s != http.StatusOK {
		t.Fatalf("after restart: status %d", s)
	}
}

// assertOffline checks the edge's answer for a tunnel with no agent.
func assertOffline(t *testing.T, c *http.Client, url string) {
	t.Helper()
	resp, err := c.Post(url, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"error":"tunnel_offline"`) {
		t.Errorf("offline answer: %d, Retry-After %q, body %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

// A frozen agent (kill -STOP) sends nothing, not even a FIN: only the
// keepalive can tell. The edge must stop hanging within 15 s.
func TestFrozenAgentIsNoticed(t *testing.T) {
	d := demoTunnel(t, "/hook")
	c := d.e.client(30 * time.Second)
	url := d.e.hookURL("demo", "/hook")
	d.agent.signal(syscall.SIGSTOP)
	stopped := time.Now()
	eventually(t, 30*time.Second, "503 for the frozen agent's tunnel", func() bool {
		return post(c, url, "frozen") == http.StatusServiceUnavailable
	})
	if took := time.Since(stopped); took > 15*time.Second {
		t.Errorf("the edge noticed the frozen agent after %s, want within 15s", took.Round(time.Millisecond))
	}
	d.agent.signal(syscall.SIGCONT)
	eventually(t, 30*time.Second, "the thawed agent to serve again", func() bool {
		return post(c, url, "thawed") == http.StatusOK
	})
}

func TestFrozenEdgeIsNoticed(t *testing.T) {
	d := demoTunnel(t, "/hook")
	d.e.signal(syscall.SIGSTOP)
	stopped := time.Now()
	if !d.agent.waitOutput("tunnel offline", 30*time.Second) {
		t.Fatal("the agent did not notice the frozen edge")
	}
	if took := time.Since(stopped); took > 15*time.Second {
		t.Errorf("the agent noticed the frozen edge after %s, want within 15s", took.Round(time.Millisecond))
	}
	d.e.signal(syscall.SIGCONT)
	c := d.e.client(30 * time.Second)
	eventually(t, 30*time.Second, "the tunnel to work after the edge thawed", func() bool {
		return post(c, d.e.hookURL("demo", "/hook"), "thawed") == http.StatusOK
	})
}

func TestEdgeKilledAndRestarted(t *testing.T) {
	d := demoTunnel(t, "/hook")
	c := d.e.client(10 * time.Second)
	url := d.e.hookURL("demo", "/hook")
	if s := post(c, url, "before"); s != http.StatusOK {
		t.Fatalf("before: status %d", s)
	}
	d.e.cmd.Process.Kill()
	<-d.e.done
	d.e.start(t) // same ports, same data directory
	ready := time.Now()
	eventually(t, 30*time.Second, "the tunnel to work after the edge restarted", func() bool {
		return post(c, url, "after") == http.StatusOK
	})
	if took := time.Since(ready); took > 2*time.Second {
		t.Errorf("the tunnel worked again %s after the edge accepted connections, want within 2s", took.Round(time.Millisecond))
	}
}

// A second agent that declares no routes joins the tunnel without wiping
// the routes the first one declared.
func TestJoiningAgentKeepsDeclaredRoutes(t *testing.T) {
	t.Parallel()
	d := demoTunnel(t, "/hook")
	startAgent(t, d.e, d.tok, d.app.port(), "--name", "demo")
	c := d.e.client(10 * time.Second)
	for i := 0; i < 4; i++ {
		if s := post(c, d.e.hookURL("demo", "/hook"), fmt.Sprint("after-join-", i)); s != http.StatusOK {
			t.Fatalf("after a routeless agent joined: status %d", s)
		}
	}
}
