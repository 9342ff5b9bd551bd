package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// Due's batch size when the caller gives none, and its ceiling.
const (
	defaultDueLimit = 100
	maxDueLimit     = 1000
)

// The queue's queries; TestQueryPlans checks the index each one uses.
const (
	// queueSizeQuery is a route's queue, answered from messages_pending.
	queueSizeQuery = `SELECT count(*), coalesce(sum(body_size), 0)
		FROM messages WHERE queue = 'pending' AND tunnel = ? AND route = ?`
	// dueQuery walks messages_due and stops at the limit.
	dueQuery = "SELECT " + fullColumns + ` FROM messages
		WHERE queue = 'pending' AND next_attempt_at <= ?
		ORDER BY next_attempt_at, id LIMIT ?`
	// depthQuery names its index: left to itself SQLite picks messages_due
	// and reads every pending row for received_at, where messages_pending
	// covers the query.
	depthQuery = `SELECT count(*), min(received_at)
		FROM messages INDEXED BY messages_pending WHERE queue = 'pending'`
)

// Enqueue implements Queue. The bounds are per tunnel and route, counted in
// the same transaction as the insert, so concurrent enqueues cannot overshoot
// them. The commit is made with synchronous=FULL: the WAL is fsynced before
// Enqueue returns, so the 202 the edge then sends survives a power cut, not
// just a crash of the process (the journal's other writes keep the cheaper
// NORMAL).
//
// On ErrQueueFull nothing is stored: the edge journals the refusal itself.
// A message whose body was not kept whole is refused too: delivering it
// later would send the app something the provider never sent.
func (s *SQLite) Enqueue(ctx context.Context, m *Message, maxCount int, maxBytes int64) error {
	return s.store(ctx, "enqueue", m, QueuePending, maxCount, maxBytes)
}

// Hold implements Queue: as Enqueue, with state held and no bounds. A
// held message is the route's filter's refusal kept for an operator, not
// a delivery the queue owes: it is not counted in the route's bounds (a
// flood of unwanted events would otherwise block the wanted ones), and
// retention purges it like a delivered one. Release counts it.
func (s *SQLite) Hold(ctx context.Context, m *Message) error {
	return s.store(ctx, "hold", m, QueueHeld, 0, 0)
}

// store commits m in queue state state: Enqueue and Hold.
func (s *SQLite) store(ctx context.Context, op string, m *Message, state string, maxCount int, maxBytes int64) error {
	return storeQueued(ctx, op, m, state, maxCount, maxBytes, s.enqueue)
}

// storeQueued is Enqueue and Hold on either backend: it checks m and
// commits it with enqueue, given the message, its next_attempt_at (nil
// when held) and the bounds.
func storeQueued(ctx context.Context, op string, m *Message, state string, maxCount int, maxBytes int64,
	enqueue func(ctx context.Context, m *Message, next any, maxCount int, maxBytes int64) error) error {
	if err := normalize(m); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if m.BodyTruncated || int64(len(m.Body)) < m.BodySize {
		return fmt.Errorf("store: %s %s: body of %d bytes was not kept whole (%d kept)",
			op, m.ID, m.BodySize, len(m.Body))
	}
	prev := m.Queue
	m.Queue = state
	var next any // NULL: a held message has no next attempt
	if state == QueuePending {
		next = m.ReceivedAt.UnixNano()
	}
	if err := enqueue(ctx, m, next, maxCount, maxBytes); err != nil {
		m.Queue = prev
		if errors.Is(err, ErrQueueFull) {
			return err
		}
		return fmt.Errorf("store: %s %s: %w", op, m.ID, err)
	}
	return nil
}

// Release implements Queue. The bounds are counted in the same
// transaction as the change of state, as Enqueue's.
func (s *SQLite) Release(ctx context.Context, id string, now time.Time, maxCount int, maxBytes int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		return release(ctx, tx, dialectSQLite, id, now, maxCount, maxBytes)
	})
	if err != nil {
		return fmt.Errorf("store: release %s: %w", id, err)
	}
	return nil
}

