package store

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/test/pgtest"
)

// TestRebind: SQLite's placeholders become PostgreSQL's, numbered ones
// keep their number, and a ? inside a string literal stays.
func TestRebind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"a = ?1 OR b = ?1 AND c = ?12", "a = $1 OR b = $1 AND c = $12"},
		{`x LIKE ? ESCAPE '\' AND y = '?' AND z = ?`, `x LIKE $1 ESCAPE '\' AND y = '?' AND z = $2`},
		{"unnest(?::int[])", "unnest($1::int[])"},
	} {
		if got := rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestOpenPostgresConcurrently: edges starting at once on a fresh
// database all open it; one migrates, the others find it current.
func TestOpenPostgresConcurrently(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	const edges = 8
	stores := make([]*Postgres, edges)
	errs := make([]error, edges)
	var wg sync.WaitGroup
	for i := range edges {
		wg.Go(func() { stores[i], errs[i] = OpenPostgres(context.Background(), url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("edge %d: %v", i, err)
			continue
		}
		stores[i].Close()
	}
	s := openPostgresURL(t, url)
	if v := queryInt(t, s, "SELECT version FROM schema_version"); v != int64(len(postgresMigrations)) {
		t.Errorf("schema_version = %d, want %d", v, len(postgresMigrations))
	}
	if n := queryInt(t, s, "SELECT count(*) FROM schema_version"); n != 1 {
		t.Errorf("schema_version has %d rows", n)
	}
	if err := CheckPostgres(context.Background(), url); err != nil {
		t.Errorf("CheckPostgres after the migrations: %v", err)
	}
}

// edgeLease writes an edge's registry row as the edge's renewal would.
func putEdgeLease(t *testing.T, s *Postgres, id string, until time.Time) {
	t.Helper()
	if _, err := s.conn().ExecContext(context.Background(), `INSERT INTO cluster_edges (id, advertise, started, renewed, until)
		VALUES (?, 'http://127.0.0.2:1', ?, ?, ?) ON CONFLICT (id) DO UPDATE SET until = excluded.until`,
		id, t0.UnixNano(), t0.UnixNano(), until.UnixNano()); err != nil {
		t.Fatal(err)
	}
}

// TestClaimConcurrent: two edges claim the same message at once, twenty
// times; each time exactly one gets it.
func TestClaimConcurrent(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	a, b := openPostgresURL(t, url), openPostgresURL(t, url)
	now := t0.Add(time.Minute)
	putEdgeLease(t, a, "edge-a", now.Add(15*time.Second))
	putEdgeLease(t, a, "edge-b", now.Add(15*time.Second))
	ctx := context.Background()
	for round := range 20 {
		m := &Message{ReceivedAt: t0.Add(time.Duration(round) * time.Millisecond), Tunnel: "t", Route: "/r"}
		enqueue(t, a, m)
		var won [2]bool
		var errs [2]error
		var wg sync.WaitGroup
		for i, s := range []*Postgres{a, b} {
			wg.Go(func() {
				won[i], errs[i] = s.Claim(ctx, m.ID, []string{"edge-a", "edge-b"}[i], now, now.Add(40*time.Second), RouteBounds{})
			})
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("round %d: %v, %v", round, errs[0], errs[1])
		}
		if won[0] == won[1] {
			t.Fatalf("round %d: claims %v; want exactly one", round, won)
		}
	}
}

// TestClaimHolds: a claim by a live edge holds until its time, keeps the
// message out of the others' Due, and ends with Attempted, which records
// the edge.
func TestClaimHolds(t *testing.T) {
	t.Parallel()
	s, ctx := openPostgresTest(t), context.Background()
	now := t0.Add(time.Minute)
	until := now.Add(40 * time.Second)
	// Both edges renew their leases throughout.
	putEdgeLease(t, s, "edge-a", now.Add(2*time.Hour))
	putEdgeLease(t, s, "edge-b", now.Add(2*time.Hour))
	m := &Message{ReceivedAt: t0, Tunnel: "t", Route: "/r", Edge: "edge-b"}
	enqueue(t, s, m)
	claim := func(owner string, at time.Time) bool {
		t.Helper()
		ok, err := s.Claim(ctx, m.ID, owner, at, at.Add(40*time.Second), RouteBounds{})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	due := func(at time.Time) int {
		t.Helper()
		ms, err := s.Due(ctx, at, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(ms)
	}
	if !claim("edge-a", now) {
		t.Fatal("first claim refused")
	}
	if claim("edge-b", now) || claim("edge-b", until.Add(-time.Nanosecond)) {
		t.Error("a live edge's claim was taken within its time")
	}
	if due(now) != 0 {
		t.Error("a claimed message is due")
	}
	if !claim("edge-a", now.Add(time.Second)) {
		t.Error("the owner could not claim its message again")
	}
	if err := s.Attempted(ctx, m.ID, Attempt{N: 1, At: now, Status: 503, Edge: "edge-a"}, QueuePending, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if due(now.Add(time.Second)) != 1 {
		t.Error("the message is not due after its attempt")
	}
	if !claim("edge-b", now.Add(time.Second)) {
		t.Error("Attempted did not end the claim")
	}
	got, err := s.Message(ctx, m.ID)
	if err != nil || got.Edge != "edge-b" || len(got.Attempts) != 1 || got.Attempts[0].Edge != "edge-a" {
		t.Errorf("Message = %+v, %v; want edge-b's message with edge-a's attempt", got, err)
	}
	// A claim whose time has passed goes to another edge, live or not.
	if claim("edge-a", now.Add(41*time.Second-time.Nanosecond)) || !claim("edge-a", now.Add(41*time.Second)) {
		t.Error("edge-b's claim did not end exactly at its time")
	}
	later := now.Add(time.Hour)
	// Claims are of pending messages only.
	if err := s.Attempted(ctx, m.ID, Attempt{At: later, Status: 200}, QueueDelivered, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if claim("edge-a", later) || claim("edge-b", later.Add(time.Hour)) {
		t.Error("a delivered message was claimed")
	}
	if ok, err := s.Claim(ctx, "01JDZ8Q3V6R8M2K7T1C9W4E5XA", "edge-a", now, until, RouteBounds{}); ok || err != nil {
		t.Errorf("Claim(unknown) = %v, %v", ok, err)
	}
}

// TestClaimOfLapsedEdge: the claim of an edge whose lease lapsed (killed)
// is taken at once, not after the claim's time.
func TestClaimOfLapsedEdge(t *testing.T) {
	t.Parallel()
	s, ctx := openPostgresTest(t), context.Background()
	now := t0.Add(time.Minute)
	putEdgeLease(t, s, "edge-dead", now.Add(-time.Second))
	putEdgeLease(t, s, "edge-b", now.Add(15*time.Second))
	m := &Message{ReceivedAt: t0, Tunnel: "t", Route: "/r"}
	enqueue(t, s, m)
	if ok, err := s.Claim(ctx, m.ID, "edge-dead", now.Add(-2*time.Second), now.Add(time.Hour), RouteBounds{}); !ok || err != nil {
		t.Fatalf("claim while alive = %v, %v", ok, err)
	}
	if due, err := s.Due(ctx, now, 10); err != nil || len(due) != 1 {
		t.Errorf("Due = %d messages, %v; want the lapsed edge's", len(due), err)
	}
	if ok, err := s.Claim(ctx, m.ID, "edge-b", now, now.Add(40*time.Second), RouteBounds{}); !ok || err != nil {
		t.Errorf("claim of a lapsed edge's message = %v, %v; want taken", ok, err)
	}
}

// TestEnqueueBoundsAcrossEdges: two edges (two handles on one database)
// enqueue to one route at once; the route's lock keeps the bound exact.
func TestEnqueueBoundsAcrossEdges(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	enqueueAtOnce(t, []Store{openPostgresURL(t, url), openPostgresURL(t, url)}, 16, 5)
}

// TestPostgresKeepsAnyText: what SQLite stores, PostgreSQL must too: a
// path with a NUL byte or invalid UTF-8 is journaled (made valid), and
// the text search folds ASCII case only, in the body past a NUL byte too.
func TestPostgresKeepsAnyText(t *testing.T) {
	t.Parallel()
	s, ctx := openPostgresTest(t), context.Background()
	odd := &Message{ReceivedAt: t0, Tunnel: "t", Path: "/a\x00b\xffc", Header: http.Header{"X-E": {"\xfe"}},
		Body: []byte("\x00\xff Ünïcode back\\slash MiXed")}
	record(t, s, odd)
	got, err := s.Message(ctx, odd.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Path != "/a\uFFFDb\uFFFDc" || string(got.Body) != string(odd.Body) {
		t.Errorf("stored path %q body %q", got.Path, got.Body)
	}
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"mixed", true},
		{"ÜNÏCODE", false}, // ASCII case folding only, as SQLite's
		{"Ünïcode", true},
		{`back\slash`, true},
		{"\xff Ü", true},
		{"b\uFFFDc", true},
		{"nothing", false},
	} {
		page, err := s.Messages(ctx, Filter{Text: tc.text})
		if err != nil {
			t.Fatal(err)
		}
		if found := len(page.Messages) == 1; found != tc.want {
			t.Errorf("search %q found %v, want %v", tc.text, found, tc.want)
		}
	}
}

// TestNamesAndTokens: a name belongs to one key; a route's token is made
// once.
func TestNamesAndTokens(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		if _, ok, err := s.TunnelName(ctx, "k1"); ok || err != nil {
			t.Fatalf("TunnelName before = %v, %v", ok, err)
		}
		if err := s.AllocateTunnelName(ctx, "k1", "brave-otter"); err != nil {
			t.Fatal(err)
		}
		if err := s.AllocateTunnelName(ctx, "k2", "brave-otter"); !errors.Is(err, ErrNameTaken) {
			t.Errorf("another key's name = %v, want ErrNameTaken", err)
		}
		if err := s.AllocateTunnelName(ctx, "k1", "calm-heron"); err != nil {
			t.Errorf("a new name for the key: %v", err)
		}
		if name, ok, err := s.TunnelName(ctx, "k1"); name != "calm-heron" || !ok || err != nil {
			t.Errorf("TunnelName = %q, %v, %v", name, ok, err)
		}
		made := 0
		create := func() string { made++; return strings.Repeat("x", made) }
		for range 3 {
			if tok, err := s.RouteToken(ctx, "t", "/hook", create); tok != "x" || err != nil {
				t.Errorf("RouteToken = %q, %v; want the first one made", tok, err)
			}
		}
	})
}

// TestClaimKeepsRouteBoundsAcrossEdges: max_in_flight and ordered hold
// for the route whichever edges claim its messages.
func TestClaimKeepsRouteBoundsAcrossEdges(t *testing.T) {
	t.Parallel()
	s, ctx := openPostgresTest(t), context.Background()
	now := t0.Add(time.Minute)
	putEdgeLease(t, s, "edge-a", now.Add(time.Hour))
	putEdgeLease(t, s, "edge-b", now.Add(time.Hour))
	var ms []*Message
	for i := range 3 {
		m := &Message{ReceivedAt: t0.Add(time.Duration(i) * time.Millisecond), Tunnel: "t", Route: "/r"}
		enqueue(t, s, m)
		ms = append(ms, m)
	}
	claim := func(m *Message, owner string, b RouteBounds) bool {
		t.Helper()
		b.Tunnel, b.Route = m.Tunnel, m.Route
		ok, err := s.Claim(ctx, m.ID, owner, now, now.Add(time.Minute), b)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	ordered := RouteBounds{Ordered: true, MaxInFlight: 1}
	if claim(ms[1], "edge-b", ordered) {
		t.Error("ordered: a message was claimed while an older one is pending")
	}
	if !claim(ms[0], "edge-a", ordered) {
		t.Fatal("ordered: the oldest message was refused")
	}
	if err := s.Attempted(ctx, ms[0].ID, Attempt{N: 1, At: now, Status: 204}, QueueDelivered, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if !claim(ms[1], "edge-b", ordered) {
		t.Fatal("ordered: the next message was refused once the first was delivered")
	}
	// Two in flight at most, over both edges: ms[1] is held by edge-b.
	two := RouteBounds{MaxInFlight: 2}
	if !claim(ms[2], "edge-a", two) {
		t.Fatal("max_in_flight 2: the second claim was refused")
	}
	m := &Message{ReceivedAt: t0.Add(time.Second), Tunnel: "t", Route: "/r"}
	enqueue(t, s, m)
	if claim(m, "edge-b", two) {
		t.Error("max_in_flight 2: a third message was claimed over two edges")
	}
	if !claim(m, "edge-b", RouteBounds{MaxInFlight: 3}) {
		t.Error("max_in_flight 3: the third claim was refused")
	}
}
