package test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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
)

// demo is an edge with one token granting tunnel "demo", an app, and an
// agent serving it with the routes it declared.
type demo struct {
	e     *edgeProc
	app   *app
	tok   agentToken
	agent *proc
	args  []string // the agent's flags
}

func demoTunnel(t *testing.T, routes ...string) *demo {
	t.Helper()
	var args []string
	for _, r := range routes {
		args = append(args, "--route", r)
	}
	return demoTunnelArgs(t, args...)
}

// demoWithPolicy is demoTunnel with the agent declaring a --policy file.
func demoWithPolicy(t *testing.T, policyYAML string) *demo {
	t.Helper()
	file := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(file, []byte(policyYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	return demoTunnelArgs(t, "--policy", file)
}

func demoTunnelArgs(t *testing.T, agentArgs ...string) *demo {
	t.Helper()
	d := &demo{tok: newToken("demo", true, "demo"), app: startApp(t), args: append([]string{"--name", "demo"}, agentArgs...)}
	d.e = startEdge(t, edgeConfig([]agentToken{d.tok}, ""))
	d.agent = startAgent(t, d.e, d.tok, d.app.port(), d.args...)
	return d
}

func decodeEcho(t *testing.T, resp *http.Response) appEcho {
	t.Helper()
	defer resp.Body.Close()
	var echo appEcho
	if err := json.NewDecoder(resp.Body).Decode(&echo); err != nil {
		t.Fatalf("decoding the app's answer: %v", err)
	}
	return echo
}

func TestForwardsMethodsHeadersAndQuery(t *testing.T) {
	t.Parallel()
	d := demoTunnel(t, "GET,POST,PUT,PATCH,DELETE /hooks/{id}")
	e, c := d.e, d.e.client(30*time.Second)
	for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		t.Run(method, func(t *testing.T) {
			req, _ := http.NewRequest(method, e.hookURL("demo", "/hooks/42?a=1&b=two%20words&a=3"), strings.NewReader("payload"))
			req.Header.Set("X-Custom", "v1")
			req.Header.Add("X-Multi", "x")
			req.Header.Add("X-Multi", "y")
			req.Header.Set("User-Agent", "GitHub-Hookshot/abc")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Values("X-App-Multi"); strings.Join(got, ",") != "one,two" {
				t.Errorf("response header X-App-Multi = %v, want [one two]", got)
			}
			echo := decodeEcho(t, resp)
			checks := map[string][2]string{
				"method":            {echo.Method, method},
				"path":              {echo.Path, "/hooks/42"},
				"query":             {echo.Query, "a=1&b=two%20words&a=3"},
				"host kept":         {echo.Host, "demo.localhost:" + e.port},
				"X-Custom":          {echo.Header.Get("X-Custom"), "v1"},
				"X-Multi":           {strings.Join(echo.Header.Values("X-Multi"), ","), "x,y"},
				"User-Agent":        {echo.Header.Get("User-Agent"), "GitHub-Hookshot/abc"},
				"X-Forwarded-For":   {echo.Header.Get("X-Forwarded-For"), "127.0.0.1"},
				"X-Forwarded-Proto": {echo.Header.Get("X-Forwarded-Proto"), "http"},
				"X-Forwarded-Host":  {echo.Header.Get("X-Forwarded-Host"), "demo.localhost:" + e.port},
				"body":              {echo.BodySHA, sha256Hex([]byte("payload"))},
			}
			for what, c := range checks {
				if c[0] != c[1] {
					t.Errorf("%s = %q, want %q", what, c[0], c[1])
				}
			}
			if echo.Header.Get("Hooktunnel-Request-Id") == "" {
				t.Error("the app got no Hooktunnel-Request-Id")
			}
		})
	}
}

func TestBodiesBothWays(t *testing.T) {
	t.Parallel()
	d := demoWithPolicy(t, "routes:\n  - path: /upload\n    max_body: 64MiB\n")
	e, c := d.e, d.e.client(5*time.Minute)
	for _, size := range []int{0, 1 << 20, 50 << 20} {
		t.Run(fmt.Sprintf("%dB", size), func(t *testing.T) {
			body := randomBytes(size)
			resp, err := c.Post(e.hookURL("demo", fmt.Sprintf("/upload?respond=%d", size)), "application/octet-stream", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got, want := resp.Header.Get("X-Body-Sha256"), sha256Hex(body); got != want {
				t.Errorf("the app got a request body with SHA-256 %s, sent %s", got, want)
			}
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := hex.EncodeToString(h.Sum(nil)), resp.Header.Get("X-Resp-Sha256"); got != want || n != int64(size) {
				t.Errorf("response body: %d bytes with SHA-256 %s, the app sent %d with %s", n, got, size, want)
			}
		})
	}
}

func TestStreamedResponseArrivesBeforeTheAppFinishes(t *testing.T) {
	t.Parallel()
	d := demoTunnel(t, "GET /stream")
	resp, err := d.e.client(60 * time.Second).Get(d.e.hookURL("demo", "/stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	// The app is still blocked: this line can only arrive if every hop
	// streams instead of buffering the whole answer.
	line, err := r.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first line = %q, %v", line, err)
	}
	close(d.app.release)
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != "rest\n" {
		t.Fatalf("rest = %q, %v", rest, err)
	}
}

func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	d := demoTunnel(t, "/concurrent/{n}")
	e, c := d.e, d.e.client(2*time.Minute)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"n":%d}`, i)
			resp, err := c.Post(e.hookURL("demo", fmt.Sprintf("/concurrent/%d", i)), "application/json", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var echo appEcho
			json.Unmarshal(raw, &echo)
			if resp.StatusCode != http.StatusOK || echo.Path != fmt.Sprintf("/concurrent/%d", i) || echo.BodySHA != sha256Hex([]byte(body)) {
				errs <- fmt.Errorf("request %d: status %d, path %s: %.200s", i, resp.StatusCode, echo.Path, raw)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
