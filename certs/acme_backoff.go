package certs

import (
	"errors"
	"sync"
	"time"
)

// ErrBackingOff is returned for a host whose last issuance failed, until
// its backoff delay has passed: the edge does not ask the CA again sooner,
// whatever the traffic.
var ErrBackingOff = errors.New("certs: certificate issuance is backing off")

// The issuance backoff: ×3 from a minute (autocert itself holds a failed
// host for a minute), capped; a rate limit waits what the CA asked for,
// or an hour when it did not say.
const (
	backoffMin       = time.Minute
	backoffMax       = 6 * time.Hour
	rateLimitDefault = time.Hour
)

// backoff remembers the hosts whose issuance failed.
type backoff struct {
	mu    sync.Mutex
	hosts map[string]*failure
}

type failure struct {
	attempts int
	until    time.Time
}

// backoffDelay is the wait after the n-th failure in a row.
func backoffDelay(n int) time.Duration {
	d := backoffMin
	for i := 1; i < n && d < backoffMax; i++ {
		d *= 3
	}
	return min(d, backoffMax)
}

// blocked reports until when host must not be tried again.
func (b *backoff) blocked(host string, now time.Time) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f := b.hosts[host]; f != nil && now.Before(f.until) {
		return f.until, true
	}
	return time.Time{}, false
}

// fail records a failure and returns the delay before the next attempt
// and the number of failures in a row.
func (b *backoff) fail(host string, now time.Time, err error) (time.Duration, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.hosts == nil {
		b.hosts = map[string]*failure{}
	}
	f := b.hosts[host]
	if f == nil {
		f = &failure{}
		b.hosts[host] = f
	}
	f.attempts++
	d := backoffDelay(f.attempts)
	if retryAfter, limited := rateLimited(err); limited {
		if retryAfter <= 0 {
			retryAfter = rateLimitDefault
		}
		d = max(d, retryAfter)
	}
	f.until = now.Add(d)
	return d, f.attempts
}

// clear forgets host's failures; it reports whether there were any.
func (b *backoff) clear(host string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, had := b.hosts[host]
	delete(b.hosts, host)
	return had
}

// flights lets one issuance attempt per host run at a time. Handshakes
// that arrive meanwhile wait for it and share its failure, so one failed
// attempt is counted (and logged) once, not once per waiting handshake.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done chan struct{}
	err  error
}

// join returns the flight in progress for host (leader false), or starts
// one (leader true) that the caller must end with land.
func (fs *flights) join(host string) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f := fs.m[host]; f != nil {
		return f, false
	}
	if fs.m == nil {
		fs.m = map[string]*flight{}
	}
	f := &flight{done: make(chan struct{})}
	fs.m[host] = f
	return f, true
}

func (fs *flights) land(host string, f *flight, err error) {
	fs.mu.Lock()
	delete(fs.m, host)
	fs.mu.Unlock()
	f.err = err
	close(f.done)
}
