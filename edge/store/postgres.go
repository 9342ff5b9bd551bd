package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver: the SQL helpers the SQLite store uses serve both
)

// Postgres is the store several edges share: every piece of state that
// must be the same whichever edge is asked.
type Postgres struct {
	db *sql.DB
}

// migrationLock is the advisory lock key under which edges migrate: the
// first to take it migrates, the others wait and find the schema current.
const migrationLock = 0x686f6f6b74756e // "hooktun"

// OpenPostgres connects to the database at url (postgres://…) and migrates
// its schema. Errors never carry the URL's password.
func OpenPostgres(ctx context.Context, rawURL string) (*Postgres, error) {
	db, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", Redact(rawURL), redactErr(err, rawURL))
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	s := &Postgres{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", Redact(rawURL), redactErr(err, rawURL))
	}
	return s, nil
}

// CheckPostgres connects to url and reports whether its schema is
// current, without changing it (hooktunnel edge --check).
func CheckPostgres(ctx context.Context, rawURL string) error {
	db, err := sql.Open("pgx", rawURL)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", Redact(rawURL), redactErr(err, rawURL))
	}
	defer db.Close()
	version, err := schemaVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("store: %s: %w", Redact(rawURL), redactErr(err, rawURL))
	}
	switch {
	case version > len(postgresMigrations):
		return fmt.Errorf("store: %s: database schema %d is newer than this build knows (%d)", Redact(rawURL), version, len(postgresMigrations))
	case version < len(postgresMigrations):
		return fmt.Errorf("%w: %s: it is at %d of %d; the first edge to start migrates it", ErrSchemaBehind, Redact(rawURL), version, len(postgresMigrations))
	}
	return nil
}

// ErrSchemaBehind is CheckPostgres's answer for a reachable database whose
// schema is older than this build's (or empty): starting an edge migrates
// it, so it is a warning, not a failure.
var ErrSchemaBehind = errors.New("store: the database schema is behind this build")

func (s *Postgres) migrate(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// A session lock: held across the migrations' transactions, released
	// when the connection closes, even if this edge dies half-way.
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock)
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`); err != nil {
		return err
	}
	var version int
	err = conn.QueryRowContext(ctx, "SELECT version FROM schema_version").Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := conn.ExecContext(ctx, "INSERT INTO schema_version VALUES (0)"); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if version > len(postgresMigrations) {
		return fmt.Errorf("database schema %d is newer than this build knows (%d)", version, len(postgresMigrations))
	}
	for i := version; i < len(postgresMigrations); i++ {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, postgresMigrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE schema_version SET version = $1", i+1); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var exists bool
	if err := db.QueryRowContext(ctx, "SELECT to_regclass('schema_version') IS NOT NULL").Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, nil
	}
	var version int
	err := db.QueryRowContext(ctx, "SELECT version FROM schema_version").Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return version, err
}

// Close closes the connections. It is idempotent.
func (s *Postgres) Close() error { return s.db.Close() }

// Redact is a database URL fit for a log line or an error: its password
// replaced by "xxxxx".
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		if err != nil {
			return "(a database URL that does not parse)"
		}
		return rawURL
	}
	return u.Redacted()
}

// redactErr removes the URL's password from a driver's error, which may
// quote the connection string.
func redactErr(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}

// rebind turns a query written with SQLite's ? placeholders into
// PostgreSQL's $1, $2, …, so both backends share the query text. A
// numbered ?N (SQLite's way of using an argument twice) becomes $N.
func rebind(q string) string {
	var b strings.Builder
	n := 0
	inString := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			inString = !inString
			b.WriteByte(c)
		case c == '?' && !inString && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
			b.WriteByte('$')
		case c == '?' && !inString:
			n++
			fmt.Fprintf(&b, "$%d", n)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
