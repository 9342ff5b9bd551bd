package edge

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/test/pgtest"
)

// twoEdgesReplay is the shared duplicate check of two edges on one fresh
// database.
func twoEdgesReplay(t *testing.T) [2]policy.ReplayCache {
	t.Helper()
	url := pgtest.URL(t)
	var caches [2]policy.ReplayCache
	for i := range caches {
		s, err := store.OpenPostgres(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		caches[i] = newSharedReplay(s, func(msg string, args ...any) { t.Errorf("edge %d warned: %s %v", i, msg, args) })
	}
	return caches
}

// What one edge's policy does with a delivery's keys, another edge's sees.
func TestSharedReplayAcrossEdges(t *testing.T) {
	t.Parallel()
	const lease, ttl = time.Minute, time.Hour
	now := time.Unix(1_700_000_000, 0)
	keys := []string{"t:/gh:id:d1", "t:/gh:sig:ab12"}
	tests := []struct {
		name string
		// first runs on edge 0 after its claim; then edge 1 claims.
		first func(c policy.ReplayCache)
		want  policy.ClaimState
	}{
		{"held on one edge: in flight on the other", func(policy.ReplayCache) {}, policy.ClaimHeld},
		{"confirmed on one edge: done on the other", func(c policy.ReplayCache) { c.Confirm(keys, "a", now, ttl) }, policy.ClaimDone},
		{"released on one edge: claimable on the other", func(c policy.ReplayCache) { c.Release(keys, "a") }, policy.Claimed},
		{"released by another owner: still held", func(c policy.ReplayCache) { c.Release(keys, "b") }, policy.ClaimHeld},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			edges := twoEdgesReplay(t)
			if got := edges[0].Claim(keys, "a", now, lease); got != policy.Claimed {
				t.Fatalf("first claim: %d, want claimed", got)
			}
			tc.first(edges[0])
			if got := edges[1].Claim(keys[1:], "b", now.Add(time.Second), lease); got != tc.want {
				t.Fatalf("the other edge's claim of the fingerprint: %d, want %d", got, tc.want)
			}
		})
	}
}

// Twenty copies of one delivery, each with its own delivery id, split
// across two edges: exactly one is claimed. Run with -race.
func TestSharedReplayOneOfConcurrentCopies(t *testing.T) {
	t.Parallel()
	edges := twoEdgesReplay(t)
	now := time.Unix(1_700_000_000, 0)
	const copies = 20
	states := make([]policy.ClaimState, copies)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range copies {
		wg.Go(func() {
			<-start
			keys := []string{fmt.Sprintf("t:/gh:id:d%d", i), "t:/gh:sig:same"}
			states[i] = edges[i%2].Claim(keys, fmt.Sprint("owner", i), now, time.Minute)
		})
	}
	close(start)
	wg.Wait()
	claimed := 0
	for i, s := range states {
		switch s {
		case policy.Claimed:
			claimed++
		case policy.ClaimHeld:
		default:
			t.Errorf("copy %d: %d, want claimed or held", i, s)
		}
	}
	if claimed != 1 {
		t.Fatalf("%d copies claimed, want 1", claimed)
	}
}

// A database that does not answer: the claim fails closed (in flight, so
// the sender retries), and the warning names neither key.
func TestSharedReplayFailsClosed(t *testing.T) {
	t.Parallel()
	s, err := store.OpenPostgres(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	var logged []string
	c := newSharedReplay(s, func(msg string, args ...any) { logged = append(logged, fmt.Sprint(msg, args)) })
	keys := []string{"t:/gh:id:secret-delivery", "t:/gh:sig:fingerprint"}
	now := time.Unix(1_700_000_000, 0)
	if got := c.Claim(keys, "a", now, time.Minute); got != policy.ClaimHeld {
		t.Errorf("Claim on a closed store: %d, want held", got)
	}
	c.Confirm(keys, "a", now, time.Hour)
	c.Release(keys, "a")
	if len(logged) != 3 {
		t.Fatalf("%d warnings, want one per call: %q", len(logged), logged)
	}
	for _, line := range logged {
		if strings.Contains(line, "secret-delivery") || strings.Contains(line, "fingerprint") {
			t.Errorf("a warning names a key: %s", line)
		}
	}
}
