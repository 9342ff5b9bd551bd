package edge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/relay"
	"github.com/hooktunnel/hooktunnel/edge/store"
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
	c, next, err := e.compileReload()
	if err != nil {
		e.metrics.reloads.WithLabelValues("error").Inc()
		e.auditReload(ctx, actor, nil, nil, err)
		e.log.Error("config reload refused; the running config stays", "err", err)
		return err
	}
	old := e.cfg.Load()
	e.cfg.Store(c)
	e.auditReload(ctx, actor, old, c, nil)
	if swapped, err := e.alerts.replace(next.Alerts, e.newAlerts); err != nil {
		e.log.Error("alert rules not reloaded; the running ones stay", "err", err)
	} else if swapped {
		e.log.Info("alert rules reloaded", "rules", len(next.Alerts.Rules))
	}
	e.journal.budget.max.Store(c.journal.maxPending)
	if c.journal != old.journal {
		e.wakePurge()
	}
	revoked := e.revokeUngranted(c)
	e.metrics.reloads.WithLabelValues("ok").Inc()
	e.log.Info("config reloaded", "tunnels", len(c.tunnels), "agents", len(c.grants), "revoked_sessions", revoked)
	e.wakeQueue()
	return nil
}

// compileReload reads and compiles the config again, and refuses it when
// it changes a setting only a restart applies.
func (e *Edge) compileReload() (*compiled, Config, error) {
	next, err := e.raw.Reload()
	if err != nil {
		return nil, next, err
	}
	c, err := next.compile(e.tunnelEnvWith(next.IPLists))
	if err != nil {
		return nil, next, err
	}
	if err := needsRestart(e.cfg.Load().fixed, c.fixed); err != nil {
		return nil, next, err
	}
	return c, next, nil
}

// ErrNeedsRestart is why a reload that changes a setting read only at
// start (a listener, the TLS mode, the data directory…) is refused; the
// error is a *RestartError naming the setting.
var ErrNeedsRestart = errors.New("edge: the setting changes only at restart")

// RestartError is a reload's change of a setting read only at start.
type RestartError struct {
	Field    string // as in the config file: "proxy_protocol", "acme.cache"
	Old, New string
}

func (e *RestartError) Error() string {
	return fmt.Sprintf("edge: %s cannot change on reload (%q → %q): it needs a restart", e.Field, e.Old, e.New)
}

func (e *RestartError) Is(target error) bool { return target == ErrNeedsRestart }

// fixedSetting is one setting read only at start, with its compiled value.
type fixedSetting struct{ field, value string }

// fixedSettings are the settings of c a reload cannot change: the edge
// binds its listeners, chooses its certificates and opens its store once.
func fixedSettings(c Config, out *compiled) []fixedSetting {
	acme := c.ACME // its cache defaults to one under data
	return []fixedSetting{
		{"domain", out.domain},
		{"listen", c.Listen},
		{"http_listen", c.HTTPListen},
		{"admin_listen", c.AdminListen},
		{"proxy_protocol", strconv.FormatBool(c.ProxyProtocol)},
		{"tls", out.tls.mode},
		{"tls_cert", c.TLSCert},
		{"tls_key", c.TLSKey},
		{"acme.email", acme.Email},
		{"acme.directory", acme.Directory},
		{"acme.ca_root", acme.CARoot},
		{"acme.cache", acme.Cache},
		{"data", c.Data},
		// The store is opened once; its URL may hold a password.
		{"store", store.Redact(c.Store)},
		{"cluster.advertise", c.Cluster.Advertise},
		{"cluster.name", c.Cluster.Name},
		// The reference only: a reload reads the file or variable it
		// names again, and the edge signs and checks with what it read
		// (both read the current config's secret).
		{"cluster.secret", c.Cluster.Secret},
		// The listeners' http.Servers read these when they start.
		{"limits.read_header_timeout", c.Limits.ReadHeaderTimeout.String()},
		{"limits.idle_timeout", c.Limits.IdleTimeout.String()},
		{"limits.max_header_bytes", strconv.Itoa(c.Limits.MaxHeaderBytes)},
	}
}

// needsRestart returns a *RestartError for each fixed setting next
// changes, joined; nil when none does.
func needsRestart(running, next []fixedSetting) error {
	var errs []error
	for i, s := range running {
		if n := next[i]; n.value != s.value {
			errs = append(errs, &RestartError{Field: s.field, Old: s.value, New: n.value})
		}
	}
	return errors.Join(errs...)
}

// revokeUngranted retires the sessions whose token the config no longer
// grants one of their tunnels, and returns how many. A session serving
// several tunnels leaves all of them: the agent asked for them together,
// and is refused them together when it connects again.
func (e *Edge) revokeUngranted(c *compiled) int {
	revoked := map[*relay.Session]bool{}
	timeout := c.limits.ShutdownTimeout
	for name, list := range e.relay.All() {
		for _, as := range list {
			if g := c.grants[as.TokenHash]; revoked[as] || g != nil && g.name == as.Agent && g.allows(name) {
				continue
			}
			revoked[as] = true
			for _, n := range as.Tunnels {
				e.relay.Remove(n, as) // no new requests from now on
			}
			e.log.Warn("agent revoked: its token no longer grants the tunnel", "tunnel", name, "tunnels", as.Tunnels, "agent", as.Agent, "session", as.ID)
			e.serving.Add(1)
			go func() {
				defer e.serving.Done()
				// Requests under way finish first (up to the shutdown
				// timeout).
				as.Retire(e.clock, timeout, "token revoked")
			}()
		}
	}
	return len(revoked)
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
