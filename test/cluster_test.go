package test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/cluster"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/test/pgtest"
)

// clusterSecret is the edges' shared secret in these tests, from a file
// as the config requires.
const clusterSecret = "cluster-test-secret-of-at-least-32-bytes!"

// startCluster runs n edges on 127.0.0.1, 127.0.0.2, … with one config
// file and one fresh PostgreSQL database, each advertising its own address.
func startCluster(t *testing.T, n int, config string) []*edgeProc {
	t.Helper()
	url := pgtest.URL(t)
	secret := writeFile(t, "cluster.secret", clusterSecret)
	config += fmt.Sprintf("store: %s\ncluster:\n  secret: file:%s\n", url, secret)
	edges := make([]*edgeProc, n)
	for i := range edges {
		edges[i] = startEdgeOn(t, fmt.Sprintf("127.0.0.%d", i+1), config)
	}
	return edges
}

// startEdgeOn runs an edge listening on host, advertising its address.
func startEdgeOn(t *testing.T, host, config string) *edgeProc {
	t.Helper()
	return startEdgeAdvertising(t, host, "", config)
}

// startEdgeAdvertising runs an edge listening on host and advertising
// advertiseHost (its address when empty) with its port.
func startEdgeAdvertising(t *testing.T, host, advertiseHost, config string) *edgeProc {
	t.Helper()
	dir := t.TempDir()
	e := &edgeProc{data: dir + "/data", config: dir + "/edge.yaml", host: host, advertiseHost: advertiseHost}
	if err := os.WriteFile(e.config, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		e.port, e.adminPort = freePort(t), freePort(t)
		if e.launch(t, attempt < 3, "--advertise", e.advertise()) {
			return e
		}
	}
}

func (e *edgeProc) advertise() string {
	return "http://" + cmp.Or(e.advertiseHost, e.host) + ":" + e.port
}

// restart starts a killed cluster edge again on its address.
func (e *edgeProc) restart(t *testing.T) {
	t.Helper()
	e.launch(t, false, "--advertise", e.advertise())
}

// kill9 kills the edge without a goodbye: no lease given back, no agent
// told, deliveries cut where they are.
func (e *edgeProc) kill9(t *testing.T) {
	t.Helper()
	e.signal(syscall.SIGKILL)
	if _, ok := e.exited(10 * time.Second); !ok {
		t.Fatal("the killed edge did not end")
	}
}

type clusterAPI struct {
	Enabled bool   `json:"enabled"`
	Self    string `json:"self"`
	Edges   []struct {
		store.EdgeLease
		Live     bool                 `json:"live"`
		Sessions []store.SessionLease `json:"sessions"`
	} `json:"edges"`
}

func (e *edgeProc) cluster(t *testing.T) clusterAPI {
	t.Helper()
	var c clusterAPI
	if code := e.adminGet(t, "/api/v1/cluster", &c); code != http.StatusOK {
		t.Fatalf("GET /api/v1/cluster: %d", code)
	}
	return c
}

// liveSessions counts the agent sessions the registry holds on live edges.
func (c clusterAPI) liveSessions() int {
	n := 0
	for _, e := range c.Edges {
		if e.Live {
			n += len(e.Sessions)
		}
	}
	return n
}

