package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	_ "modernc.org/sqlite" // pure-Go driver: no cgo on the edge
)

// SQLite is the embedded store: one database file in the data directory.
type SQLite struct {
	db *sql.DB
}

var (
	_ Names  = (*SQLite)(nil)
	_ Tokens = (*SQLite)(nil)
)

// migrations are applied in order; PRAGMA user_version counts the applied
// ones. Append, never edit.
var migrations = []string{
	`CREATE TABLE tunnel_names (
		key  TEXT PRIMARY KEY,
		name TEXT NOT NULL UNIQUE,
		created_at INTEGER NOT NULL DEFAULT (unixepoch())
	)`,
	`CREATE TABLE route_tokens (
		tunnel TEXT NOT NULL,
		path   TEXT NOT NULL,
		token  TEXT NOT NULL,
		created_at INTEGER NOT NULL DEFAULT (unixepoch()),
		PRIMARY KEY (tunnel, path)
	)`,
}

// OpenSQLite opens (creating if needed) the database at path and migrates it.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &SQLite{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return s, nil
}

func (s *SQLite) migrate(ctx context.Context) error {
	var version int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("database schema %d is newer than this build knows (%d)", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the database. It is idempotent.
func (s *SQLite) Close() error { return s.db.Close() }

// TunnelName implements Names.
func (s *SQLite) TunnelName(ctx context.Context, key string) (string, bool, error) {
	var name string
	err := s.db.QueryRowContext(ctx, "SELECT name FROM tunnel_names WHERE key = ?", key).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: tunnel name: %w", err)
	}
	return name, true, nil
}

// AllocateTunnelName implements Names.
func (s *SQLite) AllocateTunnelName(ctx context.Context, key, name string) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO tunnel_names (key, name) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET name = excluded.name", key, name)
	if err != nil && strings.Contains(err.Error(), "UNIQUE") {
		return ErrNameTaken
	}
	if err != nil {
		return fmt.Errorf("store: allocate tunnel name: %w", err)
	}
	return nil
}

// RouteToken implements Tokens.
func (s *SQLite) RouteToken(ctx context.Context, tunnel, path string, create func() string) (string, error) {
	// INSERT OR IGNORE then SELECT: concurrent first uses agree on one token.
	if _, err := s.db.ExecContext(ctx, "INSERT OR IGNORE INTO route_tokens (tunnel, path, token) VALUES (?, ?, ?)", tunnel, path, create()); err != nil {
		return "", fmt.Errorf("store: route token: %w", err)
	}
	var token string
	if err := s.db.QueryRowContext(ctx, "SELECT token FROM route_tokens WHERE tunnel = ? AND path = ?", tunnel, path).Scan(&token); err != nil {
		return "", fmt.Errorf("store: route token: %w", err)
	}
	return token, nil
}
