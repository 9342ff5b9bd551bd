package alert

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
)

func refusal(tunnel, route, reason string) Event {
	return Event{Tunnel: tunnel, Route: route, Outcome: outcome.Refused, Reason: reason}
}

// sumAt is the counts of subject s over window at t.
func sumAt(w *windows, t time.Time, window time.Duration, s subject) counts {
	var got counts
	w.each(t, w.span(window), func(k subject, c counts) {
		if k == s {
			got = c
		}
	})
	return got
}

func TestWindowGeometry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		longest time.Duration
		width   time.Duration
		buckets int
	}{
		{0, time.Second, 1},
		{5 * time.Minute, time.Second, 300},
		{30 * time.Minute, time.Second, 1800},
		{time.Hour, 2 * time.Second, 1800},
		{24 * time.Hour, 48 * time.Second, 1800},
		{31 * time.Minute, 2 * time.Second, 930},
	} {
		t.Run(tc.longest.String(), func(t *testing.T) {
			w := newWindows(tc.longest)
			if w.width != tc.width || w.buckets != tc.buckets {
				t.Errorf("newWindows(%v): %d buckets of %v; want %d of %v", tc.longest, w.buckets, w.width, tc.buckets, tc.width)
			}
			if w.span(tc.longest) > w.buckets {
				t.Errorf("the longest window spans %d buckets of %d", w.span(tc.longest), w.buckets)
			}
		})
	}
}

func TestWindowSlides(t *testing.T) {
	t.Parallel()
	clock := newClock()
	t0 := clock.now()
	w := newWindows(5 * time.Minute)
	gh := subject{"github", "/hook"}
	for range 3 {
		w.observe(t0, refusal("github", "/hook", "bad_signature"))
	}
	w.observe(t0.Add(10*time.Second), refusal("github", "/hook", "ip_not_allowed"))
	w.observe(t0.Add(20*time.Second), Event{Tunnel: "github", Route: "/hook", Outcome: "forwarded"})
	w.observe(t0.Add(30*time.Second), Event{Tunnel: "github", Route: "/hook", Outcome: OutcomeDead})

	for _, tc := range []struct {
		name   string
		at     time.Duration
		window time.Duration
		want   counts
	}{
		{"all in the window", 299 * time.Second, 5 * time.Minute, counts{requests: 5, refused: 4, sigFailures: 3, dead: 1}},
		{"the first second has left", 300 * time.Second, 5 * time.Minute, counts{requests: 2, refused: 1, dead: 1}},
		{"a shorter window", 25 * time.Second, 10 * time.Second, counts{requests: 1, refused: 0}},
		{"the window's last second", 39 * time.Second, 10 * time.Second, counts{dead: 1}},
		{"everything has left", 331 * time.Second, 5 * time.Minute, counts{}},
		{"long after", 3 * time.Hour, 5 * time.Minute, counts{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sumAt(w, t0.Add(tc.at), tc.window, gh); got != tc.want {
				t.Errorf("at +%v over %v: %+v; want %+v", tc.at, tc.window, got, tc.want)
			}
		})
	}
}

func TestWindowLateAndCoarse(t *testing.T) {
	t.Parallel()
	t0 := newClock().now()
	s := subject{"a", ""}

	// A clock that steps back a little still counts; one older than the
	// ring is dropped.
	w := newWindows(time.Minute)
	w.observe(t0, refusal("a", "", "x"))
	w.observe(t0.Add(-30*time.Second), refusal("a", "", "x"))
	w.observe(t0.Add(-2*time.Minute), refusal("a", "", "x"))
	if got := sumAt(w, t0, time.Minute, s); got.refused != 2 {
		t.Errorf("refused %d; want 2 (the event older than the window is dropped)", got.refused)
	}

	// An hour's window has two-second buckets.
	w = newWindows(time.Hour)
	w.observe(t0, refusal("a", "", "x"))
	if got := sumAt(w, t0.Add(59*time.Minute+58*time.Second), time.Hour, s); got.refused != 1 {
		t.Errorf("refused %d just before the hour; want 1", got.refused)
	}
	if got := sumAt(w, t0.Add(time.Hour+2*time.Second), time.Hour, s); got.refused != 0 {
		t.Errorf("refused %d after the hour; want 0", got.refused)
	}
}

func TestWindowMemoryIsBounded(t *testing.T) {
	t.Parallel()
	t0 := newClock().now()
	w := newWindows(time.Minute)
	const n = maxSeries + 500
	for i := range n {
		w.observe(t0, refusal(fmt.Sprintf("t%d", i), "/x", "no_route"))
	}
	if got := w.size(); got > maxSeries+1 {
		t.Fatalf("%d series for %d subjects; want at most %d", got, n, maxSeries+1)
	}
	other := sumAt(w, t0, time.Minute, subject{tunnel: overflowTunnel})
	if other.refused != n-maxSeries {
		t.Errorf("overflow counted %d; want %d", other.refused, n-maxSeries)
	}
	w.prune(t0.Add(30 * time.Second))
	if got := w.size(); got != maxSeries+1 {
		t.Errorf("prune inside the window left %d series; want all %d", got, maxSeries+1)
	}
	w.prune(t0.Add(time.Minute))
	if got := w.size(); got != 0 {
		t.Errorf("prune after the window left %d series", got)
	}
	// A pruned subject counts again from scratch.
	w.observe(t0.Add(time.Minute), refusal("t1", "/x", "no_route"))
	if got := sumAt(w, t0.Add(time.Minute), time.Minute, subject{"t1", "/x"}); got.refused != 1 {
		t.Errorf("after prune: %+v", got)
	}
}

func TestObserveConcurrent(t *testing.T) {
	t.Parallel()
	clock := newClock()
	e, err := New(Config{Now: clock.now, Rules: []Rule{{Name: "r", When: "refused > 1000000 in 1m"}}})
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for j := range each {
				e.Observe(refusal(fmt.Sprintf("t%d", j%4), "/x", "bad_signature"))
				if i == 0 && j%100 == 0 {
					clock.advance(10 * time.Millisecond)
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			e.evaluate()
		}
	})
	wg.Wait()
	var total uint32
	e.windows.each(clock.now(), e.windows.span(time.Minute), func(_ subject, c counts) { total += c.refused })
	if total != workers*each {
		t.Errorf("counted %d; want %d", total, workers*each)
	}
}

// A filtered webhook is the config's choice: counted as a request, never
// as a refusal, so refused_ratio does not rise when filters drop events.
func TestWindowFilteredIsNotRefused(t *testing.T) {
	t.Parallel()
	clock := newClock()
	t0 := clock.now()
	w := newWindows(5 * time.Minute)
	for range 4 {
		w.observe(t0, Event{Tunnel: "github", Route: "/hook", Outcome: "filtered", Reason: "filtered"})
	}
	w.observe(t0, Event{Tunnel: "github", Route: "/hook", Outcome: "filtered", Reason: "filter_failed"})
	if got, want := sumAt(w, t0.Add(time.Second), 5*time.Minute, subject{"github", "/hook"}), (counts{requests: 5}); got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
}
