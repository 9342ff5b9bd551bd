package cluster

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/test/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// registry is the real PostgreSQL registry, with each renewal reported on
// renewed and a switch that cuts this edge off from the database.
type registry struct {
	store.Registry
	renewed chan error
	cut     atomic.Bool
}

var errCutOff = errors.New("test: this edge is cut off from the database")

func (r *registry) Renew(ctx context.Context, e store.EdgeLease, s []store.SessionLease) error {
	err := errCutOff
	if !r.cut.Load() {
		err = r.Registry.Renew(ctx, e, s)
	}
	r.renewed <- err
	return err
}

func (r *registry) Cluster(ctx context.Context, now time.Time) ([]store.EdgeLease, []store.SessionLease, error) {
	if r.cut.Load() {
		return nil, nil, errCutOff
	}
	return r.Registry.Cluster(ctx, now)
}

// edge is one member of a test cluster, with its own fake clock (so the
// test knows whose timer it waits for) and its sessions.
type edge struct {
	*Member
	clock *clock.Fake
	reg   *registry
	logs  chan string // "LEVEL message" of each log record

	mu       sync.Mutex
	sessions []store.SessionLease
}

func (e *edge) setSessions(s ...store.SessionLease) {
	e.mu.Lock()
	e.sessions = s
	e.mu.Unlock()
}

// startEdge starts member id on the database at url, at t0.
func startEdge(t *testing.T, url, id string, sessions ...store.SessionLease) *edge {
	t.Helper()
	db, err := store.OpenPostgres(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &edge{clock: clock.NewFake(t0), reg: &registry{Registry: db, renewed: make(chan error, 100)}, logs: make(chan string, 100), sessions: sessions}
	e.Member, err = Start(context.Background(), Config{
		ID: id, Name: id, Advertise: "http://" + id + ".test:8443", Registry: e.reg, Clock: e.clock,
		Sessions: func() []store.SessionLease {
			e.mu.Lock()
			defer e.mu.Unlock()
			return slices.Clone(e.sessions)
		},
		Log: slog.New(chanHandler{e.logs}),
	})
	if err != nil {
		t.Fatal(err)
	}
	<-e.reg.renewed
	t.Cleanup(func() { e.Leave(context.Background()) })
	return e
}

// chanHandler sends each log record's level and message to a channel.
type chanHandler struct{ ch chan string }

func (h chanHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h chanHandler) Handle(_ context.Context, r slog.Record) error {
	h.ch <- r.Level.String() + " " + r.Message
	return nil
}
func (h chanHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h chanHandler) WithGroup(string) slog.Handler      { return h }

// nextLog is the edge's next log record.
func (e *edge) nextLog(t *testing.T) string {
	t.Helper()
	select {
	case l := <-e.logs:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no log record")
		return ""
	}
}

// beat moves the edge's clock by d (a multiple of RenewEvery) and waits
// for the renewal it causes.
func (e *edge) beat(t *testing.T, d time.Duration) error {
	t.Helper()
	var err error
	for range d / RenewEvery {
		e.clock.WaitPending(1)
		e.clock.Advance(RenewEvery)
		err = <-e.reg.renewed
	}
	return err
}

func (e *edge) reads() int {
	e.view.mu.Lock()
	defer e.view.mu.Unlock()
	return e.view.reads
}

func session(id string, declared string, tunnels ...string) store.SessionLease {
	s := store.SessionLease{ID: id, Agent: "agent-" + id, Tunnels: tunnels, Since: t0}
	if declared != "" {
		byTunnel := map[string][]byte{}
		for _, name := range tunnels {
			byTunnel[name] = []byte(declared)
		}
		s.Declared = EncodeDeclared(byTunnel)
	}
	return s
}

func ids(leases []store.EdgeLease) []string {
	var out []string
	for _, l := range leases {
		out = append(out, l.ID)
	}
	return out
}

func TestEdgesFindTheHoldersOfATunnel(t *testing.T) {
	url := pgtest.URL(t)
	a := startEdge(t, url, "edge-a", session("s1", `{"routes":[]}`, "demo", "other"))
	b := startEdge(t, url, "edge-b")
	c := startEdge(t, url, "edge-c", session("s2", "", "other"))
	c.clock.Advance(time.Second) // c renews last
	c.Touch()
	if err := <-c.reg.renewed; err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}

	if got := ids(b.Holders("demo")); !slices.Equal(got, []string{"edge-a"}) {
		t.Fatalf("holders of demo seen from b: %v, want [edge-a]", got)
	}
	if got := string(b.Declared("demo")); got != `{"routes":[]}` {
		t.Fatalf("declared seen from b: %q", got)
	}
	// Decoded once per registry read, not per webhook (a relayed webhook
	// asks for it): it was an Unmarshal of the session's whole object.
	if allocs := testing.AllocsPerRun(100, func() { b.Declared("demo") }); allocs > 1 {
		t.Errorf("Declared allocates %.0f times per call, want at most 1 (the live list)", allocs)
	}
	if got := a.Holders("demo"); len(got) != 0 {
		t.Fatalf("a sees itself as a holder: %v", ids(got))
	}
	// c renewed last: the freshest first.
	if got := ids(b.Holders("other")); !slices.Equal(got, []string{"edge-c", "edge-a"}) {
		t.Fatalf("holders of other seen from b: %v, want [edge-c edge-a]", got)
	}
	if got := ids(b.Edges()); len(got) != 3 {
		t.Fatalf("edges seen from b: %v", got)
	}
	if got := len(b.Sessions()); got != 2 {
		t.Fatalf("sessions seen from b: %d, want 2", got)
	}
}