func TestClusterAWebhookToAnyEdgeReachesTheApp(t *testing.T) {
	t.Parallel()
	tok := newToken("c", false, "demo")
	edges := startCluster(t, 3, edgeConfig([]agentToken{tok}, "tunnels:\n  demo:\n    routes:\n      - path: /hook\n"))
	a := startApp(t)
	startAgent(t, edges[0], tok, a.port(), "--name", "demo")

	// The agent holds sessions to two edges; the registry says so on every edge.
	for _, e := range edges {
		eventually(t, 20*time.Second, "two agent sessions in the registry seen from "+e.host, func() bool {
			c := e.cluster(t)
			return c.Enabled && len(c.Edges) == 3 && c.liveSessions() == 2
		})
	}
	var ids []string
	for i, e := range edges {
		id := fmt.Sprintf("to-edge-%d", i+1)
		req, _ := http.NewRequest("POST", e.hookURL("demo", "/hook"), strings.NewReader(`{"n":1}`))
		req.Header.Set("X-Test-Id", id)
		resp, err := e.client(10 * time.Second).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var echo appEcho
		json.NewDecoder(resp.Body).Decode(&echo)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook to %s: %d", e.host, resp.StatusCode)
		}
		if !a.sawID(id) {
			t.Errorf("the app did not get the webhook sent to %s", e.host)
		}
		ids = append(ids, echo.Header.Get("Hooktunnel-Message-Id"))
	}

	// One journal: every edge lists the three, each with the edge it
	// arrived at and the edge that delivered it (one that holds a session).
	holders := map[string]bool{}
	for _, e := range edges[0].cluster(t).Edges {
		if len(e.Sessions) > 0 {
			holders[e.ID] = true
		}
	}
	var arrived []string
	for _, e := range edges {
		var got []store.Message
		eventually(t, 10*time.Second, "three messages listed by "+e.host, func() bool {
			got = e.messages(t, "tunnel=demo")
			return len(got) == 3
		})
		for _, m := range got {
			if !slices.Contains(ids, m.ID) {
				t.Errorf("%s lists message %s, which the app did not get (%v)", e.host, m.ID, ids)
			}
		}
		for _, m := range got {
			full := e.message(t, m.ID)
			if len(full.Attempts) != 1 || !holders[full.Attempts[0].Edge] {
				t.Errorf("%s: message %s delivered by %+v, want one of %v", e.host, m.ID, full.Attempts, holders)
			}
			if e == edges[0] {
				arrived = append(arrived, m.Edge)
			}
		}
	}
	slices.Sort(arrived)
	if len(slices.Compact(arrived)) != 3 {
		t.Errorf("arrival edges %v, want three different ones", arrived)
	}

	// Every edge reports the cluster (as its last renewal read it: within
	// one renewal, 5 s); the webhook that arrived where no session is was
	// relayed, once.
	relayed := 0.0
	for _, e := range edges {
		var m map[string]float64
		sessions := 0.0
		eventually(t, 10*time.Second, "the cluster's metrics on "+e.host, func() bool {
			m, sessions = e.scrape(t), 0
			for k, v := range m {
				if strings.HasPrefix(k, "hooktunnel_cluster_sessions{") {
					sessions += v
				}
			}
			return m[`hooktunnel_cluster_edges{state="live"}`] == 3 && sessions == 2
		})
		if m[`hooktunnel_cluster_lease_remaining_seconds`] <= 0 {
			t.Errorf("%s: lease remaining %v", e.host, m[`hooktunnel_cluster_lease_remaining_seconds`])
		}
		relayed += m[`hooktunnel_cluster_relayed_total{result="ok"}`]
	}
	if relayed != 1 {
		t.Errorf("hooktunnel_cluster_relayed_total{result=ok} sums to %v over the edges, want 1", relayed)
	}
}

// message reads one message with its attempts from the edge's API.
func (e *edgeProc) message(t *testing.T, id string) store.Message {
	t.Helper()
	var m store.Message
	if code := e.adminGet(t, "/api/v1/messages/"+id, &m); code != http.StatusOK {
		t.Fatalf("GET message %s: %d", id, code)
	}
	return m
}

func TestClusterFailoverAfterKillingAnEdge(t *testing.T) {
	t.Parallel()
	tok := newToken("c", false, "demo")
	edges := startCluster(t, 3, edgeConfig([]agentToken{tok}, "tunnels:\n  demo:\n    routes:\n      - path: /hook\n"))
	a := startApp(t)
	startAgent(t, edges[0], tok, a.port(), "--name", "demo")
	eventually(t, 20*time.Second, "two agent sessions", func() bool { return edges[1].cluster(t).liveSessions() == 2 })

	// Kill the edge the agent dialled first: it holds one of its sessions.
	killed := time.Now()
	edges[0].kill9(t)
	for _, e := range edges[1:] {
		c := e.client(5 * time.Second)
		var took time.Duration
		eventually(t, 30*time.Second, "a webhook through "+e.host+" after the kill", func() bool {
			resp, err := c.Post(e.hookURL("demo", "/hook"), "application/json", strings.NewReader(`{}`))
			if err != nil {
				return false
			}
			resp.Body.Close()
			took = time.Since(killed)
			return resp.StatusCode == http.StatusOK
		})
		t.Logf("failover: %s delivers again %s after the kill", e.host, took.Round(time.Millisecond))
		if took > 15*time.Second {
			t.Errorf("%s needed %s to deliver again after an edge was killed; the registry promises 15 s", e.host, took)
		}
	}
}

// onceApp records every delivery by Hooktunnel-Message-Id and fails the
// test if one arrives while another copy of it is still being answered.
type onceApp struct {
	t         *testing.T
	mu        sync.Mutex
	inFlight  map[string]bool
	delivered map[string]int
	twice     []string
	delay     time.Duration
	most      int // the most deliveries under way at once
}

