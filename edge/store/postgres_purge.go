package store

import (
	"context"
	"fmt"
	"time"
)

// purgeLockKey is the second key of the advisory lock under which one edge
// at a time purges (first key queueLockClass; a route's hashtext could
// collide with it: then the purge skips one round, no harm).
const purgeLockKey = 0x70757267 // "purg"

// The size cap's measure on PostgreSQL. The tables' files are an upper
// bound of what the journal holds, cheap to read; but PostgreSQL does not
// shrink them when rows are deleted (a later VACUUM makes the space
// reusable, only VACUUM FULL returns it), so once they have grown past the
// cap they stay there, and a cap on the files alone would purge the whole
// journal a batch at a time. So: under the cap by its files, the journal
// is under it; over, what counts is the bytes the messages hold, the
// stored (compressed) sizes of the large columns plus pgRowOverhead per
// message and pgAttemptBytes per attempt, as SQLite counts its pages in use.
const (
	pgFilesQuery = `SELECT pg_total_relation_size('messages') + pg_total_relation_size('attempts')`
	// pgRowBytes is one message's share; pg_column_size reads a TOASTed
	// body's pointer, not the body.
	pgRowBytes = `coalesce(pg_column_size(body), 0) + coalesce(pg_column_size(response_body), 0)
		+ coalesce(pg_column_size(headers), 0) + coalesce(pg_column_size(response_headers), 0)
		+ 512 + 64 * attempts`
	pgUsedQuery = `SELECT coalesce(sum(` + pgRowBytes + `), 0)::bigint FROM messages`
)

// Purge implements Purger. One edge purges at a time (the others, finding
// the lock taken, return 0: the shared journal is being purged), in one
// transaction: PostgreSQL's deletes block no reader and no writer of
// other rows, so there is no single writer to let through between
// batches as on SQLite.
func (s *Postgres) Purge(ctx context.Context, cutoff time.Time, maxBytes int64) (int, error) {
	total := 0
	err := s.inTx(ctx, nil, func(tx rebound) error {
		var mine bool
		if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock(?::integer, ?::integer)`,
			queueLockClass, purgeLockKey).Scan(&mine); err != nil || !mine {
			return err
		}
		if !cutoff.IsZero() {
			res, err := tx.ExecContext(ctx, `DELETE FROM messages
				WHERE id < ? AND received_at < ? AND queue <> 'pending'`,
				idFloor(cutoff.Add(idHintSlack)), cutoff.UnixNano())
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += int(n)
		}
		if maxBytes <= 0 {
			return nil
		}
		n, err := purgeToSize(ctx, tx, maxBytes)
		total += n
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: purge: %w", err)
	}
	return total, nil
}

// purgeToSize deletes the oldest messages that are not pending until the
// journal is under maxBytes by the measure above.
func purgeToSize(ctx context.Context, tx rebound, maxBytes int64) (int, error) {
	var files int64
	if err := tx.QueryRowContext(ctx, pgFilesQuery).Scan(&files); err != nil {
		return 0, fmt.Errorf("database size: %w", err)
	}
	if files <= maxBytes {
		return 0, nil
	}
	var used int64
	if err := tx.QueryRowContext(ctx, pgUsedQuery).Scan(&used); err != nil {
		return 0, fmt.Errorf("journal size: %w", err)
	}
	total := 0
	for excess := used - maxBytes; excess > 0; {
		n, freed, err := purgeOldest(ctx, tx, excess)
		total += n
		if err != nil || n == 0 {
			return total, err // n == 0: only pending messages left, over the cap or not
		}
		excess -= freed
	}
	return total, nil
}

// purgeOldest deletes the oldest messages that are not pending, about
// excess bytes' worth and at most purgeBatch of them; it returns how many
// went and their bytes.
func purgeOldest(ctx context.Context, tx rebound, excess int64) (int, int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, `+pgRowBytes+`
		FROM messages WHERE queue <> 'pending' ORDER BY id LIMIT ?`, purgeBatch)
	if err != nil {
		return 0, 0, err
	}
	var last string
	var freed int64
	for freed < excess && rows.Next() {
		var size int64
		if err := rows.Scan(&last, &size); err != nil {
			rows.Close()
			return 0, 0, err
		}
		freed += size
	}
	rows.Close()
	if err := rows.Err(); err != nil || last == "" {
		return 0, 0, err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE id <= ? AND queue <> 'pending'`, last)
	if err != nil {
		return 0, 0, err
	}
	n, err := res.RowsAffected()
	return int(n), freed, err
}
