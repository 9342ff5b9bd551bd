package agent

import (
	"context"
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
	failures := 0
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
			timer := time.NewTimer(relistEvery)
			if a.edges.inCluster() {
				relist = timer.C
			}
			select {
			case <-changed:
			case <-relist:
				a.relist(ctx)
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

// relistEvery is how often an agent whose cluster lists no second edge
// asks the --edge URL for the list again.
const relistEvery = 5 * time.Second

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
