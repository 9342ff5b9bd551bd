package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func enqueue(tb testing.TB, s Store, m *Message) {
	tb.Helper()
	if err := s.Enqueue(context.Background(), m, 0, 0); err != nil {
		tb.Fatal(err)
	}
}

func TestEnqueueBounds(t *testing.T) {
	t.Parallel()
	kb := []byte(strings.Repeat("k", 1000))
	tests := []struct {
		name     string
		maxCount int
		maxBytes int64
		route    string // of the new message; the queue holds 3 of 1000 bytes on /a
		body     []byte
		wantFull bool
	}{
		{"unbounded", 0, 0, "/a", kb, false},
		{"count has room", 4, 0, "/a", kb, false},
		{"count reached", 3, 0, "/a", kb, true},
		{"bytes have room", 0, 4000, "/a", kb, false},
		{"bytes reached", 0, 3999, "/a", kb, true},
		{"small body fits", 0, 3010, "/a", []byte("tiny"), false},
		{"other route has its own queue", 1, 1000, "/b", kb, false},
		{"other route still bounded", 0, 999, "/b", kb, true},
	}
	eachBackend(t, func(t *testing.T, s Store) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				// One store for every case: each its own tunnels.
				ctx, tunnel := context.Background(), "t "+tc.name
				for i := range 3 {
					enqueue(t, s, &Message{ReceivedAt: t0.Add(time.Duration(i) * time.Second), Tunnel: tunnel, Route: "/a", Body: kb})
				}
				// Delivered, dead and other tunnels' messages do not count.
				done := &Message{ReceivedAt: t0, Tunnel: tunnel, Route: "/a", Body: kb}
				enqueue(t, s, done)
				if err := s.Attempted(ctx, done.ID, Attempt{N: 1, At: t0, Status: 200}, QueueDelivered, time.Time{}); err != nil {
					t.Fatal(err)
				}
				enqueue(t, s, &Message{ReceivedAt: t0, Tunnel: "other " + tc.name, Route: tc.route, Body: kb})

				m := &Message{ReceivedAt: t0.Add(time.Minute), Tunnel: tunnel, Route: tc.route, Body: tc.body}
				err := s.Enqueue(ctx, m, tc.maxCount, tc.maxBytes)
				if full := errors.Is(err, ErrQueueFull); full != tc.wantFull || (err != nil && !full) {
					t.Fatalf("Enqueue = %v, want full %v", err, tc.wantFull)
				}
				_, err = s.Message(ctx, m.ID)
				if stored := err == nil; stored == tc.wantFull {
					t.Errorf("message stored %v after Enqueue (full %v)", stored, tc.wantFull)
				}
			})
		}
	})
}

// TestEnqueueBoundsUnderConcurrency: the count and the insert share one
// transaction, so racing enqueues fill the queue exactly.
func TestEnqueueBoundsUnderConcurrency(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		enqueueAtOnce(t, []Store{s}, 20, 5)
	})
}

