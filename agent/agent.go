// Package agent is the private side of hooktunnel: it dials the edge,
// keeps the tunnel up, and forwards each request the edge sends to the
// local app.
package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// Config is the agent's settings.
type Config struct {
	Edge   string // https://hooks.example.com
	Token  string
	Name   string // requested tunnel name; empty lets the edge choose
	Target string // PORT, HOST:PORT or URL of the local app; "" when Targets serve every route
	// Targets are more local apps: each serves a path prefix, or the edge
	// routes that name it; Target serves the rest.
	Targets []TargetConfig
	// Policy is the routes the agent declares (--route, --policy); the
	// edge uses them only if its config has none for the tunnel.
	Policy policy.Config
	// Tunnels are several tunnels served over one session (tunnels: in
	// the --policy file), each with its own name, targets and routes;
	// Name, Target, Targets and Policy are then empty.
	Tunnels []TunnelConfig
	// HostHeader: "" keeps the public Host, "rewrite" uses the target's,
	// anything else is sent as is.
	HostHeader string
	TargetTLS  *tls.Config  // for https targets
	EdgeClient *http.Client // dials the edge; nil for the default
	// OtherEdgesClient dials the other edges a Welcome lists, for the
	// second session: EdgeClient's trust, without an address override
	// (--edge-addr) that would send it to the first one's edge. nil uses
	// EdgeClient.
	OtherEdgesClient *http.Client
	Version          string
	Session          tunnel.Config
	Backoff          Backoff
	ShutdownGrace    time.Duration
	Logger           *slog.Logger
	// OnConnect is called on every (re)connection of the first session
	// (to the --edge URL); the second session, to another edge of a
	// cluster, serves the same tunnels and URLs and is only logged.
	OnConnect func(tunnel.Welcome)
	// Inspect is the local address of the inspector (web UI and API for
	// this agent's tunnel); "" turns it off.
	Inspect string
	// InspectTries is how many ports, from Inspect's up, the inspector
	// tries when they are taken (10 by default: 4040 to 4049). When none
	// is free the agent runs without an inspector; with 1 (an address the
	// user chose) Run fails with ErrInspectAddr instead.
	InspectTries int
	// DebugAddr is a loopback address to serve the agent's profiles on
	// (/debug/pprof/); "" serves none.
	DebugAddr string
	// Say shows a line to the person running the agent: what to fix, the
	// app's state. nil logs it.
	Say func(line string)
	// TargetPoll is how often the agent tries the app's port while nothing
	// accepts connections there (it says so at start, and again when the
	// app is up); 0 does not watch.
	TargetPoll time.Duration
	// GiveUpAfter ends Run after this many tries in a row failed in a way
	// retrying cannot fix (an *EdgeError: a wrong URL or trust, not the
	// network); 0 retries forever, as a service should.
	GiveUpAfter int
}

// Backoff is the reconnect schedule: capped, jittered, exponential.
type Backoff struct {
	Min, Max time.Duration
	// StableAfter is how long a connection must last for the schedule to
	// start again from Min.
	StableAfter time.Duration
}

// DefaultConfig fills everything but the edge, token and target.
func DefaultConfig() Config {
	return Config{
		Version:       "dev",
		Session:       tunnel.DefaultConfig(),
		Backoff:       Backoff{Min: 500 * time.Millisecond, Max: 30 * time.Second, StableAfter: 10 * time.Second},
		ShutdownGrace: 15 * time.Second,
		Logger:        slog.New(slog.DiscardHandler),
		Inspect:       "127.0.0.1:4040",
		InspectTries:  10,
		TargetPoll:    2 * time.Second,
	}
}

// Agent is a configured agent; Run keeps it connected.
type Agent struct {
	cfg     Config
	tunnels []*agentTunnel // the first one first
	hello   tunnel.Hello
	log     *slog.Logger
	// draining tracks sessions the edge asked us to leave that still
	// finish their in-flight requests.
	draining  sync.WaitGroup
	inspector *inspector
	edges     *edgeSet // the cluster's edges, for the second session
	pool      *appPool // the pipe's connections to the apps
}

