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
	err := s.writeWithBodies(ctx, ms, func(tx *sql.Tx) error {
		ex := &preparedExec{tx: tx}
		defer ex.close()
		for _, m := range ms {
			if err := insertMessage(ctx, ex, m, nil); err != nil {
				return err
			}
			if err := insertAttemptRows(ctx, ex, m.ID, m.Attempts); err != nil {
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

// preparedExec runs each distinct statement of a transaction through one
// prepared statement: parsing the SQL again for every message of a batch
// cost as much as storing it.
type preparedExec struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func (p *preparedExec) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, ok := p.stmts[query]
	if !ok {
		var err error
		if st, err = p.tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		if p.stmts == nil {
			p.stmts = map[string]*sql.Stmt{}
		}
		p.stmts[query] = st
	}
	return st.ExecContext(ctx, args...)
}

func (p *preparedExec) close() {
	for _, st := range p.stmts {
		st.Close()
	}
}
