package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 6, 45, 1, 123456789, time.UTC)

func openTest(tb testing.TB) *SQLite {
	tb.Helper()
	s, err := OpenSQLite(context.Background(), filepath.Join(tb.TempDir(), "hooktunnel.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func record(tb testing.TB, s Store, m *Message) {
	tb.Helper()
	if err := s.Record(context.Background(), m); err != nil {
		tb.Fatal(err)
	}
}

// bulk stores many messages in one transaction, as Record (or Enqueue, for
// those with Queue pending) would one by one, only much faster.
func bulk(tb testing.TB, s Store, ms []*Message) {
	tb.Helper()
	ctx := context.Background()
	inTestTx(tb, s, func(tx sqlConn) error {
		for _, m := range ms {
			if err := normalize(m); err != nil {
				return err
			}
			var next any
			if m.Queue == QueuePending {
				next = m.ReceivedAt.UnixNano()
			}
			if err := insertMessage(ctx, tx, m, next); err != nil {
				return err
			}
			if err := insertAttempts(ctx, tx, m.ID, m.Attempts); err != nil {
				return err
			}
		}
		return nil
	})
}

func ids(ms []Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func TestRecordMessageRoundTrip(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		in := &Message{
			ReceivedAt: t0, Tunnel: "github", Route: "/webhooks/github", SourceIP: "192.30.252.41",
			Method: "POST", Path: "/webhooks/github", Query: "a=1&token=[redacted]",
			Header:   http.Header{"Content-Type": {"application/json"}, "X-Hub-Signature-256": {"[redacted]"}},
			Body:     []byte(`{"zen":"<&>"}`),
			Decision: "forwarded", Provider: "github", Event: "pull_request.opened", SecretRef: "env:GH_SECRET",
			DeliveryID: "72d3162e", ClientCert: "CN=github", ReplayOf: "01JDZ8Q3V6R8M2K7T1C9W4E5XA",
			Status: 200, ResponseHeader: http.Header{"Content-Type": {"text/plain"}},
			ResponseBody: []byte("ok"), Duration: 4123 * time.Microsecond,
			Attempts: []Attempt{{N: 1, At: t0.Add(time.Millisecond), Status: 200, Duration: 4100 * time.Microsecond, Edge: "edge1-0a1b2c"}},
			Edge:     "edge1-0a1b2c",
		}
		record(t, s, in)
		if len(in.ID) != idLen || in.BodySize != int64(len(in.Body)) {
			t.Fatalf("Record filled id %q, body size %d", in.ID, in.BodySize)
		}
		got, err := s.Message(ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, in) {
			t.Errorf("Message(%s):\n got %+v\nwant %+v", in.ID, got, in)
		}

		page, err := s.Messages(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Messages) != 1 || page.Next != "" {
			t.Fatalf("listing = %d messages, next %q", len(page.Messages), page.Next)
		}
		if l := page.Messages[0]; l.Body != nil || l.ResponseBody != nil || l.Attempts != nil || l.Header == nil {
			t.Errorf("listing carries bodies or attempts, or lacks headers: %+v", l)
		}
	})
}

func TestMessageNotFound(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		for _, id := range []string{"", "01JDZ8Q3V6R8M2K7T1C9W4E5XA", "' OR 1=1 --"} {
			if _, err := s.Message(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("Message(%q) = %v, want ErrNotFound", id, err)
			}
		}
	})
}

func TestRecordNeedsReceivedAt(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		if err := s.Record(context.Background(), &Message{Tunnel: "x"}); err == nil {
			t.Error("Record without ReceivedAt succeeded")
		}
	})
}

