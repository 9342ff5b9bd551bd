package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scrape reads the edge's /metrics into series → value.
func (e *edgeProc) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + e.ip() + ":" + e.adminPort + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

func TestMetricsCountOutcomes(t *testing.T) {
	t.Setenv("HT_GH_NEW", ghNew)
	tok := newToken("hooks", false, "hooks")
	e := startEdge(t, edgeConfig([]agentToken{tok}, `
tunnels:
  hooks:
    routes:
      - path: /github
        verify: {provider: github, secrets: [env:HT_GH_NEW]}
      - path: /queued
        mode: queue
`))
	a := startCountingApp(t)
	startAgent(t, e, tok, a.port(), "--name", "hooks")
	c := e.client(10 * time.Second)
	body := []byte(`{"n":1}`)
	send := func(path string, signed bool) {
		req, _ := http.NewRequest("POST", e.hookURL("hooks", path), bytes.NewReader(body))
		if signed {
			req.Header.Set("X-Hub-Signature-256", githubSign(ghNew, body))
			req.Header.Set("X-GitHub-Delivery", "same")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	send("/github", true)  // forwarded
	send("/github", true)  // duplicate
	send("/github", false) // refused: signature_missing
	send("/github", false)
	send("/queued", false) // queued
	post(c, e.hookURL("nosuch", "/x"), "unknown-host")
	want := map[string]float64{
		`hooktunnel_requests_total{outcome="forwarded",reason="",route="/github",tunnel="hooks"}`:                1,
		`hooktunnel_requests_total{outcome="duplicate",reason="",route="/github",tunnel="hooks"}`:                1,
		`hooktunnel_requests_total{outcome="refused",reason="signature_missing",route="/github",tunnel="hooks"}`: 2,
		`hooktunnel_requests_total{outcome="queued",reason="",route="/queued",tunnel="hooks"}`:                   1,
		`hooktunnel_requests_total{outcome="refused",reason="unknown_tunnel",route="",tunnel="_unknown"}`:        1,
		`hooktunnel_signature_failures_total{provider="github",reason="signature_missing",tunnel="hooks"}`:       2,
		`hooktunnel_signature_matches_total{provider="github",secret="env:HT_GH_NEW",tunnel="hooks"}`:            2,
		`hooktunnel_agents_connected{tunnel="hooks"}`:                                                            1,
		`hooktunnel_queue_deliveries_total{result="delivered",route="/queued",tunnel="hooks"}`:                   1,
	}
	var got map[string]float64
	var missing []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, missing = e.scrape(t), nil
		for k, v := range want {
			if got[k] != v {
				missing = append(missing, k+" = "+strconv.FormatFloat(got[k], 'g', -1, 64))
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, m := range missing {
		t.Errorf("metric %s, want %v", m, want[m[:strings.LastIndex(m, " = ")]])
	}
	for k := range got {
		if strings.Contains(k, "nosuch") {
			t.Errorf("an unknown host became a label: %s", k)
		}
	}
	if got[`hooktunnel_request_duration_seconds_count{tunnel="hooks"}`] < 5 {
		t.Error("no latency observations")
	}
}

func TestReloadAddsRoutesRotatesSecretsRevokesTokens(t *testing.T) {
	t.Setenv("HT_GH_NEW", ghNew)
	t.Setenv("HT_GH_OLD", ghOld)
	stay, leave := newToken("stay", false, "stay"), newToken("leave", false, "leave")
	tunnels := `
tunnels:
  stay:
    routes:
      - path: /github
        verify: {provider: github, secrets: [env:HT_GH_OLD]}
  leave:
    routes:
      - path: /hook
`
	e := startEdge(t, edgeConfig([]agentToken{stay, leave}, tunnels))
	a := startApp(t)
	stayAgent := startAgent(t, e, stay, a.port(), "--name", "stay")
	leaveAgent := startAgent(t, e, leave, a.port(), "--name", "leave")
	c := e.client(10 * time.Second)
	signed := func(secret string) int {
		body := []byte(`{"r":1}`)
		req, _ := http.NewRequest("POST", e.hookURL("stay", "/github"), bytes.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", githubSign(secret, body))
		resp, err := c.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if signed(ghNew) != 401 || signed(ghOld) != 200 || post(c, e.hookURL("leave", "/hook"), "") != 200 {
		t.Fatal("before the reload the tunnels do not answer as configured")
	}
	sessionBefore := sessionOf(t, e, "stay")

	// A broken config is refused and changes nothing; so is one that
	// changes what only a restart applies, naming the setting.
	for _, tc := range []struct{ name, config, want string }{
		{"broken", edgeConfig([]agentToken{stay}, "tunnels:\n  stay:\n    routes:\n      - path: nope\n"),
			`edge\.yaml:\d+: tunnels\.stay\.routes\[0\]\.path`},
		{"proxy_protocol", edgeConfig([]agentToken{stay, leave}, tunnels+"trusted_proxies: [10.0.0.0/8]\nproxy_protocol: true\n"),
			`proxy_protocol cannot change on reload \("false" → "true"\): it needs a restart`},
	} {
		os.WriteFile(e.config, []byte(tc.config), 0o600)
		resp, _ := http.Post("http://127.0.0.1:"+e.adminPort+"/api/v1/reload", "application/json", nil)
		var refusal refusalBody
		json.NewDecoder(resp.Body).Decode(&refusal)
		resp.Body.Close()
		if resp.StatusCode != 400 || !regexp.MustCompile(tc.want).MatchString(refusal.Message) {
			t.Errorf("%s reload: %d %q", tc.name, resp.StatusCode, refusal.Message)
		}
		if signed(ghOld) != 200 {
			t.Errorf("a refused %s reload changed the running config", tc.name)
		}
	}

	// The new config: the new secret added, a route added, the token of
	// "leave" removed. Applied with SIGHUP.
	os.WriteFile(e.config, []byte(edgeConfig([]agentToken{stay}, `
tunnels:
  stay:
    routes:
      - path: /github
        verify: {provider: github, secrets: [env:HT_GH_NEW, env:HT_GH_OLD]}
      - path: /added
`)), 0o600)
	e.signal(syscall.SIGHUP)
	eventually(t, 10*time.Second, "the reload to take effect", func() bool { return signed(ghNew) == 200 })
	if post(c, e.hookURL("stay", "/added"), "") != 200 {
		t.Error("the added route does not forward")
	}
	if code, ok := leaveAgent.exited(20 * time.Second); !ok || code != 2 {
		t.Errorf("the revoked agent: exited %v with %d, want exit 2 after its refusal", ok, code)
	}
	if s := post(c, e.hookURL("leave", "/hook"), ""); s != 404 && s != 503 {
		t.Errorf("the revoked tunnel answered %d", s)
	}
	if got := sessionOf(t, e, "stay"); got != sessionBefore {
		t.Errorf("the untouched tunnel's session changed: %s → %s", sessionBefore, got)
	}
	if strings.Contains(stayAgent.stdout.String(), "online (session") && strings.Count(stayAgent.stdout.String(), "is online") != 1 {
		t.Error("the untouched agent reconnected")
	}
}

// sessionOf is the id of the tunnel's agent session in the admin API.
func sessionOf(t *testing.T, e *edgeProc, name string) string {
	t.Helper()
	var out struct {
		Tunnels []struct {
			Name   string
			Agents []struct{ Session string }
		}
	}
	e.adminGet(t, "/api/v1/tunnels", &out)
	for _, tu := range out.Tunnels {
		if tu.Name == name && len(tu.Agents) == 1 {
			return tu.Agents[0].Session
		}
	}
	t.Fatalf("tunnel %s has not exactly one agent: %+v", name, out)
	return ""
}

// The alert rules, the dashboard and docs/metrics.md name only series
// the edge exports.
func TestShippedRulesNameExportedMetrics(t *testing.T) {
	t.Setenv("HT_GH_NEW", ghNew)
	tok := newToken("demo", false, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, `
tunnels:
  demo:
    routes:
      - path: /gh
        verify: {provider: github, secrets: [env:HT_GH_NEW]}
      - path: /q
        mode: queue
`))
	a := startApp(t)
	startAgent(t, e, tok, a.port(), "--name", "demo")
	// Touch every series: a signature failure and match, a queued
	// delivery, a reload.
	c := e.client(10 * time.Second)
	post(c, e.hookURL("demo", "/gh"), "unsigned")
	req, _ := http.NewRequest("POST", e.hookURL("demo", "/gh"), strings.NewReader("{}"))
	req.Header.Set("X-Hub-Signature-256", githubSign(ghNew, []byte("{}")))
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
	}
	post(c, e.hookURL("demo", "/q"), "queued")
	if resp, err := http.Post("http://127.0.0.1:"+e.adminPort+"/api/v1/reload", "", nil); err == nil {
		resp.Body.Close()
	}
	eventually(t, 20*time.Second, "the queued delivery", func() bool {
		return e.scrape(t)[`hooktunnel_queue_deliveries_total{result="delivered",route="/q",tunnel="demo"}`] == 1
	})
	resp, err := http.Get("http://" + e.ip() + ":" + e.adminPort + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "# TYPE "); ok {
			exported[strings.Fields(rest)[0]] = true
		}
	}
	resp.Body.Close()
	name := regexp.MustCompile(`hooktunnel_[a-z_]+`)
	for _, file := range []string{"../deploy/prometheus-alerts.yml", "../deploy/grafana-dashboard.json", "../docs/metrics.md"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range name.FindAllString(string(data), -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")
			if base == "hooktunnel_certificate_expiry_timestamp_seconds" {
				continue // needs TLS: TestTLSSelfSignedTrustAndVersions checks it
			}
			if strings.HasPrefix(base, "hooktunnel_cluster_") {
				continue // a cluster's: TestClusterAWebhookToAnyEdgeReachesTheApp checks them
			}
			if !exported[base] {
				t.Errorf("%s names %s, which the edge does not export", file, n)
			}
		}
	}
}
