package edge

import (
	"crypto/sha256"
	"encoding/hex"
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
	cfg.Logger = slog.New(slog.DiscardHandler)
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
