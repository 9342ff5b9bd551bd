package edge

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/edge/relay"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/edge/web"
	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// Edge is a running edge: listeners, registry, store.
type Edge struct {
	cfg        atomic.Pointer[compiled]
	raw        Config
	sessionCfg tunnel.Config
	log        *slog.Logger
	clock      clock.Clock
	errorLog   *log.Logger
	relay      *relay.Relay
	names      store.Names
	replay     policy.ReplayCache
	clients    *clientCap
	db         store.Store // the edge's only way to its store
	// id is this edge's id in the cluster's registry, recorded in the
	// journal as where a webhook arrived and who delivered it; "" on a
	// single edge.
	id      string
	cluster clusterParts // see clusterwire.go

	reloadMu    sync.Mutex
	journal     *journaler
	metrics     *metrics
	alerts      alerting
	ui          http.Handler // the web UI, shared by the admin listener and inspectors
	queue       store.Queue
	queueWake   chan struct{}
	purgeWakeup chan struct{}
	events      *events
	background  context.CancelFunc // stops the queue worker and purge
	bgDone      sync.WaitGroup

	public, admin     *http.Server
	publicLn, adminLn net.Listener
	tls               edgeTLS // certificates and the plain-HTTP listener; see tls.go
	closing           chan struct{}
	closeOnce         sync.Once
	serving           sync.WaitGroup
}

// New validates cfg and opens the store; Start binds the listeners.
func New(cfg Config) (*Edge, error) {
	c, err := cfg.Compile()
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.Session.Logger == nil {
		cfg.Session.Logger = cfg.Logger
	}
	if err := tunnel.VerifyConfig(cfg.Session); err != nil {
		return nil, err
	}
	if c.adminToken == nil && !isLoopback(cfg.AdminListen) {
		return nil, fmt.Errorf("edge: admin listener %s is not on loopback: set admin.token_sha256 in the config", cfg.AdminListen)
	}
	if cfg.Data == "" {
		return nil, errors.New("edge: a data directory is required")
	}
	if err := dataDir(cfg.Data); err != nil {
		return nil, err
	}
	db, err := openStore(cfg, c)
	if err != nil {
		return nil, err
	}
	e := &Edge{
		raw:         cfg,
		sessionCfg:  cfg.Session,
		log:         cfg.Logger,
		clock:       clock.Or(cfg.Clock),
		errorLog:    slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		relay:       relay.New(cfg.Clock),
		names:       db,
		db:          db,
		closing:     make(chan struct{}),
		replay:      policy.NewMemoryReplayCache(replayCapacity),
		clients:     newClientCap(),
		queue:       db,
		queueWake:   make(chan struct{}, 1),
		purgeWakeup: make(chan struct{}, 1),
		events:      newEvents(),
	}
	if c.cluster.on {
		e.id = newEdgeID(c.cluster.name)
	}
	e.sharedState(db)
	e.metrics = newMetrics(e)
	e.ui = web.Handler()
	engine, err := e.newAlerts(cfg.Alerts)
	if err != nil {
		db.Close()
		return nil, policy.AtField("alerts", err)
	}
	e.alerts.current.Store(engine)
	e.alerts.cfg = cfg.Alerts
	e.journal = newJournaler(db, e.events, newBodyBudget(c.journal.maxPending), e.metrics.bodiesDropped.Inc,
		func(msg string, args ...any) { e.log.Warn(msg, args...) })
	// Compile again with the store and replay cache behind the policies.
	if c, err = cfg.compile(e.tunnelEnvWith(cfg.IPLists)); err != nil {
		db.Close()
		return nil, err
	}
	e.cfg.Store(c)
	return e, nil
}