// enqueueAtOnce sends senders enqueues to one route bounded to maxCount
// at once, spread over stores (edges), and checks that exactly maxCount
// are stored and the others refused as full.
func enqueueAtOnce(t *testing.T, stores []Store, senders, maxCount int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var stored, full int
	for i := range senders {
		wg.Go(func() {
			m := &Message{ReceivedAt: t0.Add(time.Duration(i)), Tunnel: "t", Route: "/r", Body: []byte("x")}
			err := stores[i%len(stores)].Enqueue(context.Background(), m, maxCount, 0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				stored++
			case errors.Is(err, ErrQueueFull):
				full++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if stored != maxCount || full != senders-maxCount {
		t.Errorf("%d stored, %d refused; want %d, %d", stored, full, maxCount, senders-maxCount)
	}
	if n, _, err := stores[0].Depth(context.Background(), t0); err != nil || n != maxCount {
		t.Errorf("Depth = %d, %v; want %d", n, err, maxCount)
	}
}

// TestEnqueueSyncsOnlyItself: the writer is back to synchronous=NORMAL
// after an Enqueue, full or not, so Record does not pay for an fsync.
func TestEnqueueSyncsOnlyItself(t *testing.T) {
	t.Parallel()
	s, ctx := openTest(t), context.Background()
	enqueue(t, s, &Message{ReceivedAt: t0, Tunnel: "t"})
	if err := s.Enqueue(ctx, &Message{ReceivedAt: t0, Tunnel: "t"}, 1, 0); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Enqueue = %v, want ErrQueueFull", err)
	}
	var sync int
	if err := s.w.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 1 {
		t.Errorf("writer synchronous = %d (%v), want 1 (NORMAL)", sync, err)
	}
}

func TestEnqueueRefusesPartialBody(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		for _, m := range []*Message{
			{ReceivedAt: t0, Tunnel: "t", Body: []byte("abc"), BodySize: 10, BodyTruncated: true},
			{ReceivedAt: t0, Tunnel: "t", BodySize: 10}, // body not kept at all
		} {
			if err := s.Enqueue(context.Background(), m, 0, 0); err == nil || errors.Is(err, ErrQueueFull) {
				t.Errorf("Enqueue of a partial body = %v", err)
			}
		}
	})
}

func TestDue(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		var queued []*Message
		for i := range 5 {
			m := &Message{ReceivedAt: t0.Add(time.Duration(i) * time.Second), Tunnel: "t", Route: "/r",
				Method: "POST", Path: "/r", Body: []byte{byte('a' + i)}, Header: map[string][]string{"X-N": {string(rune('0' + i))}}}
			enqueue(t, s, m)
			queued = append(queued, m)
		}
		record(t, s, &Message{ReceivedAt: t0, Tunnel: "t", Route: "/r"}) // journal only: never due

		tests := []struct {
			name  string
			now   time.Time
			limit int
			want  []int
		}{
			{"before the first", t0.Add(-time.Nanosecond), 10, nil},
			{"at the first", t0, 10, []int{0}},
			{"oldest first", t0.Add(3 * time.Second), 10, []int{0, 1, 2, 3}},
			{"limit", t0.Add(time.Hour), 2, []int{0, 1}},
			{"default limit", t0.Add(time.Hour), 0, []int{0, 1, 2, 3, 4}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				due, err := s.Due(ctx, tc.now, tc.limit)
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				for _, i := range tc.want {
					want = append(want, queued[i].ID)
				}
				if got := ids(due); !slices.Equal(got, want) {
					t.Errorf("Due = %v, want %v", got, want)
				}
				for i, m := range due {
					if !reflect.DeepEqual(m.Body, queued[tc.want[i]].Body) || m.Header.Get("X-N") == "" || m.Queue != QueuePending {
						t.Errorf("due message %s lacks its body, headers or state: %+v", m.ID, m)
					}
				}
			})
		}

		// A failed attempt moves the message behind the others until next.
		next := t0.Add(10 * time.Second)
		if err := s.Attempted(ctx, queued[0].ID, Attempt{At: t0.Add(5 * time.Second), Error: "no agent"}, QueuePending, next); err != nil {
			t.Fatal(err)
		}
		due, err := s.Due(ctx, next.Add(-time.Nanosecond), 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(due); !slices.Equal(got, ids(derefs(queued[1:]))) {
			t.Errorf("Due before the retry = %v", got)
		}
		due, err = s.Due(ctx, next, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(due); len(got) != 5 || got[4] != queued[0].ID || len(due[4].Attempts) != 1 {
			t.Errorf("Due at the retry = %v; want the retried one last, with its attempt", got)
		}
	})
}

func derefs(ms []*Message) []Message {
	out := make([]Message, len(ms))
	for i, m := range ms {
		out[i] = *m
	}
	return out
}

