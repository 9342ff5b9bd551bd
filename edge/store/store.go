// Package store keeps the edge's durable state: for now the names the edge
// allocated to tunnels, so a restarted agent gets its URL back. It sits
// behind a small interface so another backend can serve several edges.
package store

import (
	"context"
	"errors"
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
