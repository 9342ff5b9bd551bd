// Package cluster is what an edge that shares a PostgreSQL store with
// others knows of them: its own lease in the registry (Member), a cached
// view of the other edges and the agent sessions they hold, and the
// authenticated transport a webhook takes to one of them (Peers). The
// relay's Remote is built from these in package edge.
package cluster

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/edge/store"
)

// Lease timing, fixed for every edge of a cluster: each renews every
// RenewEvery for LeaseFor, so an edge that stops renewing is gone for the
// others within LeaseFor.
const (
	RenewEvery = 5 * time.Second
	LeaseFor   = 15 * time.Second
	// MissRefreshEvery bounds the registry reads a lookup that finds no
	// holder makes: a flood of webhooks for an offline tunnel costs the
	// database one query per interval.
	MissRefreshEvery = 200 * time.Millisecond
	// registryTimeout bounds one registry statement.
	registryTimeout = 5 * time.Second
)

// Config is an edge's place in the cluster.
type Config struct {
	// ID is this process's id in the registry (name + "-" + random hex).
	ID string
	// Name is the edge's name (logs, admin).
	Name string
	// Advertise is the URL agents and the other edges reach this edge at.
	Advertise string
	Registry  store.Registry
	Clock     clock.Clock
	// Sessions lists the agent sessions this edge holds now (their ID,
	// Agent, Tunnels, Since and Declared; the Member sets Edge and Until).
	Sessions func() []store.SessionLease
	Log      *slog.Logger
}

// Member keeps an edge's lease and its sessions' in the registry, and a
// cached view of the cluster.
type Member struct {
	cfg     Config
	clock   clock.Clock
	log     *slog.Logger
	started time.Time

	touch chan struct{}
	stop  context.CancelFunc
	done  chan struct{}
	once  sync.Once

	// renewal state, the loop's alone but for the counters.
	failures    atomic.Int64
	lastRenewed atomic.Int64 // Unix ns of the last renewal that worked
	lapsed      bool

	view view
}

// Start writes the edge's lease and its sessions', reads the cluster, and
// keeps both current until ctx ends or Leave: every RenewEvery on the
// config's clock, and at once after Touch. The first renewal's error is
// Start's: an edge that cannot write its lease does not start.
func Start(ctx context.Context, cfg Config) (*Member, error) {
	switch {
	case !validEdgeID(cfg.ID):
		return nil, errors.New("cluster: the edge's id is empty or not printable")
	case cfg.Advertise == "":
		return nil, errors.New("cluster: the edge has no advertise address")
	case cfg.Registry == nil:
		return nil, errors.New("cluster: no registry")
	}
	if cfg.Sessions == nil {
		cfg.Sessions = func() []store.SessionLease { return nil }
	}
	m := &Member{
		cfg:   cfg,
		clock: clock.Or(cfg.Clock),
		log:   cfg.Log,
		touch: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.started = m.clock.Now()
	m.view.init(cfg.ID, cfg.Registry, m.clock)
	if err := m.renew(ctx); err != nil {
		return nil, err
	}
	_ = m.view.refresh(ctx)
	ctx, m.stop = context.WithCancel(context.WithoutCancel(ctx))
	go m.run(ctx)
	return m, nil
}

// ID is the edge's id in the registry.
func (m *Member) ID() string { return m.cfg.ID }

// Touch renews the edge's sessions now (one was added or removed), so the
// other edges learn of it within a round trip. Bursts coalesce into one
// renewal.
func (m *Member) Touch() {
	select {
	case m.touch <- struct{}{}:
	default:
	}
}

// RenewFailures is the number of renewals that failed since the start.
func (m *Member) RenewFailures() int64 { return m.failures.Load() }

// LastRenewed is when the edge's lease was last written.
func (m *Member) LastRenewed() time.Time { return time.Unix(0, m.lastRenewed.Load()) }

// Leave stops renewing and removes the edge's lease and its sessions from
// the registry (a clean shutdown): the other edges stop relaying to it at
// their next read. It is idempotent.
func (m *Member) Leave(ctx context.Context) error {
	first := false
	m.once.Do(func() {
		first = true
		m.stop()
		<-m.done
	})
	if !first {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, registryTimeout)
	defer cancel()
	if err := m.cfg.Registry.Leave(ctx, m.cfg.ID); err != nil {
		return err
	}
	m.log.Info("cluster: this edge left the registry", "edge", m.cfg.ID)
	return nil
}

// run is the heartbeat: renew and refresh every RenewEvery, renew on
// Touch.
func (m *Member) run(ctx context.Context) {
	defer close(m.done)
	for {
		tick, timer := clock.After(m.clock, RenewEvery)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-m.touch:
			timer.Stop()
			_ = m.renew(ctx)
		case <-tick:
			if m.renew(ctx) == nil {
				_ = m.view.refresh(ctx)
			}
		}
	}
}

// renew writes the edge's lease and its sessions' until now+LeaseFor. A
// failure is counted and logged; once the lease has not been written for
// LeaseFor, the log says the other edges consider this one gone.
func (m *Member) renew(ctx context.Context) error {
	now := m.clock.Now()
	until := now.Add(LeaseFor)
	sessions := m.cfg.Sessions()
	for i := range sessions {
		sessions[i].Edge = m.cfg.ID
		sessions[i].Until = until
	}
	lease := store.EdgeLease{ID: m.cfg.ID, Advertise: m.cfg.Advertise, Started: m.started, Renewed: now, Until: until}
	rctx, cancel := context.WithTimeout(ctx, registryTimeout)
	err := m.cfg.Registry.Renew(rctx, lease, sessions)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return err // shutting down
		}
		n := m.failures.Add(1)
		m.log.Warn("cluster: renewing this edge's lease failed", "edge", m.cfg.ID, "failures", n, "err", err)
		last := time.Unix(0, m.lastRenewed.Load())
		if !m.lapsed && now.Sub(last) >= LeaseFor {
			m.lapsed = true
			m.log.Error("cluster: this edge's lease has lapsed: the other edges consider it gone and relay nothing to its agents until a renewal works",
				"edge", m.cfg.ID, "last_renewed", last.UTC())
		}
		return err
	}
	if m.lapsed {
		m.lapsed = false
		m.log.Info("cluster: this edge's lease is renewed again", "edge", m.cfg.ID)
	}
	m.lastRenewed.Store(now.UnixNano())
	return nil
}
