package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// --edge-addr sends the agent's connections to --edge to one address;
// the second session, to another edge the Welcome lists, goes to that
// edge's own address, with the same trust.
func TestEdgeAddrLeadsOnlyTheFirstSession(t *testing.T) {
	t.Parallel()
	serve := func(name string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
		t.Cleanup(srv.Close)
		return srv
	}
	first, other := serve("first"), serve("other")
	edge, others, err := edgeClients("", first.Listener.Addr().String(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		client *http.Client
		url    string
		want   string
	}{
		{"--edge goes to --edge-addr", edge, "http://hooks.example.invalid/", "first"},
		{"another edge goes to its own address", others, other.URL, "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.client.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if body, _ := io.ReadAll(resp.Body); string(body) != tc.want {
				t.Errorf("GET %s reached %q, want %q", tc.url, body, tc.want)
			}
		})
	}
}
