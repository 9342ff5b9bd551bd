package edge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/hooktunnel/hooktunnel/policy"
)

// replayCapacity bounds the deliveries remembered for duplicate detection.
const replayCapacity = 200_000

// tunnelEnv is what a tunnel's policy compiles against: the provider
// address lists, the generated route tokens kept in the store, and the
// edge's replay cache scoped to the tunnel.
func (e *Edge) tunnelEnv(name string) policy.Env {
	return policy.Env{
		IPLists: e.raw.IPLists,
		GeneratedToken: func(path string) (string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return e.db.RouteToken(ctx, name, path, newRouteToken)
		},
		Replay: e.replay,
		Scope:  name,
	}
}

// newRouteToken is a URL token: 128 random bits.
func newRouteToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
