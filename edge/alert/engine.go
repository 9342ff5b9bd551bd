package alert

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Gauge is the state of one tunnel (and route) at an evaluation: the
// queue per route, the agent per tunnel (Route empty).
type Gauge struct {
	Tunnel, Route string
	// QueueOldest is the age of the oldest pending queued message and
	// QueueDepth the number of them.
	QueueOldest time.Duration
	QueueDepth  int
	// AgentOffline is how long a tunnel with configured routes has had
	// no agent; 0 while one is connected.
	AgentOffline time.Duration
	// EdgeLapsed is how long ago an edge of the cluster let its lease
	// lapse (killed, or cut off from the database); Tunnel is empty.
	EdgeLapsed time.Duration
}

// Alert states.
const (
	StateFiring   = "firing"
	StateResolved = "resolved"
)

// Alert is one rule firing for one tunnel (and route), as the API shows
// it. Values and thresholds of duration metrics are in seconds.
type Alert struct {
	Rule      string    `json:"rule"`
	When      string    `json:"when"`
	Metric    string    `json:"metric"`
	Tunnel    string    `json:"tunnel"`
	Route     string    `json:"route,omitempty"`
	Value     float64   `json:"value"`
	Threshold float64   `json:"threshold"`
	Window    string    `json:"window,omitempty"`
	State     string    `json:"state"`
	FiredAt   time.Time `json:"fired_at"`
	// ResolvedAt is set once the condition cleared.
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	// Notified is set once the firing was sent to the webhook (it waits
	// for the cooldown after a previous one).
	Notified bool `json:"notified"`
}

// historySize is how many transitions Recent remembers.
const historySize = 200

// Engine counts request outcomes and evaluates the rules.
type Engine struct {
	cfg     *compiled
	now     func() time.Time
	log     *slog.Logger
	gauges  func() []Gauge
	windows *windows
	counts  bool // some rule counts events

	sender *sender // nil without a webhook

	mu       sync.Mutex
	active   map[stateKey]*Alert
	lastSent map[stateKey]time.Time // firing notifications, for the cooldown
	history  []Alert                // ring of transitions, oldest first
}

// stateKey is one rule's subject.
type stateKey struct{ rule, tunnel, route string }

// New compiles cfg into an engine; Run starts it.
func New(cfg Config) (*Engine, error) {
	c, err := cfg.Compile()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:      c,
		now:      cfg.Now,
		log:      cfg.Logger,
		gauges:   cfg.Gauges,
		windows:  newWindows(c.maxWindow),
		counts:   c.maxWindow > 0,
		active:   map[stateKey]*Alert{},
		lastSent: map[stateKey]time.Time{},
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.url != "" {
		client := cfg.Client
		if client == nil {
			client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		}
		e.sender = newSender(c, client, e.now, e.log)
	}
	return e, nil
}

// Observe counts one outcome. It is cheap and safe for concurrent use;
// the edge calls it on every request.
func (e *Engine) Observe(ev Event) {
	if e == nil || !e.counts {
		return
	}
	e.windows.observe(e.now(), ev)
}

// Run evaluates the rules every interval and sends the notifications
// until ctx ends; then it returns nil, having stopped its goroutines.
func (e *Engine) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	if e.sender != nil {
		wg.Go(func() { e.sender.run(ctx) })
	}
	t := time.NewTicker(e.cfg.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			e.evaluate()
		}
	}
}

