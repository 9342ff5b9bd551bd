package edge

import (
	"context"
	"log/slog"

	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/edge/store"
)

// purger applies retention and journal.max_database: a pass at start,
// then one every journal.purge_interval on the edge's clock, and one at
// once when a reload changes the journal settings. Each pass reads the
// settings and the time afresh, so a reload takes effect on the next.
type purger struct {
	store    store.Purger
	clock    clock.Clock
	settings func() journalSettings
	// wake asks for a pass now: a reload changed the settings.
	wake chan struct{}
	log  *slog.Logger
}

// run purges until ctx ends. It runs beside forwarding and never blocks
// it: the store purges in small transactions.
func (p *purger) run(ctx context.Context) {
	for {
		p.pass(ctx)
		tick, t := clock.After(p.clock, p.settings().purgeInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-tick:
		case <-p.wake:
			t.Stop()
		}
	}
}

// pass purges once with the current settings.
func (p *purger) pass(ctx context.Context) {
	s := p.settings()
	n, err := p.store.Purge(ctx, p.clock.Now().Add(-s.retention), s.maxDatabase)
	switch {
	case err != nil && ctx.Err() == nil:
		p.log.Warn("journal purge failed", "err", err)
	case n > 0:
		p.log.Info("journal purged", "messages", n, "retention", s.retention)
	default:
		p.log.Debug("journal purged", "messages", 0, "retention", s.retention)
	}
}

// wakePurge asks the purger for a pass now, if it is not about to run one.
func (e *Edge) wakePurge() {
	select {
	case e.purgeWakeup <- struct{}{}:
	default:
	}
}
