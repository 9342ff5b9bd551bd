package clock

import (
	"sort"
	"sync"
	"time"
)

// Fake is a clock that moves only when told to. Timers that fall due run
// as the real ones do, each in its own goroutine.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	armed  *sync.Cond // signalled whenever a timer is added
}

// NewFake returns a fake clock showing start.
func NewFake(start time.Time) *Fake {
	f := &Fake{now: start}
	f.armed = sync.NewCond(&f.mu)
	return f
}

type fakeTimer struct {
	f       *Fake
	at      time.Time
	fn      func()
	pending bool
}

func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.arm(f.now.Add(d), fn)
}

// AtFunc calls fn in its own goroutine once the clock shows at: at once if
// it already does.
func (f *Fake) AtFunc(at time.Time, fn func()) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.arm(at, fn)
}

// arm adds a timer for at; the caller holds f.mu.
func (f *Fake) arm(at time.Time, fn func()) Timer {
	t := &fakeTimer{f: f, at: at, fn: fn, pending: true}
	if !at.After(f.now) {
		t.pending = false
		go fn()
		return t
	}
	f.timers = append(f.timers, t)
	f.armed.Broadcast()
	return t
}

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.pending
	t.pending = false
	t.f.drop(t)
	return was
}

// drop removes t from the pending timers; the caller holds f.mu.
func (f *Fake) drop(t *fakeTimer) {
	for i, p := range f.timers {
		if p == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			return
		}
	}
}

// Advance moves the clock forward by d and starts every timer due by then,
// earliest first.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	var due []*fakeTimer
	kept := f.timers[:0]
	for _, t := range f.timers {
		if !t.at.After(f.now) {
			t.pending = false
			due = append(due, t)
		} else {
			kept = append(kept, t)
		}
	}
	clear(f.timers[len(kept):])
	f.timers = kept
	f.mu.Unlock()
	sort.SliceStable(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		go t.fn()
	}
}

// Pending is the number of timers not yet due.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// WaitPending blocks until at least n timers are pending: the code under
// test has armed what the test is about to move the clock past.
func (f *Fake) WaitPending(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.timers) < n {
		f.armed.Wait()
	}
}
