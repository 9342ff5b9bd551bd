package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// largeBody is a random body big enough to go to a file.
func largeBody(tb testing.TB, n int) []byte {
	tb.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// bodyFileExists reports whether s has a body file for id.
func bodyFileExists(t *testing.T, s *SQLite, id string) bool {
	t.Helper()
	_, err := os.Stat(s.files.path(id))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func TestBodyFilesRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	tests := []struct {
		name      string
		body      []byte
		size      int64
		truncated bool
		inFile    bool
	}{
		{"small body stays in the row", largeBody(t, bodyFileMin-1), bodyFileMin - 1, false, false},
		{"large body in a file", largeBody(t, bodyFileMin), bodyFileMin, false, true},
		{"1 MiB body in a file", largeBody(t, 1<<20), 1 << 20, false, true},
		{"truncated large body in a file", largeBody(t, 100<<10), 200 << 10, true, true},
		{"empty body", nil, 0, false, false},
	}
	var batch []*Message
	for i, tc := range tests {
		batch = append(batch, &Message{ReceivedAt: t0.Add(time.Duration(i) * time.Millisecond), Tunnel: "t",
			Body: slices.Clone(tc.body), BodySize: tc.size, BodyTruncated: tc.truncated, Decision: "forwarded"})
	}
	if err := s.RecordAll(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := batch[i].ID
			if got := bodyFileExists(t, s, id); got != tc.inFile {
				t.Errorf("body file exists: %v, want %v", got, tc.inFile)
			}
			if tc.inFile {
				if n := queryInt(t, s, "SELECT count(*) FROM messages WHERE id = ? AND body IS NULL", id); n != 1 {
					t.Error("the row holds the body as well as its file")
				}
			}
			m, err := s.Message(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Body, tc.body) || m.BodySize != tc.size || m.BodyTruncated != tc.truncated || m.inFile {
				t.Errorf("read back %d bytes of %d (truncated %v, inFile %v); stored %d of %d (truncated %v)",
					len(m.Body), m.BodySize, m.BodyTruncated, m.inFile, len(tc.body), tc.size, tc.truncated)
			}
			if batch[i].inFile {
				t.Error("the caller's message is left marked inFile")
			}
		})
	}
	// Listings carry no bodies, and say what became of them as before.
	page, err := s.Messages(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Messages {
		if m.Body != nil || m.inFile {
			t.Errorf("listing of %s carries a body", m.ID)
		}
		if m.BodyTruncated != (m.BodySize == 200<<10) {
			t.Errorf("listing of %s: truncated %v", m.ID, m.BodyTruncated)
		}
	}
}

func TestBodyFilesGoWithTheirRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	var ids []string
	for i := range 4 {
		m := &Message{ReceivedAt: t0.Add(time.Duration(i) * time.Second), Tunnel: "t", Body: largeBody(t, 256<<10)}
		record(t, s, m)
		ids = append(ids, m.ID)
	}
	if err := s.DeleteMessage(ctx, ids[3]); err != nil {
		t.Fatal(err)
	}
	if bodyFileExists(t, s, ids[3]) {
		t.Error("DeleteMessage left the body file")
	}
	if n, err := s.Purge(ctx, t0.Add(1500*time.Millisecond), 0); err != nil || n != 2 {
		t.Fatalf("purge by age: %d, %v; want 2", n, err)
	}
	for _, id := range ids[:2] {
		if bodyFileExists(t, s, id) {
			t.Errorf("purge by age left the body file of %s", id)
		}
	}
	// The size cap counts the files: one 256 KiB body is over a 200 KiB cap.
	if n, err := s.Purge(ctx, time.Time{}, 200<<10); err != nil || n != 1 {
		t.Fatalf("purge by size: %d, %v; want 1", n, err)
	}
	if bodyFileExists(t, s, ids[2]) {
		t.Error("purge by size left the body file")
	}
	if got := s.files.bytes.Load(); got != 0 {
		t.Errorf("body files counted at %d bytes with none left", got)
	}
	if _, err := s.Message(ctx, ids[2]); !errors.Is(err, ErrNotFound) {
		t.Errorf("Message of a purged message: %v", err)
	}
}

// TestBodyFilesFailedWrite: a batch that does not commit leaves no file.
func TestBodyFilesFailedWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	first := &Message{ReceivedAt: t0, Tunnel: "t"}
	record(t, s, first)
	large := &Message{ReceivedAt: t0.Add(time.Second), Tunnel: "t", Body: largeBody(t, 128<<10)}
	dup := &Message{ID: first.ID, ReceivedAt: t0, Tunnel: "t"}
	if err := s.RecordAll(ctx, []*Message{large, dup}); err == nil {
		t.Fatal("a batch with a duplicate id was stored")
	}
	if bodyFileExists(t, s, large.ID) {
		t.Error("the body file of a batch that did not commit is left")
	}
	if large.inFile {
		t.Error("the message is left marked inFile")
	}
}

