// Package alert watches the edge for anomalies: rules in the config such
// as `signature_failures > 20 in 5m` or `agent_offline > 2m`, evaluated
// every few seconds per tunnel (and route); when one fires the edge logs a
// warning, shows it in the API and UI, and POSTs a JSON alert signed with
// Standard Webhooks to a configured URL, retried with backoff.
package alert

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/hooktunnel/hooktunnel/policy"
)

// Config is the `alerts:` section of the edge config.
type Config struct {
	// Webhook is where alerts are POSTed; without a URL alerts are only
	// logged and shown.
	Webhook WebhookConfig `yaml:"webhook"`
	Rules   []Rule        `yaml:"rules"`
	// Cooldown is the least time between two firing notifications of one
	// rule for one tunnel (and route): a rule that clears and fires again
	// within it is shown and logged, and notified once the cooldown ends
	// if it is still firing. 0 means the default, 10m.
	Cooldown time.Duration `yaml:"cooldown"`
	// Interval is how often the rules are evaluated; 0 means 5s.
	Interval time.Duration `yaml:"interval"`

	// Gauges reports the queue and agent gauges at each evaluation; nil
	// reports none (the gauge rules then never fire).
	Gauges func() []Gauge `yaml:"-"`
	// Now is the clock; nil is time.Now.
	Now    func() time.Time `yaml:"-"`
	Logger *slog.Logger     `yaml:"-"`
	// Client sends the alerts; nil is a client that follows no redirects.
	Client *http.Client `yaml:"-"`
}

// WebhookConfig is the receiver of the alerts.
type WebhookConfig struct {
	URL string `yaml:"url"`
	// Secret is the receiver's Standard Webhooks secret (whsec_…), as
	// env:NAME, file:PATH or the literal value.
	Secret string `yaml:"secret"`
	// Attempts bounds the tries of one alert (0: 5); Timeout bounds each
	// (0: 10s). Between tries the wait doubles from a second to 30s.
	Attempts int           `yaml:"attempts"`
	Timeout  time.Duration `yaml:"timeout"`
}

// Rule is one alert rule.
type Rule struct {
	Name string `yaml:"name"`
	// When is `<metric> > <threshold> [in <window>]`, e.g.
	// `refused_ratio > 0.5 in 10m` or `queue_oldest > 15m`.
	When string `yaml:"when"`
	// Tunnel limits the rule to tunnels matching this name or glob
	// ("ci-*"); empty is every tunnel. Each tunnel fires on its own.
	Tunnel string `yaml:"tunnel"`
	// Route, when set, makes the rule per route: a route path as
	// configured, a glob, or "*" for every route. Empty counts each
	// tunnel as a whole (refusals before any route matched included).
	Route string `yaml:"route"`
}

// Defaults.
const (
	DefaultCooldown = 10 * time.Minute
	DefaultInterval = 5 * time.Second
	defaultAttempts = 5
	defaultTimeout  = 10 * time.Second
)

// DefaultConfig has no rules and the default timings.
func DefaultConfig() Config {
	return Config{
		Cooldown: DefaultCooldown,
		Interval: DefaultInterval,
		Webhook:  WebhookConfig{Attempts: defaultAttempts, Timeout: defaultTimeout},
	}
}

// compiled is Config validated once.
type compiled struct {
	rules     []*rule
	cooldown  time.Duration
	interval  time.Duration
	url       string
	key       []byte // the decoded webhook secret; nil without a webhook
	attempts  int
	timeout   time.Duration
	maxWindow time.Duration // the longest counter window, for the ring size
}

// rule is a compiled Rule.
type rule struct {
	name   string
	when   string
	expr   expr
	tunnel string // glob; "" matches every tunnel
	route  string // glob, "*" or ""
}

// maxWindow bounds the windows: the rings hold at most maxBuckets buckets,
// so a longer window would only be coarser.
const maxWindow = 24 * time.Hour

