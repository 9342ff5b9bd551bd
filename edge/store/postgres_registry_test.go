package store

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/test/pgtest"
)

// openPostgresAt opens a handle on the database at url, closed when t ends:
// two handles on one database are two edges.
func openPostgresAt(t *testing.T, url string) *Postgres {
	t.Helper()
	s, err := OpenPostgres(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openPostgres opens a handle on a fresh database.
func openPostgres(t *testing.T) *Postgres {
	t.Helper()
	return openPostgresAt(t, pgtest.URL(t))
}

// edgeLease is edge id's lease renewed at at, for 15 s.
func edgeLease(id string, at time.Time) EdgeLease {
	return EdgeLease{ID: id, Advertise: "http://" + id + ".example:8443", Started: t0, Renewed: at, Until: at.Add(15 * time.Second)}
}

// sessionLease is session id for tunnels, renewed at at for 15 s.
func sessionLease(id string, at time.Time, tunnels ...string) SessionLease {
	return SessionLease{ID: id, Agent: "agent-" + id, Tunnels: tunnels, Since: t0, Until: at.Add(15 * time.Second)}
}

// sessionIDs are the ids of the sessions Cluster lists at now, as
// "edge/session".
func sessionIDs(t *testing.T, s *Postgres, now time.Time) []string {
	t.Helper()
	_, sessions, err := s.Cluster(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, ss := range sessions {
		ids = append(ids, ss.Edge+"/"+ss.ID)
	}
	return ids
}

// The registry's answers at given times: who is listed, and which sessions
// hold, as edges renew, leave and lapse.
func TestRegistryCluster(t *testing.T) {
	t.Parallel()
	type renew struct {
		edge     string
		at       time.Duration
		sessions []string
	}
	tests := []struct {
		name      string
		renews    []renew
		leave     string
		at        time.Duration
		wantEdges []string
		wantSess  []string
	}{
		{"an edge's sessions are listed while both leases hold",
			[]renew{{"e1", 0, []string{"s1", "s2"}}}, "", 10 * time.Second,
			[]string{"e1"}, []string{"e1/s1", "e1/s2"}},
		{"a lapsed edge's sessions vanish at once; the edge is still listed",
			[]renew{{"e1", 0, []string{"s1"}}}, "", 16 * time.Second,
			[]string{"e1"}, []string{}},
		{"an edge lapsed an hour ago is forgotten",
			[]renew{{"e1", 0, []string{"s1"}}}, "", time.Hour + 16*time.Second,
			nil, []string{}},
		{"another edge's Renew deletes an edge lapsed an hour before",
			[]renew{{"e1", 0, []string{"s1"}}, {"e2", 2 * time.Hour, []string{"s2"}}}, "", 10 * time.Second,
			[]string{"e2"}, []string{"e2/s2"}},
		{"Renew replaces the set",
			[]renew{{"e1", 0, []string{"s1", "s2"}}, {"e1", 5 * time.Second, []string{"s2", "s3"}}}, "", 10 * time.Second,
			[]string{"e1"}, []string{"e1/s2", "e1/s3"}},
		{"Renew with no sessions drops them all",
			[]renew{{"e1", 0, []string{"s1", "s2"}}, {"e1", 5 * time.Second, nil}}, "", 10 * time.Second,
			[]string{"e1"}, []string{}},
		{"a renewed edge keeps its sessions past the first lease",
			[]renew{{"e1", 0, []string{"s1"}}, {"e1", 10 * time.Second, []string{"s1"}}}, "", 20 * time.Second,
			[]string{"e1"}, []string{"e1/s1"}},
		{"two edges' sessions are independent",
			[]renew{{"e1", 0, []string{"s1"}}, {"e2", 0, []string{"s2"}}, {"e1", 5 * time.Second, nil}}, "", 10 * time.Second,
			[]string{"e1", "e2"}, []string{"e2/s2"}},
		{"one edge lapses, the other's sessions stay",
			[]renew{{"e1", 0, []string{"s1"}}, {"e2", 0, []string{"s2"}}, {"e2", 10 * time.Second, []string{"s2"}}}, "", 20 * time.Second,
			[]string{"e1", "e2"}, []string{"e2/s2"}},
		{"a session that moved belongs to the edge that renewed it last",
			[]renew{{"e1", 0, []string{"s1"}}, {"e2", 5 * time.Second, []string{"s1"}}}, "", 10 * time.Second,
			[]string{"e1", "e2"}, []string{"e2/s1"}},
		{"Leave removes the edge and its sessions",
			[]renew{{"e1", 0, []string{"s1"}}, {"e2", 0, []string{"s2"}}}, "e1", 10 * time.Second,
			[]string{"e2"}, []string{"e2/s2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, ctx := openPostgres(t), context.Background()
			for _, r := range tc.renews {
				at := t0.Add(r.at)
				var sessions []SessionLease
				for _, id := range r.sessions {
					sessions = append(sessions, sessionLease(id, at, "tun-"+id))
				}
				if err := s.Renew(ctx, edgeLease(r.edge, at), sessions); err != nil {
					t.Fatal(err)
				}
			}
			if tc.leave != "" {
				if err := s.Leave(ctx, tc.leave); err != nil {
					t.Fatal(err)
				}
			}
			edges, _, err := s.Cluster(ctx, t0.Add(tc.at))
			if err != nil {
				t.Fatal(err)
			}
			var gotEdges []string
			for _, e := range edges {
				gotEdges = append(gotEdges, e.ID)
			}
			if !slices.Equal(gotEdges, tc.wantEdges) {
				t.Errorf("edges %v, want %v", gotEdges, tc.wantEdges)
			}
			if got := sessionIDs(t, s, t0.Add(tc.at)); !slices.Equal(got, tc.wantSess) {
				t.Errorf("sessions %v, want %v", got, tc.wantSess)
			}
		})
	}
}

// A session and an edge come back from the registry as they went in, read
// through another handle (another edge).
func TestRegistryRoundTrip(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	a, b, ctx := openPostgresAt(t, url), openPostgresAt(t, url), context.Background()
	edge := edgeLease("e1", t0)
	sessions := []SessionLease{
		{ID: "s1", Edge: "e1", Agent: "ci", Tunnels: []string{"github", "stripe"}, Since: t0.Add(-time.Minute), Until: t0.Add(15 * time.Second),
			Declared: []byte(`{"routes":[{"path":"/gh"}]}`)},
		{ID: "s2", Edge: "e1", Agent: "bare", Tunnels: []string{}, Since: t0, Until: t0.Add(15 * time.Second)},
	}
	if err := a.Renew(ctx, edge, sessions); err != nil {
		t.Fatal(err)
	}
	edges, got, err := b.Cluster(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(edges, []EdgeLease{edge}) {
		t.Errorf("edges %+v, want %+v", edges, []EdgeLease{edge})
	}
	if !reflect.DeepEqual(got, sessions) {
		t.Errorf("sessions %+v, want %+v", got, sessions)
	}
}