func TestAttempted(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		m := &Message{ReceivedAt: t0, Tunnel: "t", Route: "/r", Body: []byte("x")}
		enqueue(t, s, m)

		steps := []struct {
			name    string
			a       Attempt
			state   string
			next    time.Time
			wantErr bool
			want    string // queue state after the step
			wantN   []int
		}{
			{"unknown state", Attempt{N: 1}, "lost", t0, true, QueuePending, nil},
			{"pending without next", Attempt{N: 1}, QueuePending, time.Time{}, true, QueuePending, nil},
			{"retry", Attempt{N: 1, At: t0, Status: 502, Error: "bad gateway"}, QueuePending, t0.Add(time.Second), false, QueuePending, []int{1}},
			{"numbered for us", Attempt{At: t0.Add(time.Second), Error: "timeout"}, QueuePending, t0.Add(3 * time.Second), false, QueuePending, []int{1, 2}},
			{"same n replaces", Attempt{N: 2, At: t0.Add(time.Second), Error: "timeout, again"}, QueuePending, t0.Add(3 * time.Second), false, QueuePending, []int{1, 2}},
			{"delivered", Attempt{At: t0.Add(3 * time.Second), Status: 200}, QueueDelivered, time.Time{}, false, QueueDelivered, []int{1, 2, 3}},
		}
		for _, st := range steps {
			err := s.Attempted(ctx, m.ID, st.a, st.state, st.next)
			if (err != nil) != st.wantErr {
				t.Fatalf("%s: Attempted = %v", st.name, err)
			}
			got, err := s.Message(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			var ns []int
			for _, a := range got.Attempts {
				ns = append(ns, a.N)
			}
			if got.Queue != st.want || !slices.Equal(ns, st.wantN) {
				t.Errorf("%s: queue %q attempts %v; want %q %v", st.name, got.Queue, ns, st.want, st.wantN)
			}
		}
		if got, _ := s.Message(ctx, m.ID); got.Attempts[1].Error != "timeout, again" {
			t.Errorf("attempt 2 = %+v", got.Attempts[1])
		}
		if due, err := s.Due(ctx, t0.Add(time.Hour), 10); err != nil || len(due) != 0 {
			t.Errorf("delivered message still due: %v, %v", ids(due), err)
		}

		dead := &Message{ReceivedAt: t0, Tunnel: "t", Route: "/r"}
		enqueue(t, s, dead)
		if err := s.Attempted(ctx, dead.ID, Attempt{N: 1, At: t0, Error: "gave up"}, QueueDead, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Message(ctx, dead.ID); got.Queue != QueueDead {
			t.Errorf("queue = %q, want dead", got.Queue)
		}
		if err := s.Attempted(ctx, "01JDZ8Q3V6R8M2K7T1C9W4E5XA", Attempt{N: 1}, QueueDead, time.Time{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Attempted(unknown) = %v, want ErrNotFound", err)
		}
	})
}

func TestDepth(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		if n, age, err := s.Depth(ctx, t0); err != nil || n != 0 || age != 0 {
			t.Fatalf("empty Depth = %d, %v, %v", n, age, err)
		}
		first := &Message{ReceivedAt: t0, Tunnel: "a", Route: "/r"}
		enqueue(t, s, first)
		enqueue(t, s, &Message{ReceivedAt: t0.Add(time.Minute), Tunnel: "b", Route: "/r"})
		enqueue(t, s, &Message{ReceivedAt: t0.Add(2 * time.Minute), Tunnel: "a", Route: "/s"})
		record(t, s, &Message{ReceivedAt: t0.Add(-time.Hour), Tunnel: "a"})
		if n, age, err := s.Depth(ctx, t0.Add(5*time.Minute)); err != nil || n != 3 || age != 5*time.Minute {
			t.Errorf("Depth = %d, %v, %v; want 3, 5m", n, age, err)
		}
		if err := s.Attempted(ctx, first.ID, Attempt{N: 1, At: t0, Status: 200}, QueueDelivered, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if n, age, err := s.Depth(ctx, t0.Add(5*time.Minute)); err != nil || n != 2 || age != 4*time.Minute {
			t.Errorf("Depth after delivery = %d, %v, %v; want 2, 4m", n, age, err)
		}
	})
}