// New validates cfg.
func New(cfg Config) (*Agent, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Token == "" {
		return nil, errors.New("agent: no token: pass --token or set HOOKTUNNEL_TOKEN")
	}
	if !tunnel.ValidToken(cfg.Token) {
		return nil, tunnel.ErrInvalidToken
	}
	if _, err := tunnel.ConnectURL(cfg.Edge); err != nil {
		return nil, err
	}
	if cfg.Name != "" && !tunnel.ValidName(cfg.Name) {
		return nil, fmt.Errorf("agent: %q is not a valid tunnel name (lowercase letters, digits and '-', at most 63)", cfg.Name)
	}
	a := &Agent{cfg: cfg, log: cfg.Logger, inspector: newInspector(), edges: newEdgeSet(cfg.Edge), pool: newAppPool()}
	tunnels, hello, err := compileTunnels(cfg, proxySettings{cfg.HostHeader, cfg.TargetTLS, a.warn}.maker())
	if err != nil {
		return nil, err
	}
	if cfg.Session.Logger == nil {
		cfg.Session.Logger = cfg.Logger
	}
	if err := tunnel.VerifyConfig(cfg.Session); err != nil {
		return nil, err
	}
	if cfg.TargetPoll < 0 {
		return nil, errors.New("agent: target poll interval must not be negative")
	}
	if cfg.Backoff.Min <= 0 || cfg.Backoff.Max < cfg.Backoff.Min {
		return nil, errors.New("agent: backoff min must be positive and at most max")
	}
	a.tunnels, a.hello = tunnels, hello
	return a, nil
}

// TargetFor describes the local target that serves a request of the
// tunnel for path the edge sends with target name ("" when its route
// names none): the address, and the name or path prefix that leads there.
func (a *Agent) TargetFor(tunnelName, path, name string) string {
	targets := a.tunnel(tunnelName).targets
	if name != "" {
		t, err := targets.forName(name)
		if err != nil {
			return "no target named " + quoteName(name) + " (502)"
		}
		return t.String()
	}
	if t := targets.forPath(path); t != nil {
		return t.String()
	}
	return "no target (502)"
}

// Run connects and serves until ctx ends (then it finishes in-flight
// requests and returns nil), an edge refuses the agent for good (then it
// returns the *tunnel.Refusal), or GiveUpAfter tries in a row failed in a
// way retrying cannot fix (then it returns the *EdgeError). Network
// errors are retried forever. Behind several edges whose Welcome lists
// them, a second session to another edge serves the same tunnels.
func (a *Agent) Run(ctx context.Context) error {
	defer a.draining.Wait()
	stopHelpers, err := a.startHelpers(ctx)
	if err != nil {
		return err
	}
	defer stopHelpers()
	ctx, stop := context.WithCancelCause(ctx)
	var second sync.WaitGroup
	second.Go(func() {
		if err := a.keepSecond(ctx); err != nil {
			stop(err) // a refusal of the second session ends the first too
		}
	})
	defer func() {
		stop(nil)
		second.Wait()
	}()
	return a.keepFirst(ctx)
}

// ended is what Run returns once ctx has ended: the second session's
// refusal that ended it, else nil (the agent was stopped).
func ended(ctx context.Context) error {
	if cause := context.Cause(ctx); tunnel.IsPermanent(cause) {
		return cause
	}
	return nil
}

