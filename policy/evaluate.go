package policy

import (
	"strconv"
	"strings"
	"time"
)

// Decision is what policy decided about one request, built in two steps:
// Admit before the body is read, Verify after.
type Decision struct {
	Route *Route
	// Err is nil while the request is allowed; otherwise it wraps one of
	// the sentinel errors, and Detail-bearing *Refusal explains it.
	Err error
	// Allow lists the methods of a path matched with another method.
	Allow []string
	// RetryAfter is set with ErrRateLimited.
	RetryAfter time.Duration
	// Verified is what the signature check learned, and SecretRef names
	// the secret that matched ("env:GH_SECRET_OLD"), never its value.
	Verified  Verified
	SecretRef string
	// Handshake marks a provider's endpoint verification request, which is
	// never queued; Answer, when set, is sent by the edge itself.
	Handshake bool
	Answer    *Answer
	// duplicateKey identifies the delivery for the replay cache.
	duplicateKey string
}

// Verified is the signature check's result, with its provider.
type Verified struct {
	Result
	Provider string
}

// Admit runs the checks that need no body, in order: route (method and
// path), source address, URL token, rate. r.Body is not read.
func (p *Policy) Admit(r *Request, now time.Time) Decision {
	var d Decision
	route, allow, err := p.Match(r.Method, r.URL.Path)
	if err != nil {
		d.Err, d.Allow = err, allow
		return d
	}
	d.Route = route
	for _, set := range []*ipSet{p.allow, route.allow} {
		if set != nil && !set.contains(r.RemoteAddr) {
			d.Err = refuse(ErrIPNotAllowed, "source address "+r.RemoteAddr.String()+" is not in this route's allowlist")
			return d
		}
	}
	if route.token != nil {
		if err := route.token.check(r.Header, r.URL.Query()); err != nil {
			d.Err = err
			return d
		}
	}
	if route.limiter != nil {
		if ok, wait := route.limiter.allow(r.RemoteAddr, now); !ok {
			d.Err = refuse(ErrRateLimited, "too many requests: retry after "+strconv.Itoa(int(wait.Seconds()+1))+"s")
			d.RetryAfter = wait
			return d
		}
	}
	return d
}

// Verify checks the signature and freshness of an admitted request whose
// body has been read into r.Body, and whether it is a duplicate of a
// delivery already accepted.
func (p *Policy) Verify(d *Decision, r *Request, now time.Time) {
	route := d.Route
	if d.Err != nil || route == nil || route.verifier == nil {
		return
	}
	res, err := route.verifier.Verify(r, now)
	if err != nil {
		d.Err = err
		return
	}
	d.Verified = Verified{Result: res, Provider: route.provider}
	if res.Secret >= 0 && res.Secret < len(route.secrets) {
		d.SecretRef = route.secrets[res.Secret].Ref
		if d.SecretRef == "literal" { // name it by its place instead
			d.SecretRef = "secrets[" + strconv.Itoa(res.Secret) + "]"
		}
	}
	if h, ok := route.verifier.(Handshaker); ok {
		d.Handshake, d.Answer = h.Handshake(r, res)
	}
	if p.replay == nil || d.Handshake {
		return
	}
	id := res.DeliveryID
	if id == "" {
		id = "sig:" + res.Signature
	}
	if id == "sig:" {
		return // nothing identifies this delivery
	}
	d.duplicateKey = p.scope + "\x00" + strconv.Itoa(route.Index) + "\x00" + id
	if p.replay.Seen(d.duplicateKey, now) {
		d.Err = refuse(ErrDuplicate, describeDelivery(id)+" was already accepted; not forwarded again")
	}
}

// Delivered records a delivery the app answered with status, so a replay
// of it is recognised: only 2xx answers count, a failed delivery may be
// retried by its provider.
func (p *Policy) Delivered(d Decision, status int, now time.Time) {
	if p.replay == nil || d.duplicateKey == "" || status < 200 || status > 299 {
		return
	}
	p.replay.Record(d.duplicateKey, now, replayTTL(d.Route.tolerance))
}

// replayTTL keeps a delivery id long enough that a replay within the
// timestamp tolerance is caught, and at least a day for providers that
// sign no timestamp and retry for hours.
func replayTTL(tolerance time.Duration) time.Duration {
	return max(2*tolerance, 72*time.Hour)
}

func describeDelivery(id string) string {
	if strings.HasPrefix(id, "sig:") {
		return "a delivery with the same signature"
	}
	if len(id) > 64 {
		id = id[:64] + "…"
	}
	return "delivery " + strconv.Quote(id)
}
