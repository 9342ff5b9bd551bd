package agent

import (
	"slices"
	"strings"
	"testing"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// The edges a Welcome lists are the edge's word, and the second session
// sends them the agent's token: only dialable URLs, each once, and none
// that would carry the token less safely than --edge does.
func TestUsableEdges(t *testing.T) {
	t.Parallel()
	many := make([]string, maxEdges+5)
	for i := range many {
		many[i] = "https://edge" + strings.Repeat("x", i) + ".example.com"
	}
	tests := []struct {
		name   string
		dialed string
		listed []string
		want   []string
	}{
		{"none", "https://hooks.example.com", nil, nil},
		{"https behind https", "https://hooks.example.com", []string{"https://e1.example.com", "https://e2.example.com:8443"},
			[]string{"https://e1.example.com", "https://e2.example.com:8443"}},
		{"no plain http behind https", "https://hooks.example.com", []string{"http://e1.example.com", "ws://e2.example.com", "wss://e3.example.com"},
			[]string{"wss://e3.example.com"}},
		{"http behind http", "http://127.0.0.1:8080", []string{"http://127.0.0.2:8080", "https://127.0.0.3:8443"},
			[]string{"http://127.0.0.2:8080", "https://127.0.0.3:8443"}},
		{"each once", "https://hooks.example.com", []string{"https://e1.example.com", "https://E1.example.com/", "wss://e1.example.com/x"},
			[]string{"https://e1.example.com"}},
		{"not dialable", "https://hooks.example.com", []string{"", "e1.example.com", "ftp://e1.example.com", "https://", "https:e1", "https://%zz"}, nil},
		{"no credentials", "https://hooks.example.com", []string{"https://user:pass@e1.example.com"}, nil},
		{"too long", "https://hooks.example.com", []string{"https://" + strings.Repeat("e", maxEdgeURL) + ".example.com"}, nil},
		{"bounded", "https://hooks.example.com", many, many[:maxEdges]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := usableEdges(tc.dialed, tc.listed); !slices.Equal(got, tc.want) {
				t.Errorf("usableEdges(%s, %q) = %q, want %q", tc.dialed, tc.listed, got, tc.want)
			}
		})
	}
}

// The first session's edge is never a candidate for the second, and the
// second tries the others in turn.
func TestPickSkipsTheFirstSessionsEdge(t *testing.T) {
	t.Parallel()
	s := newEdgeSet("https://hooks.example.com")
	if edge, _ := s.pick(); edge != "" {
		t.Fatalf("before any Welcome pick = %q, want none", edge)
	}
	s.firstOn(welcomeFrom("https://b.example.com", "https://a.example.com", "https://b.example.com", "https://c.example.com"))
	var got []string
	for range 4 {
		edge, _ := s.pick()
		got = append(got, edge)
		s.failed()
	}
	if want := []string{"https://a.example.com", "https://c.example.com", "https://a.example.com", "https://c.example.com"}; !slices.Equal(got, want) {
		t.Errorf("picks %q, want %q", got, want)
	}
	if _, ok := s.hold(welcomeFrom("https://B.example.com/"), "https://a.example.com"); ok {
		t.Error("a second session welcomed by the first one's edge is kept")
	}
}

func welcomeFrom(self string, edges ...string) tunnel.Welcome {
	return tunnel.Welcome{Tunnel: "demo", Edge: self, Edges: edges}
}

// FuzzUsableEdges: whatever an edge lists, the agent dials only URLs it
// listed, each once, at most maxEdges, none in the clear behind TLS.
func FuzzUsableEdges(f *testing.F) {
	f.Add("https://hooks.example.com", "https://e1.example.com\nhttp://e2.example.com\nhttps://E1.example.com/")
	f.Add("http://127.0.0.1:8080", "http://127.0.0.2:8080\nws://[::1]:9\nhttps://u:p@x")
	f.Add("https://h", "https://%zz\n\nhttps:opaque\nwss://h:99999")
	f.Fuzz(func(t *testing.T, dialed, list string) {
		listed := strings.Split(list, "\n")
		got := usableEdges(dialed, listed)
		if len(got) > maxEdges {
			t.Fatalf("%d edges", len(got))
		}
		seen := map[string]bool{}
		for _, e := range got {
			if !slices.Contains(listed, e) {
				t.Fatalf("%q was not listed", e)
			}
			if isSecure(dialed) && !isSecure(e) {
				t.Fatalf("%q in the clear behind %q", e, dialed)
			}
			if k := edgeKey(e); k == "" || seen[k] {
				t.Fatalf("%q undialable or twice", e)
			}
			seen[edgeKey(e)] = true
		}
	})
}
