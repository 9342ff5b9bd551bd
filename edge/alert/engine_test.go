package alert

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects an engine's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines are the log records with message msg.
func (l *logBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

type testEngine struct {
	*Engine
	clock *fakeClock
	logs  *logBuffer
	gauge []Gauge
}

// newTestEngine is an engine on a fake clock that is never Run: tests call
// evaluate. With a webhook, notifications stay in the sender's queue.
func newTestEngine(t *testing.T, cfg Config) *testEngine {
	t.Helper()
	return newTestEngineAt(t, newClock(), cfg)
}

func newTestEngineAt(t *testing.T, clock *fakeClock, cfg Config) *testEngine {
	t.Helper()
	te := &testEngine{clock: clock, logs: &logBuffer{}}
	cfg.Now = te.clock.now
	cfg.Logger = slog.New(slog.NewJSONHandler(te.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Gauges = func() []Gauge { return te.gauge }
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	te.Engine = e
	return te
}

func (te *testEngine) observe(n int, ev Event) {
	for range n {
		te.Observe(ev)
	}
}

// sent drains the notifications waiting in the sender's queue.
func (te *testEngine) sent() []Payload {
	var out []Payload
	for {
		select {
		case p := <-te.sender.queue:
			out = append(out, p)
		default:
			return out
		}
	}
}

func subjects(alerts []Alert) []string {
	out := []string{}
	for _, a := range alerts {
		out = append(out, a.Rule+"/"+a.Tunnel+a.Route+":"+a.State)
	}
	return out
}

func equal(a, b []string) bool { return strings.Join(a, " ") == strings.Join(b, " ") }

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestFireAndResolve(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Config{
		Webhook: WebhookConfig{URL: "http://127.0.0.1:1/unused", Secret: testSecret},
		Rules:   []Rule{{Name: "sig", When: "signature_failures > 2 in 1m", Tunnel: "git*"}},
	})
	te.observe(3, refusal("github", "/push", "bad_signature"))
	te.observe(2, refusal("github", "/push", "ip_not_allowed"))  // refused, not a signature failure
	te.observe(9, refusal("stripe", "/events", "bad_signature")) // another tunnel: not covered
	te.evaluate()

	active := te.Active()
	if !equal(subjects(active), []string{"sig/github:firing"}) {
		t.Fatalf("active %v", subjects(active))
	}
	a := active[0]
	if a.Value != 3 || a.Threshold != 2 || a.Window != "1m" || a.Metric != "signature_failures" || a.Route != "" || !a.Notified {
		t.Errorf("alert %+v", a)
	}
	logs := te.logs.lines(t, "alert firing")
	if len(logs) != 1 || logs[0]["level"] != "WARN" || logs[0]["rule"] != "sig" || logs[0]["tunnel"] != "github" ||
		logs[0]["value"] != 3.0 || logs[0]["threshold"] != 2.0 {
		t.Errorf("firing log %v", logs)
	}
	sent := te.sent()
	if len(sent) != 1 || sent[0].Type != TypeFiring || sent[0].Rule != "sig" || sent[0].Tunnel != "github" || sent[0].Value != 3 {
		t.Fatalf("sent %+v", sent)
	}

	// Still above: no second notification.
	te.clock.advance(5 * time.Second)
	te.observe(1, refusal("github", "/push", "bad_signature"))
	te.evaluate()
	if got := te.Active(); len(got) != 1 || got[0].Value != 4 {
		t.Errorf("active %+v", got)
	}
	if sent := te.sent(); len(sent) != 0 {
		t.Errorf("sent again while firing: %+v", sent)
	}

	// The failures leave the window: resolved.
	te.clock.advance(time.Minute)
	te.evaluate()
	if got := te.Active(); len(got) != 0 {
		t.Errorf("still active %+v", got)
	}
	sent = te.sent()
	if len(sent) != 1 || sent[0].Type != TypeResolved || sent[0].Value != 0 || !sent[0].At.Equal(te.clock.now()) {
		t.Fatalf("sent %+v", sent)
	}
	recent := te.Recent(10)
	if !equal(subjects(recent), []string{"sig/github:resolved", "sig/github:firing"}) {
		t.Errorf("recent %v", subjects(recent))
	}
	if !recent[0].ResolvedAt.Equal(te.clock.now()) || recent[0].FiredAt.IsZero() {
		t.Errorf("resolved %+v", recent[0])
	}
	if got := te.Recent(1); len(got) != 1 || got[0].State != StateResolved {
		t.Errorf("Recent(1) = %v", subjects(got))
	}
}

func TestCooldown(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Config{
		Cooldown: 10 * time.Minute,
		Webhook:  WebhookConfig{URL: "http://127.0.0.1:1/unused", Secret: testSecret},
		Rules:    []Rule{{Name: "refusals", When: "refused > 0 in 1m"}},
	})
	types := func() []string {
		var out []string
		for _, p := range te.sent() {
			out = append(out, p.Type)
		}
		return out
	}
	flap := func() { // one refusal: fires; a minute later: resolved
		te.observe(1, refusal("a", "", "bad_token"))
		te.evaluate()
	}

	flap() // t = 0
	if got := types(); !equal(got, []string{TypeFiring}) {
		t.Fatalf("first firing sent %v", got)
	}
	te.clock.advance(time.Minute)
	te.evaluate()
	if got := types(); !equal(got, []string{TypeResolved}) {
		t.Fatalf("resolution sent %v", got)
	}

	// Fires again within the cooldown: shown and logged, not sent; its
	// resolution is not sent either (the receiver never heard of it).
	te.clock.advance(time.Minute) // t = 2m
	flap()
	if active := te.Active(); len(active) != 1 || active[0].Notified {
		t.Fatalf("active %+v", active)
	}
	if got := types(); len(got) != 0 {
		t.Fatalf("sent within the cooldown: %v", got)
	}
	if held := te.logs.lines(t, "alert notification held by the cooldown"); len(held) != 1 {
		t.Errorf("held logs %v", held)
	}
	if fired := te.logs.lines(t, "alert firing"); len(fired) != 2 {
		t.Errorf("every firing is logged: %d", len(fired))
	}
	te.clock.advance(time.Minute)
	te.evaluate()
	if got := types(); len(got) != 0 {
		t.Fatalf("sent the resolution of an unsent firing: %v", got)
	}

	// Fires within the cooldown and stays: sent once the cooldown ends.
	te.clock.advance(4 * time.Minute) // t = 7m
	flap()
	for at := 7 * time.Minute; at < 10*time.Minute; at += 30 * time.Second {
		te.clock.advance(30 * time.Second)
		flap()
		if got := types(); at+30*time.Second < 10*time.Minute && len(got) != 0 {
			t.Fatalf("at %v sent %v", at+30*time.Second, got)
		} else if at+30*time.Second == 10*time.Minute && !equal(got, []string{TypeFiring}) {
			t.Fatalf("at the end of the cooldown sent %v", got)
		}
	}
	if active := te.Active(); len(active) != 1 || !active[0].Notified {
		t.Fatalf("active %+v", active)
	}
	te.clock.advance(time.Minute)
	te.evaluate()
	if got := types(); !equal(got, []string{TypeResolved}) {
		t.Fatalf("resolution sent %v", got)
	}
}

func TestPerRouteAndRatio(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Config{Rules: []Rule{
		{Name: "ratio", When: "refused_ratio > 0.5 in 10m"},
		{Name: "per-route", When: "requests > 2 in 1m", Route: "*"},
		{Name: "one-route", When: "requests > 2 in 1m", Route: "/a/*"},
		{Name: "dead", When: "dead_letters > 0 in 1h", Tunnel: "b"},
		{Name: "backlog", When: "bodies_dropped > 1 in 10m"},
	}})
	ok := func(tunnel, route string) Event { return Event{Tunnel: tunnel, Route: route, Outcome: "forwarded"} }
	// Tunnel a: 6 refused of 10 across two routes and no route.
	te.observe(3, ok("a", "/a/x"))
	te.observe(1, ok("a", "/b"))
	te.observe(3, refusal("a", "/b", "bad_signature"))
	te.observe(3, refusal("a", "", "ip_not_allowed"))
	// Tunnel b: half refused, not above; one dead letter.
	te.observe(2, ok("b", "/a/y"))
	te.observe(2, refusal("b", "/a/y", "rate_limited"))
	te.observe(1, Event{Tunnel: "b", Route: "/a/y", Outcome: OutcomeDead})
	// Tunnel b: two bodies the journal could not keep.
	te.observe(2, Event{Tunnel: "b", Route: "/a/y", Outcome: "forwarded", BodyDropped: true})
	te.evaluate()

	want := []string{"backlog/b:firing", "dead/b:firing", "one-route/a/a/x:firing", "one-route/b/a/y:firing",
		"per-route/a/a/x:firing", "per-route/a/b:firing", "per-route/b/a/y:firing", "ratio/a:firing"}
	active := te.Active()
	if !equal(subjects(active), want) {
		t.Fatalf("active %v\nwant   %v", subjects(active), want)
	}
	for _, a := range active {
		if a.Rule == "ratio" && a.Value != 0.6 {
			t.Errorf("ratio %v; want 0.6", a.Value)
		}
		if a.Rule == "per-route" && a.Tunnel == "a" && a.Route == "/b" && a.Value != 4 {
			t.Errorf("requests of a/b %v; want 4", a.Value)
		}
	}
}

