package alert

import (
	"sync"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
)

// Event is the outcome of one request to a tunnel host, or of a queued
// message that went dead.
type Event struct {
	Tunnel, Route string
	// Outcome is forwarded, queued, refused, duplicate, answered, filtered
	// or dead; filtered is the config's choice, not a refusal.
	Outcome outcome.Decision
	// Reason is a refusal's code, e.g. bad_signature.
	Reason string
	// BodyDropped is set when the journal did not keep the body for lack
	// of memory (journal.max_pending).
	BodyDropped bool
}

// OutcomeDead is outcome.Dead by the name the queue knows it by.
const OutcomeDead = outcome.Dead

// counts are the events of one bucket, or of a window.
type counts struct {
	requests, refused, sigFailures, dead, bodiesDropped uint32
}

func (c *counts) add(o counts) {
	c.requests += o.requests
	c.refused += o.refused
	c.sigFailures += o.sigFailures
	c.dead += o.dead
	c.bodiesDropped += o.bodiesDropped
}

func countsOf(ev Event) counts {
	var c counts
	switch ev.Outcome {
	case outcome.Dead:
		c.dead = 1 // a later outcome of a request already counted
		return c
	case outcome.Refused:
		c.refused = 1
		// Signatures, their timestamps and URL tokens, as in the
		// hooktunnel_signature_failures_total metric.
		if outcome.Code(ev.Reason).SignatureFailure() {
			c.sigFailures = 1
		}
	}
	if ev.BodyDropped {
		c.bodiesDropped = 1
	}
	c.requests = 1
	return c
}

// subject is what a series counts: one tunnel and route.
type subject struct{ tunnel, route string }

// Bounds of the counters' memory: each series is a ring of at most
// maxBuckets buckets (per-second ones while the longest window is under
// maxBuckets seconds, coarser beyond), and there are at most maxSeries
// series; events of further subjects count under overflowTunnel.
const (
	maxBuckets     = 1800
	maxSeries      = 1024
	overflowTunnel = "_other"
)

// series is a ring of per-bucket counts of one subject.
type series struct {
	mu   sync.Mutex
	ring []counts
	last int64 // the newest bucket index the ring holds
	dead bool  // pruned: Observe must look it up again
}

// advance moves the ring to bucket idx, clearing the buckets it passes.
func (s *series) advance(idx int64) {
	if idx <= s.last {
		return
	}
	n := int64(len(s.ring))
	if idx-s.last >= n {
		clear(s.ring)
	} else {
		for i := s.last + 1; i <= idx; i++ {
			s.ring[mod(i, n)] = counts{}
		}
	}
	s.last = idx
}

// add counts c in bucket idx; buckets older than the ring are gone.
func (s *series) add(idx int64, c counts) {
	s.advance(idx)
	n := int64(len(s.ring))
	if idx <= s.last-n {
		return
	}
	s.ring[mod(idx, n)].add(c)
}

// sum is the counts of the k buckets up to and including idx.
func (s *series) sum(idx int64, k int) counts {
	s.advance(idx)
	var c counts
	n := int64(len(s.ring))
	for i := idx - int64(k) + 1; i <= idx; i++ {
		if i > s.last-n {
			c.add(s.ring[mod(i, n)])
		}
	}
	return c
}

// idle reports whether the series holds nothing at bucket idx.
func (s *series) idle(idx int64) bool {
	s.advance(idx)
	for _, c := range s.ring {
		if c != (counts{}) {
			return false
		}
	}
	return true
}

func mod(i, n int64) int64 { return ((i % n) + n) % n }

// windows are the series of all subjects with their bucket geometry.
type windows struct {
	width   time.Duration // of a bucket
	buckets int           // per ring
	mu      sync.RWMutex
	series  map[subject]*series
}

func newWindows(longest time.Duration) *windows {
	w := &windows{width: time.Second, series: map[subject]*series{}}
	if longest > maxBuckets*time.Second {
		w.width = (longest + maxBuckets - 1) / maxBuckets
		w.width = (w.width + time.Second - 1).Truncate(time.Second)
	}
	w.buckets = max(1, int((longest+w.width-1)/w.width))
	return w
}

// index is the bucket of t.
func (w *windows) index(t time.Time) int64 {
	return t.Unix() / int64(w.width/time.Second)
}

// span is how many buckets up to now cover window.
func (w *windows) span(window time.Duration) int {
	return min(w.buckets, max(1, int((window+w.width-1)/w.width)))
}

// observe counts ev at t.
func (w *windows) observe(t time.Time, ev Event) {
	c := countsOf(ev)
	idx := w.index(t)
	key := subject{ev.Tunnel, ev.Route}
	for {
		s := w.lookup(key)
		s.mu.Lock()
		if s.dead {
			s.mu.Unlock()
			continue
		}
		s.add(idx, c)
		s.mu.Unlock()
		return
	}
}

// lookup returns the series of key, making it (or using the overflow
// series when there are too many).
func (w *windows) lookup(key subject) *series {
	w.mu.RLock()
	s := w.series[key]
	w.mu.RUnlock()
	if s != nil {
		return s
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if s = w.series[key]; s != nil {
		return s
	}
	if len(w.series) >= maxSeries {
		key = subject{tunnel: overflowTunnel}
		if s = w.series[key]; s != nil {
			return s
		}
	}
	s = &series{ring: make([]counts, w.buckets), last: -1 << 62}
	w.series[key] = s
	return s
}

// each calls fn with every series' sums of the span buckets up to t.
func (w *windows) each(t time.Time, span int, fn func(subject, counts)) {
	idx := w.index(t)
	w.mu.RLock()
	defer w.mu.RUnlock()
	for key, s := range w.series {
		s.mu.Lock()
		c := s.sum(idx, span)
		s.mu.Unlock()
		fn(key, c)
	}
}

// prune drops the series that hold nothing any more.
func (w *windows) prune(t time.Time) {
	idx := w.index(t)
	w.mu.Lock()
	defer w.mu.Unlock()
	for key, s := range w.series {
		s.mu.Lock()
		if s.idle(idx) {
			s.dead = true
			delete(w.series, key)
		}
		s.mu.Unlock()
	}
}

// size is the number of series.
func (w *windows) size() int {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return len(w.series)
}
