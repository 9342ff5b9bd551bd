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
	err := s.write(ctx, func(tx *sql.Tx) error {
		// attempts go with it: ON DELETE CASCADE.
		res, err := tx.ExecContext(ctx, "DELETE FROM messages WHERE id = ?", id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: delete %s: %w", id, err)
	}
	return nil
}
