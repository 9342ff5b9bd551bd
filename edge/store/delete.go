package store

import (
	"context"
	"database/sql"
	"fmt"
)

// DeleteMessage removes one message and its attempts from the journal
// (ErrNotFound if it has none with id). A pending queued message is
// deleted too, which ends its delivery: a worker's attempt under way
// then finds nothing to record.
func (s *SQLite) DeleteMessage(ctx context.Context, id string) error {
	var files []string
	err := s.writeDurably(ctx, func(tx *sql.Tx) error {
		// attempts go with it: ON DELETE CASCADE.
		var err error
		var n int
		n, files, err = deleteReturningFiles(ctx, tx, "DELETE FROM messages WHERE id = ?", id)
		if err == nil && n == 0 {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete %s: %w", id, err)
	}
	// After the commit, which is on disk (writeDurably): a crash before
	// leaves an orphan the sweep removes, never a row without its file.
	s.files.remove(files)
	return nil
}

// deleteReturningFiles runs a DELETE on messages (del, with args) and
// returns how many rows went and the ids of those whose body was in a
// file, which the caller removes once the delete has committed.
func deleteReturningFiles(ctx context.Context, tx *sql.Tx, del string, args ...any) (int, []string, error) {
	rows, err := tx.QueryContext(ctx, del+" RETURNING id, body_truncated", args...)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	n := 0
	var files []string
	for rows.Next() {
		var id string
		var state int
		if err := rows.Scan(&id, &state); err != nil {
			return 0, nil, err
		}
		n++
		if state&bodyInFile != 0 {
			files = append(files, id)
		}
	}
	return n, files, rows.Err()
}
