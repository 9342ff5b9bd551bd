package store

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/test/pgtest"
)

// The certificate cache: what one edge puts, another gets; a miss is
// ErrCertMiss.
func TestCertsAcrossEdges(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	a, b, ctx := openPostgresAt(t, url), openPostgresAt(t, url), context.Background()
	if _, err := b.GetCert(ctx, "demo.hooks.test"); !errors.Is(err, ErrCertMiss) {
		t.Fatalf("empty cache: %v, want ErrCertMiss", err)
	}
	for _, data := range [][]byte{[]byte("first"), []byte("renewed")} {
		if err := a.PutCert(ctx, "demo.hooks.test", data); err != nil {
			t.Fatal(err)
		}
		if got, err := b.GetCert(ctx, "demo.hooks.test"); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("the other edge got %q, %v; want %q", got, err, data)
		}
	}
	if err := b.DeleteCert(ctx, "demo.hooks.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetCert(ctx, "demo.hooks.test"); !errors.Is(err, ErrCertMiss) {
		t.Fatalf("after delete: %v, want ErrCertMiss", err)
	}
	if err := a.DeleteCert(ctx, "demo.hooks.test"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
}

func TestCertLocks(t *testing.T) {
	t.Parallel()
	// Lock expiry is judged by the database's clock, which is the real
	// one: a lapsed lock is one whose until has passed already.
	later, lapsed := time.Now().Add(time.Hour), time.Now().Add(-time.Second)
	type lock struct {
		edge  int
		op    string // lock, unlock
		owner string
		until time.Time
		want  bool
	}
	tests := []struct {
		name  string
		steps []lock
	}{
		{"a free key is taken", []lock{{0, "lock", "e1", later, true}}},
		{"a held key is refused to another edge", []lock{{0, "lock", "e1", later, true}, {1, "lock", "e2", later, false}}},
		{"its owner extends it", []lock{{0, "lock", "e1", later, true}, {0, "lock", "e1", later, true}, {1, "lock", "e2", later, false}}},
		{"a lapsed lock is taken over", []lock{{0, "lock", "e1", lapsed, true}, {1, "lock", "e2", later, true}, {0, "lock", "e1", later, false}}},
		{"unlock frees it", []lock{{0, "lock", "e1", later, true}, {0, "unlock", "e1", later, false}, {1, "lock", "e2", later, true}}},
		{"another owner's unlock does not", []lock{{0, "lock", "e1", later, true}, {1, "unlock", "e2", later, false}, {1, "lock", "e2", later, false}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := pgtest.URL(t)
			edges, ctx := []*Postgres{openPostgresAt(t, url), openPostgresAt(t, url)}, context.Background()
			for i, st := range tc.steps {
				switch st.op {
				case "lock":
					got, err := edges[st.edge].LockCert(ctx, "demo.hooks.test", st.owner, st.until)
					if err != nil || got != st.want {
						t.Fatalf("step %d: LockCert by %s = %v, %v; want %v", i, st.owner, got, err, st.want)
					}
				case "unlock":
					if err := edges[st.edge].UnlockCert(ctx, "demo.hooks.test", st.owner); err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
				}
			}
		})
	}
}

// Ten edges ask for one certificate's lock at once: one gets it. Run with -race.
func TestCertLockIsTakenOnce(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	edges, ctx := []*Postgres{openPostgresAt(t, url), openPostgresAt(t, url)}, context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	taken := 0
	start := make(chan struct{})
	for i := range 10 {
		wg.Go(func() {
			<-start
			ok, err := edges[i%2].LockCert(ctx, "demo.hooks.test", string(rune('a'+i)), time.Now().Add(time.Hour))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
			}
			if ok {
				taken++
			}
		})
	}
	close(start)
	wg.Wait()
	if taken != 1 {
		t.Fatalf("%d edges took the lock, want 1", taken)
	}
}
