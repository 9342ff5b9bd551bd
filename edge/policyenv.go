package edge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"time"

	"github.com/hooktunnel/hooktunnel/policy"
)

// replayCapacity bounds the deliveries remembered for duplicate detection.
const replayCapacity = 200_000

// tunnelEnv is what a tunnel's policy compiles against: the provider
// address lists, the generated route tokens kept in the store, and the
// edge's replay cache scoped to the tunnel.
func (e *Edge) tunnelEnv(name string) policy.Env {
	return e.tunnelEnvWith(e.cfg.Load().ipLists)(name)
}

// tunnelEnvWith is tunnelEnv with the provider lists of a config being
// compiled (at start, or on reload).
func (e *Edge) tunnelEnvWith(lists map[string][]netip.Prefix) func(string) policy.Env {
	return func(name string) policy.Env { return e.envFor(name, lists) }
}

func (e *Edge) envFor(name string, lists map[string][]netip.Prefix) policy.Env {
	return policy.Env{
		IPLists: lists,
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