// keepFirst keeps the first session, to the --edge URL, until ctx ends,
// an edge refuses the agent for good, or the agent gives up.
func (a *Agent) keepFirst(ctx context.Context) error {
	failures := 0
	immediate := false
	var stuck unfixable
	for {
		if !immediate {
			if err := a.wait(ctx, failures); err != nil {
				return ended(ctx)
			}
		}
		immediate = false
		sess, welcome, err := tunnel.Dial(ctx, a.cfg.Edge, a.hello, a.cfg.Session, a.cfg.EdgeClient)
		if err != nil {
			if tunnel.IsPermanent(err) {
				return err
			}
			if ctx.Err() != nil {
				return ended(ctx)
			}
			failures++
			if err := a.dialFailed(ctx, err, failures, &stuck); err != nil {
				return err
			}
			continue
		}
		failures, stuck = 0, unfixable{}
		a.edges.firstOn(welcome)
		for _, t := range welcome.TunnelsServed() {
			a.log.Info("tunnel online", "tunnel", t.Tunnel, "session", welcome.SessionID, "urls", t.URLs)
		}
		if a.cfg.OnConnect != nil {
			a.cfg.OnConnect(welcome)
		}
		if line := olderEdge(a.hello, welcome); line != "" {
			a.log.Warn("the edge serves only the first tunnel", "tunnel", welcome.Tunnel)
			a.say(line)
		}
		connected := time.Now()
		a.inspector.use(sess)
		stopping := a.serve(ctx, sess, a.handler(welcome), nil)
		a.inspector.use(nil)
		if stopping {
			return ended(ctx)
		}
		if time.Since(connected) >= a.cfg.Backoff.StableAfter {
			// A long-lived connection dropped: try again at once, a blip
			// is the likeliest cause.
			immediate = true
		} else {
			failures = 1
		}
		a.log.Warn("tunnel offline, reconnecting", "tunnel", welcome.Tunnel, "session", welcome.SessionID)
	}
}