// release is Release in tx, on d: on PostgreSQL the message's row is
// locked and the route's queue with it (lockRoute), as Enqueue locks it.
func release(ctx context.Context, tx sqlConn, d dialect, id string, now time.Time, maxCount int, maxBytes int64) error {
	query := `SELECT tunnel, route, queue, body_size FROM messages WHERE id = ?`
	if d == dialectPostgres {
		query += ` FOR UPDATE`
	}
	var tunnel, route, state string
	var size int64
	err := tx.QueryRowContext(ctx, query, id).Scan(&tunnel, &route, &state, &size)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	} else if err != nil {
		return err
	}
	if state != QueueHeld {
		return fmt.Errorf("%w: its queue state is %q", ErrNotHeld, state)
	}
	if d == dialectPostgres {
		if err := lockRoute(ctx, tx, tunnel, route, maxCount, maxBytes); err != nil {
			return err
		}
	}
	if err := fits(ctx, tx, tunnel, route, size, maxCount, maxBytes); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE messages SET queue = 'pending', next_attempt_at = ?
			WHERE id = ? AND queue = 'held'`, now.UnixNano(), id)
	return err
}

func (s *SQLite) enqueue(ctx context.Context, m *Message, next any, maxCount int, maxBytes int64) (err error) {
	// A large body's file is fsynced before the commit (bodyfiles.go). A
	// full queue refuses before it is written: under backpressure the
	// disk is what is short. The count in the transaction still decides.
	if fileable(m) {
		if err := fits(ctx, s.db, m.Tunnel, m.Route, m.BodySize, maxCount, maxBytes); err != nil {
			return err
		}
	}
	ms := []*Message{m}
	ids, err := s.files.write(ms)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			s.files.undo(ms, ids)
		}
		m.inFile = false
	}()
	return s.writeDurably(ctx, func(tx *sql.Tx) error {
		if err := fits(ctx, tx, m.Tunnel, m.Route, m.BodySize, maxCount, maxBytes); err != nil {
			return err
		}
		if err := insertMessage(ctx, tx, m, next); err != nil {
			return err
		}
		return insertAttempts(ctx, tx, m.ID, m.Attempts)
	})
}

// fits counts the route's pending messages in tx and returns ErrQueueFull
// when one more, of size bytes, would pass maxCount or maxBytes (0: no
// bound): the bounds Enqueue and Release keep. Without bounds it reads
// nothing.
func fits(ctx context.Context, tx sqlConn, tunnel, route string, size int64, maxCount int, maxBytes int64) error {
	if maxCount <= 0 && maxBytes <= 0 {
		return nil // no bound (Hold, or a route without one): nothing to count
	}
	var count int
	var bytes int64
	if err := tx.QueryRowContext(ctx, queueSizeQuery, tunnel, route).Scan(&count, &bytes); err != nil {
		return err
	}
	if (maxCount > 0 && count+1 > maxCount) || (maxBytes > 0 && bytes+size > maxBytes) {
		return fmt.Errorf("%w: %s %s holds %d messages, %d bytes", ErrQueueFull, tunnel, route, count, bytes)
	}
	return nil
}

// Due implements Queue. Messages come in order of their next attempt, which
// for messages not tried yet is arrival order; a message backing off after
// a failure lets the ones behind it through rather than holding up its
// route. Each comes with its attempts, so the worker knows the next n.
func (s *SQLite) Due(ctx context.Context, now time.Time, limit int) ([]Message, error) {
	if limit <= 0 {
		limit = defaultDueLimit
	}
	limit = min(limit, maxDueLimit)
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: due: %w", err)
	}
	defer tx.Rollback()
	due, err := readDue(ctx, tx, dueQuery, now.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: due: %w", err)
	}
	kept := due[:0]
	for i := range due {
		err := s.files.load(&due[i])
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since its row was read
		} else if err != nil {
			return nil, fmt.Errorf("store: due: %s: %w", due[i].ID, err)
		}
		kept = append(kept, due[i])
	}
	return kept, nil
}

// readDue reads the messages query selects (in fullColumns) and their
// attempts, in the caller's read transaction.
func readDue(ctx context.Context, tx querier, query string, args ...any) ([]Message, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var due []Message
	for rows.Next() {
		var m Message
		if err := scanFull(rows, &m); err != nil {
			rows.Close()
			return nil, err
		}
		due = append(due, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range due {
		if due[i].Attempts, err = readAttempts(ctx, tx, due[i].ID); err != nil {
			return nil, err
		}
	}
	return due, nil
}

// Attempted implements Queue. An attempt with N 0 is numbered after the
// last one stored; recording the same n again replaces it, so a worker that
// retries a failed Attempted call does not fail on its own first try.
func (s *SQLite) Attempted(ctx context.Context, id string, a Attempt, state string, next time.Time) error {
	nextAt, err := queueState(state, next)
	if err != nil {
		return fmt.Errorf("store: attempted %s: %w", id, err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		return attempted(ctx, tx, `UPDATE messages SET queue = ?, next_attempt_at = ? WHERE id = ?`,
			id, a, state, nextAt)
	})
	if err != nil {
		return fmt.Errorf("store: attempted %s: %w", id, err)
	}
	return nil
}

// queueState checks Attempted's state and next, and returns the
// next_attempt_at to store.
func queueState(state string, next time.Time) (any, error) {
	switch state {
	case QueuePending:
		if next.IsZero() {
			return nil, errors.New("a pending message needs a next attempt time")
		}
		return next.UnixNano(), nil
	case QueueDelivered, QueueDead:
		return nil, nil // NULL: no further attempt
	}
	return nil, fmt.Errorf("unknown queue state %q", state)
}

// attempted is Attempted in tx: update (taking state, next_attempt_at and
// id) sets the message's queue state, then the attempt is stored and
// counted.
func attempted(ctx context.Context, tx sqlConn, update, id string, a Attempt, state string, nextAt any) error {
	res, err := tx.ExecContext(ctx, update, state, nextAt, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO attempts (message_id, n, at, status, error, duration_ns, edge)
			VALUES (?1, CASE WHEN ?2 > 0 THEN ?2
				ELSE (SELECT coalesce(max(n), 0) + 1 FROM attempts WHERE message_id = ?1) END,
				?3, ?4, ?5, ?6, ?7)
			ON CONFLICT (message_id, n) DO UPDATE SET
				at = excluded.at, status = excluded.status,
				error = excluded.error, duration_ns = excluded.duration_ns, edge = excluded.edge`,
		id, a.N, unixNano(a.At), a.Status, a.Error, int64(a.Duration), a.Edge); err != nil {
		return err
	}
	return recountAttempts(ctx, tx, id)
}

