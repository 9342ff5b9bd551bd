package store

import (
	"context"
	"fmt"
)

// RecordAudit implements Audit.
func (s *Postgres) RecordAudit(ctx context.Context, e AuditEntry) error {
	if err := checkAudit(e); err != nil {
		return err
	}
	if _, err := s.conn().ExecContext(ctx, insertAuditQuery, unixNano(e.At), e.Actor, e.Action, e.Target, e.Detail); err != nil {
		return fmt.Errorf("store: record audit %s: %w", e.Action, err)
	}
	return nil
}

// AuditLog implements Audit, as SQLite's. Ids come from a sequence: on
// several edges they are unique and increase, but a listing may see an
// entry appear below one it already listed (the later id committed
// first); the cursor still never lists one twice.
func (s *Postgres) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	return auditLog(ctx, s.conn(), f)
}
