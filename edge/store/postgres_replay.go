package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

var _ ReplayKeys = (*Postgres)(nil)

// A key is live while now <= expires (as in policy's memory cache): a
// claim takes only keys whose expires < now.
//
// Every statement takes its row locks in key order (ORDER BY key), so two
// edges claiming overlapping sets wait for each other instead of
// deadlocking.
const (
	// claimReplayQuery holds every key for the owner, or reports why not,
	// in one statement. want is the set of keys; before, the live rows as
	// the statement's snapshot sees them; taken, the keys the upsert holds
	// now (new, or expired and taken over). The caller commits when taken
	// is all of want, and rolls back otherwise: then a key is live, done
	// (ReplayDone) if before saw it done, else held (ReplayHeld; also when
	// another edge's claim committed after the snapshot, so before missed
	// it).
	claimReplayQuery = `WITH want AS (
			SELECT DISTINCT k AS key FROM unnest($1::text[]) AS k
		), before AS (
			SELECT done FROM replay_keys WHERE key = ANY($1::text[]) AND expires >= $2
		), taken AS (
			INSERT INTO replay_keys (key, owner, done, expires)
			SELECT key, $3, false, $4 FROM want ORDER BY key
			ON CONFLICT (key) DO UPDATE SET owner = EXCLUDED.owner, done = false, expires = EXCLUDED.expires
			WHERE replay_keys.expires < $2
			RETURNING key
		)
		SELECT (SELECT count(*) FROM taken) = (SELECT count(*) FROM want),
			coalesce((SELECT bool_or(done) FROM before), false)`
	confirmReplayQuery = `INSERT INTO replay_keys (key, owner, done, expires)
		SELECT DISTINCT k, $2, true, $3::bigint FROM unnest($1::text[]) AS k ORDER BY k
		ON CONFLICT (key) DO UPDATE SET owner = EXCLUDED.owner, done = true, expires = EXCLUDED.expires`
	releaseReplayQuery = `DELETE FROM replay_keys WHERE key IN (
		SELECT key FROM replay_keys WHERE key = ANY($1::text[]) AND owner = $2 AND NOT done
		ORDER BY key FOR UPDATE)`
	// sweepReplayQuery deletes some expired keys; SKIP LOCKED, so it never
	// waits for a claim (nor a claim's lock order for it).
	sweepReplayQuery = `DELETE FROM replay_keys WHERE key IN (
		SELECT key FROM replay_keys WHERE expires < $1 ORDER BY expires LIMIT $2 FOR UPDATE SKIP LOCKED)`
)

// replaySweep is how many expired keys a sweep deletes, and replaySweepOdds
// how often a claim sweeps (one in replaySweepOdds): on average 8 keys a
// claim, more than a claim writes, so the table stays bounded by the keys
// that are live.
const (
	replaySweep     = 64
	replaySweepOdds = 8
)

// ClaimReplay holds every key for owner until now+lease, unless one is live
// at now: one statement in one transaction, atomic across edges. Now and
// then it also deletes some expired keys (a statement of its own, after
// the claim): the shared table is swept by the claims that fill it.
func (s *Postgres) ClaimReplay(ctx context.Context, keys []string, owner string, now time.Time, lease time.Duration) (ReplayState, error) {
	if len(keys) == 0 {
		return ReplayClaimed, nil
	}
	state, err := s.claimReplay(ctx, keys, owner, now, lease)
	if err != nil {
		return ReplayHeld, fmt.Errorf("store: claim replay keys: %w", err)
	}
	if rand.IntN(replaySweepOdds) == 0 {
		// Housekeeping: a failed sweep leaves the keys for the next one
		// and must not fail a claim that was committed.
		s.sweepReplay(ctx, now, replaySweep)
	}
	return state, nil
}

func (s *Postgres) claimReplay(ctx context.Context, keys []string, owner string, now time.Time, lease time.Duration) (ReplayState, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return ReplayHeld, err
	}
	defer tx.Rollback()
	var all, done bool
	err = tx.QueryRowContext(ctx, claimReplayQuery, keys, unixNano(now), owner, unixNano(now.Add(lease))).Scan(&all, &done)
	switch {
	case err != nil:
		return ReplayHeld, err
	case !all && done:
		return ReplayDone, nil
	case !all:
		return ReplayHeld, nil
	}
	if err := tx.Commit(); err != nil {
		return ReplayHeld, err
	}
	return ReplayClaimed, nil
}

// ConfirmReplay records keys as done until now+ttl, for owner.
func (s *Postgres) ConfirmReplay(ctx context.Context, keys []string, owner string, now time.Time, ttl time.Duration) error {
	if len(keys) == 0 {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, confirmReplayQuery, keys, owner, unixNano(now.Add(ttl))); err != nil {
		return fmt.Errorf("store: confirm replay keys: %w", err)
	}
	return nil
}

// ReleaseReplay deletes the keys owner holds and has not confirmed;
// another owner's hold, and a done key, stay.
func (s *Postgres) ReleaseReplay(ctx context.Context, keys []string, owner string) error {
	if len(keys) == 0 {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, releaseReplayQuery, keys, owner); err != nil {
		return fmt.Errorf("store: release replay keys: %w", err)
	}
	return nil
}

// sweepReplay deletes up to limit keys expired at now.
func (s *Postgres) sweepReplay(ctx context.Context, now time.Time, limit int) (int64, error) {
	res, err := s.db.ExecContext(ctx, sweepReplayQuery, unixNano(now), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