func TestGauges(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Config{Rules: []Rule{
		{Name: "stuck", When: "queue_oldest > 15m"},
		{Name: "deep", When: "queue_depth > 100", Route: "*"},
		{Name: "offline", When: "agent_offline > 2m", Tunnel: "prod-*"},
	}})
	te.gauge = []Gauge{
		{Tunnel: "prod-a", Route: "/x", QueueOldest: 10 * time.Minute, QueueDepth: 60},
		{Tunnel: "prod-a", Route: "/y", QueueOldest: 20 * time.Minute, QueueDepth: 60},
		{Tunnel: "prod-a", AgentOffline: 3 * time.Minute},
		{Tunnel: "prod-b", AgentOffline: time.Minute},
		{Tunnel: "dev", AgentOffline: time.Hour},
		{Tunnel: "dev", Route: "/z", QueueDepth: 101},
	}
	te.evaluate()
	want := []string{"deep/dev/z:firing", "offline/prod-a:firing", "stuck/prod-a:firing"}
	active := te.Active()
	if !equal(subjects(active), want) {
		t.Fatalf("active %v\nwant   %v", subjects(active), want)
	}
	for _, a := range active {
		if a.Rule == "stuck" && (a.Value != 1200 || a.Threshold != 900 || a.Window != "") {
			t.Errorf("stuck %+v: want the oldest route's age in seconds", a)
		}
	}
	// The queue drains and the agent comes back; the gauges go away.
	te.gauge = []Gauge{{Tunnel: "prod-a"}}
	te.evaluate()
	if got := te.Active(); len(got) != 0 {
		t.Errorf("still active %v", subjects(got))
	}
	if got := te.Recent(100); len(got) != 6 {
		t.Errorf("recent %v", subjects(got))
	}
}

