package edge

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/hooktunnel/hooktunnel/edge/cluster"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// A relayed request is signed whole: its method, path with query, public
// host, declared length and (a small one's) body. A request changed on
// its way between edges is refused as one with a bad signature is, and no
// agent sees it; the same request unchanged goes through.
func TestPeerEndpointRefusesATamperedRequest(t *testing.T) {
	a := newPeerEdge(t, "edge-a", true)
	now := a.clock.Now()
	request := func(secret []byte, message string) *http.Request {
		req, _ := http.NewRequest("POST", a.url+cluster.PeerPath, strings.NewReader("body"))
		req.Header.Set(tunnel.HeaderTunnel, "demo")
		req.Header.Set(tunnel.HeaderMessageID, message)
		req.Header.Set(tunnel.HeaderAttempt, "1")
		req.Header.Set(cluster.HeaderMethod, "PUT")
		req.Header.Set(cluster.HeaderURI, "/hook?x=1")
		req.Header.Set(cluster.HeaderHost, "demo.hooks.example.com")
		signPeer(t, req, secret, "edge-b", "edge-a", now)
		return req
	}
	type answer struct {
		status int
		code   string
		body   string
	}
	send := func(t *testing.T, req *http.Request) answer {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, resp.Header.Get(cluster.HeaderRelayError), string(body)}
	}
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	badSignature := send(t, request([]byte("not the cluster secret, but 32 bytes long"), "m-bad"))
	if badSignature.status != http.StatusUnauthorized || badSignature.code != cluster.CodeUnauthenticated {
		t.Fatalf("a bad signature: %+v", badSignature)
	}

	tests := []struct {
		name   string
		tamper func(*http.Request) // nil: sent as signed
	}{
		{"untampered", nil},
		{"another method", func(r *http.Request) { r.Header.Set(cluster.HeaderMethod, "DELETE") }},
		{"another path", func(r *http.Request) { r.Header.Set(cluster.HeaderURI, "/admin?x=1") }},
		{"another query", func(r *http.Request) { r.Header.Set(cluster.HeaderURI, "/hook?x=2") }},
		{"another host", func(r *http.Request) { r.Header.Set(cluster.HeaderHost, "other.hooks.example.com") }},
		{"another body of the same length", func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("evil")) }},
		{"a longer body", func(r *http.Request) {
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader("a longer body")), int64(len("a longer body"))
		}},
		{"no body", func(r *http.Request) { r.Body, r.ContentLength = http.NoBody, 0 }},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := a.app.n.Load()
			req := request(peerSecret, "m-tamper-"+strconv.Itoa(i))
			if tc.tamper != nil {
				tc.tamper(req)
			}
			got := send(t, req)
			delivered := a.app.n.Load() - before
			if tc.tamper != nil {
				if got != badSignature || delivered != 0 {
					t.Fatalf("answered %+v with %d deliveries; want the bad signature's %+v and none", got, delivered, badSignature)
				}
				return
			}
			if got.status != http.StatusCreated || delivered != 1 {
				t.Fatalf("answered %+v with %d deliveries; want the app's 201", got, delivered)
			}
			a.app.mu.Lock()
			seen, body := a.app.seen[len(a.app.seen)-1], a.app.body[len(a.app.body)-1]
			a.app.mu.Unlock()
			if seen.Method != "PUT" || seen.URL.RequestURI() != "/hook?x=1" || seen.Host != "demo.hooks.example.com" || body != "body" {
				t.Fatalf("the app saw %s %s host %s body %q", seen.Method, seen.URL.RequestURI(), seen.Host, body)
			}
		})
	}
}
