package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"

	"modernc.org/sqlite" // pure-Go driver: no cgo on the edge; its *Error carries the result code
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite is the embedded store: one database file in the data directory.
type SQLite struct {
	db *sql.DB
	// files holds the large request bodies (bodyfiles.go).
	files *bodyFiles
	// w is the journal's and queue's writer: one connection, whose
	// transactions BEGIN IMMEDIATE. SQLite has one writer at a time; queueing
	// writers here (honouring their contexts) instead of in SQLite means a
	// read-then-write transaction never fails with SQLITE_BUSY on upgrade,
	// and busy_timeout only has to cover the other process-level writers.
	// Reads go through db, and in WAL mode never wait for a writer.
	w *sql.DB
	// inserts are RecordAll's statements, prepared on w (batch.go).
	inserts batchInserts
}

var _ Store = (*SQLite)(nil)

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
	// The journal. Times are Unix nanoseconds. The large columns come last:
	// SQLite reads a row's record from the front and stops at the last
	// column a query needs, so listings that skip bodies never touch the
	// overflow pages holding them.
	`CREATE TABLE messages (
		id              TEXT PRIMARY KEY,
		received_at     INTEGER NOT NULL,
		tunnel          TEXT NOT NULL,
		route           TEXT NOT NULL DEFAULT '',
		source_ip       TEXT NOT NULL DEFAULT '',
		method          TEXT NOT NULL DEFAULT '',
		path            TEXT NOT NULL DEFAULT '',
		query           TEXT NOT NULL DEFAULT '',
		body_size       INTEGER NOT NULL DEFAULT 0,
		body_truncated  INTEGER NOT NULL DEFAULT 0,
		decision        TEXT NOT NULL DEFAULT '',
		reason          TEXT NOT NULL DEFAULT '',
		detail          TEXT NOT NULL DEFAULT '',
		provider        TEXT NOT NULL DEFAULT '',
		secret_ref      TEXT NOT NULL DEFAULT '',
		delivery_id     TEXT NOT NULL DEFAULT '',
		client_cert     TEXT NOT NULL DEFAULT '',
		replay_of       TEXT NOT NULL DEFAULT '',
		status          INTEGER NOT NULL DEFAULT 0,
		duration_ns     INTEGER NOT NULL DEFAULT 0,
		queue           TEXT NOT NULL DEFAULT '',
		next_attempt_at INTEGER,
		attempts        INTEGER NOT NULL DEFAULT 0,
		headers          TEXT,
		response_headers TEXT,
		body            BLOB,
		response_body   BLOB
	);
	-- Listings are "filter ORDER BY id DESC LIMIT n": an index ending in id
	-- per common filter lets SQLite walk it newest first and stop at n.
	CREATE INDEX messages_tunnel ON messages (tunnel, id);
	CREATE INDEX messages_route ON messages (route, id);
	CREATE INDEX messages_decision ON messages (decision, id);
	CREATE INDEX messages_status_class ON messages (status / 100, id);
	-- Purge by age.
	CREATE INDEX messages_received_at ON messages (received_at);
	-- The queue worker's Due.
	CREATE INDEX messages_due ON messages (queue, next_attempt_at);
	-- Enqueue's per-route bounds and Depth, answered from the index alone;
	-- partial, so it holds only the (few) pending messages.
	CREATE INDEX messages_pending ON messages (tunnel, route, body_size, received_at)
		WHERE queue = 'pending';

	CREATE TABLE attempts (
		message_id  TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
		n           INTEGER NOT NULL,
		at          INTEGER NOT NULL,
		status      INTEGER NOT NULL DEFAULT 0,
		error       TEXT NOT NULL DEFAULT '',
		duration_ns INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (message_id, n)
	) WITHOUT ROWID`,
	// The audit trail (audit.go): kept for good, never purged.
	// AUTOINCREMENT: ids are never reused, so the listing's cursor holds.
	`CREATE TABLE audit (
		id     INTEGER PRIMARY KEY AUTOINCREMENT,
		at     INTEGER NOT NULL,
		actor  TEXT NOT NULL,
		action TEXT NOT NULL,
		target TEXT NOT NULL DEFAULT '',
		detail TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX audit_action ON audit (action, id)`,
	// Purge by age walks the primary key (ids are time-ordered): one index
	// fewer to update on every webhook.
	`DROP INDEX messages_received_at`,
	// The provider's event (pull_request.opened, invoice.paid). ADD COLUMN
	// would put it after the bodies, and every listing would then read
	// them: rebuild the table with it among the small columns, as SQLite's
	// "other kinds of table schema changes" says (migrate turns foreign
	// keys off around it, so dropping messages does not cascade to
	// attempts, and checks them before committing).
	`CREATE TABLE messages_new (
		id              TEXT PRIMARY KEY,
		received_at     INTEGER NOT NULL,
		tunnel          TEXT NOT NULL,
		route           TEXT NOT NULL DEFAULT '',
		source_ip       TEXT NOT NULL DEFAULT '',
		method          TEXT NOT NULL DEFAULT '',
		path            TEXT NOT NULL DEFAULT '',
		query           TEXT NOT NULL DEFAULT '',
		body_size       INTEGER NOT NULL DEFAULT 0,
		body_truncated  INTEGER NOT NULL DEFAULT 0,
		decision        TEXT NOT NULL DEFAULT '',
		reason          TEXT NOT NULL DEFAULT '',
		detail          TEXT NOT NULL DEFAULT '',
		provider        TEXT NOT NULL DEFAULT '',
		event           TEXT NOT NULL DEFAULT '',
		secret_ref      TEXT NOT NULL DEFAULT '',
		delivery_id     TEXT NOT NULL DEFAULT '',
		client_cert     TEXT NOT NULL DEFAULT '',
		replay_of       TEXT NOT NULL DEFAULT '',
		status          INTEGER NOT NULL DEFAULT 0,
		duration_ns     INTEGER NOT NULL DEFAULT 0,
		queue           TEXT NOT NULL DEFAULT '',
		next_attempt_at INTEGER,
		attempts        INTEGER NOT NULL DEFAULT 0,
		headers          TEXT,
		response_headers TEXT,
		body            BLOB,
		response_body   BLOB
	);
	INSERT INTO messages_new (rowid, id, received_at, tunnel, route, source_ip,
		method, path, query, body_size, body_truncated, decision, reason, detail,
		provider, secret_ref, delivery_id, client_cert, replay_of, status,
		duration_ns, queue, next_attempt_at, attempts, headers, response_headers,
		body, response_body)
	SELECT rowid, id, received_at, tunnel, route, source_ip,
		method, path, query, body_size, body_truncated, decision, reason, detail,
		provider, secret_ref, delivery_id, client_cert, replay_of, status,
		duration_ns, queue, next_attempt_at, attempts, headers, response_headers,
		body, response_body FROM messages;
	DROP TABLE messages;
	ALTER TABLE messages_new RENAME TO messages;
	CREATE INDEX messages_tunnel ON messages (tunnel, id);
	CREATE INDEX messages_route ON messages (route, id);
	CREATE INDEX messages_decision ON messages (decision, id);
	CREATE INDEX messages_status_class ON messages (status / 100, id);
	CREATE INDEX messages_due ON messages (queue, next_attempt_at);
	CREATE INDEX messages_pending ON messages (tunnel, route, body_size, received_at)
		WHERE queue = 'pending'`,
	// The edge a message arrived at and the edge that made an attempt.
	// An SQLite store is one edge's, so both are "" here; the columns are
	// there so that messages and the code reading them are the same on
	// both backends. Unlike event (above), the messages' column goes after
	// the bodies, with no table rebuild: listings do not read it (see
	// listColumnsFor), only Message and Due, which read the bodies anyway.
	`ALTER TABLE messages ADD COLUMN edge TEXT NOT NULL DEFAULT '';
	ALTER TABLE attempts ADD COLUMN edge TEXT NOT NULL DEFAULT ''`,
	// Every index on messages is one more B-tree insert per webhook. A
	// filter's index pays for itself where the value filtered is rare:
	// a listing of a common value (forwarded, 2xx) walks the primary key
	// newest first and soon finds a page of them. So the decision and
	// status class indexes leave out the common values (Filter.where
	// repeats the partial index's condition, which is how SQLite knows it
	// may use it), and the queue's index holds only pending messages, as
	// it does on PostgreSQL. A forwarded webhook that got a 2xx updates
	// the table, its id and the tunnel and route indexes: three B-trees
	// fewer than before.
	`DROP INDEX messages_decision;
	CREATE INDEX messages_decision ON messages (decision, id) WHERE decision <> 'forwarded';
	DROP INDEX messages_status_class;
	CREATE INDEX messages_status_class ON messages (status / 100, id) WHERE status / 100 <> 2;
	DROP INDEX messages_due;
	CREATE INDEX messages_due ON messages (next_attempt_at, id) WHERE queue = 'pending'`,
}

