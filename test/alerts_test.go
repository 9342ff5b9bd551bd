package test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/policy"
)

const alertSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// alertReceiver is the ops team's endpoint: it keeps the alerts whose
// Standard Webhooks signature verifies.
type alertReceiver struct {
	mu     sync.Mutex
	alerts []map[string]any
	bad    int
}

func startAlertReceiver(t *testing.T) (*alertReceiver, string) {
	t.Helper()
	v, err := policy.NewVerifier(policy.VerifyConfig{Provider: "standard-webhooks"}, []policy.Secret{{Ref: "k", Value: []byte(alertSecret)}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	rcv := &alertReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u, _ := url.Parse("http://" + r.Host + r.URL.RequestURI())
		_, err := v.Verify(&policy.Request{Method: r.Method, URL: u, Header: r.Header, Body: body, RemoteAddr: netip.MustParseAddr("127.0.0.1")}, time.Now())
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		if err != nil {
			rcv.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var a map[string]any
		json.Unmarshal(body, &a)
		rcv.alerts = append(rcv.alerts, a)
	}))
	t.Cleanup(srv.Close)
	return rcv, srv.URL
}

func (r *alertReceiver) got(kind, rule string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.alerts {
		if a["type"] == kind && a["rule"] == rule {
			return true
		}
	}
	return false
}

func TestAlertFiresToAReceiver(t *testing.T) {
	t.Setenv("HT_GH_NEW", ghNew)
	t.Setenv("HT_ALERT_SECRET", alertSecret)
	rcv, url := startAlertReceiver(t)
	tok := newToken("hooks", false, "hooks")
	e := startEdge(t, edgeConfig([]agentToken{tok}, `
tunnels:
  hooks:
    routes:
      - path: /github
        verify: {provider: github, secrets: [env:HT_GH_NEW]}
alerts:
  interval: 200ms
  webhook: {url: `+url+`, secret: env:HT_ALERT_SECRET}
  rules:
    - {name: bad-signatures, when: "signature_failures > 2 in 1m"}
`))
	a := startApp(t)
	startAgent(t, e, tok, a.port(), "--name", "hooks")
	c := e.client(10 * time.Second)
	for i := 0; i < 3; i++ {
		post(c, e.hookURL("hooks", "/github"), "unsigned")
	}
	eventually(t, 20*time.Second, "a signed alert at the receiver", func() bool { return rcv.got("alert.firing", "bad-signatures") })
	if rcv.bad != 0 {
		t.Errorf("%d alerts arrived with a bad signature", rcv.bad)
	}
	var listed struct{ Active []map[string]any }
	e.adminGet(t, "/api/v1/alerts", &listed)
	if len(listed.Active) != 1 {
		t.Errorf("active alerts: %+v", listed.Active)
	}
	if !e.waitOutput("alert firing", 5*time.Second) {
		t.Error("the edge logged no warning")
	}

	// A reload brings new rules in without a restart.
	os.WriteFile(e.config, []byte(edgeConfig([]agentToken{tok}, `
tunnels:
  hooks:
    routes:
      - path: /github
        verify: {provider: github, secrets: [env:HT_GH_NEW]}
alerts:
  interval: 200ms
  webhook: {url: `+url+`, secret: env:HT_ALERT_SECRET}
  rules:
    - {name: busy, when: "requests > 1 in 1m"}
`)), 0o600)
	e.signal(syscall.SIGHUP)
	if !e.waitOutput("alert rules reloaded", 10*time.Second) {
		t.Fatal("the edge did not reload its alert rules")
	}
	for i := 0; i < 3; i++ {
		post(c, e.hookURL("hooks", "/github"), "after-reload")
	}
	eventually(t, 20*time.Second, "the reloaded rule to fire", func() bool { return rcv.got("alert.firing", "busy") })
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	d := demoTunnel(t, "/hook")
	post(d.e.client(10*time.Second), d.e.hookURL("demo", "/hook"), "x")
	var page struct{ Messages []struct{ ID string } }
	eventually(t, 20*time.Second, "the message in the journal", func() bool {
		d.e.adminGet(t, "/api/v1/messages?tunnel=demo", &page)
		return len(page.Messages) == 1
	})
	resp, err := http.Post("http://127.0.0.1:"+d.e.adminPort+"/api/v1/messages/"+page.Messages[0].ID+"/replay", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Post("http://127.0.0.1:"+d.e.adminPort+"/api/v1/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("DELETE", "http://127.0.0.1:"+d.e.adminPort+"/api/v1/messages/"+page.Messages[0].ID, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("delete: %v %v", resp, err)
	}
	var audit struct {
		Entries []struct{ Actor, Action, Target string }
	}
	d.e.adminGet(t, "/api/v1/audit", &audit)
	seen := map[string]bool{}
	for _, en := range audit.Entries {
		seen[en.Action] = true
		if en.Actor != "local" {
			t.Errorf("actor %q, want local (loopback admin, no token)", en.Actor)
		}
	}
	for _, want := range []string{"message.replay", "config.reload", "message.delete"} {
		if !seen[want] {
			t.Errorf("no %s in the audit trail: %+v", want, audit.Entries)
		}
	}
	p := startProc(t, "audit", "audit", "--api", "http://127.0.0.1:"+d.e.adminPort)
	if code, _ := p.exited(20 * time.Second); code != 0 || !strings.Contains(p.stdout.String(), "message.replay") {
		t.Errorf("hooktunnel audit: exit %d\n%s%s", code, p.stdout.String(), p.stderr.String())
	}
}
