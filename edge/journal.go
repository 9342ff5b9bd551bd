package edge

import (
	"context"
	"sync"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// journaler writes messages of forwarded requests off the request path: a
// webhook's answer does not wait on the database. Queued messages are
// different: they are committed before the 202 (see queue.go).
type journaler struct {
	store  store.Journal
	events *events
	log    func(msg string, args ...any)
	ch     chan journalEntry
	done   chan struct{}
	once   sync.Once
}

func newJournaler(s store.Journal, ev *events, log func(string, ...any)) *journaler {
	return &journaler{store: s, events: ev, log: log, ch: make(chan journalEntry, 4096), done: make(chan struct{})}
}

// maxBatch bounds the messages written in one transaction, and
// batchLinger how long the writer waits to fill one: a message shows in
// the journal at most that much later.
// journalEntry is a message to write and the body buffer to recycle once
// it is written (nil for none).
type journalEntry struct {
	m       *store.Message
	recycle []byte
}

const (
	maxBatch    = 256
	batchLinger = 25 * time.Millisecond
)

// run writes until the channel is closed by stop, then drains it. What
// arrived while a write ran goes in the next transaction together.
func (j *journaler) run() {
	defer close(j.done)
	batch := make([]*store.Message, 0, maxBatch)
	var recycle [][]byte
	linger := time.NewTimer(0)
	<-linger.C
	for entry := range j.ch {
		batch, recycle = append(batch[:0], entry.m), append(recycle[:0], entry.recycle)
		// Linger a little for more: one commit per batch instead of one
		// per webhook is most of the journal's cost on a busy edge.
		linger.Reset(batchLinger)
	gather:
		for len(batch) < maxBatch {
			select {
			case next, ok := <-j.ch:
				if !ok {
					break gather
				}
				batch, recycle = append(batch, next.m), append(recycle, next.recycle)
			case <-linger.C:
				break gather
			}
		}
		if !linger.Stop() {
			select {
			case <-linger.C:
			default:
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := j.store.RecordAll(ctx, batch); err != nil {
			j.log("journal write failed", "messages", len(batch), "first", batch[0].ID, "err", err)
		} else {
			for _, m := range batch {
				j.events.publish(m) // a summary, without the bodies
			}
		}
		cancel()
		// The store copied the bodies; nothing holds these any more.
		for i, b := range recycle {
			if b != nil {
				batch[i].Body = nil
				putBodyBuffer(b)
			}
			recycle[i] = nil
		}
		clear(batch)
	}
}

// record queues m for writing. When the database falls far behind the
// edge waits here rather than dropping the record.
func (j *journaler) record(m *store.Message, recycle []byte) {
	j.ch <- journalEntry{m: m, recycle: recycle}
}

// stop writes what is queued and returns; it is idempotent.
func (j *journaler) stop() {
	j.once.Do(func() { close(j.ch) })
	<-j.done
}

// purgeLoop deletes messages past retention (and beyond the size cap)
// every interval until ctx ends. It runs beside forwarding and never
// blocks it: the store purges in small transactions.
func purgeLoop(ctx context.Context, s store.Journal, retention time.Duration, maxBytes int64, interval time.Duration, log func(string, ...any)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.Purge(ctx, time.Now().Add(-retention), maxBytes)
		switch {
		case err != nil && ctx.Err() == nil:
			log("journal purge failed", "err", err)
		case n > 0:
			log("journal purged", "messages", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
