package store

import (
	"context"
	"errors"
	"time"
)

// ErrCertMiss is GetCert's answer for a key that is not cached.
var ErrCertMiss = errors.New("store: certificate not cached")

// Shared is what a store holds when several edges share it (PostgreSQL):
// besides Store, the registry of edges and agent sessions, the duplicate
// keys every edge checks, and the certificates every edge serves. The
// embedded SQLite store is one edge's alone and has none of these.
type Shared interface {
	Store
	Registry
	ReplayKeys
	Certs
}

// EdgeLease is one edge's row in the registry: the edge renews it while it
// runs; one whose Until has passed is gone (killed, or cut off).
type EdgeLease struct {
	ID string `json:"id"`
	// Advertise is the URL agents and the other edges reach this edge at.
	Advertise string    `json:"advertise"`
	Started   time.Time `json:"started"`
	Renewed   time.Time `json:"renewed"`
	Until     time.Time `json:"until"`
}

// SessionLease is an agent session an edge holds: the edge renews it with
// its own lease, so the session is forgotten when the edge is.
type SessionLease struct {
	ID      string    `json:"id"`
	Edge    string    `json:"edge"`
	Agent   string    `json:"agent"`
	Tunnels []string  `json:"tunnels"`
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	// Declared is the policy the agent declared (JSON, as the edge that
	// holds the session compiled it), so another edge can check a webhook
	// for the tunnel before relaying it; nil when it declared none.
	Declared []byte `json:"-"`
}

// Registry is who holds which agent session, with leases.
type Registry interface {
	// Renew writes edge's lease and replaces the set of sessions it holds
	// with sessions, in one transaction.
	Renew(ctx context.Context, edge EdgeLease, sessions []SessionLease) error
	// Leave removes an edge's lease and its sessions (a clean shutdown).
	Leave(ctx context.Context, edgeID string) error
	// Cluster lists the edges (lapsed ones too, until forgotten an hour
	// after their lease ended) and the sessions whose lease and whose
	// edge's lease hold at now.
	Cluster(ctx context.Context, now time.Time) ([]EdgeLease, []SessionLease, error)
}

// ReplayState is the answer of ReplayKeys.ClaimReplay.
type ReplayState int

const (
	// ReplayClaimed: the keys are held by the caller, who must confirm or
	// release them.
	ReplayClaimed ReplayState = iota
	// ReplayHeld: another copy holds a key: it is being delivered now.
	ReplayHeld
	// ReplayDone: a copy was accepted before, within the keys' ttl.
	ReplayDone
)

// ReplayKeys is the duplicate check shared by every edge: a delivery id or
// content fingerprint seen on any edge is a duplicate on all.
type ReplayKeys interface {
	// ClaimReplay holds every key for owner until now+lease, in one
	// statement, unless one of them is held (ReplayHeld) or done
	// (ReplayDone) at now.
	ClaimReplay(ctx context.Context, keys []string, owner string, now time.Time, lease time.Duration) (ReplayState, error)
	// ConfirmReplay records the owner's keys as done until now+ttl.
	ConfirmReplay(ctx context.Context, keys []string, owner string, now time.Time, ttl time.Duration) error
	// ReleaseReplay lets the owner's keys go (the delivery failed, so a
	// retry must go through).
	ReleaseReplay(ctx context.Context, keys []string, owner string) error
}

// Certs is the certificate cache every edge shares; its methods are those
// of autocert.Cache, with ErrCertMiss for a key that is not there.
type Certs interface {
	GetCert(ctx context.Context, key string) ([]byte, error)
	PutCert(ctx context.Context, key string, data []byte) error
	DeleteCert(ctx context.Context, key string) error
	// LockCert takes the cluster-wide lock on key until until, for owner;
	// false if another owner holds it. An edge takes it before it asks the
	// CA, so no two edges order the same certificate.
	LockCert(ctx context.Context, key, owner string, until time.Time) (bool, error)
	// UnlockCert releases owner's lock on key.
	UnlockCert(ctx context.Context, key, owner string) error
}
