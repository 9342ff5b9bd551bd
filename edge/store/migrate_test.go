package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

// eventMigration is the migration that rebuilds messages with the event
// column; the database below is made by the ones before it.
const eventMigration = 5

// TestMigrateEventKeepsMessagesAndAttempts: a journal written by the
// schema before the event column, messages and their attempts, comes
// through the table rebuild whole: every message, every attempt (the drop
// of the old table does not cascade to them), the indexes, the foreign key
// that still cascades, and event among the small columns.
func TestMigrateEventKeepsMessagesAndAttempts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hooktunnel.db")
	old, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(ON)")
	if err != nil {
		t.Fatal(err)
	}
	old.SetMaxOpenConns(1)
	for i, m := range migrations[:eventMigration-1] {
		if _, err := old.Exec(m); err != nil {
			t.Fatalf("migration %d: %v", i+1, err)
		}
	}
	if _, err := old.Exec(fmt.Sprintf("PRAGMA user_version = %d", eventMigration-1)); err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := range n {
		id := fmt.Sprintf("m%02d", i)
		_, err := old.Exec(`INSERT INTO messages (id, received_at, tunnel, route, method, path,
			decision, provider, delivery_id, status, queue, next_attempt_at, headers, body, response_body, attempts)
			VALUES (?, ?, 'gh', '/hook', 'POST', '/hook', 'queued', 'github', ?, 202, ?, ?, '{"X-Github-Event":["push"]}', ?, 'ok', 2)`,
			id, t0.UnixNano()+int64(i), "dlv-"+id, map[bool]string{true: "pending", false: "delivered"}[i%2 == 0],
			t0.UnixNano(), []byte(`{"n":`+fmt.Sprint(i)+`}`))
		if err != nil {
			t.Fatal(err)
		}
		for a := 1; a <= 2; a++ {
			if _, err := old.Exec(`INSERT INTO attempts (message_id, n, at, status) VALUES (?, ?, ?, 500)`, id, a, t0.UnixNano()); err != nil {
				t.Fatal(err)
			}
		}
	}
	old.Close()

	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	var version int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("user_version = %d (%v), want %d", version, err, len(migrations))
	}
	page, err := s.Messages(ctx, Filter{Limit: maxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != n {
		t.Fatalf("%d messages after the migration, want %d", len(page.Messages), n)
	}
	m, err := s.Message(ctx, "m07")
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Body) != `{"n":7}` || m.DeliveryID != "dlv-m07" || m.Provider != "github" || len(m.Attempts) != 2 || m.Header.Get("X-Github-Event") != "push" {
		t.Errorf("message after the migration: %+v", m)
	}
	if count, _, err := s.Depth(ctx, t0); err != nil || count != n/2 {
		t.Errorf("Depth = %d, %v; want the %d pending messages", count, err, n/2)
	}

	// The schema: event before the large columns, the indexes back.
	var cols []string
	rows, err := s.db.Query("SELECT name FROM pragma_table_info('messages') ORDER BY cid")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		rows.Scan(&c)
		cols = append(cols, c)
	}
	rows.Close()
	if e, h := slices.Index(cols, "event"), slices.Index(cols, "headers"); e < 0 || e > h {
		t.Errorf("columns %v: event must come before headers and the bodies", cols)
	}
	for _, idx := range []string{"messages_tunnel", "messages_route", "messages_decision", "messages_status_class", "messages_due", "messages_pending", "sqlite_autoindex_messages_1"} {
		var name string
		if err := s.db.QueryRow("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'messages' AND name = ?", idx).Scan(&name); err != nil {
			t.Errorf("index %s after the migration: %v", idx, err)
		}
	}
	var fk string
	if err := s.db.QueryRow("SELECT \"table\" FROM pragma_foreign_key_list('attempts')").Scan(&fk); err != nil || fk != "messages" {
		t.Errorf("attempts' foreign key points at %q (%v), want messages", fk, err)
	}

	// Foreign keys are on again on the pool's connections: deleting a
	// message takes its attempts with it.
	if err := s.DeleteMessage(ctx, "m03"); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := s.db.QueryRow("SELECT count(*) FROM attempts WHERE message_id = 'm03'").Scan(&left); err != nil || left != 0 {
		t.Errorf("%d attempts of a deleted message left (%v)", left, err)
	}
	if err := s.db.QueryRow("SELECT count(*) FROM attempts").Scan(&left); err != nil || left != 2*(n-1) {
		t.Errorf("%d attempts in all, want %d", left, 2*(n-1))
	}
	// Reopening applies nothing more.
	s.Close()
	if s, err = OpenSQLite(ctx, path); err != nil {
		t.Fatal(err)
	}
}