// BenchmarkEnqueue measures the durable path the edge waits on before its
// 202 (an fsync per message), next to BenchmarkRecord's journal write.
func BenchmarkEnqueue(b *testing.B) {
	s, ctx := openTest(b), context.Background()
	body := []byte(strings.Repeat("x", 2048))
	now := t0
	for b.Loop() {
		now = now.Add(time.Millisecond)
		if err := s.Enqueue(ctx, &Message{ReceivedAt: now, Tunnel: "t", Route: "/r", Body: body}, 0, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func TestHoldAndRelease(t *testing.T) {
	t.Parallel()
	eachDatabase(t, testHoldAndRelease)
}

func testHoldAndRelease(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := open()
	kb := []byte(strings.Repeat("k", 1000))
	held := &Message{ReceivedAt: t0, Tunnel: "t", Route: "/r", Method: "POST", Path: "/r", Decision: "filtered", Status: 202, Body: kb}
	if err := s.Hold(ctx, held); err != nil {
		t.Fatal(err)
	}
	if held.Queue != QueueHeld {
		t.Fatalf("Hold left the state %q", held.Queue)
	}
	// Held messages are outside the route's bounds: a queue of one
	// message still takes one after a held one.
	if err := s.Hold(ctx, &Message{ReceivedAt: t0, Tunnel: "t", Route: "/r", Body: kb}); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, &Message{ReceivedAt: t0, Tunnel: "t", Route: "/other", Body: kb}, 1, 0); err != nil {
		t.Fatalf("Enqueue after held messages: %v", err)
	}
	due := func(now time.Time) []string {
		t.Helper()
		ms, err := s.Due(ctx, now, 10)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			if m.Route == "/r" {
				out = append(out, m.ID)
			}
		}
		return out
	}
	if got := due(t0.Add(time.Hour)); got != nil {
		t.Fatalf("held messages are due: %v", got)
	}
	if n, _, err := s.Depth(ctx, t0); err != nil || n != 1 {
		t.Errorf("Depth = %d, %v; want 1 (held messages are not pending)", n, err)
	}

	// Held survives a restart.
	s.Close()
	s = open()
	if m, err := s.Message(ctx, held.ID); err != nil || m.Queue != QueueHeld || !bytes.Equal(m.Body, kb) {
		t.Fatalf("after reopening: %+v, %v", m, err)
	}
	if got := due(t0.Add(time.Hour)); got != nil {
		t.Fatalf("held messages are due after reopening: %v", got)
	}

	tests := []struct {
		name     string
		id       string
		maxCount int
		maxBytes int64
		want     error
	}{
		{"unknown id", "nope", 0, 0, ErrNotFound},
		{"a queued message", "", 0, 0, ErrNotHeld}, // id: the /other one
		{"bytes bound", held.ID, 0, 999, ErrQueueFull},
		{"released", held.ID, 1, 0, nil},
		{"released twice", held.ID, 0, 0, ErrNotHeld},
	}
	other, err := s.Due(ctx, t0, 10)
	if err != nil || len(other) != 1 {
		t.Fatalf("Due = %v, %v", other, err)
	}
	tests[1].id = other[0].ID
	now := t0.Add(time.Minute)
	for _, tc := range tests {
		err := s.Release(ctx, tc.id, now, tc.maxCount, tc.maxBytes)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: Release = %v, want %v", tc.name, err, tc.want)
		}
	}
	if got := due(now.Add(-time.Nanosecond)); got != nil {
		t.Errorf("released message due before its release: %v", got)
	}
	if got := due(now); !slices.Equal(got, []string{held.ID}) {
		t.Errorf("Due after release = %v, want the released one", got)
	}
	// Pending now: a second held message does not fit a queue of one.
	var second string
	page, err := s.Messages(ctx, Filter{Route: "/r"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Messages {
		if m.Queue == QueueHeld {
			second = m.ID
		}
	}
	if err := s.Release(ctx, second, now, 1, 0); !errors.Is(err, ErrQueueFull) {
		t.Errorf("Release into a full queue = %v, want ErrQueueFull", err)
	}
}

func TestHeldIsPurged(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		if err := s.Hold(ctx, &Message{ReceivedAt: t0, Tunnel: "t", Route: "/r", Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		enqueue(t, s, &Message{ReceivedAt: t0, Tunnel: "t", Route: "/r", Body: []byte("y")})
		n, err := s.Purge(ctx, t0.Add(time.Hour), 0)
		if err != nil || n != 1 {
			t.Fatalf("Purge = %d, %v; want the held message purged, the pending one kept", n, err)
		}
		if d, _, _ := s.Depth(ctx, t0); d != 1 {
			t.Errorf("Depth after purge = %d, want 1", d)
		}
	})
}

func TestPendingByRoute(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		enqueue(t, s, &Message{ReceivedAt: t0, Tunnel: "a", Route: "/r"})
		enqueue(t, s, &Message{ReceivedAt: t0.Add(time.Minute), Tunnel: "a", Route: "/r"})
		enqueue(t, s, &Message{ReceivedAt: t0.Add(2 * time.Minute), Tunnel: "b", Route: "/r"})
		if err := s.Hold(ctx, &Message{ReceivedAt: t0, Tunnel: "c", Route: "/r"}); err != nil {
			t.Fatal(err)
		}
		record(t, s, &Message{ReceivedAt: t0, Tunnel: "d", Route: "/r"})
		got := map[string]string{}
		err := s.PendingByRoute(ctx, t0.Add(5*time.Minute), func(tunnel, route string, count int, oldest time.Duration) {
			got[tunnel+route] = fmt.Sprint(count, " ", oldest)
		})
		want := map[string]string{"a/r": "2 5m0s", "b/r": "1 3m0s"}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("PendingByRoute = %v, %v; want %v", got, err, want)
		}
	})
}