// Start binds the public and admin listeners and serves them.
func (e *Edge) Start() error {
	lim := e.cfg.Load().limits
	var err error
	if e.publicLn, err = listen("listen", e.raw.Listen, "listen"); err != nil {
		return err
	}
	if e.adminLn, err = listen("admin listen", e.raw.AdminListen, "admin-listen"); err != nil {
		e.publicLn.Close()
		return err
	}
	e.public = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		ErrorLog:          e.errorLog,
	}
	e.admin = &http.Server{
		Handler:           e.AdminHandler(),
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		IdleTimeout:       lim.IdleTimeout,
		ErrorLog:          e.errorLog,
	}
	if e.raw.ProxyProtocol {
		e.publicLn = &proxyListener{Listener: e.publicLn, trusted: func() []netip.Prefix { return e.cfg.Load().trusted }, timeout: lim.ReadHeaderTimeout}
	}
	if err := e.startTLS(); err != nil {
		e.publicLn.Close()
		e.adminLn.Close()
		return err
	}
	if err := e.startCluster(context.Background()); err != nil {
		e.stopTLS(context.Background())
		e.publicLn.Close()
		e.adminLn.Close()
		return fmt.Errorf("edge: cluster: %w", err)
	}
	e.startBackground()
	e.serve(e.public, e.publicLn)
	e.serve(e.admin, e.adminLn)
	e.log.Info("edge listening", "public", e.publicLn.Addr().String(), "admin", e.adminLn.Addr().String(), "domain", e.cfg.Load().domain)
	return nil
}

func (e *Edge) serve(s *http.Server, ln net.Listener) {
	e.serving.Add(1)
	go func() {
		defer e.serving.Done()
		if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// Addr is the public listener's address.
func (e *Edge) Addr() net.Addr { return e.publicLn.Addr() }

// AdminAddr is the admin listener's address.
func (e *Edge) AdminAddr() net.Addr { return e.adminLn.Addr() }

// Run starts the edge and serves until ctx ends, then shuts down gracefully.
func (e *Edge) Run(ctx context.Context) error {
	if err := e.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	return e.Shutdown()
}

// Shutdown stops accepting, tells agents the edge is going away, lets
// in-flight requests finish (up to the shutdown timeout), then closes the
// sessions and the store. It is idempotent.
func (e *Edge) Shutdown() error {
	var err error
	e.closeOnce.Do(func() {
		close(e.closing)
		ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Load().limits.ShutdownTimeout)
		defer cancel()
		e.stopCluster(ctx)
		for _, s := range e.relay.Sessions() {
			_ = s.Conn().GoAway("edge shutting down")
		}
		err = e.public.Shutdown(ctx)
		for _, s := range e.relay.Sessions() {
			s.Close()
		}
		_ = e.admin.Shutdown(ctx)
		e.stopTLS(ctx)
		e.serving.Wait()
		e.stopBackground()
		e.db.Close()
		e.log.Info("edge stopped")
	})
	return err
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startBackground starts the journal writer, the queue worker and the
// retention purge; stopBackground stops them and waits.
func (e *Edge) startBackground() {
	ctx, cancel := context.WithCancel(context.Background())
	e.background = cancel
	e.alerts.start(ctx, e.alerts.engine())
	q := &queueWorker{e: e, inFlight: map[string]int{}, heads: map[string]time.Time{}, sending: map[string]bool{}}
	p := &purger{store: e.db, clock: e.clock, wake: e.purgeWakeup,
		settings: func() journalSettings { return e.cfg.Load().journal },
		log:      e.log}
	for _, run := range []func(){
		e.journal.run,
		func() { q.run(ctx) },
		func() { p.run(ctx) },
	} {
		e.bgDone.Add(1)
		go func() {
			defer e.bgDone.Done()
			run()
		}()
	}
}

func (e *Edge) stopBackground() {
	if e.background == nil {
		return
	}
	e.background()
	e.journal.stop()
	e.bgDone.Wait()
	e.alerts.wait()
}

// policyFor is the policy governing the tunnel now, under cfg.
func (e *Edge) policyFor(cfg *compiled, tunnel string) *policy.Policy {
	return cfg.policyFor(tunnel, e.relay)
}
