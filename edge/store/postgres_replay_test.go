package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/test/pgtest"
)

// replayStep is one call on the shared duplicate keys, at a time after t0,
// through edge 0 or 1 (two handles on one database).
type replayStep struct {
	op    string // claim, confirm, release
	edge  int
	keys  []string
	owner string
	at    time.Duration
	want  ReplayState // for claim
}

// The semantics of policy's memory cache, on the shared table, with each
// step's edge chosen so that what one edge writes another reads.
func TestReplayKeysAcrossEdges(t *testing.T) {
	t.Parallel()
	const lease, ttl = time.Minute, time.Hour
	claim := func(edge int, owner string, at time.Duration, want ReplayState, keys ...string) replayStep {
		return replayStep{op: "claim", edge: edge, keys: keys, owner: owner, at: at, want: want}
	}
	confirm := func(edge int, owner string, at time.Duration, keys ...string) replayStep {
		return replayStep{op: "confirm", edge: edge, keys: keys, owner: owner, at: at}
	}
	release := func(edge int, owner string, keys ...string) replayStep {
		return replayStep{op: "release", edge: edge, keys: keys, owner: owner}
	}
	tests := []struct {
		name  string
		steps []replayStep
	}{
		{"new keys are claimed", []replayStep{
			claim(0, "a", 0, ReplayClaimed, "id:1", "sig:x"),
		}},
		{"a key held on one edge is held on the other", []replayStep{
			claim(0, "a", 0, ReplayClaimed, "id:1", "sig:x"),
			claim(1, "b", time.Second, ReplayHeld, "id:1", "sig:x"),
		}},
		{"a key confirmed on one edge is done on the other", []replayStep{
			claim(0, "a", 0, ReplayClaimed, "id:1", "sig:x"),
			confirm(0, "a", time.Second, "id:1", "sig:x"),
			claim(1, "b", 2*time.Second, ReplayDone, "id:1", "sig:x"),
		}},
		{"one known key of several is enough: a changed id", []replayStep{
			claim(0, "a", 0, ReplayClaimed, "id:1", "sig:x"),
			confirm(0, "a", 0, "id:1", "sig:x"),
			claim(1, "b", time.Second, ReplayDone, "id:2", "sig:x"),
		}},
		{"one known key of several is enough: no id", []replayStep{
			claim(0, "a", 0, ReplayClaimed, "id:1", "sig:x"),
			claim(1, "b", time.Second, ReplayHeld, "sig:x"),
		}},
		{"done wins over held", []replayStep{
			claim(0, "a", 0, ReplayClaimed, "id:1"),
			claim(1, "b", 0, ReplayClaimed, "sig:x"),
			confirm(1, "b", 0, "sig:x"),
			claim(0, "c", time.Second, ReplayDone, "id:1", "sig:x"),
		}},
		{"a refused claim holds nothing", []replayStep{
			claim(0, "a", 0, ReplayClaimed, "id:1"),
			claim(1, "b", 0, ReplayHeld, "sig:x", "id:1"),
			claim(0, "c", 0, ReplayClaimed, "sig:x"),
		}},
		{"a release on one edge lets the retry through on the other", []replayStep{
			claim(0, "a", 0, ReplayClaimed, "id:1", "sig:x"),
			release(0, "a", "id:1", "sig:x"),
			claim(1, "b", time.Second, ReplayClaimed, "id:1", "sig:x"),
		}},
		{"another owner cannot release a hold", []replayStep{
			claim(0, "a", 0, ReplayClaimed, "id:1"),
			release(1, "b", "id:1"),
			claim(1, "c", time.Second, ReplayHeld, "id:1"),
		}},
		{"a release after confirm changes nothing", []replayStep{
			claim(0, "a", 0, ReplayClaimed, "id:1"),
			confirm(0, "a", 0, "id:1"),
			release(0, "a", "id:1"),
			claim(1, "b", time.Second, ReplayDone, "id:1"),
		}},
		{"a hold ends with its lease", []replayStep{
			claim(0, "a", 0, ReplayClaimed, "id:1"),
			claim(1, "b", lease-time.Second, ReplayHeld, "id:1"),
			claim(1, "b", lease, ReplayHeld, "id:1"),
			claim(1, "c", lease+time.Second, ReplayClaimed, "id:1"),
		}},
		{"a stale owner's release does not free the new hold", []replayStep{
			claim(0, "a", 0, ReplayClaimed, "id:1"),
			claim(1, "b", lease+time.Second, ReplayClaimed, "id:1"),
			release(0, "a", "id:1"),
			claim(0, "c", lease+2*time.Second, ReplayHeld, "id:1"),
		}},
		{"done ends with its ttl", []replayStep{
			claim(0, "a", 0, ReplayClaimed, "id:1"),
			confirm(0, "a", 0, "id:1"),
			claim(1, "b", ttl-time.Second, ReplayDone, "id:1"),
			claim(1, "c", ttl+time.Second, ReplayClaimed, "id:1"),
		}},
		{"a key given twice is one key", []replayStep{
			claim(0, "a", 0, ReplayClaimed, "id:1", "id:1"),
			confirm(0, "a", 0, "id:1", "id:1"),
			claim(1, "b", 0, ReplayDone, "id:1"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := pgtest.URL(t)
			edges := []*Postgres{openPostgresAt(t, url), openPostgresAt(t, url)}
			ctx := context.Background()
			for i, s := range tc.steps {
				e := edges[s.edge]
				switch s.op {
				case "claim":
					got, err := e.ClaimReplay(ctx, s.keys, s.owner, t0.Add(s.at), lease)
					if err != nil || got != s.want {
						t.Fatalf("step %d: ClaimReplay(%v) by %s on edge %d = %d, %v; want %d", i, s.keys, s.owner, s.edge, got, err, s.want)
					}
				case "confirm":
					if err := e.ConfirmReplay(ctx, s.keys, s.owner, t0.Add(s.at), ttl); err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
				case "release":
					if err := e.ReleaseReplay(ctx, s.keys, s.owner); err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
				}
			}
		})
	}
}

// Copies of one delivery racing on two edges, each copy with its own
// delivery id and the same fingerprint, the keys in either order: exactly
// one claims it, in every round. Run with -race.
func TestReplayClaimIsAtomicAcrossEdges(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	edges := []*Postgres{openPostgresAt(t, url), openPostgresAt(t, url)}
	ctx := context.Background()
	for round := range 5 {
		const copies = 20
		var wg sync.WaitGroup
		var mu sync.Mutex
		claimed, held := 0, 0
		start := make(chan struct{})
		for i := range copies {
			wg.Go(func() {
				keys := []string{fmt.Sprintf("id:%d-%d", round, i), fmt.Sprintf("sig:%d", round)}
				if i%3 == 1 {
					keys[0], keys[1] = keys[1], keys[0]
				}
				<-start
				state, err := edges[i%2].ClaimReplay(ctx, keys, fmt.Sprint(i), t0, time.Minute)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Errorf("round %d copy %d: %v", round, i, err)
				case state == ReplayClaimed:
					claimed++
				case state == ReplayHeld:
					held++
				}
			})
		}
		close(start)
		wg.Wait()
		if claimed != 1 || held != copies-1 {
			t.Fatalf("round %d: %d copies claimed the delivery and %d were told it is held, want 1 and %d", round, claimed, held, copies-1)
		}
	}
	// The losers' own delivery ids were rolled back with their claims.
	keys, err := replayKeyRows(ctx, edges[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2*5 {
		t.Errorf("%d keys in the table after 5 rounds, want the winners' 10: %v", len(keys), keys)
	}
}

// A sweep deletes expired keys, the oldest first, up to its limit, and
// leaves live ones: held or done.
func TestReplaySweep(t *testing.T) {
	t.Parallel()
	s, ctx := openPostgres(t), context.Background()
	// Written by Confirm and by a claim at t0, when nothing has expired:
	// a claim may sweep, and must find nothing to.
	for i := range 5 {
		if err := s.ConfirmReplay(ctx, []string{fmt.Sprintf("old:%d", i)}, "a", t0, time.Duration(i)*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ClaimReplay(ctx, []string{"held"}, "a", t0, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmReplay(ctx, []string{"done"}, "a", t0, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Hour)
	if n, err := s.sweepReplay(ctx, now, 3); err != nil || n != 3 {
		t.Fatalf("first sweep: %d, %v; want 3", n, err)
	}
	keys, err := replayKeyRows(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"done", "held", "old:3", "old:4"}; !slices.Equal(keys, want) {
		t.Errorf("after a sweep of 3: %v, want %v", keys, want)
	}
	if n, err := s.sweepReplay(ctx, now, 3); err != nil || n != 2 {
		t.Fatalf("second sweep: %d, %v; want 2", n, err)
	}
}

// replayKeyRows are the keys in the table, sorted.
func replayKeyRows(ctx context.Context, s *Postgres) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key FROM replay_keys ORDER BY key`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}
