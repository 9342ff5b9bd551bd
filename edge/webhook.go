package edge

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/relay"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
)

// exchange is one request to a tunnel host on its way through the edge, in
// the order of DESIGN.md: policy before the body, the body, the signature,
// then the journal and the app. Every way out of serve leaves a message
// in the journal.
type exchange struct {
	e      *Edge
	w      *responseRecorder
	r      *http.Request
	cfg    *compiled
	tunnel string
	id     string
	start  time.Time

	pol  *policy.Policy
	d    policy.Decision
	msg  *store.Message
	body []byte // the whole body, when it had to be read before forwarding
	// sent is the sender's body as the edge reads it, remembering why it
	// failed if it did; nil for a request without one.
	sent *relay.WatchedBody
	// recycle is a body buffer to hand back once the journal has written
	// the message that holds it, and reserved what it holds of the
	// journal's body budget.
	recycle  []byte
	reserved int64
}

func (x *exchange) routePath() string { return routePath(x.d) }

func (x *exchange) serve() {
	x.pol = x.e.policyFor(x.cfg, x.tunnel)
	x.msg = x.newMessage()
	if x.pol == nil {
		x.refuseWith(http.StatusNotFound, outcome.CodeUnknownTunnel, "tunnel "+x.tunnel+" does not exist")
		return
	}
	// A delivery claimed by Verify and handed to neither the app nor the
	// queue is released, so the provider's retry is not a duplicate.
	defer func() { x.pol.Abandon(x.d) }()
	now := x.e.clock.Now()
	preq := x.e.policyRequest(x.r, x.cfg)
	x.msg.SourceIP = preq.RemoteAddr.String()
	if !x.e.clients.acquire(preq.RemoteAddr, x.cfg.limits.MaxRequestsPerIP) {
		x.w.Header().Set("Retry-After", "1")
		x.refuseWith(http.StatusTooManyRequests, outcome.CodeTooManyFromIP, "too many requests in flight from "+preq.RemoteAddr.String()+"; retry later")
		return
	}
	defer x.e.clients.release(preq.RemoteAddr)
	x.d = x.pol.Admit(preq, now)
	if x.d.Err != nil {
		x.refuse()
		return
	}
	route := x.d.Route
	x.msg.Route = route.Path
	x.journalLevel(route)
	if x.r.ContentLength > route.MaxBody {
		x.d.Err = bodyTooLarge(route.MaxBody)
		x.refuse()
		return
	}
	if x.r.Body != nil && x.r.Body != http.NoBody {
		// The deadline stays when the body is not read to its end: the
		// server's discarding of what is left is bounded by it too.
		paced := newPacedBody(x.r.Body, x.w, x.start, x.cfg.limits)
		x.sent = &relay.WatchedBody{ReadCloser: http.MaxBytesReader(x.w, paced, route.MaxBody)}
		x.r.Body = x.sent
	}
	online := x.e.relay.Online(x.tunnel)
	queue := route.Delivery.Queue || (route.Delivery.QueueOffline && !online)
	// The signature, the queue, the edge → app signature and the filter
	// all need the whole body; anything else streams.
	if route.Verifies() || queue || x.pol.ForwardSecret() != nil || route.Filters() {
		if !x.readBody() {
			return
		}
	}
	if route.Verifies() {
		preq.Body = x.body
		x.pol.Verify(&x.d, preq, now)
		if !x.verified(preq) {
			return
		}
	}
	if route.Filters() { // after the signature: never on an unverified body
		if !x.filter(preq, now) {
			return
		}
		route = x.d.Route
		queue = route.Delivery.Queue || (route.Delivery.QueueOffline && !online)
	}
	stripToken(x.r, route)
	if queue && !x.d.Handshake { // a handshake is answered now or never
		x.enqueue(route)
		return
	}
	if !online {
		status, code, message, retryAfter := relayRefusal(relay.ErrNoAgent, x.tunnel)
		x.w.Header().Set("Retry-After", retryAfter)
		x.refuseWith(status, code, message)
		return
	}
	x.forward()
}

