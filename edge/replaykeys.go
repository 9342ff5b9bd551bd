package edge

import (
	"context"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
)

// replayTimeout bounds each call on the shared duplicate keys: a claim is
// on a webhook's way through the edge, and policy's ReplayCache has no
// context to carry the request's.
const replayTimeout = 3 * time.Second

// sharedReplay is policy's duplicate check over the keys every edge shares
// (the PostgreSQL store), so a delivery seen on one edge is a duplicate on
// all. It fails closed: when the database does not answer, a claim says
// the delivery is in flight (409 with Retry-After), so the provider
// retries later instead of the app receiving a copy twice.
type sharedReplay struct {
	keys    store.ReplayKeys
	timeout time.Duration
	// warn logs a failed call (slog.Logger.Warn's shape); never the keys,
	// which are delivery ids and signature fingerprints.
	warn func(msg string, args ...any)
}

var _ policy.ReplayCache = (*sharedReplay)(nil)

// newSharedReplay is the duplicate check over keys; warn logs the calls
// that fail (nil: not logged).
func newSharedReplay(keys store.ReplayKeys, warn func(string, ...any)) policy.ReplayCache {
	if warn == nil {
		warn = func(string, ...any) {}
	}
	return &sharedReplay{keys: keys, timeout: replayTimeout, warn: warn}
}

func (r *sharedReplay) Claim(keys []string, owner string, now time.Time, lease time.Duration) policy.ClaimState {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	state, err := r.keys.ClaimReplay(ctx, keys, owner, now, lease)
	switch {
	case err != nil:
		r.warn("duplicate check failed: the delivery is answered as in flight, for the sender to retry", "keys", len(keys), "err", err)
		return policy.ClaimHeld
	case state == store.ReplayClaimed:
		return policy.Claimed
	case state == store.ReplayDone:
		return policy.ClaimDone
	default:
		return policy.ClaimHeld
	}
}

func (r *sharedReplay) Confirm(keys []string, owner string, now time.Time, ttl time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	if err := r.keys.ConfirmReplay(ctx, keys, owner, now, ttl); err != nil {
		r.warn("duplicate check: recording an accepted delivery failed: a copy may go through once its hold lapses", "keys", len(keys), "err", err)
	}
}

func (r *sharedReplay) Release(keys []string, owner string) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	if err := r.keys.ReleaseReplay(ctx, keys, owner); err != nil {
		r.warn("duplicate check: releasing a failed delivery's hold failed: its retry is answered as in flight until the hold lapses", "keys", len(keys), "err", err)
	}
}
