package edge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
)

// ErrNoReload is returned when the edge was started without a config file.
var ErrNoReload = errors.New("edge: started without --config: nothing to reload")

// Reload reads the config again and swaps it in: routes, secrets, tokens
// and limits take effect on the next request; tunnels whose agents are
// still allowed keep their sessions; agents whose token was removed (or
// no longer grants their tunnel) get no new requests at once and are
// disconnected when their in-flight requests are done. A broken config
// is refused and the running one stays.
func (e *Edge) Reload() error { return e.reload(context.Background(), actorSignal) }

// reload is Reload on behalf of actor, for the audit trail.
func (e *Edge) reload(ctx context.Context, actor string) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	if e.raw.Reload == nil {
		return ErrNoReload
	}
	next, err := e.raw.Reload()
	if err == nil {
		var c *compiled
		if c, err = next.compile(e.tunnelEnvWith(next.IPLists)); err == nil {
			old := e.cfg.Load()
			if c.domain != old.domain {
				err = fmt.Errorf("edge: domain cannot change on reload (%s → %s): restart the edge", old.domain, c.domain)
			} else {
				if c.fixed != old.fixed {
					e.log.Warn("config reloaded: listeners, TLS mode and data directory change only at restart")
				}
				e.cfg.Store(c)
				e.auditReload(ctx, actor, old, c, nil)
				if swapped, err := e.alerts.replace(next.Alerts, e.newAlerts); err != nil {
					e.log.Error("alert rules not reloaded; the running ones stay", "err", err)
				} else if swapped {
					e.log.Info("alert rules reloaded", "rules", len(next.Alerts.Rules))
				}
				revoked := e.revokeUngranted(c)
				e.metrics.reloads.WithLabelValues("ok").Inc()
				e.log.Info("config reloaded", "tunnels", len(c.tunnels), "agents", len(c.grants), "revoked_sessions", revoked)
				e.wakeQueue()
				return nil
			}
		}
	}
	e.metrics.reloads.WithLabelValues("error").Inc()
	e.auditReload(ctx, actor, nil, nil, err)
	e.log.Error("config reload refused; the running config stays", "err", err)
	return err
}

// revokeUngranted retires the sessions whose token the config no longer
// grants one of their tunnels, and returns how many. A session serving
// several tunnels leaves all of them: the agent asked for them together,
// and is refused them together when it connects again.
func (e *Edge) revokeUngranted(c *compiled) int {
	revoked := map[*agentSession]bool{}
	for name, list := range e.reg.all() {
		for _, as := range list {
			if g := c.grants[as.tokenHash]; revoked[as] || g != nil && g.name == as.agent && g.allows(name) {
				continue
			}
			revoked[as] = true
			for _, n := range as.tunnels {
				e.reg.remove(n, as) // no new requests from now on
			}
			e.log.Warn("agent revoked: its token no longer grants the tunnel", "tunnel", name, "tunnels", as.tunnels, "agent", as.agent, "session", as.id)
			e.serving.Add(1)
			go func() {
				defer e.serving.Done()
				e.retire(as)
			}()
		}
	}
	return len(revoked)
}

// retire closes a session once its in-flight requests are done (or the
// shutdown timeout passes).
func (e *Edge) retire(as *agentSession) {
	deadline := time.Now().Add(e.cfg.Load().limits.ShutdownTimeout)
	for len(as.slots) > 0 && time.Now().Before(deadline) {
		select {
		case <-as.session.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	_ = as.session.GoAway("token revoked")
	as.session.Close()
}

// reloadHandler is POST /api/v1/reload; guardHosts keeps pages of other
// sites from asking for it.
func (e *Edge) reloadHandler(w http.ResponseWriter, r *http.Request) {
	if err := e.reload(r.Context(), e.actor(r)); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, ErrNoReload) {
			status = http.StatusConflict
		}
		writeRefusal(w, status, outcome.CodeConfigError, err.Error(), "")
		return
	}
	cfg := e.cfg.Load()
	writeJSON(w, http.StatusOK, map[string]any{"status": "reloaded", "tunnels": len(cfg.tunnels), "agents": len(cfg.grants)})
}