// TestBodyFilesSweep: files a crash left without a row go when the store
// opens; the files of rows stay.
func TestBodyFilesSweep(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hooktunnel.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	body := largeBody(t, 100<<10)
	kept := &Message{ReceivedAt: t0, Tunnel: "t", Body: slices.Clone(body)}
	record(t, s, kept)
	small := &Message{ReceivedAt: t0.Add(time.Second), Tunnel: "t", Body: []byte("x")}
	record(t, s, small)
	s.Close()
	// A body written before a crash, its row never committed; a stray
	// file under a row whose body is in the row; something else.
	orphans := []string{NewMessageID(t0.Add(time.Hour)), small.ID, "not-an-id"}
	for _, name := range orphans {
		if err := os.WriteFile(filepath.Join(bodyDir(path), name), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, name := range orphans {
		if _, err := os.Stat(filepath.Join(bodyDir(path), name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("orphan %s survived the sweep: %v", name, err)
		}
	}
	m, err := s.Message(ctx, kept.ID)
	if err != nil || !bytes.Equal(m.Body, body) {
		t.Fatalf("message with a body file after reopen: %v", err)
	}
	if got := s.files.bytes.Load(); got != int64(len(body)) {
		t.Errorf("body files counted at %d bytes after the sweep, want %d", got, len(body))
	}
}

// TestEnqueueLargeBodySurvivesReopen: a queued message's large body is in
// its file, durable before Enqueue returns, and delivered after a restart.
func TestEnqueueLargeBodySurvivesReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hooktunnel.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	body := largeBody(t, 1<<20)
	m := &Message{ReceivedAt: t0, Tunnel: "t", Route: "/q", Body: slices.Clone(body)}
	if err := s.Enqueue(ctx, m, 10, 10<<20); err != nil {
		t.Fatal(err)
	}
	if !bodyFileExists(t, s, m.ID) {
		t.Fatal("the queued body is not in a file")
	}
	s.Close()
	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	due, err := s.Due(ctx, t0.Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].ID != m.ID || !bytes.Equal(due[0].Body, body) {
		t.Fatalf("due after reopen: %d messages; want %s with its 1 MiB body", len(due), m.ID)
	}
	// The bounds count the body as before.
	if err := s.Enqueue(ctx, &Message{ReceivedAt: t0.Add(time.Second), Tunnel: "t", Route: "/q", Body: body}, 10, 3<<19); !errors.Is(err, ErrQueueFull) {
		t.Errorf("enqueue past the byte bound: %v", err)
	}
}

// TestFullQueueRefusesBeforeWritingTheBody: a full queue answers
// ErrQueueFull without writing the refused body's file first (under
// backpressure the disk is what is short). The body directory is made a
// plain file here, so a write would fail with a different error.
func TestFullQueueRefusesBeforeWritingTheBody(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hooktunnel.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Enqueue(ctx, &Message{ReceivedAt: t0, Tunnel: "t", Route: "/q", Body: []byte("first")}, 1, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(bodyDir(path)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bodyDir(path), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	large := &Message{ReceivedAt: t0.Add(time.Second), Tunnel: "t", Route: "/q", Body: largeBody(t, 1<<20)}
	if err := s.Enqueue(ctx, large, 1, 0); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("enqueue into a full queue: %v, want ErrQueueFull before any body file", err)
	}
}

// TestBodyFilesSearch: the text search finds words in bodies kept in
// files as in those kept in rows (ASCII case folded, up to a NUL byte).
func TestBodyFilesSearch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	pad := bytes.Repeat([]byte("a"), bodyFileMin)
	inFile := &Message{ReceivedAt: t0, Tunnel: "t", Body: slices.Concat(pad, []byte("Needle-In-File"))}
	afterNUL := &Message{ReceivedAt: t0.Add(time.Second), Tunnel: "t", Body: slices.Concat(pad, []byte("\x00hidden-after-nul"))}
	inRow := &Message{ReceivedAt: t0.Add(2 * time.Second), Tunnel: "t", Body: []byte("needle-in-row")}
	for _, m := range []*Message{inFile, afterNUL, inRow} {
		record(t, s, m)
	}
	tests := []struct {
		text string
		want []string
	}{
		{"NEEDLE-in", []string{inRow.ID, inFile.ID}},
		{"needle-in-file", []string{inFile.ID}},
		{"hidden-after-nul", []string{}},
		{"absent", []string{}},
	}
	for _, tc := range tests {
		page, err := s.Messages(ctx, Filter{Text: tc.text})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page.Messages); !slices.Equal(got, tc.want) {
			t.Errorf("search %q found %v, want %v", tc.text, got, tc.want)
		}
	}
}
