package edge

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/alert"
	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
)

// enqueue commits the message durably and only then answers 202 with its
// id; a full queue answers 503 so the provider keeps the delivery.
func (x *exchange) enqueue(route *policy.Route) {
	x.msg.Decision, x.msg.Status = string(outcome.Queued), http.StatusAccepted
	x.msg.Queue = store.QueuePending
	x.msg.Duration = x.e.clock.Now().Sub(x.start)
	x.keepForDelivery()
	err := x.e.queue.Enqueue(x.r.Context(), x.msg, route.Delivery.MaxMessages, route.Delivery.MaxBytes)
	switch {
	case errors.Is(err, store.ErrQueueFull):
		x.w.Header().Set("Retry-After", "60")
		x.msg.Queue = ""
		x.refuseWith(http.StatusServiceUnavailable, outcome.CodeQueueFull, "the queue of this route is full; retry later")
		return
	case err != nil:
		x.e.log.Error("enqueue failed", "request_id", x.id, "tunnel", x.tunnel, "err", err)
		x.w.Header().Set("Retry-After", "30")
		x.msg.Queue = ""
		x.refuseWith(http.StatusServiceUnavailable, outcome.CodeQueueFull, "the edge could not store the message; retry later")
		return
	}
	// Committed: the queue now owes the delivery, so a copy of it is a
	// duplicate from here on (a failed commit is released by serve).
	x.pol.Delivered(x.d, http.StatusAccepted, x.e.clock.Now())
	x.observe()
	x.e.events.publish(x.msg)
	writeJSON(x.w, http.StatusAccepted, map[string]string{"status": "queued", "id": x.id, "request_id": x.id})
	x.e.wakeQueue()
}

// keepForDelivery keeps in the message what a later delivery sends (the
// queue's, or a release's), whatever the journal level says: the body,
// and the headers and query masked as in any journal entry.
func (x *exchange) keepForDelivery() {
	x.msg.Body = x.body
	if x.msg.Header == nil {
		query, headers := x.pol.Credentials()
		x.msg.Header = redactHeader(x.r.Header, headers)
		x.msg.Query = redactQuery(x.r.URL.RawQuery, query)
	}
}

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
		q.deliverDue(ctx)
		// Retries fall due on the edge's clock: a second's wait at most
		// between looks at what is due.
		tick, timer := clock.After(q.e.clock, time.Second)
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

func (q *queueWorker) deliverDue(ctx context.Context) {
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
		return
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
			q.deliver(ctx, p, route, &m)
			q.mu.Lock()
			q.inFlight[key]--
			q.mu.Unlock()
			q.e.wakeQueue()
		}()
	}
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

// routeOf finds the current policy and route of a stored message.
func (e *Edge) routeOf(m *store.Message) (*policy.Policy, *policy.Route) {
	p := e.policyFor(e.cfg.Load(), m.Tunnel)
	if p == nil {
		return nil, nil
	}
	route, _, err := p.Match(m.Method, m.Path)
	if err != nil {
		return nil, nil
	}
	return p, route
}

// currentRoute is routeOf for the API: when no route takes the message
// now, it answers 409 no_route and reports false.
func (a *journalAPI) currentRoute(w http.ResponseWriter, m *store.Message) (*policy.Policy, *policy.Route, bool) {
	p, route := a.e.routeOf(m)
	if route == nil {
		writeRefusal(w, http.StatusConflict, outcome.CodeNoRoute, "no current route of tunnel "+m.Tunnel+" takes "+m.Method+" "+m.Path, "")
		return nil, nil, false
	}
	return p, route, true
}

// sendStored sends a stored message to the app down the one road: the
// queue's deliveries, releases and replays. The attempt says what the app
// answered; the capture holds the answer.
func (e *Edge) sendStored(ctx context.Context, p *policy.Policy, route *policy.Route, m *store.Message, attempt int) (store.Attempt, *answerCapture, error) {
	ctx, cancel := context.WithTimeout(ctx, storedDeliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, m.Method, "http://"+m.Tunnel+"/", bytes.NewReader(m.Body))
	if err != nil {
		return store.Attempt{N: attempt, At: e.clock.Now().UTC(), Error: err.Error()}, newAnswerCapture(0), err
	}
	req.URL.Path, req.URL.RawQuery = m.Path, deliverableQuery(m.Query)
	// As the provider sent it: the public host with its port, and the
	// X-Forwarded-* a live delivery carries; the route's target now, after
	// any reload.
	pub, _ := url.Parse(e.cfg.Load().publicURL(m.Tunnel, "/"))
	req.Header = deliverable(m.Header)
	e.prepare(req, toApp{tunnel: m.Tunnel, id: m.ID, target: route.Target, attempt: attempt,
		forwardedFor: m.SourceIP, forwardedHost: pub.Host, forwardedProto: pub.Scheme,
		policy: p, body: m.Body})
	answer := newAnswerCapture(e.responseCap())
	a, err := e.deliver(m.Tunnel, req, attempt, answer)
	if a.Status != 0 {
		err = nil // an answer cut short is still the app's answer
	}
	return a, answer, err
}

// storedDeliveryTimeout bounds one delivery of a stored message.
const storedDeliveryTimeout = 5 * time.Minute