func (a *onceApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("Hooktunnel-Message-Id")
	a.mu.Lock()
	if a.inFlight[id] {
		a.twice = append(a.twice, id)
	}
	a.inFlight[id] = true
	a.most = max(a.most, len(a.inFlight))
	a.mu.Unlock()
	time.Sleep(a.delay) // the app's work: deliveries overlap the kills
	a.mu.Lock()
	delete(a.inFlight, id)
	a.delivered[id]++
	a.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (a *onceApp) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.delivered)
}

func TestClusterQueueLosesNothingWhenEdgesAreKilled(t *testing.T) {
	t.Parallel()
	const total = 1000
	tok := newToken("q", false, "q")
	edges := startCluster(t, 3, edgeConfig([]agentToken{tok}, `
tunnels:
  q:
    routes:
      - path: /queued
        mode: queue
        max_in_flight: 16
`))
	// The app is not there yet: every webhook is queued, answered 202.
	app := &onceApp{t: t, inFlight: map[string]bool{}, delivered: map[string]int{}, delay: 20 * time.Millisecond}
	appAddr := serveLoopbackLater(t)
	var accepted sync.Map
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += 6 {
				e := edges[i%3]
				resp, err := e.client(20*time.Second).Post(e.hookURL("q", "/queued"), "application/json", strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)))
				if err != nil {
					t.Errorf("webhook %d: %v", i, err)
					return
				}
				var ack struct{ ID string }
				json.NewDecoder(resp.Body).Decode(&ack)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted || ack.ID == "" {
					t.Errorf("webhook %d: %d", i, resp.StatusCode)
					return
				}
				accepted.Store(ack.ID, true)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// The app and its agent come; while the queue drains, edges die in turn.
	appAddr.serve(app)
	drainStart := time.Now()
	startAgent(t, edges[0], tok, portOf(appAddr.addr), "--name", "q")
	for i, e := range edges {
		target := (i + 1) * total / 4
		eventually(t, 120*time.Second, fmt.Sprintf("%d deliveries before killing %s", target, e.host), func() bool { return app.count() >= target })
		app.mu.Lock()
		t.Logf("killing %s with %d deliveries done and %d under way at the app", e.host, len(app.delivered), len(app.inFlight))
		app.mu.Unlock()
		e.kill9(t)
		e.restart(t)
	}
	eventually(t, 180*time.Second, "every queued webhook delivered", func() bool { return app.count() == total })
	app.mu.Lock()
	defer app.mu.Unlock()
	accepted.Range(func(k, _ any) bool {
		if app.delivered[k.(string)] == 0 {
			t.Errorf("message %s was accepted (202) and never delivered", k)
		}
		return true
	})
	if len(app.twice) > 0 {
		t.Errorf("%d messages were delivered twice at the same time: %v", len(app.twice), app.twice[:min(len(app.twice), 10)])
	}
	again := 0
	for _, n := range app.delivered {
		if n > 1 {
			again++
		}
	}
	t.Logf("%d webhooks, 3 edges killed -9 in turn: all delivered in %s, %d of them again after a kill (at least once), none twice at once; at most %d deliveries under way at once",
		total, time.Since(drainStart).Round(time.Millisecond), again, app.most)
}

// lateServer is a loopback address whose handler comes later: its port
// is known before the app is ready to answer.
type lateServer struct {
	addr  string
	h     http.Handler
	ready chan struct{}
}

func serveLoopbackLater(t *testing.T) *lateServer {
	l := &lateServer{ready: make(chan struct{})}
	l.addr = serveLoopback(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-l.ready:
		default:
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		l.h.ServeHTTP(w, r)
	}))
	return l
}

func (l *lateServer) serve(h http.Handler) {
	l.h = h
	close(l.ready)
}

func TestClusterCheckReachesTheDatabase(t *testing.T) {
	t.Parallel()
	check := func(config string) (string, int) {
		t.Helper()
		file := writeFile(t, "edge.yaml", config)
		_, stderr, code := runCLI(t, "edge", "--domain", "localhost", "--tls", "off", "--data", t.TempDir(), "--config", file, "--check")
		return stderr, code
	}
	// Nothing listens there: the check fails, and never shows the password.
	stderr, code := check("store: postgres://hooktunnel:s3cret-pw@127.0.0.1:" + freePort(t) + "/nowhere?sslmode=disable&connect_timeout=5\n")
	if code == 0 || !strings.Contains(stderr, "127.0.0.1") || strings.Contains(stderr, "s3cret-pw") {
		t.Errorf("unreachable database: exit %d, %q", code, stderr)
	}
	// A fresh database is reachable; its schema comes with the first edge.
	url := pgtest.URL(t)
	stderr, code = check("store: " + url + "\n")
	if code != 0 || !strings.Contains(stderr, "warning: store") || !strings.Contains(stderr, "migrates") {
		t.Errorf("fresh database: exit %d, %q", code, stderr)
	}
	e := startEdge(t, edgeConfig(nil, "store: "+url+"\n"))
	stderr, code = check("store: " + url + "\n")
	if code != 0 || strings.Contains(stderr, "warning") {
		t.Errorf("database an edge migrated: exit %d, %q", code, stderr)
	}
	e.kill9(t)
	// A cluster needs the shared store, and says so at its line.
	stderr, code = check("domain: localhost\ncluster:\n  advertise: http://127.0.0.2:8080\n  secret: env:NOT_USED\n")
	if code == 0 || !strings.Contains(stderr, "edge.yaml:2") || !strings.Contains(stderr, "store: postgres://") {
		t.Errorf("cluster without a shared store: exit %d, %q", code, stderr)
	}
}

