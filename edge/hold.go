package edge

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/store"
)

// hold keeps a request no route's filter took, on a route with
// on_mismatch: queue_hold: committed to the queue in state held (never
// delivered until an operator releases it), journaled as filtered, and
// answered 202 like a queued message once the commit is durable.
func (x *exchange) hold() {
	x.commit(outcome.Filtered, x.e.queue.Hold, map[string]string{"status": "held",
		"message": "accepted; no route's filter takes this request, so it is held until an operator releases it"})
}

// release serves POST /api/v1/messages/{id}/release: a held message
// becomes pending, due now, and the queue worker delivers it as any
// queued message, through the route that now takes its method and path
// (as a replay), within that route's queue bounds. The audit trail says
// who released what.
func (a *journalAPI) release(w http.ResponseWriter, r *http.Request) {
	m, ok := a.message(w, r)
	if !ok {
		return
	}
	if m.Queue != store.QueueHeld {
		writeRefusal(w, http.StatusConflict, outcome.CodeNotHeld, notHeld(m), "")
		return
	}
	_, route, ok := a.currentRoute(w, m)
	if !ok {
		return
	}
	now := a.e.clock.Now()
	err := a.e.queue.Release(r.Context(), m.ID, now, route.Delivery.MaxMessages, route.Delivery.MaxBytes)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeRefusal(w, http.StatusNotFound, outcome.CodeNotFound, "no message with this id (deleted or purged meanwhile?)", "")
		return
	case errors.Is(err, store.ErrNotHeld):
		writeRefusal(w, http.StatusConflict, outcome.CodeNotHeld, "the message is no longer held (released meanwhile?)", "")
		return
	case errors.Is(err, store.ErrQueueFull):
		w.Header().Set("Retry-After", "60")
		writeRefusal(w, http.StatusServiceUnavailable, outcome.CodeQueueFull, "the queue of route "+route.Path+" is full; release it later", "")
		return
	case err != nil:
		a.e.log.Error("release failed", "message", m.ID, "err", err)
		writeRefusal(w, http.StatusInternalServerError, outcome.CodeJournalError, "the message could not be released", "")
		return
	}
	m.Queue = store.QueuePending
	a.e.events.publish(m)
	a.e.wakeQueue()
	a.e.log.Info("release", "message", m.ID, "tunnel", m.Tunnel, "route", m.Route)
	a.e.audit(r, auditRelease, m.ID, fmt.Sprintf("%s %s on tunnel %s, now pending in the queue", m.Method, m.Path, m.Tunnel))
	writeJSON(w, http.StatusAccepted, map[string]string{"id": m.ID, "queue": store.QueuePending})
}

// notHeld says why a message cannot be released.
func notHeld(m *store.Message) string {
	if m.Queue == "" {
		return "the message is not held: it was " + m.Decision + ", never queued"
	}
	return "the message is not held: its queue state is " + m.Queue
}
