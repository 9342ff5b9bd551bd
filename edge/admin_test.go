package edge

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newTestEdge(t *testing.T, cfg Config) *Edge {
	t.Helper()
	cfg.Data = t.TempDir()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.db.Close() })
	return e
}

func TestAdminTokenIsRequiredOffLoopback(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Domain, cfg.TLS, cfg.AdminListen = "hooks.test", "off", "0.0.0.0:9090"
	cfg.Data = t.TempDir()
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "admin.token_sha256") {
		t.Fatalf("a non-loopback admin listener without a token: %v", err)
	}
}

func TestAdminAPIChecksTheBearerToken(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte("admin-secret"))
	cfg := DefaultConfig()
	cfg.Domain, cfg.TLS, cfg.AdminListen = "hooks.test", "off", "0.0.0.0:9090"
	cfg.Admin.TokenSHA256 = hex.EncodeToString(sum[:])
	srv := httptest.NewServer(newTestEdge(t, cfg).AdminHandler())
	t.Cleanup(srv.Close)
	tests := []struct {
		name, path, auth string
		want             int
	}{
		{"health is open", "/healthz", "", 200},
		{"no token", "/api/v1/tunnels", "", 401},
		{"wrong token", "/api/v1/tunnels", "Bearer nope", 401},
		{"not bearer", "/api/v1/tunnels", "admin-secret", 401},
		{"right token", "/api/v1/tunnels", "Bearer admin-secret", 200},
		// Not a 401, which the agent would read as its token refused.
		{"an agent's handshake", "/_hooktunnel/v1/connect", "Bearer ht_0123456789abcdef0123456789abcdef", 421},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
			if strings.Contains(string(body), "admin-secret") {
				t.Error("the answer echoes the token")
			}
		})
	}
}

// The admin listener and the inspectors answer only their own Host names,
// against DNS rebinding, and take changes only from their own origin.
func TestAdminAndInspectorAnswerOnlyTheirHosts(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Domain, cfg.TLS = "hooks.test", "off"
	cfg.Admin.Hosts = []string{"hooks-admin.example"}
	e := newTestEdge(t, cfg)
	admin, inspector := e.AdminHandler(), e.inspectorHandler([]string{"demo"})
	tests := []struct {
		name         string
		handler      http.Handler
		method, path string
		host, origin string
		wantStatus   int
		wantError    string
	}{
		{"admin: address", admin, "GET", "/api/v1/messages", "127.0.0.1:9090", "", 200, ""},
		{"admin: health by address", admin, "GET", "/healthz", "10.0.0.7:9090", "", 200, ""},
		{"admin: localhost", admin, "GET", "/api/v1/messages", "localhost:9090", "", 200, ""},
		{"admin: listed name", admin, "GET", "/api/v1/messages", "Hooks-Admin.Example:9090", "", 200, ""},
		{"admin: rebound name reads", admin, "GET", "/api/v1/messages", "evil.example:9090", "", 403, "host_not_allowed"},
		{"admin: rebound name, health", admin, "GET", "/healthz", "evil.example:9090", "", 403, "host_not_allowed"},
		{"admin: rebound name, UI", admin, "GET", "/", "evil.example:9090", "", 403, "host_not_allowed"},
		{"admin: rebound name reloads", admin, "POST", "/api/v1/reload", "evil.example:9090", "http://evil.example:9090", 403, "host_not_allowed"},
		{"admin: reload from its own page", admin, "POST", "/api/v1/reload", "127.0.0.1:9090", "http://127.0.0.1:9090", 409, "config_error"},
		{"admin: reload from the CLI", admin, "POST", "/api/v1/reload", "127.0.0.1:9090", "", 409, "config_error"},
		{"admin: reload from another site", admin, "POST", "/api/v1/reload", "127.0.0.1:9090", "http://evil.example", 403, "cross_site"},
		{"admin: delete from another site", admin, "DELETE", "/api/v1/messages/x", "127.0.0.1:9090", "http://evil.example", 403, "cross_site"},
		{"admin: replay from the listed name", admin, "POST", "/api/v1/messages/x/replay", "127.0.0.1:9090", "https://hooks-admin.example", 404, "not_found"},
		{"inspector: address", inspector, "GET", "/api/v1/messages", "127.0.0.1:4040", "", 200, ""},
		{"inspector: rebound name", inspector, "GET", "/api/v1/messages", "evil.example:4040", "", 403, "host_not_allowed"},
		{"inspector: the admin's names are not its own", inspector, "GET", "/api/v1/messages", "hooks-admin.example", "", 403, "host_not_allowed"},
		{"inspector: replay from another site", inspector, "POST", "/api/v1/messages/x/replay", "127.0.0.1:4040", "http://evil.example:4040", 403, "cross_site"},
		{"inspector: replay from its own page", inspector, "POST", "/api/v1/messages/x/replay", "127.0.0.1:4040", "http://127.0.0.1:4040", 404, "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tc.method, "http://x"+tc.path, nil)
			req.Host = tc.host
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			rec := httptest.NewRecorder()
			tc.handler.ServeHTTP(rec, req)
			var body refusal
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != tc.wantStatus || body.Error != tc.wantError {
				t.Errorf("%s %s Host %q Origin %q: %d %q, want %d %q: %s", tc.method, tc.path, tc.host, tc.origin, rec.Code, body.Error, tc.wantStatus, tc.wantError, rec.Body)
			}
			if tc.wantError == "host_not_allowed" && strings.HasPrefix(tc.name, "admin:") && !strings.Contains(body.Message, "admin.hosts") {
				t.Errorf("the refusal does not say how to fix it: %s", body.Message)
			}
		})
	}
}