// OpenSQLite opens (creating if needed) the database at path and migrates it.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	// mmap_size: reads of the journal come from the page cache without a
	// pread per page, which makes a listing that scans (a text search with
	// few matches) about four times faster. Writes still go through the WAL.
	if err := registerBodyFileSearch(); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := createSQLite(ctx, path); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=mmap_size(268435456)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &SQLite{db: db, files: &bodyFiles{dir: bodyDir(path)}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	if err := os.MkdirAll(s.files.dir, 0o700); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := s.files.sweep(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	s.w, err = sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	return s, nil
}

func (s *SQLite) migrate(ctx context.Context) (err error) {
	// One connection: PRAGMA foreign_keys is a connection's setting.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var version int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("database schema %d is newer than this build knows (%d)", version, len(migrations))
	}
	if version == len(migrations) {
		return nil
	}
	// SQLite's procedure for schema changes that rebuild a table: foreign
	// keys off (outside a transaction, where the pragma cannot change),
	// the change in a transaction that checks them before it commits, and
	// foreign keys back on. With them on, dropping a parent table would
	// delete its children (attempts) first.
	if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return err
	}
	defer func() {
		// Not ctx: the connection goes back to the pool, and must not go
		// back without its foreign keys.
		if _, e := conn.ExecContext(context.Background(), "PRAGMA foreign_keys = ON"); e != nil {
			err = errors.Join(err, fmt.Errorf("turning foreign keys back on: %w", e))
		}
	}()
	for i := version; i < len(migrations); i++ {
		if err := migrateOne(ctx, conn, i); err != nil {
			return err
		}
	}
	return nil
}

// migrateOne applies migrations[i] in one transaction on conn.
func migrateOne(ctx context.Context, conn *sql.Conn, i int) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
		return fmt.Errorf("migration %d: %w", i+1, err)
	}
	rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return fmt.Errorf("migration %d: foreign key check: %w", i+1, err)
	}
	broken := rows.Next()
	rows.Close()
	if broken {
		return fmt.Errorf("migration %d: it leaves rows whose foreign keys point nowhere", i+1)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
		return err
	}
	return tx.Commit()
}

// Close closes the database. It is idempotent.
func (s *SQLite) Close() error {
	s.inserts.close()
	return errors.Join(s.w.Close(), s.db.Close())
}

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
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
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
