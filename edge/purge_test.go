package edge

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/edge/store"
)

// purgeLog receives the "journal purged" log line of each purge pass:
// how many messages went, and under which retention.
type purgeLog chan purgePass

type purgePass struct {
	messages  int64
	retention time.Duration
}

func (purgeLog) Enabled(context.Context, slog.Level) bool { return true }
func (l purgeLog) WithAttrs([]slog.Attr) slog.Handler     { return l }
func (l purgeLog) WithGroup(string) slog.Handler          { return l }
func (l purgeLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "journal purged" {
		return nil
	}
	var p purgePass
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "messages":
			p.messages = a.Value.Int64()
		case "retention":
			p.retention = a.Value.Duration()
		}
		return true
	})
	l <- p
	return nil
}

// next is the next purge pass; the timeout only bounds a broken test.
func (l purgeLog) next(t *testing.T) purgePass {
	t.Helper()
	select {
	case p := <-l:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no purge pass")
		return purgePass{}
	}
}

// purgeEdge is an edge on a fake clock whose background work (journal,
// queue, purge) runs.
func purgeEdge(t *testing.T, retention time.Duration, reload func(running Config) Config) (*Edge, *clock.Fake, purgeLog) {
	t.Helper()
	fake := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	passes := make(purgeLog, 16)
	cfg := DefaultConfig()
	cfg.Domain, cfg.TLS, cfg.AdminListen = "hooks.test", "off", "127.0.0.1:0"
	cfg.Retention, cfg.Journal.PurgeInterval = retention, time.Hour
	cfg.Clock, cfg.Logger = fake, slog.New(passes)
	var e *Edge
	if reload != nil {
		cfg.Reload = func() (Config, error) { return reload(e.raw), nil }
	}
	e = newTestEdge(t, cfg)
	e.startBackground()
	t.Cleanup(e.stopBackground)
	if p := passes.next(t); p.messages != 0 {
		t.Fatalf("the first pass of an empty journal purged %d", p.messages)
	}
	return e, fake, passes
}

// record journals a message received now on the fake clock.
func record(t *testing.T, e *Edge, now time.Time) string {
	t.Helper()
	m := &store.Message{ReceivedAt: now, Tunnel: "demo", Route: "/hook", Method: "POST", Path: "/hook", Status: 200}
	if err := e.db.Record(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

func kept(t *testing.T, e *Edge, id string) bool {
	t.Helper()
	_, err := e.db.Message(context.Background(), id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// backgroundTimers are the timers the edge's background work keeps armed on
// its clock while it waits: the purge's and the queue worker's.
const backgroundTimers = 2

// advance moves the clock once the purge has armed its timer, and returns
// the pass that follows.
func advance(t *testing.T, fake *clock.Fake, passes purgeLog, d time.Duration) purgePass {
	t.Helper()
	armed := make(chan struct{})
	go func() {
		fake.WaitPending(backgroundTimers)
		close(armed)
	}()
	select {
	case <-armed:
	case <-time.After(10 * time.Second):
		t.Fatal("the purge armed no timer on the edge's clock")
	}
	fake.Advance(d)
	return passes.next(t)
}

func TestPurgeRemovesMessagesPastRetention(t *testing.T) {
	t.Parallel()
	e, fake, passes := purgeEdge(t, 24*time.Hour, nil)
	old := record(t, e, fake.Now())
	if p := advance(t, fake, passes, 12*time.Hour); p.messages != 0 {
		t.Fatalf("a pass within retention purged %d", p.messages)
	}
	young := record(t, e, fake.Now())
	if p := advance(t, fake, passes, 12*time.Hour+time.Minute); p.messages != 1 || p.retention != 24*time.Hour {
		t.Fatalf("the pass past retention: %+v, want 1 message under 24h", p)
	}
	if kept(t, e, old) || !kept(t, e, young) {
		t.Errorf("after the purge: old kept %v, young kept %v; want false, true", kept(t, e, old), kept(t, e, young))
	}
}

func TestReloadedRetentionReachesThePurge(t *testing.T) {
	t.Parallel()
	e, fake, passes := purgeEdge(t, 48*time.Hour, func(running Config) Config {
		running.Retention = time.Hour
		return running
	})
	id := record(t, e, fake.Now())
	if p := advance(t, fake, passes, 2*time.Hour); p.messages != 0 || !kept(t, e, id) {
		t.Fatalf("a two-hour-old message under 48h retention: pass %+v, kept %v", p, kept(t, e, id))
	}
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	// The reload wakes the purge: no need to wait for its interval.
	if p := passes.next(t); p.messages != 1 || p.retention != time.Hour {
		t.Fatalf("the pass after the reload: %+v, want 1 message under 1h", p)
	}
	if kept(t, e, id) {
		t.Error("the message outlived the reloaded retention")
	}
}

func TestReloadResizesTheJournal(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Domain, cfg.TLS, cfg.AdminListen = "hooks.test", "off", "127.0.0.1:0"
	var e *Edge
	cfg.Reload = func() (Config, error) {
		next := e.raw
		next.Journal.MaxResponseBody, next.Journal.MaxPending = 1<<10, 2<<20
		return next, nil
	}
	e = newTestEdge(t, cfg)
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := e.responseCap(); got != 1<<10 {
		t.Errorf("response cap %d after the reload, want %d", got, 1<<10)
	}
	if got := e.journal.budget.max.Load(); got != 2<<20 {
		t.Errorf("body budget %d after the reload, want %d", got, 2<<20)
	}
}

// A reload that changes what only a restart applies is refused, naming
// the setting, and the running config stays.
func TestReloadRefusesSettingsThatNeedARestart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		field  string
		change func(*Config)
	}{
		{"domain", func(c *Config) { c.Domain = "other.test" }},
		{"listen", func(c *Config) { c.Listen = "127.0.0.1:8443" }},
		{"http_listen", func(c *Config) { c.HTTPListen = "127.0.0.1:8080" }},
		{"admin_listen", func(c *Config) { c.AdminListen = "127.0.0.1:9999" }},
		{"proxy_protocol", func(c *Config) { c.ProxyProtocol, c.TrustedProxies = true, []string{"10.0.0.0/8"} }},
		{"tls", func(c *Config) { c.TLS = "self-signed" }},
		{"acme.cache", func(c *Config) { c.ACME.Cache = "/elsewhere" }},
		{"data", func(c *Config) { c.Data = "/elsewhere" }},
		{"limits.idle_timeout", func(c *Config) { c.Limits.IdleTimeout = time.Second }},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			cfg.Domain, cfg.TLS, cfg.AdminListen = "hooks.test", "off", "127.0.0.1:0"
			var e *Edge
			cfg.Reload = func() (Config, error) {
				next := e.raw
				next.Retention = time.Hour // applied with the rest, or not at all
				tc.change(&next)
				return next, nil
			}
			e = newTestEdge(t, cfg)
			running := e.cfg.Load()
			err := e.Reload()
			var re *RestartError
			if !errors.Is(err, ErrNeedsRestart) || !errors.As(err, &re) || re.Field != tc.field {
				t.Fatalf("reload: %v, want a restart error for %s", err, tc.field)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.field+" cannot change") || !strings.Contains(msg, "needs a restart") {
				t.Errorf("the refusal does not say what and why: %s", msg)
			}
			if e.cfg.Load() != running {
				t.Error("a refused reload changed the running config")
			}
		})
	}
}