// Compile validates c. Errors are policy.FieldErrors naming the field
// under `alerts` ("rules[2].when: …").
func (c Config) Compile() (*compiled, error) {
	out := &compiled{
		cooldown: c.Cooldown,
		interval: c.Interval,
		attempts: c.Webhook.Attempts,
		timeout:  c.Webhook.Timeout,
	}
	if out.cooldown == 0 {
		out.cooldown = DefaultCooldown
	}
	if out.interval == 0 {
		out.interval = DefaultInterval
	}
	if out.attempts == 0 {
		out.attempts = defaultAttempts
	}
	if out.timeout == 0 {
		out.timeout = defaultTimeout
	}
	switch {
	case out.cooldown < 0:
		return nil, policy.AtField("cooldown", errors.New("must not be negative"))
	case out.interval < 100*time.Millisecond:
		return nil, policy.AtField("interval", errors.New("must be at least 100ms (e.g. 5s)"))
	case out.attempts < 0 || out.attempts > 20:
		return nil, policy.AtField("webhook.attempts", errors.New("must be between 1 and 20"))
	case out.timeout < 0:
		return nil, policy.AtField("webhook.timeout", errors.New("must not be negative"))
	}
	if err := c.Webhook.compile(out); err != nil {
		return nil, policy.AtField("webhook", err)
	}
	names := map[string]bool{}
	for i, r := range c.Rules {
		cr, err := r.compile()
		if err != nil {
			return nil, policy.AtField(fmt.Sprintf("rules[%d]", i), err)
		}
		if names[cr.name] {
			return nil, policy.AtField(fmt.Sprintf("rules[%d].name", i), fmt.Errorf("%q is used twice", cr.name))
		}
		names[cr.name] = true
		if cr.expr.metric.kind != gauge {
			out.maxWindow = max(out.maxWindow, cr.expr.window)
		}
		out.rules = append(out.rules, cr)
	}
	return out, nil
}

func (w WebhookConfig) compile(out *compiled) error {
	if w.URL == "" {
		if w.Secret != "" {
			return policy.AtField("url", errors.New("is required when a secret is set"))
		}
		return nil
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return policy.AtField("url", fmt.Errorf("%q is not an http:// or https:// URL", w.URL))
	}
	out.url = u.String()
	if w.Secret == "" {
		return policy.AtField("secret", errors.New("is required: the receiver's Standard Webhooks secret (whsec_…), as env:NAME or file:PATH"))
	}
	s, err := policy.ResolveSecret(w.Secret)
	if err != nil {
		return policy.AtField("secret", err)
	}
	if out.key, err = policy.DecodeWebhookSecret(s.Value); err != nil {
		return policy.AtField("secret", fmt.Errorf("%s %w", s.Ref, err))
	}
	return nil
}

func (r Rule) compile() (*rule, error) {
	out := &rule{name: strings.TrimSpace(r.Name), when: r.When, tunnel: r.Tunnel, route: r.Route}
	if out.name == "" {
		return nil, policy.AtField("name", errors.New("is required"))
	}
	x, err := parseWhen(r.When)
	if err != nil {
		return nil, policy.AtField("when", err)
	}
	out.expr = x
	if r.Tunnel != "" {
		if _, err := path.Match(r.Tunnel, ""); err != nil {
			return nil, policy.AtField("tunnel", fmt.Errorf("%q is not a name or glob", r.Tunnel))
		}
	}
	if r.Route != "" {
		if x.metric.perTunnel {
			return nil, policy.AtField("route", fmt.Errorf("%s is per tunnel: drop the route", x.metric.name))
		}
		if _, err := path.Match(r.Route, ""); err != nil {
			return nil, policy.AtField("route", fmt.Errorf("%q is not a route path or glob", r.Route))
		}
	}
	return out, nil
}

// matchTunnel reports whether the rule covers tunnel.
func (r *rule) matchTunnel(tunnel string) bool {
	if r.tunnel == "" {
		return true
	}
	ok, _ := path.Match(r.tunnel, tunnel)
	return ok
}

// subjectRoute is the route a value of route counts under for this rule:
// "" when the rule is per tunnel, and ok false when the rule's route
// filter leaves it out.
func (r *rule) subjectRoute(route string) (string, bool) {
	switch {
	case r.route == "":
		return "", true
	case route == "":
		return "", false
	case r.route == "*" || r.route == route:
		return route, true
	}
	ok, _ := path.Match(r.route, route)
	return route, ok
}