// verified journals what Verify learned and, when the request is not to
// be forwarded (a duplicate, a refusal, a handshake the edge answers),
// answers it and returns false.
func (x *exchange) verified(preq *policy.Request) bool {
	x.msg.Provider, x.msg.SecretRef, x.msg.DeliveryID = x.d.Verified.Provider, x.d.SecretRef, x.d.Verified.DeliveryID
	preq.Event = preq.EventOf(x.d.Verified.Provider)
	x.msg.Event = preq.Event
	switch {
	case errors.Is(x.d.Err, policy.ErrDuplicate):
		writeDuplicate(x.w, x.id)
		x.finish(outcome.Duplicate, http.StatusOK)
		return false
	case x.d.Err != nil:
		x.refuse()
		return false
	case x.d.Answer != nil:
		writeAnswer(x.w, x.d.Answer)
		x.finish(outcome.Answered, x.d.Answer.Status)
		return false
	}
	return true
}

// newMessage starts the journal entry with what any request has, masked
// before anything else happens: every token any route of the tunnel
// takes, whether or not this request gets as far as its route.
func (x *exchange) newMessage() *store.Message {
	m := &store.Message{
		ID: x.id, ReceivedAt: x.start.UTC(), Tunnel: x.tunnel,
		Method: x.r.Method, Path: x.r.URL.Path,
		BodySize:   max(x.r.ContentLength, 0),
		ClientCert: clientSubject(x.r),
		Edge:       x.e.id,
	}
	x.mask(m)
	return m
}

// mask puts the request's query and headers in m with every credential
// of the tunnel masked: the journal's view of them, whichever route.
func (x *exchange) mask(m *store.Message) {
	query, headers := x.pol.Credentials()
	m.Query, m.Header = redactQuery(x.r.URL.RawQuery, query), redactHeader(x.r.Header, headers)
}

// journalLevel applies the route's journal level.
//
// The route's own redactions need nothing more: newMessage masked every
// name any route of the tunnel redacts, this one's included.
func (x *exchange) journalLevel(route *policy.Route) {
	if route.Journal == policy.JournalMetadata {
		x.msg.Header, x.msg.Query = nil, ""
	}
}

// keepsBodies reports whether the journal keeps bodies for this request.
func (x *exchange) keepsBodies() bool {
	return x.d.Route != nil && x.d.Route.Journal == policy.JournalFull
}

// readBody reads the whole body (up to the route's limit); on failure it
// has answered the sender.
func (x *exchange) readBody() bool {
	body, err := io.ReadAll(x.r.Body)
	if err != nil {
		x.d.Err = readFailed(err)
		x.refuse()
		return false
	}
	x.body = body
	x.msg.BodySize = int64(len(body))
	if x.keepsBodies() {
		x.msg.Body = body
	}
	x.r.Body = io.NopCloser(bytes.NewReader(body))
	x.r.ContentLength = int64(len(body))
	return true
}

// refuse answers with the policy's refusal and journals it.
func (x *exchange) refuse() {
	x.e.refuse(x.w, x.d, x.id)
	status, code := refusalOf(x.d.Err)
	x.msg.Reason, x.msg.Detail = string(code), x.d.Err.Error()
	x.finish(outcome.Refused, status)
}

// refuseWith answers a refusal that is not policy's.
func (x *exchange) refuseWith(status int, code outcome.Code, message string) {
	writeRefusal(x.w, status, code, message, x.id)
	x.msg.Reason, x.msg.Detail = string(code), message
	x.finish(outcome.Refused, status)
}

// finish journals the message with its outcome. A refused request keeps
// the body the edge read of it (a bad signature's, say), unless its route
// opted out: refused requests are what a user debugs.
func (x *exchange) finish(decision outcome.Decision, status int) {
	x.msg.Decision, x.msg.Status = string(decision), status
	x.msg.Duration = x.e.clock.Now().Sub(x.start)
	if decision == outcome.Refused && (x.d.Route == nil || !x.d.Route.KeepsRefusedBodies) {
		x.msg.Body = nil
	}
	entry := x.e.journal.fit(x.msg, x.recycle, x.reserved)
	x.observe()
	x.e.journal.record(entry)
}
