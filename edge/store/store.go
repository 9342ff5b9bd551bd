// Package store keeps the edge's durable state: the journal, the queue,
// the names the edge allocated to tunnels, the generated URL tokens and the
// audit trail. It sits behind small interfaces, composed in Store, so
// another backend can serve several edges.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNameTaken is returned when a name is already allocated to another key.
var ErrNameTaken = errors.New("store: tunnel name is taken")

// Names remembers which tunnel name an agent key (token + local target) got.
type Names interface {
	// TunnelName returns the name allocated to key, if any.
	TunnelName(ctx context.Context, key string) (name string, ok bool, err error)
	// AllocateTunnelName records name for key; ErrNameTaken if another key has it.
	AllocateTunnelName(ctx context.Context, key, name string) error
}

// Tokens keeps the URL tokens the edge generated for routes with
// `token: generate`, so they survive restarts.
type Tokens interface {
	// RouteToken returns the route's token, storing create() the first time.
	RouteToken(ctx context.Context, tunnel, path string, create func() string) (string, error)
}

// Purger applies retention: the edge's purge loop calls it every
// journal.purge_interval.
type Purger interface {
	// Purge deletes messages received before cutoff and then the oldest
	// ones until the store is under maxBytes (0: no size cap); it never
	// touches pending queued messages. It returns how many went.
	Purge(ctx context.Context, cutoff time.Time, maxBytes int64) (int, error)
}

// Deleter removes a message on an operator's request.
type Deleter interface {
	// DeleteMessage removes the message and its attempts; ErrNotFound if
	// there is none with id.
	DeleteMessage(ctx context.Context, id string) error
}

// QueueStats reads the queue's depth per route for the alert rules.
type QueueStats interface {
	// PendingByRoute calls each with the pending messages of every tunnel
	// and route that has some, and the age of the oldest at now.
	PendingByRoute(ctx context.Context, now time.Time, each func(tunnel, route string, count int, oldest time.Duration)) error
}

// Store is everything the edge keeps, from one backend: the embedded
// SQLite database, or (for several edges) a shared one. The edge sees its
// store only through this interface; every call takes a context, and no
// type of the backend's driver crosses it.
type Store interface {
	Names
	Tokens
	Journal
	Purger
	Deleter
	Queue
	QueueStats
	Audit
	// Close releases the backend; it is idempotent.
	Close() error
}