// Depth implements Queue.
func (s *SQLite) Depth(ctx context.Context, now time.Time) (int, time.Duration, error) {
	return depth(ctx, s.db, depthQuery, now)
}

// depth is Depth with query on c.
func depth(ctx context.Context, c sqlConn, query string, now time.Time) (int, time.Duration, error) {
	var count int
	var oldest sql.NullInt64
	if err := c.QueryRowContext(ctx, query).Scan(&count, &oldest); err != nil {
		return 0, 0, fmt.Errorf("store: depth: %w", err)
	}
	if !oldest.Valid {
		return count, 0, nil
	}
	return count, max(0, now.Sub(fromUnixNano(oldest.Int64))), nil
}

// Attempts are deliveries to the app: a queued message's, recorded by
// Attempted, and a forwarded one's, which come with Record.

// insertAttempts stores the attempts not stored yet (by n) and recounts.
func insertAttempts(ctx context.Context, ex execer, id string, attempts []Attempt) error {
	if len(attempts) == 0 {
		return nil
	}
	if err := insertAttemptRows(ctx, ex, id, attempts); err != nil {
		return err
	}
	return recountAttempts(ctx, ex, id)
}

// insertAttemptRows adds attempts without recounting them: a new message
// was inserted with its count already.
func insertAttemptRows(ctx context.Context, ex execer, id string, attempts []Attempt) error {
	for _, a := range attempts {
		if _, err := ex.ExecContext(ctx, insertAttemptsHead+attemptRow+insertAttemptsTail,
			attemptArgs(nil, id, a)...); err != nil {
			return err
		}
	}
	return nil
}

