package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// testToken is a well-formed agent token no server here checks.
const testToken = "ht_0123456789abcdef0123456789abcdef"

// dialErr dials edge as the agent does and returns the error.
func dialErr(t *testing.T, edge string, client *http.Client) error {
	t.Helper()
	cfg := tunnel.DefaultConfig()
	cfg.HandshakeTimeout = 10 * time.Second
	sess, _, err := tunnel.Dial(context.Background(), edge, tunnel.Hello{Token: testToken}, cfg, client)
	if err == nil {
		sess.Close()
		t.Fatalf("dialing %s succeeded", edge)
	}
	return err
}

func answering(status int, contentType, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
}

func TestDiagnose(t *testing.T) {
	t.Parallel()
	tlsServer := httptest.NewTLSServer(answering(404, "", "not found"))
	t.Cleanup(tlsServer.Close)
	plain404 := httptest.NewServer(answering(404, "text/plain", "404 page not found"))
	t.Cleanup(plain404.Close)
	admin := httptest.NewServer(answering(421, "application/json", `{"error":"not_public_listener","message":"…"}`))
	t.Cleanup(admin.Close)
	tunnelHost := httptest.NewServer(answering(404, "application/json", `{"error":"no_route","request_id":"x"}`))
	t.Cleanup(tunnelHost.Close)
	restarting := httptest.NewServer(answering(502, "text/plain", "bad gateway"))
	t.Cleanup(restarting.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	trusting := tlsServer.Client()
	trusting.Transport.(*http.Transport).TLSClientConfig.NextProtos = []string{"http/1.1"}
	untrusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{NextProtos: []string{"http/1.1"}}}}
	tlsHost := strings.TrimPrefix(tlsServer.URL, "https://")
	tests := []struct {
		name   string
		edge   string
		client *http.Client
		want   error // nil: retrying may help
		fix    string
	}{
		{"plain HTTP to a TLS port", "http://" + tlsHost, untrusting, ErrEdgeSpeaksTLS, "use --edge https://" + tlsHost},
		{"TLS to a plain HTTP port", "https://" + strings.TrimPrefix(plain404.URL, "http://"), nil, ErrEdgeSpeaksPlain, "use --edge http://"},
		{"an unknown CA", tlsServer.URL, untrusting, ErrEdgeUnknownCA, "--edge-ca"},
		{"a certificate for another name", "https://localhost:" + strings.Split(tlsHost, ":")[1], trusting, ErrEdgeNameMismatch, "--edge-addr"},
		{"the admin listener", admin.URL, nil, ErrEdgeAdminPort, "--listen"},
		{"a tunnel host", tunnelHost.URL, nil, ErrEdgeTunnelURL, "not a tunnel's"},
		{"a 404 from something else", plain404.URL, nil, ErrNotAnEdge, "check --edge"},
		{"a proxy whose edge restarts", restarting.URL, nil, nil, ""},
		{"nothing listens", "http://" + closed, nil, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := dialErr(t, tc.edge, tc.client)
			got := Diagnose(context.Background(), tc.edge, tc.client, err)
			if tc.want == nil {
				if got != nil {
					t.Fatalf("Diagnose(%v) = %v, want nil (retry)", err, got)
				}
				return
			}
			if got == nil {
				t.Fatalf("Diagnose(%v) = nil, want %v", err, tc.want)
			}
			if !errors.Is(got, tc.want) || !errors.Is(got, err) {
				t.Errorf("Diagnose(%v) = %v, want errors.Is %v and the dial's error", err, got, tc.want)
			}
			if !strings.Contains(got.Fix, tc.fix) {
				t.Errorf("fix %q does not say %q", got.Fix, tc.fix)
			}
			if strings.Contains(got.Error(), "\n") {
				t.Errorf("not one line: %q", got.Error())
			}
		})
	}
}
