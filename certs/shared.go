package certs

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/crypto/acme/autocert"
)

// SharedStore is a certificate store several edges share (the edge's
// PostgreSQL store): autocert's cache, plus a lock an edge takes before it
// asks the CA, so that of several edges only one orders a certificate.
type SharedStore interface {
	GetCert(ctx context.Context, key string) ([]byte, error)
	PutCert(ctx context.Context, key string, data []byte) error
	DeleteCert(ctx context.Context, key string) error
	// LockCert takes key's lock for owner until until; false when another
	// owner holds it.
	LockCert(ctx context.Context, key, owner string, until time.Time) (bool, error)
	UnlockCert(ctx context.Context, key, owner string) error
}

// Shared-cache timing: how long an edge may take to order a certificate
// before another may try, and how often a waiting edge looks for it.
const (
	sharedLockLease = 2 * time.Minute
	sharedPoll      = 500 * time.Millisecond
)

// SharedCache is an autocert.Cache over a SharedStore. A certificate that
// is missing (or expired) is ordered by one edge: the first to take its
// lock gets a miss and orders it; the others wait for it to appear in the
// store, so they never ask the CA. The account key and the challenge
// tokens (HTTP-01's "+http-01", TLS-ALPN-01's "+token") go through the
// store unlocked, so any edge answers a challenge another edge started.
type SharedCache struct {
	store SharedStore
	// miss is the store's error for a missing key (errors.Is).
	miss  error
	owner string
	// prefix keeps each CA's certificates apart (see ACMEConfig.CacheDir).
	prefix string
	log    *slog.Logger
	now    func() time.Time
	lease  time.Duration
	poll   time.Duration
}

var _ autocert.Cache = (*SharedCache)(nil)

// NewSharedCache is the cache over store, whose GetCert answers miss for a
// missing key, for the edge owner (its id in the cluster). log may be nil.
func NewSharedCache(store SharedStore, miss error, owner string, log *slog.Logger) *SharedCache {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SharedCache{store: store, miss: miss, owner: owner, log: log, now: time.Now, lease: sharedLockLease, poll: sharedPoll}
}

// forCA is the cache for the CA named ca (a CacheDir base name).
func (c *SharedCache) forCA(ca string) *SharedCache {
	cc := *c
	cc.prefix = ca + "/"
	return &cc
}

// ordered reports whether key names a certificate autocert orders from
// the CA (host, or host+"+rsa"), rather than the account key or a
// challenge token.
func ordered(key string) bool {
	return !strings.HasPrefix(key, "acme_account") && !strings.HasSuffix(key, "+token") && !strings.HasSuffix(key, "+http-01")
}

// Get returns key's data. For a certificate nobody has yet, it answers
// autocert.ErrCacheMiss to the edge that takes the lock (autocert orders
// it and Puts it), and makes the others wait for that, bounded by ctx.
func (c *SharedCache) Get(ctx context.Context, key string) ([]byte, error) {
	data, err := c.peek(ctx, key)
	if !ordered(key) || (err == nil && leafValid(data, c.now())) {
		return data, err
	}
	if err != nil && !errors.Is(err, autocert.ErrCacheMiss) {
		return nil, err // the store failed: no order either (fail closed)
	}
	for {
		taken, err := c.store.LockCert(ctx, c.prefix+key, c.owner, c.now().Add(c.lease))
		if err != nil {
			return nil, err
		}
		if taken {
			return nil, autocert.ErrCacheMiss
		}
		// Another edge is ordering it. Its lock lapses if it dies or
		// fails: then the next LockCert takes it over.
		t := time.NewTimer(c.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		data, err := c.peek(ctx, key)
		switch {
		case err == nil && leafValid(data, c.now()):
			return data, nil
		case err != nil && !errors.Is(err, autocert.ErrCacheMiss):
			return nil, err
		}
	}
}

// peek is key's data as the store has it, without a lock.
func (c *SharedCache) peek(ctx context.Context, key string) ([]byte, error) {
	data, err := c.store.GetCert(ctx, c.prefix+key)
	if errors.Is(err, c.miss) {
		return nil, autocert.ErrCacheMiss
	}
	return data, err
}

// Put stores data, and for a certificate releases this edge's lock: the
// edges waiting for it find it.
func (c *SharedCache) Put(ctx context.Context, key string, data []byte) error {
	if err := c.store.PutCert(ctx, c.prefix+key, data); err != nil {
		return err
	}
	if ordered(key) {
		// A lock left behind lapses; the others already have the data.
		if err := c.store.UnlockCert(ctx, c.prefix+key, c.owner); err != nil {
			c.log.Warn("shared certificate cache: unlock failed", "key", key, "err", err)
		}
	}
	return nil
}

// Delete removes key; a missing key is no error.
func (c *SharedCache) Delete(ctx context.Context, key string) error {
	if err := c.store.DeleteCert(ctx, c.prefix+key); err != nil && !errors.Is(err, c.miss) {
		return err
	}
	return nil
}

// abandon releases this edge's locks on host's certificates after a
// failed order, so another edge need not wait for them to lapse.
func (c *SharedCache) abandon(ctx context.Context, host string) {
	for _, key := range []string{host, host + "+rsa"} {
		if err := c.store.UnlockCert(ctx, c.prefix+key, c.owner); err != nil {
			c.log.Warn("shared certificate cache: unlock failed", "key", key, "err", err)
		}
	}
}