// insertAttemptsHead, attemptRow and insertAttemptsTail make an INSERT
// of one attempt or of a batch's (insertAttemptsQuery); attemptColumns
// is the number of arguments of a row, attemptArgs appends them.
const (
	insertAttemptsHead = `INSERT INTO attempts (message_id, n, at, status, error, duration_ns, edge) VALUES `
	attemptRow         = `(?, ?, ?, ?, ?, ?, ?)`
	insertAttemptsTail = ` ON CONFLICT (message_id, n) DO NOTHING`
	attemptColumns     = 7
)

func attemptArgs(args []any, id string, a Attempt) []any {
	return append(args, id, a.N, unixNano(a.At), a.Status, a.Error, int64(a.Duration), a.Edge)
}

func recountAttempts(ctx context.Context, ex execer, id string) error {
	_, err := ex.ExecContext(ctx, `UPDATE messages
		SET attempts = (SELECT count(*) FROM attempts WHERE message_id = ?1) WHERE id = ?1`, id)
	return err
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func readAttempts(ctx context.Context, q querier, id string) ([]Attempt, error) {
	rows, err := q.QueryContext(ctx, `SELECT n, at, status, error, duration_ns, edge
		FROM attempts WHERE message_id = ? ORDER BY n`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var attempts []Attempt
	for rows.Next() {
		var a Attempt
		var at, dur int64
		if err := rows.Scan(&a.N, &at, &a.Status, &a.Error, &dur, &a.Edge); err != nil {
			return nil, err
		}
		a.At, a.Duration = fromUnixNano(at), time.Duration(dur)
		attempts = append(attempts, a)
	}
	return attempts, rows.Err()
}

// PendingByRoute calls each with the pending queued messages per tunnel
// and route: the alert rules on queue depth and age read it.
func (s *SQLite) PendingByRoute(ctx context.Context, now time.Time, each func(tunnel, route string, count int, oldest time.Duration)) error {
	return pendingByRoute(ctx, s.db, `SELECT tunnel, route, count(*), min(received_at)
		FROM messages INDEXED BY messages_pending WHERE queue = 'pending' GROUP BY tunnel, route`, now, each)
}

// pendingByRoute is PendingByRoute with query on c.
func pendingByRoute(ctx context.Context, c querier, query string, now time.Time, each func(tunnel, route string, count int, oldest time.Duration)) error {
	rows, err := c.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("store: pending by route: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tunnel, route string
		var count int
		var oldest sql.NullInt64
		if err := rows.Scan(&tunnel, &route, &count, &oldest); err != nil {
			return fmt.Errorf("store: pending by route: %w", err)
		}
		var age time.Duration
		if oldest.Valid {
			age = max(0, now.Sub(fromUnixNano(oldest.Int64)))
		}
		each(tunnel, route, count, age)
	}
	return rows.Err()
}

// Claim implements Queue. One edge owns an SQLite store, and its worker
// never starts two deliveries of a message (its sending set) and keeps
// the route's bounds itself: there is no other edge to claim against, so
// the claim reads nothing.
func (s *SQLite) Claim(ctx context.Context, id, owner string, now, until time.Time, _ RouteBounds) (bool, error) {
	return true, nil
}
