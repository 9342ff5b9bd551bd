package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/hooktunnel/hooktunnel/test/pgtest"
)

// eachBackend runs fn, in parallel, on a fresh store of each backend: the
// embedded SQLite in a temporary directory and PostgreSQL on a fresh
// database (test/pgtest).
func eachBackend(t *testing.T, fn func(t *testing.T, s Store)) {
	t.Helper()
	eachDatabase(t, func(t *testing.T, open func() Store) { fn(t, open()) })
}

// eachDatabase is eachBackend for tests that open the database more than
// once (a restart, two edges): open returns a new handle on the same
// database each time, closed when the test ends.
func eachDatabase(t *testing.T, fn func(t *testing.T, open func() Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "hooktunnel.db")
		fn(t, func() Store {
			s, err := OpenSQLite(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := pgtest.URL(t)
		fn(t, func() Store { return openPostgresURL(t, url) })
	})
}

func openPostgresTest(tb testing.TB) *Postgres {
	tb.Helper()
	return openPostgresURL(tb, pgtest.URL(tb))
}

func openPostgresURL(tb testing.TB, url string) *Postgres {
	tb.Helper()
	s, err := OpenPostgres(context.Background(), url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// another opens a fresh, empty store of s's backend.
func another(tb testing.TB, s Store) Store {
	tb.Helper()
	if _, ok := s.(*Postgres); ok {
		return openPostgresTest(tb)
	}
	return openTest(tb)
}

// queryInt runs a query (SQLite's placeholders) returning one integer on
// s's database, as the store itself would.
func queryInt(tb testing.TB, s Store, query string, args ...any) int64 {
	tb.Helper()
	var n int64
	var err error
	switch s := s.(type) {
	case *SQLite:
		err = s.db.QueryRow(query, args...).Scan(&n)
	case *Postgres:
		err = s.conn().QueryRowContext(context.Background(), query, args...).Scan(&n)
	default:
		tb.Fatalf("no database behind %T", s)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// inTestTx runs fn in a write transaction of s's backend.
func inTestTx(tb testing.TB, s Store, fn func(tx sqlConn) error) {
	tb.Helper()
	ctx := context.Background()
	var err error
	switch s := s.(type) {
	case *SQLite:
		err = s.write(ctx, func(tx *sql.Tx) error { return fn(tx) })
	case *Postgres:
		err = s.inTx(ctx, nil, func(tx rebound) error { return fn(tx) })
	default:
		tb.Fatalf("no database behind %T", s)
	}
	if err != nil {
		tb.Fatal(err)
	}
}
