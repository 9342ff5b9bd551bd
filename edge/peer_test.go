package edge

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/edge/cluster"
	"github.com/hooktunnel/hooktunnel/edge/relay"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
	"github.com/hooktunnel/hooktunnel/tunnel/tunneltest"
)

var peerSecret = []byte("a cluster secret of at least 32 bytes")

// fixedView is a registry view that says which edges hold which tunnels.
type fixedView map[string][]store.EdgeLease

func (v fixedView) Holders(name string) []store.EdgeLease { return v[name] }
func (v fixedView) Declared(string) []byte                { return nil }

// app is the app behind an agent: it records what it saw.
type app struct {
	mu   sync.Mutex
	seen []*http.Request
	body []string
	n    atomic.Int64
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.seen = append(a.seen, r)
	a.body = append(a.body, string(b))
	a.mu.Unlock()
	a.n.Add(1)
	w.Header().Set("X-App", "yes")
	w.Header().Set(cluster.HeaderRelayError, relay.CodeNoAgent) // an app pretending to be an edge
	w.WriteHeader(201)
	io.WriteString(w, "app got "+string(b))
}

// peerEdge is one edge of a test cluster at the relay/peer level: its
// relay, optionally one agent session serving "demo", and its peer
// endpoint on a loopback server.
type peerEdge struct {
	id    string
	relay *relay.Relay
	app   *app
	url   string
	lease store.EdgeLease
	clock *clock.Fake
}

func newPeerEdge(t testing.TB, id string, withAgent bool) *peerEdge {
	t.Helper()
	return newPeerEdgeWith(t, id, withAgent, func() []byte { return peerSecret })
}