// corpus records n messages one second apart that vary in everything a
// filter looks at, and returns them newest first.
func corpus(tb testing.TB, s Store, n int) []Message {
	tb.Helper()
	tunnels := []string{"github", "stripe", "slack"}
	decisions := []string{"forwarded", "refused", "queued", "duplicate"}
	statuses := []int{200, 202, 301, 401, 404, 500, 503}
	paths := []string{"/webhooks/github", "/hooks/100%_done", "/hooks/100x done", "/Slack/Events"}
	events := []string{"push", "ping", `say "hi"`, `back\slash`}
	kinds := []string{"pull_request.opened", "", "invoice.paid"}
	bodies := []string{"body", `{"customer":"cus_NffrFeUfNV2Hib"}`, "\x00\xffbinary"}
	var all []Message
	// Ids from a source of its own: tests running in parallel record
	// messages at other made-up times, which the shared source would take
	// for a clock stepped back and forth.
	var ids IDSource
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Second)
		m := Message{
			ID:         ids.New(at),
			ReceivedAt: at,
			Tunnel:     tunnels[i%len(tunnels)],
			Route:      fmt.Sprintf("/r%d", i%2),
			Method:     "POST",
			Path:       paths[i%len(paths)],
			Header:     http.Header{"X-Event": {events[i/2%len(events)]}},
			Decision:   decisions[i%len(decisions)],
			Status:     statuses[i%len(statuses)],
			Body:       []byte(bodies[i%len(bodies)]),
			Event:      kinds[i%len(kinds)],
			DeliveryID: fmt.Sprintf("dlv-%03d", i),
		}
		record(tb, s, &m)
		all = append(all, m)
	}
	slices.Reverse(all)
	return all
}

func TestMessagesFilters(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		all := corpus(t, s, 300)
		mid := t0.Add(100 * time.Second)
		tests := []struct {
			name   string
			filter Filter
			want   func(m Message) bool
		}{
			{"everything", Filter{}, func(Message) bool { return true }},
			{"tunnel", Filter{Tunnel: "stripe"}, func(m Message) bool { return m.Tunnel == "stripe" }},
			{"route", Filter{Route: "/r1"}, func(m Message) bool { return m.Route == "/r1" }},
			{"decision", Filter{Decision: "refused"}, func(m Message) bool { return m.Decision == "refused" }},
			{"status 2xx", Filter{StatusClass: 2}, func(m Message) bool { return m.Status/100 == 2 }},
			{"status 5xx", Filter{StatusClass: 5}, func(m Message) bool { return m.Status >= 500 }},
			{"since inclusive", Filter{Since: mid}, func(m Message) bool { return !m.ReceivedAt.Before(mid) }},
			{"until exclusive", Filter{Until: mid}, func(m Message) bool { return m.ReceivedAt.Before(mid) }},
			{"time range", Filter{Since: mid, Until: mid.Add(50 * time.Second)}, func(m Message) bool {
				return !m.ReceivedAt.Before(mid) && m.ReceivedAt.Before(mid.Add(50*time.Second))
			}},
			{"text in path, any case", Filter{Text: "slack/EVENTS"}, func(m Message) bool { return m.Path == "/Slack/Events" }},
			{"text in header value", Filter{Text: "ping"}, func(m Message) bool { return m.Header.Get("X-Event") == "ping" }},
			{"text in event", Filter{Text: "invoice.PAID"}, func(m Message) bool { return m.Event == "invoice.paid" }},
			{"text in delivery id", Filter{Text: "dlv-042"}, func(m Message) bool { return m.DeliveryID == "dlv-042" }},
			{"text in body", Filter{Text: "cus_NffrFeUfNV2Hib"}, func(m Message) bool { return strings.Contains(string(m.Body), "cus_NffrFeUfNV2Hib") }},
			{"percent is literal", Filter{Text: "100%"}, func(m Message) bool { return m.Path == "/hooks/100%_done" }},
			{"underscore is literal", Filter{Text: "_done"}, func(m Message) bool { return m.Path == "/hooks/100%_done" }},
			{"quote in header", Filter{Text: `say "hi"`}, func(m Message) bool { return m.Header.Get("X-Event") == `say "hi"` }},
			{"backslash in header", Filter{Text: `back\slash`}, func(m Message) bool { return m.Header.Get("X-Event") == `back\slash` }},
			{"tunnels nil is all", Filter{Tunnels: nil}, func(Message) bool { return true }},
			{"tunnels empty is none", Filter{Tunnels: []string{}}, func(Message) bool { return false }},
			{"tunnels one", Filter{Tunnels: []string{"slack"}}, func(m Message) bool { return m.Tunnel == "slack" }},
			{"tunnels two", Filter{Tunnels: []string{"slack", "github"}}, func(m Message) bool { return m.Tunnel != "stripe" }},
			{"tunnel inside tunnels", Filter{Tunnel: "github", Tunnels: []string{"slack", "github"}}, func(m Message) bool { return m.Tunnel == "github" }},
			{"tunnel outside tunnels", Filter{Tunnel: "stripe", Tunnels: []string{"slack"}}, func(Message) bool { return false }},
			{"before", Filter{Before: all[10].ID}, func(m Message) bool { return m.ID < all[10].ID }},
			{"combined", Filter{Tunnel: "github", StatusClass: 5, Since: mid, Text: "github"}, func(m Message) bool {
				return m.Tunnel == "github" && m.Status >= 500 && !m.ReceivedAt.Before(mid) && m.Path == "/webhooks/github"
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				var want []string
				for _, m := range all {
					if tc.want(m) {
						want = append(want, m.ID)
					}
				}
				f := tc.filter
				f.Limit = maxListLimit
				page, err := s.Messages(context.Background(), f)
				if err != nil {
					t.Fatal(err)
				}
				if got := ids(page.Messages); !slices.Equal(got, want) {
					t.Errorf("got %d messages, want %d\n got %v\nwant %v", len(got), len(want), got, want)
				}
				if page.Messages == nil {
					t.Error("Messages is nil; the API would print null")
				}
			})
		}
	})
}

