package edge

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
)

// journaler writes messages of forwarded requests off the request path: a
// webhook's answer does not wait on the database. Queued messages are
// different: they are committed before the 202 (see queue.go).
//
// The bodies it holds, from the copy made while a body streams to the app
// until the database has written it, are bounded by budget (see
// bodybudget.go): a body that does not fit is not kept, and the message
// says so.
type journaler struct {
	store  store.Journal
	events *events
	log    func(msg string, args ...any)
	ch     chan journalEntry
	done   chan struct{}
	once   sync.Once

	budget  *bodyBudget
	dropped func() // counts a body not kept (the metric)
	// droppedSince counts the bodies not kept since the last log line,
	// which says so once per dropLogInterval at most.
	droppedSince atomic.Int64
	lastDropLog  atomic.Int64 // Unix nanoseconds
}

// dropLogInterval is how often at most the log says bodies were dropped.
const dropLogInterval = time.Minute

func newJournaler(s store.Journal, ev *events, budget *bodyBudget, dropped func(), log func(string, ...any)) *journaler {
	return &journaler{store: s, events: ev, log: log, budget: budget, dropped: dropped,
		ch: make(chan journalEntry, 4096), done: make(chan struct{})}
}

// maxBatch bounds the messages written in one transaction, and
// batchLinger how long the writer waits to fill one: a message shows in
// the journal at most that much later.
// journalEntry is a message to write and the body buffer to recycle once
// it is written (nil for none).
type journalEntry struct {
	m       *store.Message
	recycle []byte
	// reserved is what the entry's bodies hold of the budget, given back
	// once they are written.
	reserved int64
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
	var reserved int64
	linger := time.NewTimer(0)
	<-linger.C
	for entry := range j.ch {
		batch, recycle = append(batch[:0], entry.m), append(recycle[:0], entry.recycle)
		reserved = entry.reserved
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
				reserved += next.reserved
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
		j.budget.give(reserved)
		clear(batch)
		if j.budget.drained() {
			j.release()
		}
	}
}

// release hands the memory of a burst of bodies back to the system once
// they are written. Left to itself the runtime keeps it for minutes (the
// recycled body buffers survive a collection, and a quiet edge collects
// rarely); an edge on a small VM needs it back for the next burst. Two
// collections empty the buffer pools; the second returns the pages.
func (j *journaler) release() {
	runtime.GC()
	debug.FreeOSMemory()
}

// fit makes m's bodies fit the budget before m is written: it reserves
// what they hold beyond reserved (what a body copy reserved as it grew),
// or drops them when the budget has no room, marking m. It returns the
// entry to record; recycle is the body buffer to hand back after the
// write, whose capacity reserved covers.
func (j *journaler) fit(m *store.Message, recycle []byte, reserved int64) journalEntry {
	held := int64(cap(m.ResponseBody))
	if recycle == nil {
		held += int64(cap(m.Body))
	} else {
		held += int64(cap(recycle)) // m.Body, if kept, is in it
	}
	if j.budget.take(held - reserved) {
		return journalEntry{m: m, recycle: recycle, reserved: max(held, reserved)}
	}
	j.budget.give(reserved)
	putBodyBuffer(recycle)
	j.drop(m)
	return journalEntry{m: m}
}

// drop marks m's bodies as not kept for the backlog, counts it and says
// so in the log, once per dropLogInterval.
func (j *journaler) drop(m *store.Message) {
	m.Body, m.ResponseBody, m.BodyTruncated = nil, nil, false
	m.BodyDropped = bodyDroppedBacklog
	j.dropped()
	n := j.droppedSince.Add(1)
	now := time.Now().UnixNano()
	if last := j.lastDropLog.Load(); now-last >= int64(dropLogInterval) && j.lastDropLog.CompareAndSwap(last, now) {
		j.droppedSince.Add(-n)
		j.log("journal backlog full: bodies not kept (their messages are); raise journal.max_pending or lower the body rate",
			"bodies", n, "max_pending", policy.ByteSize(j.budget.max.Load()).String())
	}
}

// record queues an entry from fit for writing. When the database falls
// far behind the edge waits here rather than dropping the record (the
// bodies are bounded by the budget; the queue holds metadata).
func (j *journaler) record(entry journalEntry) {
	j.ch <- entry
}

// stop writes what is queued and returns; it is idempotent.
func (j *journaler) stop() {
	j.once.Do(func() { close(j.ch) })
	<-j.done
}

// journalSettings is the compiled journal part of the config: retention,
// journal.*. A reload swaps it with the rest; the purge reads it at each
// pass, the captures at each request, the body budget is resized.
type journalSettings struct {
	retention       time.Duration
	purgeInterval   time.Duration
	maxDatabase     int64 // 0: no size cap
	maxResponseBody int64
	maxPending      int64 // the body budget's size
}

func compileJournal(c Config) (journalSettings, error) {
	if c.Retention <= 0 {
		return journalSettings{}, policy.AtField("retention", fmt.Errorf("must be positive (e.g. 168h)"))
	}
	if c.Journal.PurgeInterval <= 0 {
		return journalSettings{}, policy.AtField("journal.purge_interval", fmt.Errorf("must be positive (e.g. 10m)"))
	}
	if c.Journal.MaxResponseBody < 0 {
		return journalSettings{}, policy.AtField("journal.max_response_body", fmt.Errorf("must not be negative"))
	}
	if c.Journal.MaxDatabase < 0 {
		return journalSettings{}, policy.AtField("journal.max_database", fmt.Errorf("must not be negative (0: no cap)"))
	}
	if c.Journal.MaxPending < 1<<20 {
		return journalSettings{}, policy.AtField("journal.max_pending", fmt.Errorf("must be at least 1MiB (e.g. 64MiB)"))
	}
	return journalSettings{
		retention:       c.Retention,
		purgeInterval:   c.Journal.PurgeInterval,
		maxDatabase:     int64(c.Journal.MaxDatabase),
		maxResponseBody: int64(c.Journal.MaxResponseBody),
		maxPending:      int64(c.Journal.MaxPending),
	}, nil
}

// responseCap is how much of each app answer the journal keeps.
func (e *Edge) responseCap() int64 { return e.cfg.Load().journal.maxResponseBody }
