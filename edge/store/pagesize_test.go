package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

func pageSize(t *testing.T, s *SQLite) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(context.Background(), "PRAGMA page_size").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNewDatabaseHasLargePages(t *testing.T) {
	s := openTest(t)
	if got := pageSize(t, s); got != newDatabasePageSize {
		t.Fatalf("page size %d, want %d", got, newDatabasePageSize)
	}
	var mode string
	if err := s.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q, %v; want wal", mode, err)
	}
}

// A database an earlier version created keeps its 4 KiB pages, and its
// messages: the edge opens it as it was.
func TestExistingDatabaseKeepsItsPageSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hooktunnel.db")
	old, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec("CREATE TABLE earlier (x)"); err != nil {
		t.Fatal(err)
	}
	old.Close()

	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := pageSize(t, s); got != 4096 {
		t.Fatalf("page size %d, want the 4096 it was created with", got)
	}
	now := time.Now()
	record(t, s, &Message{ID: NewMessageID(now), ReceivedAt: now, Tunnel: "gh", Method: "POST", Path: "/", Decision: "forwarded", Body: []byte("kept")})
	page, err := s.Messages(context.Background(), Filter{Limit: 10})
	if err != nil || len(page.Messages) != 1 {
		t.Fatalf("listed %d messages, %v", len(page.Messages), err)
	}
}
