package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AuditEntry is one admin action: who did what, to what, when. Audit
// entries are kept for good: the retention purge of the journal never
// touches them, and deleting a message leaves the entry that says so.
type AuditEntry struct {
	ID int64     `json:"id"`
	At time.Time `json:"at"`
	// Actor is who acted: "admin" (the bearer admin token), "local" (the
	// loopback admin listener without a token), "inspector:<tunnel>" (an
	// agent's inspector), or "signal" (SIGHUP).
	Actor string `json:"actor"`
	// Action is a stable code: message.replay, message.delete,
	// config.reload, token.issued, token.revoked.
	Action string `json:"action"`
	// Target is what was acted on: a message id, an agent name.
	Target string `json:"target,omitempty"`
	// Detail is one line of context, never a secret.
	Detail string `json:"detail,omitempty"`
}

// AuditFilter selects audit entries; zero fields select everything.
type AuditFilter struct {
	Action string
	Since  time.Time
	// Before is the cursor: list entries with a lower id.
	Before int64
	Limit  int
}

// Audit is the audit trail of admin actions.
type Audit interface {
	// RecordAudit stores an entry; At, Actor and Action are required.
	RecordAudit(ctx context.Context, e AuditEntry) error
	// AuditLog lists entries newest first (by id).
	AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

var _ Audit = (*SQLite)(nil)

// Audit listing limits.
const (
	defaultAuditLimit = 50
	maxAuditLimit     = 500
)

// RecordAudit implements Audit.
func (s *SQLite) RecordAudit(ctx context.Context, e AuditEntry) error {
	if err := checkAudit(e); err != nil {
		return err
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, insertAuditQuery, unixNano(e.At), e.Actor, e.Action, e.Target, e.Detail)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: record audit %s: %w", e.Action, err)
	}
	return nil
}

const insertAuditQuery = `INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)`

// checkAudit refuses an entry without its required fields.
func checkAudit(e AuditEntry) error {
	switch {
	case e.At.IsZero():
		return errors.New("store: record audit: at is not set")
	case e.Actor == "" || e.Action == "":
		return errors.New("store: record audit: actor and action are required")
	}
	return nil
}

// AuditLog implements Audit.
func (s *SQLite) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	return auditLog(ctx, s.db, f)
}

// auditLog is AuditLog on c.
func auditLog(ctx context.Context, c querier, f AuditFilter) ([]AuditEntry, error) {
	var where []string
	var args []any
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, unixNano(f.Since))
	}
	if f.Before > 0 {
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	limit = min(limit, maxAuditLimit)
	q := "SELECT id, at, actor, action, target, detail FROM audit"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	rows, err := c.QueryContext(ctx, q, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, fmt.Errorf("store: audit log: %w", err)
		}
		e.At = fromUnixNano(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	return out, nil
}