// An edge may advertise a host below its domain
// (https://edge1.hooks.example.com, as docs/cluster.md shows). That host is
// the edge's: relays and agents reach it there. It was routed as the
// tunnel "edge1": relays got "unknown tunnel", and an agent holding a token
// for "edge1" would have received the webhooks every other edge relayed.
func TestClusterAnEdgesAdvertisedHostIsNoTunnel(t *testing.T) {
	t.Parallel()
	tok := newToken("squatter", false, "edge1")
	url := pgtest.URL(t)
	secret := writeFile(t, "cluster.secret", clusterSecret)
	config := edgeConfig([]agentToken{tok}, "") + fmt.Sprintf("store: %s\ncluster:\n  secret: file:%s\n", url, secret)
	e := startEdgeAdvertising(t, "127.0.0.1", "edge1.localhost", config)

	// A relay to the advertised host reaches the peer endpoint, which
	// refuses it unsigned — not a tunnel's "unknown tunnel".
	resp, err := e.client(10*time.Second).Post("http://edge1.localhost:"+e.port+"/_hooktunnel/peer", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get(cluster.HeaderDeliveredBy) == "" {
		t.Errorf("POST /_hooktunnel/peer on the advertised host: %d, Delivered-By %q; want the peer endpoint's 401",
			resp.StatusCode, resp.Header.Get(cluster.HeaderDeliveredBy))
	}

	// No agent may take the tunnel whose host is an edge's.
	a := startApp(t)
	squatter := startAgentNoWait(t, e, tok, a.port(), "--name", "edge1")
	code, ok := squatter.exited(30 * time.Second)
	if !ok {
		t.Fatal("an agent took the tunnel named like the edge's host")
	}
	if code != 2 || !strings.Contains(squatter.stderr.String()+squatter.stdout.String(), "host of an edge") {
		t.Errorf("agent for tunnel edge1: exit %d\n%s%s", code, squatter.stdout.String(), squatter.stderr.String())
	}
}

func TestClusterATunnelHasOneAgentWhicheverEdge(t *testing.T) {
	t.Parallel()
	first, other := newToken("first", false, "demo"), newToken("other", false, "demo")
	edges := startCluster(t, 3, edgeConfig([]agentToken{first, other}, "tunnels:\n  demo:\n    routes:\n      - path: /hook\n"))
	a := startApp(t)
	startAgent(t, edges[0], first, a.port(), "--name", "demo")
	eventually(t, 20*time.Second, "two agent sessions", func() bool { return edges[0].cluster(t).liveSessions() == 2 })
	// Another agent asks the edge that holds no session of the tunnel:
	// that edge knows the tunnel is served on the others, and refuses.
	var free *edgeProc
	for _, ce := range edges[0].cluster(t).Edges {
		for _, e := range edges {
			if ce.Advertise == e.advertise() && len(ce.Sessions) == 0 {
				free = e
			}
		}
	}
	if free == nil {
		t.Fatal("no edge without a session of the agent")
	}
	intruder := startAgentNoWait(t, free, other, a.port(), "--name", "demo")
	code, ok := intruder.exited(30 * time.Second)
	if !ok {
		t.Fatal("the second agent of the tunnel was not refused")
	}
	if code != 2 || !strings.Contains(intruder.stderr.String()+intruder.stdout.String(), "being served by another agent") {
		t.Errorf("second agent: exit %d\n%s%s", code, intruder.stdout.String(), intruder.stderr.String())
	}
	if strings.Contains(free.stderr.String(), `msg="agent connected" tunnels=[demo] agent=other`) {
		t.Error("the edge without a session admitted a second agent for the tunnel another edge's agent serves")
	}
}
