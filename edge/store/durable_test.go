package store

import (
	"context"
	"database/sql"
	"errors"
	"testing"
)

func synchronous(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) int {
	t.Helper()
	var level int
	if err := q.QueryRowContext(context.Background(), "PRAGMA synchronous").Scan(&level); err != nil {
		t.Fatal(err)
	}
	return level
}

// A queued webhook and a delete that removes body files commit at
// synchronous = FULL, and the writer goes back to NORMAL after, whether
// the transaction committed or not.
func TestWriteDurablyCommitsAtFull(t *testing.T) {
	s := openTest(t)
	const normal, full = 1, 2
	if got := synchronous(t, s.w); got != normal {
		t.Fatalf("writer at synchronous %d before, want NORMAL", got)
	}
	var inside int
	if err := s.writeDurably(context.Background(), func(tx *sql.Tx) error {
		inside = synchronous(t, tx)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if inside != full {
		t.Errorf("transaction ran at synchronous %d, want FULL", inside)
	}
	failed := errors.New("refused")
	if err := s.writeDurably(context.Background(), func(*sql.Tx) error { return failed }); !errors.Is(err, failed) {
		t.Fatalf("err = %v, want fn's", err)
	}
	if got := synchronous(t, s.w); got != normal {
		t.Errorf("writer at synchronous %d after, want NORMAL", got)
	}
}
