package test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// rawCall sends method path to a local listener at addr with the Host and
// Origin a browser would send, and returns the status and the error code.
func rawCall(t *testing.T, method, addr, path, host, origin string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body refusalBody
	_ = json.Unmarshal(raw, &body)
	return resp.StatusCode, body.Error
}

// A page of evil.example whose name now resolves to 127.0.0.1 reaches the
// admin listener with Host: evil.example and a matching Origin: it must
// neither read the journal nor reload. A name listed in admin.hosts is
// answered; a change from another site is refused whatever the Host.
func TestRebindingAdminListener(t *testing.T) {
	t.Parallel()
	plain := startEdge(t, edgeConfig(nil, ""))
	listed := startEdge(t, edgeConfig(nil, "admin:\n  hosts: [hooks-admin.example]\n"))
	tests := []struct {
		name         string
		e            *edgeProc
		method, path string
		host, origin string // PORT is the admin port
		wantStatus   int
		wantError    string
	}{
		{"rebound name reads the journal", plain, "GET", "/api/v1/messages", "evil.example:PORT", "http://evil.example:PORT", 403, "host_not_allowed"},
		{"rebound name reloads", plain, "POST", "/api/v1/reload", "evil.example:PORT", "http://evil.example:PORT", 403, "host_not_allowed"},
		{"rebound name replays", plain, "POST", "/api/v1/messages/01J000000000000000000000/replay", "evil.example:PORT", "http://evil.example:PORT", 403, "host_not_allowed"},
		{"unlisted name", plain, "GET", "/api/v1/messages", "hooks-admin.example:PORT", "", 403, "host_not_allowed"},
		{"address", plain, "GET", "/api/v1/messages", "127.0.0.1:PORT", "", 200, ""},
		{"reload from its own page", plain, "POST", "/api/v1/reload", "127.0.0.1:PORT", "http://127.0.0.1:PORT", 200, ""},
		{"reload from another site", plain, "POST", "/api/v1/reload", "127.0.0.1:PORT", "http://evil.example:PORT", 403, "cross_site"},
		{"listed name reads the journal", listed, "GET", "/api/v1/messages", "hooks-admin.example:PORT", "", 200, ""},
		{"listed name reloads from its own page", listed, "POST", "/api/v1/reload", "hooks-admin.example:PORT", "http://hooks-admin.example:PORT", 200, ""},
		{"listed name, another site's page", listed, "POST", "/api/v1/reload", "hooks-admin.example:PORT", "http://evil.example:PORT", 403, "cross_site"},
		{"rebound name beside a listed one", listed, "GET", "/api/v1/messages", "evil.example:PORT", "", 403, "host_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host := strings.ReplaceAll(tc.host, "PORT", tc.e.adminPort)
			origin := strings.ReplaceAll(tc.origin, "PORT", tc.e.adminPort)
			status, code := rawCall(t, tc.method, "127.0.0.1:"+tc.e.adminPort, tc.path, host, origin)
			if status != tc.wantStatus || code != tc.wantError {
				t.Errorf("%s %s Host %q Origin %q: %d %q, want %d %q", tc.method, tc.path, host, origin, status, code, tc.wantStatus, tc.wantError)
			}
		})
	}
}

// The same against an agent's inspector, which serves this tunnel's
// webhooks and their replay on 127.0.0.1.
func TestRebindingAgentInspector(t *testing.T) {
	t.Parallel()
	tok := newToken("demo", true, "demo")
	e := startEdge(t, edgeConfig([]agentToken{tok}, ""))
	a := startApp(t)
	port := freePort(t)
	startAgent(t, e, tok, a.port(), "--name", "demo", "--route", "/hook", "--inspect", "127.0.0.1:"+port)
	if status := post(e.client(10*time.Second), e.hookURL("demo", "/hook"), "m1"); status != 200 {
		t.Fatalf("webhook: %d", status)
	}
	m := e.waitMessage(t, "tunnel=demo", func(store.Message) bool { return true })
	addr := "127.0.0.1:" + port
	eventually(t, 20*time.Second, "the inspector to answer", func() bool {
		resp, err := http.Get("http://" + addr + "/api/v1/messages")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	replay := "/api/v1/messages/" + m.ID + "/replay"
	tests := []struct {
		name, method, path string
		host, origin       string
		wantStatus         int
		wantError          string
	}{
		{"rebound name reads the journal", "GET", "/api/v1/messages", "evil.example:" + port, "http://evil.example:" + port, 403, "host_not_allowed"},
		{"rebound name reads a message", "GET", "/api/v1/messages/" + m.ID, "evil.example:" + port, "", 403, "host_not_allowed"},
		{"rebound name replays", "POST", replay, "evil.example:" + port, "http://evil.example:" + port, 403, "host_not_allowed"},
		{"another site's page replays", "POST", replay, addr, "http://evil.example:" + port, 403, "cross_site"},
		{"address reads the journal", "GET", "/api/v1/messages", addr, "", 200, ""},
		{"localhost reads the journal", "GET", "/api/v1/messages", "localhost:" + port, "", 200, ""},
		{"replay from its own page", "POST", replay, addr, "http://" + addr, 202, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, code := rawCall(t, tc.method, addr, tc.path, tc.host, tc.origin)
			if status != tc.wantStatus || code != tc.wantError {
				t.Errorf("%s %s Host %q Origin %q: %d %q, want %d %q", tc.method, tc.path, tc.host, tc.origin, status, code, tc.wantStatus, tc.wantError)
			}
		})
	}
}
