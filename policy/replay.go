package policy

import (
	"container/list"
	"sync"
	"time"
)

// ReplayCache remembers deliveries that were accepted and answered 2xx, so
// a provider's retry or an attacker's replay of one is acknowledged
// without reaching the app again. Keys are opaque (scope, route, delivery
// id or signature). Implementations must be safe for concurrent use and
// bounded in memory.
type ReplayCache interface {
	// Seen reports whether key was recorded and has not expired.
	Seen(key string, now time.Time) bool
	// Record remembers key until now+ttl.
	Record(key string, now time.Time, ttl time.Duration)
}

// MemoryReplayCache is a ReplayCache in memory: least recently recorded
// keys are dropped beyond its capacity.
type MemoryReplayCache struct {
	mu       sync.Mutex
	capacity int
	order    *list.List // of *replayEntry, oldest first
	byKey    map[string]*list.Element
}

type replayEntry struct {
	key     string
	expires time.Time
}

var _ ReplayCache = (*MemoryReplayCache)(nil)

// NewMemoryReplayCache keeps at most capacity keys.
func NewMemoryReplayCache(capacity int) *MemoryReplayCache {
	return &MemoryReplayCache{capacity: capacity, order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *MemoryReplayCache) Seen(key string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return false
	}
	if now.After(el.Value.(*replayEntry).expires) {
		c.order.Remove(el)
		delete(c.byKey, key)
		return false
	}
	return true
}

func (c *MemoryReplayCache) Record(key string, now time.Time, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		el.Value.(*replayEntry).expires = now.Add(ttl)
		c.order.MoveToBack(el)
		return
	}
	c.byKey[key] = c.order.PushBack(&replayEntry{key: key, expires: now.Add(ttl)})
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
