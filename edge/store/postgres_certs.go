package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

var _ Certs = (*Postgres)(nil)

// certClock is the database's clock in Unix nanoseconds: a certificate
// lock is judged against it, one clock for every edge (LockCert has no
// now; its until comes from the edge that takes it).
const certClock = `(extract(epoch FROM clock_timestamp()) * 1000000000)::bigint`

// GetCert returns key's data, or ErrCertMiss.
func (s *Postgres) GetCert(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	err := s.db.QueryRowContext(ctx, `SELECT data FROM certs WHERE key = $1`, key).Scan(&data)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, ErrCertMiss
	case err != nil:
		return nil, fmt.Errorf("store: get certificate: %w", err)
	}
	return data, nil
}

// PutCert writes key's data, replacing what was there.
func (s *Postgres) PutCert(ctx context.Context, key string, data []byte) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO certs (key, data) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, updated_at = now()`, key, data)
	if err != nil {
		return fmt.Errorf("store: put certificate: %w", err)
	}
	return nil
}

// DeleteCert removes key; a missing key is no error.
func (s *Postgres) DeleteCert(ctx context.Context, key string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM certs WHERE key = $1`, key); err != nil {
		return fmt.Errorf("store: delete certificate: %w", err)
	}
	return nil
}

// LockCert takes key's lock for owner until until: when nobody holds it,
// when owner does (it is extended), or when its holder's lease has lapsed
// by the database's clock. One statement: of two edges asking at once,
// one gets it.
func (s *Postgres) LockCert(ctx context.Context, key, owner string, until time.Time) (bool, error) {
	rows, err := s.db.QueryContext(ctx, `INSERT INTO cert_locks (key, owner, until) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
		WHERE cert_locks.owner = EXCLUDED.owner OR cert_locks.until < `+certClock+`
		RETURNING 1`, key, owner, unixNano(until))
	if err != nil {
		return false, fmt.Errorf("store: lock certificate: %w", err)
	}
	defer rows.Close()
	taken := rows.Next()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("store: lock certificate: %w", err)
	}
	return taken, nil
}

// UnlockCert releases owner's lock on key; another owner's stays.
func (s *Postgres) UnlockCert(ctx context.Context, key, owner string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM cert_locks WHERE key = $1 AND owner = $2`, key, owner); err != nil {
		return fmt.Errorf("store: unlock certificate: %w", err)
	}
	return nil
}
