package edge

import (
	"errors"
	"time"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// filter runs the route's filter once the signature passed, going on to
// later routes with the same path (policy.Filter); false when the request
// was answered here: filtered out, or refused by a later route's checks.
func (x *exchange) filter(preq *policy.Request, now time.Time) bool {
	first := x.d.Route
	preq.Body = x.body
	x.pol.Filter(&x.d, preq, now)
	if route := x.d.Route; route != first {
		// Another route has the request now: its journal settings apply.
		// The masking is the tunnel's, the same for every route
		// (newMessage): the headers and query are masked again only when
		// the first route's journal level dropped them.
		x.msg.Route = route.Path
		if x.msg.Header == nil {
			x.mask(x.msg)
		}
		x.journalLevel(route)
		x.msg.Body = nil
		if x.keepsBodies() {
			x.msg.Body = x.body
		}
	}
	if errors.Is(x.d.Err, policy.ErrFiltered) || errors.Is(x.d.Err, policy.ErrFilterFailed) {
		x.filtered()
		return false
	}
	return x.verified(preq)
}

// filtered answers a request no route's filter took, as the last route's
// on_mismatch says, and journals it as filtered: never forwarded.
func (x *exchange) filtered() {
	route := x.d.Route
	status, code := refusalOf(x.d.Err)
	x.msg.Reason, x.msg.Detail = string(code), x.d.Err.Error()
	x.w.Header().Set(tunnel.HeaderFiltered, "true")
	if route.OnMismatch == policy.OnMismatchHold {
		x.hold()
		return
	}
	if route.OnMismatch == policy.OnMismatchReject {
		status = route.RejectStatus
		writeRefusal(x.w, status, code, x.d.Err.Error(), x.id)
	} else {
		writeJSON(x.w, status, map[string]string{"status": string(outcome.Filtered), "message": "acknowledged; no route's filter takes this request, so it is not forwarded", "request_id": x.id})
	}
	x.finish(outcome.Filtered, status)
}