// A session added is in the registry at once (Touch), not at the next
// heartbeat; a clean shutdown takes the edge's sessions out with it.
func TestTouchAndLeave(t *testing.T) {
	url := pgtest.URL(t)
	a := startEdge(t, url, "edge-a")
	b := startEdge(t, url, "edge-b")
	if got := b.Holders("demo"); len(got) != 0 {
		t.Fatalf("holders before any session: %v", ids(got))
	}
	a.setSessions(session("s1", "", "demo"))
	for range 3 {
		a.Touch() // a burst: at least one renewal, at most as many
	}
	if err := <-a.reg.renewed; err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(MissRefreshEvery)
	if got := ids(b.Holders("demo")); !slices.Equal(got, []string{"edge-a"}) {
		t.Fatalf("holders after a's touch: %v", got)
	}
	if err := a.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := a.Leave(context.Background()); err != nil {
		t.Fatalf("a second Leave: %v", err)
	}
	b.clock.Advance(MissRefreshEvery)
	if err := b.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := b.Holders("demo"); len(got) != 0 {
		t.Fatalf("holders after a left: %v", ids(got))
	}
	if got := ids(b.Edges()); slices.Contains(got, "edge-a") {
		t.Fatalf("edges after a left: %v", got)
	}
}

// An edge cut off from the database stops renewing: after LeaseFor the
// others no longer relay to it, even from a cache read before, and its log
// says so.
func TestALeaseThatCannotBeRenewedLapses(t *testing.T) {
	url := pgtest.URL(t)
	a := startEdge(t, url, "edge-a", session("s1", "", "demo"))
	b := startEdge(t, url, "edge-b")
	if got := ids(b.Holders("demo")); !slices.Equal(got, []string{"edge-a"}) {
		t.Fatalf("holders: %v", got)
	}
	a.reg.cut.Store(true)
	for range 2 {
		if err := a.beat(t, RenewEvery); !errors.Is(err, errCutOff) {
			t.Fatalf("renewal while cut off: %v", err)
		}
		if l := a.nextLog(t); !strings.HasPrefix(l, "WARN cluster: renewing this edge's lease failed") {
			t.Fatalf("a failed renewal within 15 s logged %q", l)
		}
	}
	a.beat(t, RenewEvery)
	if l := a.nextLog(t); !strings.HasPrefix(l, "WARN") {
		t.Fatalf("the third failure logged %q", l)
	}
	if l := a.nextLog(t); !strings.HasPrefix(l, "ERROR cluster: this edge's lease has lapsed: the other edges consider it gone") {
		t.Fatalf("15 s without a renewal logged %q", l)
	}
	if got := a.RenewFailures(); got != 3 {
		t.Fatalf("%d failures counted, want 3", got)
	}
	// b's cache still lists a's session, but its lease has passed.
	b.clock.Advance(LeaseFor)
	if got := b.Holders("demo"); len(got) != 0 {
		t.Fatalf("holders 15 s after a's last renewal: %v", ids(got))
	}
	a.reg.cut.Store(false)
	if err := a.beat(t, RenewEvery); err != nil {
		t.Fatal(err)
	}
	if l := a.nextLog(t); !strings.Contains(l, "renewed again") {
		t.Fatalf("the renewal after the lapse logged %q", l)
	}
}

// A flood of lookups for a tunnel no edge holds costs one registry read
// per MissRefreshEvery, not one per webhook.
func TestAMissRefreshesAtMostEvery200ms(t *testing.T) {
	url := pgtest.URL(t)
	b := startEdge(t, url, "edge-b")
	before := b.reads()
	b.clock.Advance(MissRefreshEvery)
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := b.Holders("offline"); len(got) != 0 {
				t.Errorf("holders of an offline tunnel: %v", ids(got))
			}
		}()
	}
	wg.Wait()
	if got := b.reads() - before; got != 1 {
		t.Fatalf("100 lookups made %d reads, want 1", got)
	}
	b.clock.Advance(MissRefreshEvery - time.Millisecond)
	for range 100 {
		b.Holders("offline")
		b.Declared("offline")
	}
	if got := b.reads() - before; got != 1 {
		t.Fatalf("lookups within 200 ms of the last read made %d reads, want 1", got)
	}
	b.clock.Advance(time.Millisecond)
	b.Holders("offline")
	if got := b.reads() - before; got != 2 {
		t.Fatalf("a lookup 200 ms after the last read: %d reads, want 2", got)
	}
	// A tunnel another edge holds is answered from the cache.
	a := startEdge(t, url, "edge-a", session("s1", "", "demo"))
	_ = a
	b.clock.Advance(MissRefreshEvery)
	b.Holders("demo")
	n := b.reads()
	b.clock.Advance(MissRefreshEvery)
	for range 100 {
		if len(b.Holders("demo")) != 1 {
			t.Fatal("the holder vanished from the cache")
		}
	}
	if b.reads() != n {
		t.Fatalf("lookups of a held tunnel read the registry %d times", b.reads()-n)
	}
}

func TestStartRefusesAnIncompleteConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no id", Config{Advertise: "http://x", Registry: &registry{}}},
		{"an id with a comma", Config{ID: "a,b", Advertise: "http://x", Registry: &registry{}}},
		{"no advertise", Config{ID: "a", Registry: &registry{}}},
		{"no registry", Config{ID: "a", Advertise: "http://x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Start(context.Background(), tc.cfg); err == nil {
				t.Fatal("started")
			}
		})
	}
}
