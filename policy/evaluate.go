package policy

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
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
	// claim holds the delivery's keys in the replay cache until Delivered
	// or Abandon settles it.
	claim *claim
}

// claim is a Decision's hold on its delivery's keys. A Decision and its
// copies are used by one goroutine at a time.
type claim struct {
	cache   ReplayCache
	keys    []string
	owner   string
	ttl     time.Duration
	settled bool
}

// Verified is the signature check's result, with its provider.
type Verified struct {
	Result
	Provider string
}

// Admit runs the checks that need no body, in order: route (method and
// path), source address, URL token, rate. r.Body is not read.
func (p *Policy) Admit(r *Request, now time.Time) Decision {
	route, allow, err := p.Match(r.Method, r.URL.Path)
	if err != nil {
		return Decision{Err: err, Allow: allow}
	}
	return p.admitRoute(route, r, now)
}

// admitRoute runs Admit's checks of one route.
func (p *Policy) admitRoute(route *Route, r *Request, now time.Time) Decision {
	d := Decision{Route: route}
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
// body has been read into r.Body, and claims the delivery in the replay
// cache: a delivery already accepted is ErrDuplicate, one being forwarded
// now is ErrInFlight. A claimed delivery must be settled, by Delivered
// once the app or the queue has it, or by Abandon.
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
	keys := p.deliveryKeys(route, res)
	if len(keys) == 0 {
		return // nothing identifies this delivery
	}
	c := &claim{cache: p.replay, keys: keys, owner: rand.Text(), ttl: replayTTL(route.tolerance)}
	switch p.replay.Claim(keys, c.owner, now, claimLease) {
	case Claimed:
		d.claim = c
	case ClaimDone:
		d.Err = refuse(ErrDuplicate, describeDelivery(res)+" was already accepted; not forwarded again")
	default:
		d.Err = refuse(ErrInFlight, describeDelivery(res)+" is being forwarded now; retry later")
	}
}

// deliveryKeys are the replay cache keys of a verified delivery: its
// provider delivery id, and its signed content's fingerprint. Either one
// seen makes it a duplicate, so a replay that changes or drops an unsigned
// delivery id (X-GitHub-Delivery) is still caught.
func (p *Policy) deliveryKeys(route *Route, res Result) []string {
	prefix := p.scope + "\x00" + strconv.Itoa(route.Index) + "\x00"
	var keys []string
	if res.DeliveryID != "" {
		keys = append(keys, prefix+"id:"+res.DeliveryID)
	}
	// The fingerprint is a MAC under the route's secret: only its hash is
	// kept. A verifier that sets none falls back to the signature as sent.
	signed := res.Fingerprint
	if len(signed) == 0 && res.Signature != "" {
		signed = []byte(res.Signature)
	}
	if len(signed) > 0 {
		sum := sha256.Sum256(signed)
		keys = append(keys, prefix+"sig:"+hex.EncodeToString(sum[:]))
	}
	return keys
}

// claimLease is how long a delivery's keys stay held while it is being
// forwarded; past it (an edge that died mid-delivery, with a shared
// store) a copy may claim them again. It outlasts the longest forward.
const claimLease = 15 * time.Minute

// Delivered settles the claim of a delivery the app answered with status
// (or the queue committed, with 202): a 2xx records it, so a replay is
// recognised; anything else releases it, so the provider's retry goes
// through.
func (p *Policy) Delivered(d Decision, status int, now time.Time) {
	c := d.claim
	if c == nil || c.settled {
		return
	}
	c.settled = true
	if status < 200 || status > 299 {
		c.cache.Release(c.keys, c.owner)
		return
	}
	c.cache.Confirm(c.keys, c.owner, now, c.ttl)
}

// Abandon releases the claim of a delivery that reached neither the app
// nor the queue (no agent, a full queue, a failure on the way); after
// Delivered it does nothing.
func (p *Policy) Abandon(d Decision) {
	p.Delivered(d, 0, time.Time{})
}

// replayTTL keeps a delivery id long enough that a replay within the
// timestamp tolerance is caught, and at least a day for providers that
// sign no timestamp and retry for hours.
func replayTTL(tolerance time.Duration) time.Duration {
	return max(2*tolerance, 72*time.Hour)
}

func describeDelivery(res Result) string {
	id := res.DeliveryID
	if id == "" {
		return "a delivery with the same signed content"
	}
	if len(id) > 64 {
		id = id[:64] + "…"
	}
	return "delivery " + strconv.Quote(id) + " (or one with the same signed content)"
}
