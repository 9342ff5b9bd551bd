package edge

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
)

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