// TestMessagesTimeRangeIDSkew: the listing narrows a time range by id, yet
// finds a message whose id was made from a clock reading off by seconds.
func TestMessagesTimeRangeIDSkew(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		early := &Message{ID: NewMessageID(t0.Add(-30 * time.Second)), ReceivedAt: t0, Tunnel: "t"}
		late := &Message{ID: NewMessageID(t0.Add(30 * time.Second)), ReceivedAt: t0.Add(time.Second), Tunnel: "t"}
		record(t, s, early)
		record(t, s, late)
		for _, f := range []Filter{
			{Since: t0},
			{Until: t0.Add(2 * time.Second)},
			{Since: t0, Until: t0.Add(2 * time.Second)},
		} {
			page, err := s.Messages(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := ids(page.Messages), []string{late.ID, early.ID}; !slices.Equal(got, want) {
				t.Errorf("Messages(since %v, until %v) = %v, want %v", f.Since, f.Until, got, want)
			}
		}
	})
}

// TestReadsDoNotWaitForWriter: while a writer holds its transaction (a
// purge batch, say), listings and lookups answer from the last commit.
func TestReadsDoNotWaitForWriter(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	m := &Message{ReceivedAt: t0, Tunnel: "t"}
	record(t, s, m)
	tx, err := s.w.Begin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	if _, err := tx.Exec("DELETE FROM messages"); err != nil {
		t.Fatal(err)
	}
	// Far below busy_timeout: a read that waited for the writer would fail.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if page, err := s.Messages(ctx, Filter{}); err != nil || len(page.Messages) != 1 {
		t.Errorf("Messages during a write = %d messages, %v", len(page.Messages), err)
	}
	if _, err := s.Message(ctx, m.ID); err != nil {
		t.Errorf("Message during a write: %v", err)
	}
	if _, _, err := s.Depth(ctx, t0); err != nil {
		t.Errorf("Depth during a write: %v", err)
	}
}

func TestMessagesBadStatusClass(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		if _, err := s.Messages(context.Background(), Filter{StatusClass: 7}); err == nil {
			t.Error("status class 7 accepted")
		}
	})
}

