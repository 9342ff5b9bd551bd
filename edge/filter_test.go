package edge

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
)

// A request a later route takes, its first route's filter declining it,
// is journaled as the later route says: with its headers and query,
// masked, when the first route kept only metadata; without them when the
// later one keeps only metadata.
func TestFilterHandsTheJournalToTheLaterRoute(t *testing.T) {
	tests := []struct {
		name          string
		first, later  string // journal levels
		wantHeaders   bool
		wantBodyBytes int
	}{
		{"metadata, then full", policy.JournalMetadata, policy.JournalFull, true, len(`{"n":2}`)},
		{"full, then metadata", policy.JournalFull, policy.JournalMetadata, false, 0},
		{"full, then headers", policy.JournalFull, policy.JournalHeaders, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := startEdgeWithAgent(t, []policy.RouteConfig{
				{Path: "/hook", Journal: tc.first, Filter: `body.n == 1`},
				{Path: "/hook", Journal: tc.later},
			}, func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
			for !e.relay.Online("demo") { // the agent registers in the edge's goroutine
				time.Sleep(2 * time.Millisecond) // polls what runs in the background; no timing depends on it
			}
			req, _ := http.NewRequest("POST", "http://"+e.Addr().String()+"/hook?api_key=k&x=1", strings.NewReader(`{"n":2}`))
			req.Host = "demo.hooks.test"
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer secret-value")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("the later route's request answered %d", resp.StatusCode)
			}
			m := waitQueued(t, e, func(store.Message) bool { return true })
			if m.Decision != "forwarded" || len(m.Body) != tc.wantBodyBytes {
				t.Errorf("journaled %s with %d body bytes, want forwarded with %d", m.Decision, len(m.Body), tc.wantBodyBytes)
			}
			if !tc.wantHeaders {
				if m.Header != nil || m.Query != "" {
					t.Errorf("a metadata route's message holds headers %v, query %q", m.Header, m.Query)
				}
				return
			}
			if m.Header.Get("Content-Type") != "application/json" || m.Header.Get("Authorization") != redacted || m.Query != "api_key="+redactedInQuery+"&x=1" {
				t.Errorf("journaled headers %v, query %q; want them, masked", m.Header, m.Query)
			}
		})
	}
}