func TestHistoryIsBounded(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Config{Rules: []Rule{{Name: "r", When: "refused > 0 in 1s"}}})
	for range historySize {
		te.observe(1, refusal("a", "", "x"))
		te.evaluate()
		te.clock.advance(time.Second)
		te.evaluate()
	}
	got := te.Recent(historySize + 10)
	if len(got) != historySize || got[0].State != StateResolved || got[1].State != StateFiring {
		t.Errorf("%d entries, newest %v", len(got), subjects(got[:2]))
	}
	if !got[0].ResolvedAt.Equal(te.clock.now()) {
		t.Errorf("newest resolved at %v; want %v", got[0].ResolvedAt, te.clock.now())
	}
}

func TestNilEngine(t *testing.T) {
	t.Parallel()
	var e *Engine
	e.Observe(refusal("a", "", "x"))
	if e.Active() == nil || e.Recent(5) == nil {
		t.Error("a nil engine lists nil, not empty")
	}
}

// TestEdgeLapsed: the cluster's gauge fires while an edge's lease has
// been lapsed longer than the threshold, and resolves when it is gone
// from the registry (or back).
func TestEdgeLapsed(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Config{Rules: []Rule{{Name: "edge-down", When: "edge_lapsed > 30s"}}})
	te.gauge = []Gauge{{EdgeLapsed: 10 * time.Second}}
	te.evaluate()
	if got := te.Active(); len(got) != 0 {
		t.Fatalf("active after 10 s lapsed: %v", subjects(got))
	}
	te.gauge = []Gauge{{EdgeLapsed: 10 * time.Second}, {EdgeLapsed: 45 * time.Second}}
	te.evaluate()
	active := te.Active()
	if len(active) != 1 || active[0].Rule != "edge-down" || active[0].Value != 45 {
		t.Fatalf("active %+v; want edge-down at the longest lapse, 45 s", active)
	}
	te.gauge = nil
	te.evaluate()
	if got := te.Active(); len(got) != 0 {
		t.Errorf("still active %v", subjects(got))
	}
}
