package clock

import (
	"testing"
	"time"
)

func TestFakeRunsTimersWhenDue(t *testing.T) {
	f := NewFake(time.Unix(1000, 0))
	fired := make(chan string, 3)
	f.AfterFunc(2*time.Second, func() { fired <- "late" })
	f.AfterFunc(time.Second, func() { fired <- "early" })
	stopped := f.AfterFunc(time.Second, func() { fired <- "stopped" })
	if !stopped.Stop() {
		t.Fatal("a pending timer did not stop")
	}
	f.WaitPending(2)
	f.Advance(999 * time.Millisecond)
	select {
	case got := <-fired:
		t.Fatalf("%s fired before it was due", got)
	default:
	}
	f.Advance(time.Millisecond)
	if got := <-fired; got != "early" {
		t.Fatalf("fired %s, want early", got)
	}
	if f.Pending() != 1 {
		t.Fatalf("pending %d, want 1", f.Pending())
	}
	f.Advance(time.Second)
	if got := <-fired; got != "late" {
		t.Fatalf("fired %s, want late", got)
	}
	if got := f.Now(); !got.Equal(time.Unix(1002, 0)) {
		t.Fatalf("now %v", got)
	}
	if stopped.Stop() {
		t.Fatal("a stopped timer stopped twice")
	}
}

func TestAfterDelivers(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	ch, _ := After(f, time.Minute)
	f.Advance(time.Minute)
	if got := <-ch; !got.Equal(time.Unix(60, 0)) {
		t.Fatalf("got %v", got)
	}
}

// A timer armed for a moment the clock has passed fires at once; one for a
// later moment waits for it, however the clock moved before it was armed.
func TestAtFiresForAMomentAlreadyPassed(t *testing.T) {
	f := NewFake(time.Unix(1000, 0))
	looked := f.Now()
	f.Advance(time.Second) // time moves between reading the clock and arming
	ch, _ := At(f, looked.Add(time.Second))
	if got := <-ch; !got.Equal(time.Unix(1001, 0)) {
		t.Fatalf("fired at %v", got)
	}
	later, _ := At(f, looked.Add(2*time.Second))
	f.WaitPending(1)
	f.Advance(time.Second)
	if got := <-later; !got.Equal(time.Unix(1002, 0)) {
		t.Fatalf("fired at %v", got)
	}
}
