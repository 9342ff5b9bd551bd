package edge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/alert"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
)

// enqueue commits the message durably and only then answers 202 with its
// id; a full queue answers 503 so the provider keeps the delivery.
func (x *exchange) enqueue(route *policy.Route) {
	x.msg.Decision, x.msg.Status = "queued", http.StatusAccepted
	x.msg.Queue = store.QueuePending
	x.msg.Duration = time.Since(x.start)
	x.keepForDelivery()
	err := x.e.queue.Enqueue(x.r.Context(), x.msg, route.Delivery.MaxMessages, route.Delivery.MaxBytes)
	switch {
	case errors.Is(err, store.ErrQueueFull):
		x.w.Header().Set("Retry-After", "60")
		x.msg.Queue = ""
		x.refuseWith(http.StatusServiceUnavailable, codeQueueFull, "the queue of this route is full; retry later")
		return
	case err != nil:
		x.e.log.Error("enqueue failed", "request_id", x.id, "tunnel", x.tunnel, "err", err)
		x.w.Header().Set("Retry-After", "30")
		x.msg.Queue = ""
		x.refuseWith(http.StatusServiceUnavailable, codeQueueFull, "the edge could not store the message; retry later")
		return
	}
	// Committed: the queue now owes the delivery, so a copy of it is a
	// duplicate from here on (a failed commit is released by serve).
	x.pol.Delivered(x.d, http.StatusAccepted, time.Now())
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
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		q.deliverDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-q.e.queueWake:
		case <-tick.C:
		}
	}
}

func (q *queueWorker) deliverDue(ctx context.Context) {
	// Reading what is due and recording an attempt exclude each other: a
	// listing read while an attempt is being recorded could still show
	// that message pending after it left the sending set.
	q.dispatch.Lock()
	defer q.dispatch.Unlock()
	due, err := q.e.queue.Due(ctx, time.Now(), 256)
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
			if next, blocked := q.heads[key]; blocked && time.Now().Before(next) {
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
			q.heads[key] = time.Now().Add(retryMax)
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
	start := time.Now()
	res, err := q.e.deliverStored(ctx, p, route, m, n)
	status := res.status
	a := store.Attempt{N: n, At: start.UTC(), Status: status, Duration: time.Since(start)}
	if err != nil {
		a.Error = err.Error()
	}
	state, next := store.QueueDelivered, time.Time{}
	switch {
	case status >= 200 && status < 300:
	case retryable(status, err) && time.Since(m.ReceivedAt) < route.Delivery.MaxAge:
		state, next = store.QueuePending, time.Now().Add(retryDelay(n))
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
func retryable(status int, err error) bool {
	return err != nil || status == 0 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
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
	state := e.reg.lookup(m.Tunnel)
	x := &exchange{cfg: e.cfg.Load(), tunnel: m.Tunnel, e: e}
	p := x.policyFor(state)
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
		writeRefusal(w, http.StatusConflict, "no_route", "no current route of tunnel "+m.Tunnel+" takes "+m.Method+" "+m.Path, "")
		return nil, nil, false
	}
	return p, route, true
}

// errOffline is a delivery attempt made while no agent serves the tunnel.
var errOffline = errors.New("no agent connected")

// deliverStored sends a stored message to the app through the tunnel: the
// queue's deliveries and replays. It returns the app's status.
func (e *Edge) deliverStored(ctx context.Context, p *policy.Policy, route *policy.Route, m *store.Message, attempt int) (delivery, error) {
	state := e.reg.lookup(m.Tunnel)
	if state == nil || state.pick(nil) == nil {
		return delivery{}, errOffline
	}
	u := &url.URL{Scheme: "http", Host: m.Tunnel, Path: m.Path, RawQuery: deliverableQuery(m.Query)}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	ctx = context.WithValue(ctx, forwardKey{}, &forwardInfo{tunnel: state, requestID: m.ID, target: route.Target})
	req, err := http.NewRequestWithContext(ctx, m.Method, u.String(), bytes.NewReader(m.Body))
	if err != nil {
		return delivery{}, err
	}
	// As the provider sent it: the public host with its port, and the
	// X-Forwarded-* a live delivery carries.
	cfg := e.cfg.Load()
	pub, _ := url.Parse(cfg.publicURL(m.Tunnel, "/"))
	req.Header = deliverable(m.Header)
	req.Host = pub.Host
	req.Header.Set(headerRequestID, m.ID)
	setTarget(req.Header, route.Target) // the route's target now, after any reload
	setTunnel(req.Header, m.Tunnel)
	req.Header.Set("X-Forwarded-For", m.SourceIP)
	req.Header.Set("X-Forwarded-Host", pub.Host)
	req.Header.Set("X-Forwarded-Proto", pub.Scheme)
	e.signForApp(req.Header, p, m.ID, attempt, m.Body)
	resp, err := tunnelTransport{}.RoundTrip(req)
	if err != nil {
		return delivery{}, err
	}
	defer resp.Body.Close()
	body := &cappedBuffer{max: e.responseCap()}
	_, _ = io.Copy(body, io.LimitReader(resp.Body, 16<<20))
	res := delivery{status: resp.StatusCode, header: resp.Header, body: body.bytes()}
	if code := resp.Header.Get(headerError); code != "" && resp.StatusCode >= 500 {
		return res, errors.New(code)
	}
	return res, nil
}

// delivery is the app's answer to a stored message.
type delivery struct {
	status int
	header http.Header
	body   []byte
}