// newPeerEdgeWith is newPeerEdge whose endpoint checks with secret.
func newPeerEdgeWith(t testing.TB, id string, withAgent bool, secret func() []byte) *peerEdge {
	t.Helper()
	e := &peerEdge{id: id, clock: clock.NewFake(time.Unix(1_700_000_000, 0)), app: &app{}}
	e.relay = relay.New(e.clock)
	if withAgent {
		edgeSide, agentSide := tunneltest.SessionPair(t, func(*tunnel.Session) tunnel.Control { return tunnel.Control{} })
		go http.Serve(agentSide, e.app)
		s := e.relay.NewSession("agent", [32]byte{}, "127.0.0.1:1", 8)
		s.Attach(edgeSide, e.clock)
		t.Cleanup(s.Close)
		e.relay.Add("demo", s, nil)
	}
	ep := newPeerEndpoint(id, secret, e.relay, e.clock, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	e.lease = store.EdgeLease{ID: id, Advertise: srv.URL}
	return e
}

// relayTo makes e relay to the holders view names, and returns its
// transport.
func (e *peerEdge) relayTo(t *testing.T, view fixedView) *cluster.Peers {
	t.Helper()
	return e.relayToWith(t, view, func() []byte { return peerSecret })
}

// relayToWith is relayTo signing with secret.
func (e *peerEdge) relayToWith(t *testing.T, view fixedView, secret func() []byte) *cluster.Peers {
	t.Helper()
	peers, err := cluster.NewPeers(cluster.PeersConfig{ID: e.id, Secret: secret, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(peers.Close)
	e.relay.SetRemote(newPeerRemote(view, peers, nil, slog.New(slog.DiscardHandler)))
	return peers
}

// signPeer signs r as the edge from would, for the edge to.
func signPeer(t *testing.T, r *http.Request, secret []byte, from, to string, at time.Time) {
	t.Helper()
	if err := cluster.Sign(r, secret, from, to, at); err != nil {
		t.Fatal(err)
	}
}

// prepared is a request as prepare leaves it for the relay.
func prepared(method, body string, attempt int) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, "http://demo/hooks/github?x=1", rd)
	req.Host = "demo.hooks.example.com"
	req.Header.Set(tunnel.HeaderTunnel, "demo")
	req.Header.Set(tunnel.HeaderMessageID, "msg-"+strconv.Itoa(attempt)+"-"+body)
	req.Header.Set(tunnel.HeaderAttempt, strconv.Itoa(attempt))
	req.Header.Set("X-GitHub-Event", "push")
	return req
}

func TestAWebhookIsRelayedOneHop(t *testing.T) {
	a := newPeerEdge(t, "edge-a", true)
	b := newPeerEdge(t, "edge-b", false)
	b.relayTo(t, fixedView{"demo": {a.lease}})

	if !b.relay.Online("demo") || !b.relay.Known("demo") {
		t.Fatal("b does not see a's session")
	}
	resp, err := b.relay.Deliver("demo", prepared("PUT", "payload", 1))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(got) != "app got payload" || resp.Header.Get("X-App") != "yes" {
		t.Fatalf("answer %d %q %v", resp.StatusCode, got, resp.Header)
	}
	if by := resp.Header.Get(cluster.HeaderDeliveredBy); by != "edge-a" {
		t.Fatalf("delivered by %q, want edge-a", by)
	}
	if e := resp.Header.Get(cluster.HeaderRelayError); e != "" {
		t.Fatalf("the app's own %s reached the relaying edge: %q", cluster.HeaderRelayError, e)
	}
	a.app.mu.Lock()
	seen := a.app.seen[0]
	a.app.mu.Unlock()
	if seen.Method != "PUT" || seen.URL.RequestURI() != "/hooks/github?x=1" || seen.Header.Get("X-GitHub-Event") != "push" {
		t.Fatalf("the app saw %s %s %v", seen.Method, seen.URL, seen.Header)
	}
	for _, h := range []string{cluster.HeaderPeer, cluster.HeaderMethod, cluster.HeaderURI, cluster.HeaderHost} {
		if v := seen.Header.Get(h); v != "" {
			t.Fatalf("the app saw the edges' %s: %q", h, v)
		}
	}
	if seen.Header.Get(tunnel.HeaderMessageID) != "msg-1-payload" {
		t.Fatalf("the app lost the message id: %v", seen.Header)
	}
}

// Whatever reaches the peer endpoint without a valid peer header, or asks
// for a second hop, is refused and no agent sees it.
func TestPeerEndpointRefusesWhatNoPeerSent(t *testing.T) {
	a := newPeerEdge(t, "edge-a", true)
	// a relays too: to c, which holds "other". A peer request for "other"
	// must not go on to c.
	c := newPeerEdge(t, "edge-c", true)
	c.relay.Add("other", c.relay.All()["demo"][0], nil)
	a.relayTo(t, fixedView{"other": {c.lease}})

	sign := func(secret []byte, from, to string, at time.Time, tunnelName, message string) func(*http.Request) {
		return func(r *http.Request) {
			r.Header.Set(tunnel.HeaderTunnel, tunnelName)
			r.Header.Set(tunnel.HeaderMessageID, message)
			r.Header.Set(tunnel.HeaderAttempt, "1")
			r.Header.Set(cluster.HeaderMethod, "POST")
			r.Header.Set(cluster.HeaderURI, "/hook")
			signPeer(t, r, secret, from, to, at)
		}
	}
	now := a.clock.Now()
	replayed := sign(peerSecret, "edge-b", "edge-a", now, "demo", "m-replayed")
	tests := []struct {
		name       string
		method     string
		set        func(*http.Request)
		wantStatus int
		wantCode   string
	}{
		{"missing header", "POST", func(r *http.Request) { r.Header.Set(tunnel.HeaderTunnel, "demo") }, 401, cluster.CodeUnauthenticated},
		{"wrong secret", "POST", sign([]byte("not the cluster secret, but 32 bytes long"), "edge-b", "edge-a", now, "demo", "m1"), 401, cluster.CodeUnauthenticated},
		{"stale timestamp", "POST", sign(peerSecret, "edge-b", "edge-a", now.Add(-2*time.Minute), "demo", "m2"), 401, cluster.CodeUnauthenticated},
		{"signed for another edge", "POST", sign(peerSecret, "edge-b", "edge-c", now, "demo", "m3"), 401, cluster.CodeUnauthenticated},
		{"a GET", "GET", sign(peerSecret, "edge-b", "edge-a", now, "demo", "m4"), 405, cluster.CodeUnauthenticated},
		{"the first copy", "POST", replayed, 201, ""},
		{"its replay", "POST", replayed, 401, cluster.CodeUnauthenticated},
		{"a second hop", "POST", sign(peerSecret, "edge-b", "edge-a", now, "other", "m5"), 503, relay.CodeNoAgent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := a.app.n.Load() + c.app.n.Load()
			req, _ := http.NewRequest(tc.method, a.url+cluster.PeerPath, strings.NewReader("body"))
			tc.set(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || resp.Header.Get(cluster.HeaderRelayError) != tc.wantCode {
				t.Fatalf("%d %s=%q %s; want %d %q", resp.StatusCode, cluster.HeaderRelayError, resp.Header.Get(cluster.HeaderRelayError), body, tc.wantStatus, tc.wantCode)
			}
			if resp.Header.Get(cluster.HeaderDeliveredBy) != "edge-a" {
				t.Fatal("the answer does not name the edge")
			}
			delivered := a.app.n.Load() + c.app.n.Load() - before
			if want := int64(0); tc.wantStatus == 201 {
				want = 1
				if delivered != want {
					t.Fatalf("%d deliveries, want 1", delivered)
				}
			} else if delivered != 0 {
				t.Fatalf("an app saw a refused request (%d deliveries)", delivered)
			}
			if strings.Contains(string(body), string(peerSecret)) {
				t.Fatal("the refusal carries the secret")
			}
		})
	}
	http.DefaultClient.CloseIdleConnections()
}

// A reload that changes the cluster secret (the file it names rewritten)
// changes it for signing and for checking alike: an edge whose config
// swapped the secret in signs with the one it checks with, before the
// swap and after.
func TestRelaySignsWithTheSecretChecksUse(t *testing.T) {
	var secret atomic.Pointer[[]byte]
	before := peerSecret
	secret.Store(&before)
	current := func() []byte { return *secret.Load() }
	a := newPeerEdgeWith(t, "edge-a", true, current)
	b := newPeerEdgeWith(t, "edge-b", false, current)
	b.relayToWith(t, fixedView{"demo": {a.lease}}, current)
	deliver := func(when string, attempt int) {
		t.Helper()
		resp, err := b.relay.Deliver("demo", prepared("POST", "x", attempt))
		if err != nil {
			t.Fatalf("%s the swap: %v", when, err)
		}
		resp.Body.Close()
		if by := resp.Header.Get(cluster.HeaderDeliveredBy); resp.StatusCode != 201 || by != "edge-a" {
			t.Fatalf("%s the swap: %d delivered by %q", when, resp.StatusCode, by)
		}
	}
	deliver("before", 1)
	after := []byte("the rotated cluster secret, also 32 bytes or more")
	secret.Store(&after)
	deliver("after", 2)
}

// An edge that was listed as a holder but has no agent any more answers
// no_agent: the next holder gets the request, once.
func TestRelayFailsOverToTheNextHolder(t *testing.T) {
	gone := newPeerEdge(t, "edge-gone", false)
	a := newPeerEdge(t, "edge-a", true)
	b := newPeerEdge(t, "edge-b", false)
	b.relayTo(t, fixedView{"demo": {gone.lease, a.lease}})
	resp, err := b.relay.Deliver("demo", prepared("POST", "x", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if by := resp.Header.Get(cluster.HeaderDeliveredBy); by != "edge-a" {
		t.Fatalf("delivered by %q", by)
	}

	// Two holders without an agent, a third with one: two tries only.
	gone2 := newPeerEdge(t, "edge-gone2", false)
	b.relayTo(t, fixedView{"demo": {gone.lease, gone2.lease, a.lease}})
	before := a.app.n.Load()
	if _, err := b.relay.Deliver("demo", prepared("POST", "y", 1)); !errors.Is(err, relay.ErrNoAgent) {
		t.Fatalf("two holders without an agent: %v, want ErrNoAgent", err)
	}
	if a.app.n.Load() != before {
		t.Fatal("a third holder was tried")
	}

	// No holder answers at all (nothing listens): no agent, nothing sent.
	b.relayTo(t, fixedView{"demo": {{ID: "edge-dead", Advertise: "http://127.0.0.1:1"}}})
	if _, err := b.relay.Deliver("demo", prepared("POST", "z", 1)); !errors.Is(err, relay.ErrNoAgent) {
		t.Fatalf("an unreachable holder: %v, want ErrNoAgent", err)
	}
}

// The relaying edge tells the sender what a local delivery would have:
// the relay's errors come back as the same sentinel errors.
func TestRelayedErrorsAreTheRelaysErrors(t *testing.T) {
	a := newPeerEdge(t, "edge-a", false)
	edgeSide, agentSide := tunneltest.SessionPair(t, func(*tunnel.Session) tunnel.Control { return tunnel.Control{} })
	got, stop := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go http.Serve(agentSide, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(got)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	s := a.relay.NewSession("agent", [32]byte{}, "127.0.0.1:1", 8)
	s.Attach(edgeSide, a.clock)
	t.Cleanup(s.Close)
	a.relay.Add("demo", s, nil)
	b := newPeerEdge(t, "edge-b", false)
	b.relayTo(t, fixedView{"demo": {a.lease}})
	go func() { <-got; agentSide.Close() }()
	// A body too large to keep for a retry: it cannot go again.
	big := prepared("POST", strings.Repeat("x", relay.MaxRetryBody+1), 1)
	big.ContentLength = relay.MaxRetryBody + 1
	if _, err := b.relay.Deliver("demo", big); !errors.Is(err, relay.ErrAgentLost) {
		t.Fatalf("agent gone mid-request on the other edge: %v, want ErrAgentLost", err)
	}
	if _, err := b.relay.Deliver("nobody", prepared("POST", "x", 2)); !errors.Is(err, relay.ErrNoAgent) {
		t.Fatalf("a tunnel nobody holds: %v, want ErrNoAgent", err)
	}
}

// Routes an agent declared on another edge govern the tunnel here; ones
// that do not compile here forward nothing.
func TestDeclaredRoutesOfAnotherEdge(t *testing.T) {
	compiled := 0
	compile := func(name string, raw []byte) (*policy.Policy, error) {
		compiled++
		return decodeDeclared(raw, policy.Env{})
	}
	view := declaredView{raw: []byte(`{"routes":[{"path":"/hook","methods":["POST"]}]}`)}
	rm := newPeerRemote(view, nil, compile, slog.New(slog.DiscardHandler))
	p := rm.Declared("demo")
	if p == nil || p.Len() != 1 {
		t.Fatalf("declared: %v", p)
	}
	if rm.Declared("demo") != p || compiled != 1 {
		t.Fatalf("compiled %d times for one version", compiled)
	}
	rm = newPeerRemote(declaredView{raw: []byte(`{"routes":[{"path":"/hook","verify":{"provider":"github","secrets":["env:HOME"]}}]}`)}, nil, compile, slog.New(slog.DiscardHandler))
	if got := rm.Declared("demo"); got != denyAll {
		t.Fatalf("routes that do not compile: %v, want deny-all", got)
	}
}

type declaredView struct{ raw []byte }

func (v declaredView) Holders(string) []store.EdgeLease { return []store.EdgeLease{{ID: "edge-a"}} }
func (v declaredView) Declared(string) []byte           { return v.raw }

// BenchmarkRelayedDelivery measures what the hop adds: run with
// -bench 'Delivery' ./edge and compare the two.
func BenchmarkDirectDelivery(b *testing.B) {
	a := newPeerEdge(b, "edge-a", true)
	benchDeliver(b, a.relay)
}

func BenchmarkRelayedDelivery(b *testing.B) {
	a := newPeerEdge(b, "edge-a", true)
	r := newPeerEdge(b, "edge-b", false)
	peers, err := cluster.NewPeers(cluster.PeersConfig{ID: "edge-b", Secret: func() []byte { return peerSecret }, Clock: r.clock})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(peers.Close)
	r.relay.SetRemote(newPeerRemote(fixedView{"demo": {a.lease}}, peers, nil, slog.New(slog.DiscardHandler)))
	benchDeliver(b, r.relay)
}

func benchDeliver(b *testing.B, r *relay.Relay) {
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		resp, err := r.Deliver("demo", prepared("POST", "bench", n))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// The registry gets each session once, with the routes its agent declared
// per tunnel, so another edge compiles the ones of the tunnel it relays.
func TestSessionLeases(t *testing.T) {
	e := newPeerEdge(t, "edge-a", true)
	s := e.relay.All()["demo"][0]
	s.Tunnels = []string{"demo", "other"}
	s.Declared = map[string][]byte{"other": []byte(`{"routes":[]}`)}
	e.relay.Add("other", s, nil)
	leases := sessionLeases(e.relay)
	if len(leases) != 1 || leases[0].ID != s.ID || len(leases[0].Tunnels) != 2 {
		t.Fatalf("leases: %+v", leases)
	}
	if got := string(leases[0].Declared); got != `{"other":{"routes":[]}}` {
		t.Fatalf("declared: %s", got)
	}
}

// A relayed request keeps whatever method the sender used, as a local
// delivery does: any token, however long.
func TestRelayKeepsAnyMethodToken(t *testing.T) {
	a := newPeerEdge(t, "edge-a", true)
	b := newPeerEdge(t, "edge-b", false)
	b.relayTo(t, fixedView{"demo": {a.lease}})
	method := "X-" + strings.Repeat("LONG", 10)
	resp, err := b.relay.Deliver("demo", prepared(method, "x", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	a.app.mu.Lock()
	defer a.app.mu.Unlock()
	if resp.StatusCode != 201 || len(a.app.seen) != 1 || a.app.seen[0].Method != method {
		t.Fatalf("%d, the app saw %d requests", resp.StatusCode, len(a.app.seen))
	}
}