// evaluate checks every rule against every subject now.
func (e *Engine) evaluate() {
	now := e.now()
	var gauges []Gauge
	if e.gauges != nil {
		gauges = e.gauges()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.cfg.rules {
		var values map[subject]float64
		if r.expr.metric.kind == gauge {
			values = gaugeValues(r, gauges)
		} else {
			values = e.counterValues(r, now)
		}
		e.apply(r, values, now)
	}
	e.notifyHeld(now)
	for key, at := range e.lastSent {
		if e.active[key] == nil && now.Sub(at) >= e.cfg.cooldown {
			delete(e.lastSent, key)
		}
	}
	if e.counts {
		e.windows.prune(now)
	}
}

// counterValues are the rule's values per subject over its window.
func (e *Engine) counterValues(r *rule, now time.Time) map[subject]float64 {
	sums := map[subject]counts{}
	e.windows.each(now, e.windows.span(r.expr.window), func(s subject, c counts) {
		if !r.matchTunnel(s.tunnel) {
			return
		}
		route, ok := r.subjectRoute(s.route)
		if !ok {
			return
		}
		key := subject{s.tunnel, route}
		total := sums[key]
		total.add(c)
		sums[key] = total
	})
	values := make(map[subject]float64, len(sums))
	for s, c := range sums {
		values[s] = r.expr.metric.count(c)
	}
	return values
}

// gaugeValues are the rule's values per subject from the gauges.
func gaugeValues(r *rule, gauges []Gauge) map[subject]float64 {
	m := r.expr.metric
	values := map[subject]float64{}
	for _, g := range gauges {
		if !r.matchTunnel(g.Tunnel) {
			continue
		}
		route, ok := r.subjectRoute(g.Route)
		if m.perTunnel {
			route, ok = "", true
		}
		if !ok {
			continue
		}
		key := subject{g.Tunnel, route}
		v := m.gauge(g)
		if old, seen := values[key]; seen {
			v = m.combine(old, v)
		}
		values[key] = v
	}
	return values
}

// apply fires and resolves the rule's alerts for the values; a subject
// that has no value any more counts as zero.
func (e *Engine) apply(r *rule, values map[subject]float64, now time.Time) {
	for key, a := range e.active {
		if key.rule != r.name {
			continue
		}
		if _, ok := values[subject{key.tunnel, key.route}]; !ok {
			a.Value = 0
			e.resolve(key, a, now)
		}
	}
	subjects := make([]subject, 0, len(values))
	for s := range values {
		subjects = append(subjects, s)
	}
	slices.SortFunc(subjects, func(a, b subject) int {
		return cmp.Or(cmp.Compare(a.tunnel, b.tunnel), cmp.Compare(a.route, b.route))
	})
	for _, s := range subjects {
		v := values[s]
		key := stateKey{r.name, s.tunnel, s.route}
		a := e.active[key]
		switch {
		case a != nil && v > r.expr.threshold:
			a.Value = v
		case a != nil:
			a.Value = v
			e.resolve(key, a, now)
		case v > r.expr.threshold:
			e.fire(key, r, v, now)
		}
	}
}

func (e *Engine) fire(key stateKey, r *rule, v float64, now time.Time) {
	a := &Alert{
		Rule: r.name, When: r.expr.String(), Metric: r.expr.metric.name,
		Tunnel: key.tunnel, Route: key.route,
		Value: v, Threshold: r.expr.threshold,
		State: StateFiring, FiredAt: now.UTC(),
	}
	if r.expr.window > 0 {
		a.Window = shortDuration(r.expr.window)
	}
	e.active[key] = a
	e.log.Warn("alert firing", "rule", a.Rule, "tunnel", a.Tunnel, "route", a.Route,
		"value", a.Value, "threshold", a.Threshold, "window", a.Window, "when", a.When)
	if last, ok := e.lastSent[key]; ok && now.Sub(last) < e.cfg.cooldown {
		e.log.Info("alert notification held by the cooldown", "rule", a.Rule, "tunnel", a.Tunnel, "route", a.Route,
			"until", last.Add(e.cfg.cooldown).UTC())
	} else {
		e.notify(key, a, now)
	}
	e.remember(*a)
}

func (e *Engine) resolve(key stateKey, a *Alert, now time.Time) {
	delete(e.active, key)
	a.State, a.ResolvedAt = StateResolved, now.UTC()
	e.log.Info("alert resolved", "rule", a.Rule, "tunnel", a.Tunnel, "route", a.Route,
		"value", a.Value, "threshold", a.Threshold, "notified", a.Notified)
	if a.Notified {
		// The receiver heard of the firing, so it hears of the end.
		e.send(a, now)
	}
	e.remember(*a)
}

// notifyHeld sends the firings the cooldown held once it is over.
func (e *Engine) notifyHeld(now time.Time) {
	for key, a := range e.active {
		if !a.Notified && now.Sub(e.lastSent[key]) >= e.cfg.cooldown {
			e.notify(key, a, now)
		}
	}
}

func (e *Engine) notify(key stateKey, a *Alert, now time.Time) {
	a.Notified = true
	e.lastSent[key] = now
	e.send(a, now)
}

// send hands a notification to the sender; without a webhook it is only
// logged.
func (e *Engine) send(a *Alert, now time.Time) {
	if e.sender == nil {
		return
	}
	e.sender.enqueue(payloadOf(a, now))
}

// remember adds a transition to the history.
func (e *Engine) remember(a Alert) {
	if len(e.history) == historySize {
		copy(e.history, e.history[1:])
		e.history = e.history[:historySize-1]
	}
	e.history = append(e.history, a)
}

// Active is the alerts firing now, by rule, tunnel and route.
func (e *Engine) Active() []Alert {
	if e == nil {
		return []Alert{}
	}
	e.mu.Lock()
	out := make([]Alert, 0, len(e.active))
	for _, a := range e.active {
		out = append(out, *a)
	}
	e.mu.Unlock()
	slices.SortFunc(out, func(a, b Alert) int {
		return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Tunnel, b.Tunnel), cmp.Compare(a.Route, b.Route))
	})
	return out
}

// Recent is the last n transitions (firing, resolved), newest first.
func (e *Engine) Recent(n int) []Alert {
	if e == nil {
		return []Alert{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	n = min(max(n, 0), len(e.history))
	out := make([]Alert, n)
	for i := range n {
		out[i] = e.history[len(e.history)-1-i]
	}
	return out
}
