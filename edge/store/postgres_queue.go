package store

import (
	"context"
	"fmt"
	"time"
)

// queueLockClass is the first key of the advisory locks on routes' queues
// (the two-key form, whose key space does not overlap the one-key locks
// such as migrationLock); the second is hashtext(tunnel/route).
const queueLockClass = 0x68747175 // "htqu"

// lockRoute comes before the count in a transaction that adds to a
// route's queue (Enqueue, Hold, Release). It makes the commit durable (synchronous_commit on: the commit
// waits for its WAL to reach disk, whatever the server's or the role's
// setting, so the 202 the edge then sends survives a crash of the
// server) and, when the route has bounds, takes the route's advisory lock
// until the transaction ends: the count that fits reads next then
// includes every enqueue committed before, on any edge, and none can
// commit between the count and this transaction's insert. (In READ
// COMMITTED each statement sees what was committed before it began, so
// the count must be a statement after the lock, never the same one.)
// Two routes whose tunnel/route hash alike share a lock: slower, never
// wrong.
func lockRoute(ctx context.Context, tx sqlConn, tunnel, route string, maxCount int, maxBytes int64) error {
	if maxCount <= 0 && maxBytes <= 0 {
		_, err := tx.ExecContext(ctx, `SELECT set_config('synchronous_commit', 'on', true)`)
		return err
	}
	_, err := tx.ExecContext(ctx, `SELECT set_config('synchronous_commit', 'on', true),
		pg_advisory_xact_lock(?::integer, hashtext(?::text || '/' || ?::text))`, queueLockClass, tunnel, route)
	return err
}

// Enqueue implements Queue: in one transaction, lockRoute, the route's
// count (fits, shared with SQLite), and the message with its attempts.
// On ErrQueueFull nothing is stored; a body not kept whole is refused,
// as on SQLite.
func (s *Postgres) Enqueue(ctx context.Context, m *Message, maxCount int, maxBytes int64) error {
	return storeQueued(ctx, "enqueue", m, QueuePending, maxCount, maxBytes, s.enqueue)
}

// Hold implements Queue, as SQLite's: durable, outside the bounds.
func (s *Postgres) Hold(ctx context.Context, m *Message) error {
	return storeQueued(ctx, "hold", m, QueueHeld, 0, 0, s.enqueue)
}

func (s *Postgres) enqueue(ctx context.Context, m *Message, next any, maxCount int, maxBytes int64) error {
	return s.inTx(ctx, nil, func(tx rebound) error {
		if err := lockRoute(ctx, tx, m.Tunnel, m.Route, maxCount, maxBytes); err != nil {
			return err
		}
		if err := fits(ctx, tx, m.Tunnel, m.Route, m.BodySize, maxCount, maxBytes); err != nil {
			return err
		}
		return insertWithAttempts(ctx, tx, m, next)
	})
}

// Release implements Queue, as SQLite's, under the route's lock.
func (s *Postgres) Release(ctx context.Context, id string, now time.Time, maxCount int, maxBytes int64) error {
	err := s.inTx(ctx, nil, func(tx rebound) error {
		return release(ctx, tx, dialectPostgres, id, now, maxCount, maxBytes)
	})
	if err != nil {
		return fmt.Errorf("store: release %s: %w", id, err)
	}
	return nil
}

// claimFree is true of a message no claim holds at ?1 (now): unclaimed,
// its claim's time passed, or its claimer's edge lease lapsed (a killed
// edge's claims end with its lease, not after the route's timeout).
const claimFree = `(claimed_by IS NULL OR claim_until <= ?1
		OR claimed_by NOT IN (SELECT id FROM cluster_edges WHERE until > ?1))`

// pgDueQuery is dueQuery less the messages another edge's claim holds.
const pgDueQuery = "SELECT " + fullColumns + ` FROM messages
		WHERE queue = 'pending' AND next_attempt_at <= ?1 AND ` + claimFree + `
		ORDER BY next_attempt_at, id LIMIT ?2`

