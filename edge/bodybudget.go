package edge

import (
	"sync/atomic"
)

// bodyBudget bounds the bytes of bodies the journal holds in memory: the
// copies it makes of bodies on their way to the app, and the bodies that
// wait for the database. The database writes a few hundred MB/s; senders
// can send faster, and without a bound the backlog grew until the kernel
// killed the edge. A webhook whose body does not fit is forwarded all the
// same: the journal keeps its metadata and headers and says why its body
// is missing (bodyDroppedBacklog).
type bodyBudget struct {
	max  atomic.Int64
	used atomic.Int64
	// peak is the most used since the last time memory was handed back.
	peak atomic.Int64
}

func newBodyBudget(max int64) *bodyBudget {
	b := &bodyBudget{}
	b.max.Store(max)
	return b
}

// take reserves n bytes, or reports false when they do not fit.
func (b *bodyBudget) take(n int64) bool {
	if n <= 0 {
		return true
	}
	used := b.used.Add(n)
	if used > b.max.Load() {
		b.used.Add(-n)
		return false
	}
	for p := b.peak.Load(); used > p && !b.peak.CompareAndSwap(p, used); p = b.peak.Load() {
	}
	return true
}

// drained reports, once per burst, that the budget is empty again after
// holding more than burstBytes: the time to hand memory back.
func (b *bodyBudget) drained() bool {
	if b.used.Load() != 0 || b.peak.Load() < burstBytes {
		return false
	}
	return b.peak.Swap(0) >= burstBytes
}

// burstBytes is the peak of bodies held after which, once they are all
// written, the journal hands the memory back to the system.
const burstBytes = 16 << 20

// give returns n bytes reserved by take.
func (b *bodyBudget) give(n int64) {
	if n > 0 {
		b.used.Add(-n)
	}
}

// bodyDroppedBacklog is why a body is missing from the journal when the
// budget was full.
const bodyDroppedBacklog = "journal_backlog"
