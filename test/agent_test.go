package test

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestHostHeader(t *testing.T) {
	t.Parallel()
	tok := newToken("demo", true, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	a := startApp(t)
	tests := []struct{ name, flag, want string }{
		{"kept by default", "", "demo.localhost:" + e.port},
		{"rewritten to the target", "rewrite", "127.0.0.1:" + a.port()},
		{"set to a value", "app.internal", "app.internal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--name", "demo", "--route", "/hook"}
			if tc.flag != "" {
				args = append(args, "--host-header", tc.flag)
			}
			agent := startAgent(t, e, tok, a.port(), args...)
			defer agent.cmd.Process.Kill()
			resp, err := e.client(20*time.Second).Post(e.hookURL("demo", "/hook"), "application/json", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			echo := decodeEcho(t, resp)
			if echo.Host != tc.want {
				t.Errorf("the app saw Host %q, want %q", echo.Host, tc.want)
			}
		})
	}
}

func TestHTTPSTarget(t *testing.T) {
	t.Parallel()
	app := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure app")
	}))
	t.Cleanup(app.Close)
	caFile := filepath.Join(t.TempDir(), "app-ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: app.Certificate().Raw}), 0o600)
	tok := newToken("demo", true, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	c := e.client(20 * time.Second)

	trusting := startAgent(t, e, tok, app.URL, "--name", "demo", "--route", "/hook", "--target-ca", caFile)
	resp, err := c.Post(e.hookURL("demo", "/hook"), "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "secure app" {
		t.Errorf("through --target-ca: %d %q", resp.StatusCode, body)
	}
	trusting.cmd.Process.Kill()
	<-trusting.done

	startAgent(t, e, tok, app.URL, "--name", "demo", "--route", "/hook")
	eventually(t, 20*time.Second, "the untrusting agent to answer", func() bool {
		resp, err := c.Post(e.hookURL("demo", "/hook"), "text/plain", strings.NewReader("x"))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var r refusalBody
		json.NewDecoder(resp.Body).Decode(&r)
		// An unverified app certificate is an app that did not answer properly.
		return resp.StatusCode == http.StatusBadGateway && r.Error != ""
	})
}

// make run's promise: `hooktunnel dev --echo` prints a curl line that works
// as printed.
func TestDevEchoPrintsAWorkingCurlLine(t *testing.T) {
	t.Parallel()
	port, admin := freePort(t), freePort(t)
	dev := startProc(t, "dev", "dev", "--echo", "--listen", "127.0.0.1:"+port, "--admin-listen", "127.0.0.1:"+admin)
	if !dev.waitOutput("curl ", 60*time.Second) {
		t.Fatalf("no curl line:\n%s", dev.stdout.String())
	}
	line := regexp.MustCompile(`curl .*`).FindString(dev.stdout.String())
	u := regexp.MustCompile(`http://\S+`).FindString(line)
	data := regexp.MustCompile(`-d '([^']*)'`).FindStringSubmatch(line)
	if u == "" || data == nil {
		t.Fatalf("cannot read the curl line %q", line)
	}
	parsed, _ := url.Parse(u)
	// curl resolves *.localhost to loopback itself; so does this client.
	e := &edgeProc{port: parsed.Port()}
	req, _ := http.NewRequest("POST", u, strings.NewReader(data[1]))
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client(20 * time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var echo map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&echo); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	if echo["method"] != "POST" || echo["json"] == nil {
		t.Errorf("the echo app answered %v", echo)
	}
}
