package store

import (
	"context"
	"fmt"
	"math/bits"
	"strings"
	"sync"
)

// Record implements Journal: one statement, the message and its attempts
// together (see insertWithAttempts).
func (s *Postgres) Record(ctx context.Context, m *Message) error {
	if err := normalize(m); err != nil {
		return fmt.Errorf("store: record: %w", err)
	}
	if err := insertWithAttempts(ctx, s.conn(), m, nil); err != nil {
		return fmt.Errorf("store: record %s: %w", m.ID, err)
	}
	return nil
}

// RecordAll implements Journal: one transaction, one statement per
// message.
func (s *Postgres) RecordAll(ctx context.Context, ms []*Message) error {
	for _, m := range ms {
		if err := normalize(m); err != nil {
			return fmt.Errorf("store: record: %w", err)
		}
	}
	// As SQLite's (insertRows); the driver prepares each of the few
	// statement texts once per connection.
	err := s.inTx(ctx, nil, func(tx rebound) error {
		return insertRows(ms, func(messages bool, rows int, args []any) error {
			_, err := tx.c.ExecContext(ctx, pgInsertQuery(messages, rows), pgArgs(args)...)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("store: record %d messages: %w", len(ms), err)
	}
	return nil
}

// pgInsertQuery is insertQuery rebound for PostgreSQL, made once for each
// size.
func pgInsertQuery(messages bool, rows int) string {
	k := bits.Len(uint(rows)) - 1
	set := &pgInserts.attempts
	if messages {
		set = &pgInserts.messages
	}
	pgInserts.mu.Lock()
	defer pgInserts.mu.Unlock()
	if set[k] == "" {
		set[k] = rebind(insertQuery(messages, rows))
	}
	return set[k]
}

var pgInserts struct {
	mu                 sync.Mutex
	messages, attempts [insertSizes]string
}

// insertWithAttempts stores a new message and its attempts in one
// statement (a single round trip, atomic without a transaction): the
// message's INSERT, shared with SQLite, in a WITH, and the attempts
// unnested from arrays. nextAttempt is as insertMessage's.
func insertWithAttempts(ctx context.Context, ex execer, m *Message, nextAttempt any) error {
	args, err := messageArgs(m, nextAttempt)
	if err != nil {
		return err
	}
	if len(m.Attempts) == 0 {
		_, err = ex.ExecContext(ctx, insertMessageQuery, args...)
		return err
	}
	n := make([]int32, len(m.Attempts))
	at := make([]int64, len(m.Attempts))
	status := make([]int32, len(m.Attempts))
	errs := make([]string, len(m.Attempts))
	dur := make([]int64, len(m.Attempts))
	edge := make([]string, len(m.Attempts))
	for i, a := range m.Attempts {
		n[i], at[i], status[i], dur[i] = int32(a.N), unixNano(a.At), int32(a.Status), int64(a.Duration)
		errs[i], edge[i] = pgText(a.Error), pgText(a.Edge)
	}
	_, err = ex.ExecContext(ctx, `WITH m AS (`+insertMessageQuery+` RETURNING id)
		INSERT INTO attempts (message_id, n, at, status, error, duration_ns, edge)
		SELECT m.id, a.n, a.at, a.status, a.error, a.duration_ns, a.edge
		FROM m, unnest(?::integer[], ?::bigint[], ?::integer[], ?::text[], ?::bigint[], ?::text[])
			AS a (n, at, status, error, duration_ns, edge)
		ON CONFLICT (message_id, n) DO NOTHING`,
		append(args, n, at, status, errs, dur, edge)...)
	return err
}

// Message implements Journal.
func (s *Postgres) Message(ctx context.Context, id string) (*Message, error) {
	var m *Message
	err := s.inTx(ctx, snapshot(), func(tx rebound) error {
		var err error
		m, err = readMessage(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: message %s: %w", id, err)
	}
	return m, nil
}

// Messages implements Journal, as SQLite's.
func (s *Postgres) Messages(ctx context.Context, f Filter) (Page, error) {
	return listMessages(ctx, s.conn(), dialectPostgres, f)
}

// pgTextSearch is Filter.Text on PostgreSQL. ILIKE under the "C"
// collation folds ASCII letters only, as SQLite's LIKE does, whatever the
// database's locale. The bytea body is searched in its escape format
// (encode(body, 'escape')), where a NUL byte or one above 0x7f is \ooo
// and a backslash is doubled: byteaEscape writes the searched text so.
// Unlike SQLite's, the body's search does not end at a NUL byte. The
// body comes last: OR stops at the first term that matches.
const pgTextSearch = `(path COLLATE "C" ILIKE ? OR event COLLATE "C" ILIKE ?
			OR delivery_id COLLATE "C" ILIKE ? OR headers COLLATE "C" ILIKE ?
			OR encode(body, 'escape') COLLATE "C" ILIKE ?)`

// byteaEscape writes s's bytes as encode(…, 'escape') does.
func byteaEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == 0 || c >= 0x80:
			fmt.Fprintf(&b, `\%03o`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// DeleteMessage implements Deleter; the attempts go with the message (ON
// DELETE CASCADE).
func (s *Postgres) DeleteMessage(ctx context.Context, id string) error {
	res, err := s.conn().ExecContext(ctx, "DELETE FROM messages WHERE id = ?", id)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("store: delete %s: %w", id, err)
	}
	return nil
}
