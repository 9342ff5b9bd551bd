package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

var _ Store = (*Postgres)(nil)

// uniqueViolation is PostgreSQL's SQLSTATE for a unique constraint.
const uniqueViolation = "23505"

// TunnelName implements Names.
func (s *Postgres) TunnelName(ctx context.Context, key string) (string, bool, error) {
	var name string
	err := s.conn().QueryRowContext(ctx, "SELECT name FROM tunnel_names WHERE key = ?", key).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: tunnel name: %w", err)
	}
	return name, true, nil
}

// AllocateTunnelName implements Names: the name's unique index decides
// between two edges allocating it at once.
func (s *Postgres) AllocateTunnelName(ctx context.Context, key, name string) error {
	_, err := s.conn().ExecContext(ctx, "INSERT INTO tunnel_names (key, name) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET name = excluded.name", key, name)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation {
		return ErrNameTaken
	}
	if err != nil {
		return fmt.Errorf("store: allocate tunnel name: %w", err)
	}
	return nil
}

// RouteToken implements Tokens. INSERT … ON CONFLICT DO NOTHING then
// SELECT: edges using a route first at once agree on one token.
func (s *Postgres) RouteToken(ctx context.Context, tunnel, path string, create func() string) (string, error) {
	c := s.conn()
	if _, err := c.ExecContext(ctx, "INSERT INTO route_tokens (tunnel, path, token) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", tunnel, path, create()); err != nil {
		return "", fmt.Errorf("store: route token: %w", err)
	}
	var token string
	if err := c.QueryRowContext(ctx, "SELECT token FROM route_tokens WHERE tunnel = ? AND path = ?", tunnel, path).Scan(&token); err != nil {
		return "", fmt.Errorf("store: route token: %w", err)
	}
	return token, nil
}

// conn is the store's pool, speaking SQLite's placeholders.
func (s *Postgres) conn() rebound { return rebound{s.db} }

// inTx runs fn in a transaction with opts, given the transaction speaking
// SQLite's placeholders, and commits it.
func (s *Postgres) inTx(ctx context.Context, opts *sql.TxOptions, fn func(tx rebound) error) error {
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(rebound{tx}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// snapshot is a read transaction that sees one snapshot throughout (a
// message and its attempts), as SQLite's do.
func snapshot() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}
