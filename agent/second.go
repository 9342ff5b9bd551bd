package agent

import (
	"context"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// keepSecond keeps the agent's second session, to an edge the latest
// Welcome lists that the first session does not hold, until ctx ends. It
// serves the same tunnels with the same handler as the first. While no
// such edge is listed it waits for a Welcome that lists one. It returns
// only a refusal retrying cannot fix, which ends the agent as one to the
// first session does.
func (a *Agent) keepSecond(ctx context.Context) error {
	failures, relists := 0, 0
	for {
		if err := a.wait(ctx, failures); err != nil {
			return nil
		}
		edge, changed := a.edges.pick()
		if edge == "" {
			failures = 0
			// In a cluster whose other edges are not up yet (or not
			// listed yet), ask again now and then: edges join later.
			var relist <-chan time.Time
			timer := time.NewTimer(relistAfter(relists))
			if a.edges.inCluster() {
				relist = timer.C
			}
			select {
			case <-changed:
				relists = 0
			case <-relist:
				a.relist(ctx)
				relists++
			case <-ctx.Done():
			}
			timer.Stop()
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		sess, welcome, err := tunnel.Dial(ctx, edge, a.edges.secondHello(a.hello), a.cfg.Session, a.otherEdgesClient())
		if err != nil {
			if tunnel.IsPermanent(err) {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			failures++
			a.edges.failed()
			a.log.Warn("cannot reach a second edge", "edge", edge, "err", err, "attempt", failures)
			continue
		}
		leave, ok := a.edges.hold(welcome, edge)
		if !ok {
			// The URL led to the edge the first session holds (a name
			// for several edges, say): two sessions there guard nothing.
			sess.Close()
			failures++
			a.edges.failed()
			a.log.Info("the second edge is the first session's; trying another", "edge", edge, "at", welcome.Edge)
			continue
		}
		relists = 0
		a.log.Info("second session online", "edge", edge, "session", welcome.SessionID, "tunnel", welcome.Tunnel)
		connected := time.Now()
		stopping := a.serve(ctx, sess, a.handler(welcome), leave)
		a.edges.release()
		if stopping {
			return nil
		}
		failures = 1
		select {
		case <-leave:
			// The first session came to this edge: another, at once.
			failures = 0
		default:
			if time.Since(connected) >= a.cfg.Backoff.StableAfter {
				failures = 0
			}
		}
		a.log.Warn("second session offline, reconnecting", "edge", edge, "session", welcome.SessionID)
	}
}

// An agent whose cluster lists no second edge asks the --edge URL for the
// list again after relistEvery, then less often, up to relistMax apart:
// each ask is a handshake and a registry read on an edge, and a cluster
// with one edge down would otherwise take one from every agent every 5 s.
const (
	relistEvery = 5 * time.Second
	relistMax   = time.Minute
)

// relistAfter is the wait before the next ask, after n asks that found no
// second edge: doubling from relistEvery to relistMax, less up to a fifth
// at random so that agents started together spread out.
func relistAfter(n int) time.Duration {
	d := relistMax
	if n < 4 {
		d = min(relistEvery<<n, relistMax)
	}
	return d - time.Duration(rand.Int64N(int64(d/5)))
}

// relist asks the --edge URL for the cluster's edges with a probe (the
// edge checks the Hello, answers, and registers nothing).
func (a *Agent) relist(ctx context.Context) {
	hello := a.edges.secondHello(a.hello)
	hello.Probe = true
	sess, welcome, err := tunnel.Dial(ctx, a.cfg.Edge, hello, a.cfg.Session, a.cfg.EdgeClient)
	if err != nil {
		a.log.Debug("cannot ask the edge for the cluster's edges", "err", err)
		return
	}
	sess.Close()
	a.edges.relist(welcome)
}

// otherEdgesClient dials the edges a Welcome lists.
func (a *Agent) otherEdgesClient() *http.Client {
	if a.cfg.OtherEdgesClient != nil {
		return a.cfg.OtherEdgesClient
	}
	return a.cfg.EdgeClient
}
