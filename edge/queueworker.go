package edge

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/alert"
	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
)

// Queue retry schedule: jittered exponential from a second to ten minutes.
const (
	retryMin = time.Second
	retryMax = 10 * time.Minute
)

// queueWorker delivers queued messages while the edge runs: when one is
// enqueued, when an agent connects, and when a retry falls due.
type queueWorker struct {
	e        *Edge
	mu       sync.Mutex
	inFlight map[string]int       // tunnel + route → deliveries under way
	sending  map[string]bool      // ids being delivered: still pending in the store
	dispatch sync.Mutex           // held while reading what is due, and while recording an attempt
	heads    map[string]time.Time // ordered route → its blocked head's next try
	wg       sync.WaitGroup
}

func (e *Edge) wakeQueue() {
	select {
	case e.queueWake <- struct{}{}:
	default:
	}
}

// runQueue is the worker loop; it returns when ctx ends and deliveries
// under way have finished.
func (q *queueWorker) run(ctx context.Context) {
	defer q.wg.Wait()
	for {
		looked := q.deliverDue(ctx)
		// Retries fall due on the edge's clock: the next look is a second
		// after this one read what was due, so time that passed meanwhile
		// is not waited for again.
		tick, timer := clock.At(q.e.clock, looked.Add(time.Second))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-q.e.queueWake:
		case <-tick:
		}
		timer.Stop()
	}
}

// deliverDue starts the deliveries due now and returns the time it looked.
func (q *queueWorker) deliverDue(ctx context.Context) time.Time {
	// Reading what is due and recording an attempt exclude each other: a
	// listing read while an attempt is being recorded could still show
	// that message pending after it left the sending set.
	q.dispatch.Lock()
	defer q.dispatch.Unlock()
	now := q.e.clock.Now()
	due, err := q.e.queue.Due(ctx, now, 256)
	if err != nil {
		if ctx.Err() == nil {
			q.e.log.Warn("queue read failed", "err", err)
		}
		return now
	}
	for i := range due {
		m := due[i]
		p, route := q.e.routeOf(&m)
		if route == nil {
			continue // the route is gone (or its agent not back); keep it
		}
		key := m.Tunnel + "\x00" + m.Route
		q.mu.Lock()
		ok := q.inFlight[key] < route.Delivery.MaxInFlight && !q.sending[m.ID]
		if route.Delivery.Ordered {
			// Only the oldest message of an ordered route may go.
			if next, blocked := q.heads[key]; blocked && now.Before(next) {
				ok = false
			}
		}
		if ok {
			q.inFlight[key]++
			q.sending[m.ID] = true
		}
		q.mu.Unlock()
		if !ok {
			continue
		}
		if route.Delivery.Ordered {
			// Later messages of this route wait for this one's outcome.
			// Set before the delivery starts: one that ends at once clears
			// it, and setting it after would stall the route for retryMax.
			q.mu.Lock()
			q.heads[key] = now.Add(retryMax)
			q.mu.Unlock()
		}
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			if q.claim(ctx, &m, route, now) {
				q.deliver(ctx, p, route, &m)
			}
			q.mu.Lock()
			q.inFlight[key]--
			q.mu.Unlock()
			q.e.wakeQueue()
		}()
	}
	return now
}

// claim makes this edge the message's only deliverer for the delivery's
// time: on a shared store another edge may have read it as due too. One
// it cannot claim leaves the sending set at once; whoever holds it records
// the attempt.
func (q *queueWorker) claim(ctx context.Context, m *store.Message, route *policy.Route, now time.Time) bool {
	bounds := store.RouteBounds{Tunnel: m.Tunnel, Route: m.Route, MaxInFlight: route.Delivery.MaxInFlight, Ordered: route.Delivery.Ordered}
	ok, err := q.e.queue.Claim(ctx, m.ID, q.e.claimOwner(), now, now.Add(storedDeliveryTimeout+claimMargin), bounds)
	if err != nil && ctx.Err() == nil {
		q.e.log.Warn("queue claim failed", "message", m.ID, "err", err)
	}
	if !ok {
		q.mu.Lock()
		delete(q.sending, m.ID)
		if route := m.Tunnel + "\x00" + m.Route; q.heads[route].After(now) {
			delete(q.heads, route)
		}
		q.mu.Unlock()
	}
	return ok
}

// claimMargin is how long a claim outlives the delivery's timeout: the
// attempt is recorded (and the claim ended) after the delivery ends.
const claimMargin = 10 * time.Second

// claimOwner is who claims queued messages: the edge's cluster id, or
// "edge" on a single edge.
func (e *Edge) claimOwner() string {
	if e.id == "" {
		return "edge"
	}
	return e.id
}

// deliver makes one attempt and records it.
func (q *queueWorker) deliver(ctx context.Context, p *policy.Policy, route *policy.Route, m *store.Message) {
	n := len(m.Attempts) + 1
	a, _, err := q.e.sendStored(ctx, p, route, m, n)
	status := a.Status
	now := q.e.clock.Now()
	state, next := store.QueueDelivered, time.Time{}
	switch {
	case status >= 200 && status < 300:
	case retryable(status, err != nil || a.Error != "") && now.Sub(m.ReceivedAt) < route.Delivery.MaxAge:
		state, next = store.QueuePending, now.Add(retryDelay(n))
	default:
		state = store.QueueDead
	}
	key := m.Tunnel + "\x00" + m.Route
	q.mu.Lock()
	if state == store.QueuePending && route.Delivery.Ordered {
		q.heads[key] = next
	} else {
		delete(q.heads, key)
	}
	q.mu.Unlock()
	q.dispatch.Lock()
	if err := q.e.queue.Attempted(context.WithoutCancel(ctx), m.ID, a, state, next); err != nil {
		q.e.log.Error("queue attempt not recorded", "message", m.ID, "err", err)
	}
	q.mu.Lock()
	delete(q.sending, m.ID)
	q.mu.Unlock()
	q.dispatch.Unlock()
	m.Attempts = append(m.Attempts, a)
	m.Queue, m.Status = state, status
	result := state
	if state == store.QueuePending {
		result = "retry"
	}
	q.e.metrics.deliveries.WithLabelValues(m.Tunnel, m.Route, result).Inc()
	if state == store.QueueDead {
		q.e.alerts.engine().Observe(alert.Event{Tunnel: q.e.tunnelLabel(m.Tunnel), Route: m.Route, Outcome: alert.OutcomeDead})
	}
	q.e.events.publish(m)
	q.e.log.Info("queued delivery", "message", m.ID, "tunnel", m.Tunnel, "route", m.Route, "attempt", n, "status", status, "queue", state)
}

// retryable: timeouts, no agent, 408, 429 and 5xx are worth another try;
// any other 4xx means the app will never take this message.
func retryable(status int, failed bool) bool {
	return failed || status == 0 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// retryDelay is the wait after the n-th failed attempt.
func retryDelay(n int) time.Duration {
	d := retryMin
	for i := 1; i < n && d < retryMax; i++ {
		d *= 2
	}
	d = min(d, retryMax)
	return d/2 + rand.N(d/2+1)
}
