package policy

import (
	"container/list"
	"sync"
	"time"
)

// ReplayCache remembers deliveries, so a provider's retry or an attacker's
// replay of one that was accepted is acknowledged without reaching the app
// again. A delivery has several keys (scope, route, and its delivery id or
// its signed content's fingerprint); it is a duplicate when any of them is
// known. Keys are opaque.
//
// Checking and holding the keys is one atomic step (Claim), so of two
// copies arriving together only one goes on. Each method is one statement
// against a shared table (key primary, owner, done, expires):
//
//	Claim:   INSERT … SELECT unnest($keys) ON CONFLICT (key) DO UPDATE … WHERE replay.expires <= $now
//	         RETURNING key — claimed when every key came back (else the
//	         transaction is rolled back), otherwise the state of the rows found
//	Confirm: INSERT … ON CONFLICT (key) DO UPDATE SET done = true, expires = $until
//	Release: DELETE … WHERE key = ANY($keys) AND owner = $owner AND NOT done
//
// Implementations must be safe for concurrent use and bounded in memory.
type ReplayCache interface {
	// Claim holds every key for owner until now+lease, unless one of them
	// is held or done and not expired: then nothing changes and the answer
	// says which (done wins over held).
	Claim(keys []string, owner string, now time.Time, lease time.Duration) ClaimState
	// Confirm records keys as done until now+ttl: the delivery was
	// accepted (the app answered 2xx, or the queue committed it).
	Confirm(keys []string, owner string, now time.Time, ttl time.Duration)
	// Release drops owner's hold on keys that are not done: the delivery
	// failed, and the provider's retry must go through.
	Release(keys []string, owner string)
}

// ClaimState is the answer of a Claim.
type ClaimState int

const (
	// Claimed: the keys are now held by the caller, who must Confirm or
	// Release them.
	Claimed ClaimState = iota
	// ClaimHeld: another copy of the delivery holds a key; it is being
	// forwarded now, with an outcome not yet known.
	ClaimHeld
	// ClaimDone: the delivery was accepted before.
	ClaimDone
)

// MemoryReplayCache is a ReplayCache in memory: the least recently written
// keys are dropped beyond its capacity.
type MemoryReplayCache struct {
	mu       sync.Mutex
	capacity int
	order    *list.List // of *replayEntry, least recently written first
	byKey    map[string]*list.Element
}

type replayEntry struct {
	key     string
	owner   string
	done    bool
	expires time.Time
}

var _ ReplayCache = (*MemoryReplayCache)(nil)

// NewMemoryReplayCache keeps at most capacity keys.
func NewMemoryReplayCache(capacity int) *MemoryReplayCache {
	return &MemoryReplayCache{capacity: max(capacity, 1), order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *MemoryReplayCache) Claim(keys []string, owner string, now time.Time, lease time.Duration) ClaimState {
	c.mu.Lock()
	defer c.mu.Unlock()
	state := Claimed
	for _, key := range keys {
		e := c.live(key, now)
		switch {
		case e == nil:
		case e.done:
			return ClaimDone
		default:
			state = ClaimHeld
		}
	}
	if state != Claimed {
		return state
	}
	for _, key := range keys {
		c.write(key, owner, false, now.Add(lease))
	}
	return Claimed
}

func (c *MemoryReplayCache) Confirm(keys []string, owner string, now time.Time, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, key := range keys {
		c.write(key, owner, true, now.Add(ttl))
	}
}

func (c *MemoryReplayCache) Release(keys []string, owner string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, key := range keys {
		if el, ok := c.byKey[key]; ok {
			if e := el.Value.(*replayEntry); e.owner == owner && !e.done {
				c.order.Remove(el)
				delete(c.byKey, key)
			}
		}
	}
}

// live returns key's entry unless it is absent or expired (then dropped).
func (c *MemoryReplayCache) live(key string, now time.Time) *replayEntry {
	el, ok := c.byKey[key]
	if !ok {
		return nil
	}
	e := el.Value.(*replayEntry)
	if now.After(e.expires) {
		c.order.Remove(el)
		delete(c.byKey, key)
		return nil
	}
	return e
}

// write sets key's entry and makes it the most recent, dropping the least
// recent beyond capacity.
func (c *MemoryReplayCache) write(key, owner string, done bool, expires time.Time) {
	if el, ok := c.byKey[key]; ok {
		*el.Value.(*replayEntry) = replayEntry{key: key, owner: owner, done: done, expires: expires}
		c.order.MoveToBack(el)
		return
	}
	c.byKey[key] = c.order.PushBack(&replayEntry{key: key, owner: owner, done: done, expires: expires})
	for c.order.Len() > c.capacity {
		oldest := c.order.Front()
		c.order.Remove(oldest)
		delete(c.byKey, oldest.Value.(*replayEntry).key)
	}
}

// Len is the number of keys held.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