// Due implements Queue: the due messages no claim holds.
func (s *Postgres) Due(ctx context.Context, now time.Time, limit int) ([]Message, error) {
	if limit <= 0 {
		limit = defaultDueLimit
	}
	limit = min(limit, maxDueLimit)
	var due []Message
	err := s.inTx(ctx, snapshot(), func(tx rebound) error {
		var err error
		due, err = readDue(ctx, tx, pgDueQuery, now.UnixNano(), limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: due: %w", err)
	}
	return due, nil
}

// Claim implements Queue in one UPDATE: it takes the message if it is
// pending, no other owner's claim holds (claimFree) and the route's
// bounds allow one more. Of two edges claiming at once, the second waits
// for the first's row lock and then finds the claim held. The owner's own
// claim can be taken again (a retry of a Claim whose answer was lost).
// With bounds, the route's advisory lock (lockRoute's) makes the count
// and the claim one step across edges.
func (s *Postgres) Claim(ctx context.Context, id, owner string, now, until time.Time, b RouteBounds) (bool, error) {
	var claimed bool
	claim := func(tx rebound) error {
		res, err := tx.ExecContext(ctx, `UPDATE messages SET claimed_by = ?2, claim_until = ?3
			WHERE id = ?4 AND queue = 'pending' AND (claimed_by = ?2 OR `+claimFree+`)
			AND (?5 <= 0 OR (SELECT count(*) FROM messages o
				WHERE o.tunnel = ?6 AND o.route = ?7 AND o.queue = 'pending' AND o.id <> ?4 AND `+claimHeld("o")+`) < ?5)
			AND (NOT ?8 OR NOT EXISTS (SELECT 1 FROM messages o
				WHERE o.tunnel = ?6 AND o.route = ?7 AND o.queue = 'pending' AND o.id < ?4))`,
			now.UnixNano(), owner, until.UnixNano(), id, b.MaxInFlight, b.Tunnel, b.Route, b.Ordered)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		claimed = n == 1
		return err
	}
	var err error
	if b.MaxInFlight > 0 || b.Ordered {
		// The count and the claim under the route's lock, in one
		// transaction; without bounds the UPDATE alone is atomic.
		err = s.inTx(ctx, nil, func(tx rebound) error {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?::integer, hashtext(?::text || '/' || ?::text))`,
				queueLockClass, b.Tunnel, b.Route); err != nil {
				return err
			}
			return claim(tx)
		})
	} else {
		err = claim(s.conn())
	}
	if err != nil {
		return false, fmt.Errorf("store: claim %s: %w", id, err)
	}
	return claimed, nil
}

// claimHeld is true of a message of alias whose claim holds at ?1: the
// negation of claimFree.
func claimHeld(alias string) string {
	return `(` + alias + `.claimed_by IS NOT NULL AND ` + alias + `.claim_until > ?1
		AND ` + alias + `.claimed_by IN (SELECT id FROM cluster_edges WHERE until > ?1))`
}

// Attempted implements Queue, as SQLite's; it ends the message's claim.
func (s *Postgres) Attempted(ctx context.Context, id string, a Attempt, state string, next time.Time) error {
	nextAt, err := queueState(state, next)
	if err != nil {
		return fmt.Errorf("store: attempted %s: %w", id, err)
	}
	err = s.inTx(ctx, nil, func(tx rebound) error {
		return attempted(ctx, tx, `UPDATE messages SET queue = ?, next_attempt_at = ?,
			claimed_by = NULL, claim_until = NULL WHERE id = ?`, id, a, state, nextAt)
	})
	if err != nil {
		return fmt.Errorf("store: attempted %s: %w", id, err)
	}
	return nil
}

// Depth implements Queue, from the messages_pending index.
func (s *Postgres) Depth(ctx context.Context, now time.Time) (int, time.Duration, error) {
	return depth(ctx, s.conn(), `SELECT count(*), min(received_at) FROM messages WHERE queue = 'pending'`, now)
}

// PendingByRoute implements QueueStats.
func (s *Postgres) PendingByRoute(ctx context.Context, now time.Time, each func(tunnel, route string, count int, oldest time.Duration)) error {
	return pendingByRoute(ctx, s.conn(), `SELECT tunnel, route, count(*), min(received_at)
		FROM messages WHERE queue = 'pending' GROUP BY tunnel, route`, now, each)
}
