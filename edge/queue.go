package edge

import (
	"context"
	"errors"
	"net/http"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
)

// enqueue commits the message to the route's queue, which delivers it
// with retries; a full queue answers 503 so the provider keeps it.
func (x *exchange) enqueue(route *policy.Route) {
	x.msg.Queue = store.QueuePending
	committed := x.commit(outcome.Queued, func(ctx context.Context, m *store.Message) error {
		return x.e.queue.Enqueue(ctx, m, route.Delivery.MaxMessages, route.Delivery.MaxBytes)
	}, map[string]string{"status": "queued"})
	if committed {
		x.e.wakeQueue()
	}
}

// commit stores the message for a later delivery (the queue's, or a
// release's) and only once that is durable answers 202 with its id. From
// then on the edge owes the delivery, so a copy of it is a duplicate (a
// failed commit is released by serve).
func (x *exchange) commit(decision outcome.Decision, keep func(context.Context, *store.Message) error, answer map[string]string) bool {
	x.msg.Decision, x.msg.Status = string(decision), http.StatusAccepted
	x.msg.Duration = x.e.clock.Now().Sub(x.start)
	x.keepForDelivery()
	err := keep(x.r.Context(), x.msg)
	switch {
	case errors.Is(err, store.ErrQueueFull):
		x.w.Header().Set("Retry-After", "60")
		x.msg.Queue = ""
		x.refuseWith(http.StatusServiceUnavailable, outcome.CodeQueueFull, "the queue of this route is full; retry later")
		return false
	case err != nil:
		x.e.log.Error("message not stored", "as", decision, "request_id", x.id, "tunnel", x.tunnel, "err", err)
		x.w.Header().Set("Retry-After", "30")
		x.msg.Queue = ""
		x.refuseWith(http.StatusServiceUnavailable, outcome.CodeQueueFull, "the edge could not store the message; retry later")
		return false
	}
	x.pol.Delivered(x.d, http.StatusAccepted, x.e.clock.Now())
	x.observe()
	x.e.events.publish(x.msg)
	answer["id"], answer["request_id"] = x.id, x.id
	writeJSON(x.w, http.StatusAccepted, answer)
	return true
}

// keepForDelivery keeps in the message what a later delivery sends (the
// queue's, or a release's), whatever the journal level says: the body,
// and the headers and query masked as in any journal entry.
func (x *exchange) keepForDelivery() {
	x.msg.Body = x.body
	if x.msg.Header == nil {
		x.mask(x.msg)
	}
}