// startHelpers starts what runs beside the tunnel: the inspector and the
// watch on the app's port, and the debug listener when asked for. The
// returned func stops them and waits. It fails only when the inspector
// cannot have the one address it was given, or the debug listener its.
func (a *Agent) startHelpers(ctx context.Context) (stop func(), err error) {
	var inspectLn net.Listener
	if a.cfg.Inspect != "" {
		inspectLn, err = listenInspector(a.cfg.Inspect, a.cfg.InspectTries)
		switch {
		case err != nil && a.cfg.InspectTries <= 1:
			return nil, err
		case err != nil:
			// Ports the user did not choose cost the inspector, not the tunnel.
			a.log.Warn("inspector not started", "addr", a.cfg.Inspect, "err", err)
			a.say("no inspector: " + err.Error())
		case portOf(inspectLn.Addr().String()) != portOf(a.cfg.Inspect) && portOf(a.cfg.Inspect) != "0":
			a.say("inspector: http://" + inspectLn.Addr().String() + " (" + a.cfg.Inspect + " is taken)")
		default:
			a.say("inspector: http://" + inspectLn.Addr().String())
		}
	}
	var debugLn net.Listener
	if a.cfg.DebugAddr != "" {
		if debugLn, err = listenDebug(a.cfg.DebugAddr); err != nil {
			if inspectLn != nil {
				inspectLn.Close()
			}
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	var helpers sync.WaitGroup
	if debugLn != nil {
		helpers.Go(func() {
			if err := serveDebug(ctx, debugLn); err != nil {
				a.log.Warn("debug listener stopped", "addr", debugLn.Addr().String(), "err", err)
			}
		})
	}
	if inspectLn != nil {
		helpers.Go(func() {
			if err := a.inspector.serve(ctx, inspectLn); err != nil {
				a.log.Warn("inspector stopped", "addr", inspectLn.Addr().String(), "err", err)
			}
		})
	}
	if a.cfg.TargetPoll > 0 {
		// One watch for each address, however many targets share it.
		watched := map[string]bool{}
		for _, tn := range a.tunnels {
			for _, t := range tn.targets.all {
				addr := targetAddr(t.url)
				if watched[addr] {
					continue
				}
				watched[addr] = true
				w := targetWatch{addr: addr, every: a.cfg.TargetPoll, accepts: tcpAccepts, say: a.say}
				helpers.Go(func() { w.run(ctx) })
			}
		}
	}
	return func() {
		cancel()
		helpers.Wait()
	}, nil
}

// unfixable counts the tries in a row that failed in a way retrying
// cannot fix.
type unfixable struct {
	tries int
	last  error // the Kind of the last one
}

// dialFailed logs a failed try and, for one retrying cannot fix, says what
// to do (once for each kind in a row); it returns the *EdgeError when the
// agent should give up.
func (a *Agent) dialFailed(ctx context.Context, err error, attempt int, stuck *unfixable) error {
	edgeErr := Diagnose(ctx, a.cfg.Edge, a.cfg.EdgeClient, err)
	if edgeErr == nil {
		*stuck = unfixable{}
		a.log.Warn("cannot reach the edge", "edge", a.cfg.Edge, "err", err, "attempt", attempt)
		return nil
	}
	a.log.Warn("cannot reach the edge", "edge", a.cfg.Edge, "err", err, "attempt", attempt, "fix", edgeErr.Fix)
	if stuck.last != edgeErr.Kind {
		a.say(edgeErr.Error())
		stuck.tries = 0
	}
	stuck.tries++
	stuck.last = edgeErr.Kind
	if a.cfg.GiveUpAfter > 0 && stuck.tries >= a.cfg.GiveUpAfter {
		return fmt.Errorf("%w (gave up after %d tries)", edgeErr, stuck.tries)
	}
	return nil
}

func (a *Agent) warn(msg string, args ...any) { a.log.Warn(msg, args...) }

// say shows line to the person running the agent.
func (a *Agent) say(line string) {
	if a.cfg.Say != nil {
		a.cfg.Say(line)
		return
	}
	a.log.Info(line)
}

// wait sleeps the backoff delay for the given number of failures (none
// before the first attempt); it returns ctx's error if ctx ends first.
func (a *Agent) wait(ctx context.Context, failures int) error {
	if failures == 0 {
		return ctx.Err()
	}
	t := time.NewTimer(backoffDelay(a.cfg.Backoff, failures))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backoffDelay is Min·2^(failures-1), capped at Max, jittered down by up
// to a half so a fleet of agents does not reconnect in step.
func backoffDelay(b Backoff, failures int) time.Duration {
	d := b.Min
	for i := 1; i < failures && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d/2 + rand.N(d/2+1)
}

// serve forwards the session's streams to the app until the session ends,
// the edge says it is going away, the agent asks it to leave (leave is
// closed; nil never is), or ctx ends. It reports whether the agent is
// shutting down.
func (a *Agent) serve(ctx context.Context, sess *tunnel.Session, h *tunnelRouter, leave <-chan struct{}) (stopping bool) {
	// No read or idle timeouts: the streams come from the edge, which
	// closes the idle ones itself (and all of them with the session), and
	// a deadline would cost every stream read a timer.
	p := newPipe(h, a.pool, a.cfg.HostHeader, a.warn, slog.NewLogLogger(a.log.Handler(), slog.LevelDebug))
	go p.serve(sess.AcceptContext)
	select {
	case <-sess.Done():
		p.close()
		return false
	case <-sess.GoingAway():
		// The edge sends nothing new here; let in-flight requests finish
		// while the agent reconnects.
		a.draining.Add(1)
		go func() {
			defer a.draining.Done()
			<-sess.Done()
			p.close()
		}()
		return false
	case <-leave:
		// The edge sends nothing new once told; in-flight requests finish
		// while the agent connects elsewhere.
		_ = sess.GoAway("agent moves to another edge")
		a.draining.Add(1)
		go func() {
			defer a.draining.Done()
			a.shutdown(p)
			sess.Close()
		}()
		return false
	case <-ctx.Done():
		_ = sess.GoAway("agent shutting down")
		a.shutdown(p)
		sess.Close()
		return true
	}
}

// shutdown lets p's in-flight requests finish, for ShutdownGrace at most.
func (a *Agent) shutdown(p *pipe) {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
	defer cancel()
	if err := p.shutdown(ctx); err != nil {
		a.log.Warn("in-flight requests cut at shutdown", "err", err)
	}
}

// portOf is the port of a host:port address, "" if it has none.
func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}
