// Package clock is the edge's sense of time: the system's in production, a
// fake one in tests, so queue retries, stream expiry and the journal's
// purge are tested by moving time forward instead of waiting for it.
package clock

import "time"

// Clock tells the time and runs functions later.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop cancels the call; it reports false if the call already ran or
	// was stopped.
	Stop() bool
}

// System is the real clock.
var System Clock = system{}

type system struct{}

func (system) Now() time.Time                            { return time.Now() }
func (system) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Or returns c, or System when c is nil: configs leave the clock unset.
func Or(c Clock) Clock {
	if c == nil {
		return System
	}
	return c
}

// After returns a channel that receives the time once d has passed on c,
// and the timer to stop it with.
func After(c Clock, d time.Duration) (<-chan time.Time, Timer) {
	ch := make(chan time.Time, 1)
	t := c.AfterFunc(d, func() { ch <- c.Now() })
	return ch, t
}

// At is After until the time t on c: at once if t has passed. A clock
// that can arm a timer for a moment rather than a wait (the fake one) does
// so, so that time moved between reading the clock and arming is not
// waited for again.
func At(c Clock, t time.Time) (<-chan time.Time, Timer) {
	ch := make(chan time.Time, 1)
	fire := func() { ch <- c.Now() }
	if at, ok := c.(interface {
		AtFunc(t time.Time, f func()) Timer
	}); ok {
		return ch, at.AtFunc(t, fire)
	}
	return ch, c.AfterFunc(t.Sub(c.Now()), fire)
}
