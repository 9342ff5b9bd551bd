package edge

import (
	"context"
	"errors"
	"net/http"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// forward sends the request to the app down the one road and streams the
// app's answer back, capturing it for the journal.
func (x *exchange) forward() {
	var tee *cappedBuffer
	if x.keepsBodies() && x.body == nil && x.sent != nil {
		// The copy grows with the bytes that arrive, in recycled buffers;
		// the sender's declared length sizes it only under 4 KiB.
		tee = &cappedBuffer{max: x.d.Route.MaxBody, pooled: true, budget: x.e.journal.budget, declared: x.r.ContentLength}
		x.r.Body = &teeBody{ReadCloser: x.r.Body, copy: tee}
	}
	proto := "http"
	if x.r.TLS != nil {
		proto = "https"
	}
	req := *x.r // the sender's request stays as it came, for the log
	x.e.prepare(&req, toApp{tunnel: x.tunnel, id: x.id, target: x.d.Route.Target, attempt: 1,
		forwardedFor: peerIP(x.r.RemoteAddr), forwardedHost: x.r.Host, forwardedProto: proto,
		policy: x.pol, body: x.body})
	capture := x.w
	capture.body = &cappedBuffer{max: x.e.responseCap()}
	attempt, err := x.e.deliver(x.tunnel, &req, 1, capture)
	if attempt.Status == 0 {
		x.deliveryFailed(err)
	}
	x.pol.Delivered(x.d, capture.status(), x.e.clock.Now())
	x.e.metrics.appDuration.WithLabelValues(x.tunnel).Observe(attempt.Duration.Seconds())
	x.e.metrics.bytesOut.WithLabelValues(x.tunnel).Add(float64(capture.body.total))
	// An answer cut short must not reach the sender as if it were whole:
	// once journaled, its connection is aborted.
	defer func() {
		if errors.Is(err, errAnswerCut) {
			panic(http.ErrAbortHandler)
		}
	}()

	if tee != nil {
		x.recycle, x.reserved = tee.buf, tee.reserved
		x.msg.Body, x.msg.BodySize, x.msg.BodyTruncated = tee.bytes(), tee.total, tee.truncated()
		if tee.dropped {
			x.e.journal.drop(x.msg)
		}
	}
	if err := x.sent.Failed(); x.body == nil && err != nil {
		// The sender's body failed on its way: the app's request was
		// aborted, whatever the agent answered.
		x.d.Err = readFailed(err)
		x.msg.Body = nil
		_, code := refusalOf(x.d.Err)
		x.msg.Reason, x.msg.Detail = string(code), x.d.Err.Error()
		x.finish(outcome.Refused, capture.status())
		return
	}
	if x.keepsBodies() {
		x.msg.ResponseBody = capture.body.bytes()
	}
	if x.d.Route.Journal != policy.JournalMetadata {
		x.msg.ResponseHeader = redactHeader(capture.Header(), nil)
	}
	x.msg.Reason = capture.Header().Get(tunnel.HeaderError)
	attempt.Status = capture.status()
	x.msg.Attempts = []store.Attempt{attempt}
	x.finish(outcome.Forwarded, capture.status())
}

// deliveryFailed answers the sender when the relay got no answer from the
// app.
func (x *exchange) deliveryFailed(err error) {
	if errors.Is(err, context.Canceled) && x.r.Context().Err() != nil {
		// The sender went away; nobody reads an answer.
		x.w.WriteHeader(499)
		return
	}
	status, code, message, retryAfter := relayRefusal(err, x.tunnel)
	if retryAfter != "" {
		x.w.Header().Set("Retry-After", retryAfter)
	}
	if status == http.StatusBadGateway {
		x.e.log.Warn("forward failed", "request_id", x.id, "tunnel", x.tunnel, "err", err)
	}
	x.w.Header().Set(tunnel.HeaderError, string(code))
	writeRefusal(x.w, status, code, message, x.id)
}