func TestMessagesPagination(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		all := corpus(t, s, 240)
		tests := []struct {
			name   string
			filter Filter
		}{
			{"limit 1", Filter{Limit: 1}},
			{"limit 7", Filter{Limit: 7}},
			{"default limit", Filter{}},
			{"limit divides", Filter{Limit: 60}},
			{"over max", Filter{Limit: 10_000}},
			{"filtered", Filter{Tunnel: "slack", Limit: 9}},
			{"filtered to one page", Filter{Decision: "queued", StatusClass: 4, Limit: 50}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				want := wantMatching(t, s, all, tc.filter)
				limit := cmpLimit(tc.filter.Limit)
				var got []string
				f := tc.filter
				for range len(all) + 2 {
					page, err := s.Messages(context.Background(), f)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, ids(page.Messages)...)
					if page.Next == "" {
						break
					}
					if len(page.Messages) != limit || page.Next != page.Messages[limit-1].ID {
						t.Fatalf("page of %d with next %q; want %d ending at next", len(page.Messages), page.Next, limit)
					}
					f.Before = page.Next
				}
				if !slices.Equal(got, want) {
					t.Errorf("pages gave %d ids, want %d (duplicates or gaps)", len(got), len(want))
				}
			})
		}
	})
}

func cmpLimit(l int) int {
	if l <= 0 {
		return defaultListLimit
	}
	return min(l, maxListLimit)
}

// wantMatching lists what f matches among all by asking for everything in
// one go, checked against the unfiltered corpus order.
func wantMatching(t *testing.T, s Store, all []Message, f Filter) []string {
	t.Helper()
	f.Limit = maxListLimit
	page, err := s.Messages(context.Background(), f)
	if err != nil || page.Next != "" {
		t.Fatalf("one-page listing: next %q, %v", page.Next, err)
	}
	got := ids(page.Messages)
	if !slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(b, a) }) || len(got) > len(all) {
		t.Fatalf("listing not newest first")
	}
	return got
}

func TestPurgeByAgeSparesPending(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		var all []*Message
		var old, pending, recent []string
		for i := range 2500 { // more than two batches
			m := &Message{ReceivedAt: t0.Add(time.Duration(i) * time.Millisecond), Tunnel: "t", Route: "/r", Body: []byte("x")}
			m.ID = NewMessageID(m.ReceivedAt)
			switch {
			case i >= 2400:
				recent = append(recent, m.ID)
			case i%500 == 0:
				m.Queue = QueuePending
				pending = append(pending, m.ID)
			default:
				if i%10 == 0 { // some, to see attempts go with their message
					m.Attempts = []Attempt{{N: 1, At: m.ReceivedAt}}
				}
				old = append(old, m.ID)
			}
			all = append(all, m)
		}
		bulk(t, s, all)
		n, err := s.Purge(ctx, t0.Add(2400*time.Millisecond), 0)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(old) {
			t.Errorf("Purge = %d, want %d", n, len(old))
		}
		page, err := s.Messages(ctx, Filter{Limit: maxListLimit})
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Concat(pending, recent)
		slices.Sort(want)
		slices.Reverse(want)
		if got := ids(page.Messages); !slices.Equal(got, want) {
			t.Errorf("after purge %d messages, want %d (pending and recent)", len(got), len(want))
		}
		if orphans := queryInt(t, s, "SELECT count(*) FROM attempts"); orphans != 0 {
			t.Errorf("attempts left after purge: %d", orphans)
		}
	})
}

// dbBytes is what the size cap counts: SQLite's pages in use, or
// PostgreSQL's stored sizes of the messages (postgres_purge.go).
func dbBytes(t *testing.T, s Store) int64 {
	t.Helper()
	if _, ok := s.(*Postgres); ok {
		return queryInt(t, s, pgUsedQuery)
	}
	return queryInt(t, s, `SELECT (c.page_count - f.freelist_count) * s.page_size
		FROM pragma_page_count() c, pragma_freelist_count() f, pragma_page_size() s`) +
		s.(*SQLite).files.bytes.Load()
}

