package store

import (
	"context"
	"database/sql"
	"fmt"
)

// RecordAll stores several new messages in one transaction: the edge's
// journal writer batches what arrived while the previous write ran, so a
// busy edge pays one commit for many webhooks.
func (s *SQLite) RecordAll(ctx context.Context, ms []*Message) error {
	for _, m := range ms {
		if err := normalize(m); err != nil {
			return fmt.Errorf("store: record: %w", err)
		}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, m := range ms {
			if err := insertMessage(ctx, tx, m, nil); err != nil {
				return err
			}
			if err := insertAttempts(ctx, tx, m.ID, m.Attempts); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: record %d messages: %w", len(ms), err)
	}
	return nil
}
