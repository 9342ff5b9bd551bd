package policy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// What a request gets when no route's filter takes it.
const (
	// OnMismatchAck answers 200 with Hooktunnel-Filtered: true; the
	// request is journaled as filtered and never forwarded.
	OnMismatchAck = "ack"
	// OnMismatchReject answers the route's RejectStatus.
	OnMismatchReject = "reject"
	// OnMismatchHold answers 202 and keeps the request in the route's
	// queue, held: never delivered until an operator releases it.
	OnMismatchHold = "queue_hold"
)

// DefaultRejectStatus is the status of on_mismatch: reject without a
// reject_status: 422, "understood, and not taken". Providers retry a
// non-2xx answer (Stripe for days): reject is for senders that should
// see the refusal.
const DefaultRejectStatus = 422

// Filter errors: a request no route's filter took, and a filter whose
// evaluation failed (a field read without has(), the cost limit), which
// counts as not taking it: fail closed, nothing is forwarded.
var (
	ErrFiltered     = errors.New("policy: filtered out")
	ErrFilterFailed = errors.New("policy: filter failed")
)

func (rc RouteConfig) compileFilter(r *Route) error {
	if rc.Filter == "" {
		if rc.OnMismatch != "" || rc.RejectStatus != 0 {
			field := "on_mismatch"
			if rc.OnMismatch == "" {
				field = "reject_status"
			}
			return fieldf(field, "is only meaningful with filter")
		}
		return nil
	}
	f, err := CompileFilter(rc.Filter)
	if err != nil {
		return AtField("filter", err)
	}
	r.filter = f
	r.OnMismatch, r.onMismatchSet = rc.OnMismatch, rc.OnMismatch != ""
	switch rc.OnMismatch {
	case "":
		r.OnMismatch = OnMismatchAck
	case OnMismatchAck, OnMismatchReject, OnMismatchHold:
	default:
		return fieldf("on_mismatch", "%q is not one of ack, reject, queue_hold", rc.OnMismatch)
	}
	switch {
	case rc.RejectStatus != 0 && r.OnMismatch != OnMismatchReject:
		return fieldf("reject_status", "is only meaningful with on_mismatch: reject")
	case rc.RejectStatus == 0:
		r.RejectStatus = DefaultRejectStatus
	case rc.RejectStatus < 400 || rc.RejectStatus > 599:
		return fieldf("reject_status", "%d is not a 4xx or 5xx status", rc.RejectStatus)
	default:
		r.RejectStatus = rc.RejectStatus
	}
	return nil
}

// Filters reports whether the route has a filter (and so needs the whole
// body before forwarding).
func (r *Route) Filters() bool { return r.filter != nil }

// FilterSource is the route's filter expression, "" if none.
func (r *Route) FilterSource() string {
	if r.filter == nil {
		return ""
	}
	return r.filter.source
}

// Filter runs the filter of an admitted request's route, once Verify has
// passed it (a filter never reads a body whose signature failed). A
// request the filter does not take goes on to the next route with the
// same path pattern, in file order, that allows its method; that route's
// own checks run (Admit's, the body limit, Verify's), and then its
// filter. The first route that takes the request is d.Route. When none
// does, d.Err wraps ErrFiltered (or ErrFilterFailed), and d.Route is the
// last route tried: its OnMismatch applies. r.Body holds the whole body;
// it is parsed at most once.
func (p *Policy) Filter(d *Decision, r *Request, now time.Time) {
	for d.Err == nil && d.Route != nil && d.Route.filter != nil && !d.Handshake {
		route := d.Route
		provider := d.Verified.Provider
		if provider == "" {
			provider = route.provider
		}
		ok, err := route.filter.Match(r, FilterInput{Provider: provider, DeliveryID: d.Verified.DeliveryID, Now: now})
		if ok {
			return
		}
		next := p.nextSamePath(route, r.Method)
		if next == nil {
			if err != nil {
				d.Err = refuse(ErrFilterFailed, "the filter of route "+quoteShort(route.Path)+" failed, so it does not take this request: "+err.Error())
			} else {
				d.Err = refuse(ErrFiltered, "the filter of route "+quoteShort(route.Path)+" does not take this request")
			}
			return
		}
		p.Abandon(*d) // the next route claims the delivery under its own keys
		*d = p.admitRoute(next, r, now)
		if d.Err == nil && int64(len(r.Body)) > next.MaxBody {
			d.Err = refuse(ErrBodyTooLarge, "the body is "+strconv.Itoa(len(r.Body))+" bytes, larger than this route's max_body of "+ByteSize(next.MaxBody).String())
		}
		p.Verify(d, r, now)
	}
}

// nextSamePath is the first route after route, in file order, with the
// same path pattern and allowing method; nil if none.
func (p *Policy) nextSamePath(route *Route, method string) *Route {
	// Routes with equal patterns have equal specificity, and the sort is
	// stable: among them p.routes is in file order.
	i := slices.Index(p.routes, route)
	for _, r := range p.routes[i+1:] {
		if r.pattern.equal(route.pattern) && r.allows(method) {
			return r
		}
	}
	return nil
}

// Warnings are what is legal in the policy but surely not meant: routes
// that can never take a request, filters that read unsigned bodies,
// settings that are never used. Each names its field ("routes[2].filter"),
// so a config file can place it on a line (LocateWarnings).
func (p *Policy) Warnings() []*FieldError {
	var out []*FieldError
	warn := func(field, msg string) { out = append(out, &FieldError{Field: field, Err: errors.New(msg)}) }
	routes := p.Routes()
	for j, rj := range routes {
		at := fmt.Sprintf("routes[%d]", rj.Index)
		if rj.filter != nil && rj.filter.constant != nil && !*rj.filter.constant {
			warn(at+".filter", "is false: the route never takes a request")
		}
		if rj.filter != nil && rj.verifier == nil {
			warn(at+".filter", "the route verifies no signature, so its filter reads bodies anyone may send; a filter is not an access check")
		}
		for _, ri := range routes[:j] {
			if ri.pattern.equal(rj.pattern) && coversMethods(ri, rj) && ri.takesAll() {
				warn(at, fmt.Sprintf("can never match: routes[%d] has the same path and methods and takes every request", ri.Index))
				break
			}
		}
		if rj.filter != nil && rj.onMismatchSet {
			for _, rk := range routes[j+1:] {
				if rk.pattern.equal(rj.pattern) && coversMethods(rk, rj) {
					warn(at+".on_mismatch", fmt.Sprintf("is never used: a request the filter does not take goes on to routes[%d]", rk.Index))
					break
				}
			}
		}
	}
	return out
}

// takesAll reports whether the route's filter takes every request.
func (r *Route) takesAll() bool {
	return r.filter == nil || r.filter.constant != nil && *r.filter.constant
}

// coversMethods reports whether a allows every method b does.
func coversMethods(a, b *Route) bool {
	if a.Methods == nil {
		return true
	}
	if b.Methods == nil {
		return false
	}
	for _, m := range b.Methods {
		if !a.allows(m) {
			return false
		}
	}
	return true
}