func TestPurgeBySize(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		// Random: PostgreSQL compresses what it stores, and a repeated
		// byte would fill nothing.
		body := make([]byte, 32<<10)
		rand.Read(body)
		var all []string
		for i := range 300 {
			m := &Message{ReceivedAt: t0.Add(time.Duration(i) * time.Second), Tunnel: "t", Route: "/r", Body: body}
			if i == 0 {
				if err := s.Enqueue(ctx, m, 0, 0); err != nil { // the oldest, but pending
					t.Fatal(err)
				}
			} else {
				record(t, s, m)
			}
			all = append(all, m.ID)
		}
		const maxBytes = 4 << 20
		if before := dbBytes(t, s); before < 2*maxBytes {
			t.Fatalf("corpus is only %d bytes", before)
		}
		n, err := s.Purge(ctx, time.Time{}, maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		if after := dbBytes(t, s); after > maxBytes {
			t.Errorf("database uses %d bytes after purge, cap %d", after, maxBytes)
		}
		page, err := s.Messages(ctx, Filter{Limit: maxListLimit})
		if err != nil {
			t.Fatal(err)
		}
		// The pending one and the newest survive; nothing between them.
		want := slices.Concat(all[:1], all[n+1:])
		slices.Reverse(want)
		if got := ids(page.Messages); !slices.Equal(got, want) {
			t.Errorf("kept %d messages, want the pending one and the newest %d", len(got), len(want)-1)
		}
		if len(want) > 150 || len(want) < 50 {
			t.Errorf("purge by size kept %d of 300 32 KiB messages under 4 MiB", len(want))
		}
	})
}

func TestConcurrentRecord(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		const workers, each = 20, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					m := &Message{ReceivedAt: time.Now(), Tunnel: fmt.Sprint("t", w), Route: "/r", Body: []byte("x")}
					var err error
					if i%5 == 0 {
						err = s.Enqueue(ctx, m, 0, 0)
					} else {
						err = s.Record(ctx, m)
					}
					if err == nil {
						_, err = s.Messages(ctx, Filter{Tunnel: m.Tunnel})
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Go(func() {
			if _, err := s.Purge(ctx, time.Now().Add(-time.Hour), 0); err != nil {
				errs <- err
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		page, err := s.Messages(ctx, Filter{Limit: maxListLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Messages) != workers*each {
			t.Errorf("%d messages stored, want %d", len(page.Messages), workers*each)
		}
	})
}

// TestQueryPlans keeps the indexes in use: a listing must walk an index in
// id order (no temporary sort of everything that matches).
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	tests := []struct {
		name   string
		filter Filter
		index  string
	}{
		{"first page", Filter{}, "sqlite_autoindex_messages_1"},
		{"cursor", Filter{Before: NewMessageID(t0)}, "sqlite_autoindex_messages_1"},
		{"tunnel", Filter{Tunnel: "github", Before: NewMessageID(t0)}, "messages_tunnel"},
		{"decision", Filter{Decision: "refused"}, "messages_decision"},
		{"status class", Filter{StatusClass: 5}, "messages_status_class"},
		// Common values walk the primary key: their partial indexes leave them out.
		{"decision forwarded", Filter{Decision: "forwarded"}, "sqlite_autoindex_messages_1"},
		{"status class 2", Filter{StatusClass: 2}, "sqlite_autoindex_messages_1"},
		{"time range", Filter{Since: t0, Until: t0.Add(time.Hour)}, "sqlite_autoindex_messages_1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			where, args, err := tc.filter.where(dialectSQLite)
			if err != nil {
				t.Fatal(err)
			}
			plan := explain(t, s, "SELECT "+listColumns+" FROM messages"+where+" ORDER BY id DESC LIMIT ?", append(args, 51)...)
			if !strings.Contains(plan, tc.index) || strings.Contains(plan, "TEMP B-TREE") {
				t.Errorf("plan %q; want %s without a sort", plan, tc.index)
			}
		})
	}
	for query, index := range map[string]string{
		queueSizeQuery:  "COVERING INDEX messages_pending",
		depthQuery:      "COVERING INDEX messages_pending",
		dueQuery:        "messages_due",
		purgeByAgeQuery: "sqlite_autoindex_messages_1",
	} {
		if plan := explain(t, s, query, "x", "y", "z"); !strings.Contains(plan, index) {
			t.Errorf("plan of %s\n= %q; want %s", query, plan, index)
		}
	}
}

func explain(t *testing.T, s *SQLite, query string, args ...any) string {
	t.Helper()
	args = args[:strings.Count(query, "?")]
	rows, err := s.db.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; ")
}

func TestMessageIDs(t *testing.T) {
	t.Parallel()
	// Known ULID timestamp encoding, and the largest id.
	if got := encodeID(1469918176385, [10]byte{})[:10]; got != "01ARYZ6S41" {
		t.Errorf("timestamp 1469918176385 encodes as %s, want 01ARYZ6S41", got)
	}
	var ones [10]byte
	for i := range ones {
		ones[i] = 0xff
	}
	if got := encodeID(maxIDMillis, ones); got != "7ZZZZZZZZZZZZZZZZZZZZZZZZZ" {
		t.Errorf("largest id = %s", got)
	}

	// Property: over 100k ids from a clock that often stays in the same
	// millisecond, every id is well formed, sorts after the previous one and
	// carries its millisecond.
	var g IDSource
	now := t0
	prev := ""
	seen := make(map[string]bool, 100_000)
	for i := range 100_000 {
		if i%7 == 0 {
			now = now.Add(time.Duration(i%3) * 400 * time.Microsecond)
		}
		id := g.New(now)
		if len(id) != idLen || strings.Trim(id, crockford) != "" {
			t.Fatalf("malformed id %q", id)
		}
		if id <= prev || seen[id] {
			t.Fatalf("id %d: %s does not sort after %s", i, id, prev)
		}
		if ms := now.Truncate(time.Millisecond); id < idFloor(ms) || id >= idFloor(ms.Add(time.Millisecond)) {
			t.Fatalf("id %s is not in the millisecond of %v", id, now)
		}
		seen[id], prev = true, id
	}
}

// TestIDSourceConcurrent: goroutines read the clock before they take the
// source's lock, and each still sees its ids increase. (It has its own
// source: other tests feed the shared one with times far from now.)
func TestIDSourceConcurrent(t *testing.T) {
	t.Parallel()
	var g IDSource
	const workers, each = 8, 5000
	var mu sync.Mutex
	seen := make(map[string]bool, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			mine := make([]string, 0, each)
			for range each {
				mine = append(mine, g.New(time.Now()))
			}
			if !slices.IsSorted(mine) {
				t.Error("one goroutine's ids are not increasing")
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range mine {
				if seen[id] {
					t.Errorf("duplicate id %s", id)
				}
				seen[id] = true
			}
		})
	}
	wg.Wait()
}

// BenchmarkMessagesList100k lists pages of a journal holding 100,000
// messages: the admin UI's first page, filtered pages and a page deep down
// the cursor must stay in the low milliseconds.
func BenchmarkMessagesList100k(b *testing.B) {
	s, ctx := openTest(b), context.Background()
	const n = 100_000
	tunnels := []string{"github", "stripe", "slack", "gitlab", "shopify"}
	body := []byte(strings.Repeat(`{"zen":"keep it logically awesome"}`, 30))
	ms := make([]*Message, n)
	for i := range n {
		m := &Message{
			ReceivedAt: t0.Add(time.Duration(i) * 100 * time.Millisecond),
			Tunnel:     tunnels[i%len(tunnels)], Route: "/webhooks", SourceIP: "192.30.252.41",
			Method: "POST", Path: fmt.Sprintf("/webhooks/%d", i%50),
			Header:   http.Header{"Content-Type": {"application/json"}, "X-Github-Event": {"push"}, "User-Agent": {"GitHub-Hookshot/044aadd"}},
			Body:     body,
			Decision: "forwarded", Status: 200, Duration: time.Millisecond,
		}
		if i%100 == 0 {
			m.Decision, m.Status, m.Reason = "refused", 401, "bad_signature"
		}
		ms[i] = m
	}
	bulk(b, s, ms)
	deep := ms[n/10].ID
	since := t0.Add(n / 2 * 100 * time.Millisecond)
	for _, bc := range []struct {
		name   string
		filter Filter
	}{
		{"first page", Filter{}},
		{"tunnel", Filter{Tunnel: "stripe"}},
		{"status 4xx", Filter{StatusClass: 4}},
		{"refused in a tunnel", Filter{Tunnel: "github", Decision: "refused"}},
		{"time range", Filter{Since: since, Until: since.Add(time.Hour)}},
		{"deep cursor", Filter{Before: deep}},
		{"deep cursor, tunnel", Filter{Before: deep, Tunnel: "slack"}},
		{"agent's two tunnels", Filter{Tunnels: []string{"github", "gitlab"}}},
		{"text", Filter{Text: "webhooks/7"}},
		{"text matching nothing: full scan", Filter{Text: "no such thing"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Messages(ctx, bc.filter); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRecord(b *testing.B) {
	s, ctx := openTest(b), context.Background()
	body := []byte(strings.Repeat("x", 2048))
	now := t0
	for b.Loop() {
		now = now.Add(time.Millisecond)
		m := &Message{ReceivedAt: now, Tunnel: "t", Route: "/r", Body: body, Header: http.Header{"Content-Type": {"application/json"}}}
		if err := s.Record(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRecordAllStoresEveryMessage(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		now := time.Now()
		var ms []*Message
		for i := 0; i < 300; i++ {
			ms = append(ms, &Message{ID: NewMessageID(now), ReceivedAt: now, Tunnel: "batch", Method: "POST", Path: "/x",
				Decision: "forwarded", Status: 200, Attempts: []Attempt{{N: 1, At: now, Status: 200}}})
		}
		if err := s.RecordAll(ctx, ms); err != nil {
			t.Fatal(err)
		}
		page, err := s.Messages(ctx, Filter{Tunnel: "batch", Limit: 500})
		if err != nil || len(page.Messages) != 300 {
			t.Fatalf("listed %d messages, %v", len(page.Messages), err)
		}
		got, err := s.Message(ctx, ms[150].ID)
		if err != nil || len(got.Attempts) != 1 {
			t.Fatalf("message %v with %v", got, err)
		}
	})
}

// TestRecordAllRoundTrip: a batch goes in INSERTs of several sizes (a
// power of two each) on SQLite; every message and attempt comes back as
// it was, whichever statement stored it.
func TestRecordAllRoundTrip(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 3, 256, 300} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			eachBackend(t, func(t *testing.T, s Store) {
				ctx := context.Background()
				ms := make([]*Message, n)
				for i := range ms {
					at := t0.Add(time.Duration(i) * time.Millisecond)
					m := &Message{ReceivedAt: at, Tunnel: fmt.Sprint("t", i%3), Route: fmt.Sprint("/r", i%5),
						SourceIP: "192.0.2.1", Method: "POST", Path: fmt.Sprint("/p/", i), Query: fmt.Sprint("q=", i),
						Header: http.Header{"X-N": {fmt.Sprint(i)}}, Body: []byte(fmt.Sprint("body ", i)),
						Decision: []string{"forwarded", "refused"}[i%2], Status: 200 + i%3*100,
						ResponseBody: []byte(fmt.Sprint("answer ", i)), Duration: time.Duration(i) * time.Microsecond}
					for k := range i % 4 { // 0 to 3 attempts
						m.Attempts = append(m.Attempts, Attempt{N: k + 1, At: at.Add(time.Duration(k) * time.Second),
							Status: 500 + k, Error: fmt.Sprint("e", k), Duration: time.Duration(k) * time.Millisecond})
					}
					if i == n-1 {
						m.Body = largeBody(t, bodyFileMin) // in a file, on SQLite
					}
					ms[i] = m
				}
				if err := s.RecordAll(ctx, ms); err != nil {
					t.Fatal(err)
				}
				for _, in := range ms {
					got, err := s.Message(ctx, in.ID)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, in) {
						t.Fatalf("Message(%s):\n got %+v\nwant %+v", in.ID, got, in)
					}
				}
			})
		})
	}
}
