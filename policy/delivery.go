package policy

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Journal levels: what the edge keeps of each request.
const (
	JournalMetadata = "metadata" // method, path, status, decision; no headers or bodies
	JournalHeaders  = "headers"  // and the headers
	JournalFull     = "full"     // and the bodies (the default)
)

// Queue defaults: a provider's retries, not the edge's memory, are the
// backstop beyond these.
const (
	DefaultQueueMaxAge   = 72 * time.Hour
	DefaultQueueMessages = 100_000
	DefaultQueueBytes    = 1 << 30
	DefaultMaxInFlight   = 8
)

// compileDelivery reads a route's delivery, journal and redaction settings,
// with the tunnel's as defaults.
func (rc RouteConfig) compileDelivery(r *Route, tunnel Config) error {
	d := Delivery{MaxInFlight: rc.MaxInFlight, Ordered: rc.Ordered, MaxAge: rc.MaxAge,
		MaxMessages: DefaultQueueMessages, MaxBytes: DefaultQueueBytes}
	switch rc.Mode {
	case "", "sync":
	case "queue":
		d.Queue = true
	default:
		return fieldf("mode", "%q is not one of sync, queue", rc.Mode)
	}
	switch rc.Offline {
	case "":
	case "queue":
		d.QueueOffline = true
	case "reject":
	default:
		return fieldf("offline", "%q is not one of queue, reject", rc.Offline)
	}
	if d.MaxInFlight < 0 {
		return fieldf("max_in_flight", "must not be negative")
	}
	if d.MaxInFlight == 0 {
		d.MaxInFlight = DefaultMaxInFlight
	}
	if d.Ordered {
		d.MaxInFlight = 1 // one at a time, in arrival order
	}
	if d.MaxAge < 0 {
		return fieldf("max_age", "must not be negative")
	}
	if d.MaxAge == 0 {
		d.MaxAge = DefaultQueueMaxAge
	}
	if q := rc.QueueLimit; q != nil {
		if q.Messages < 0 || q.Bytes < 0 {
			return fieldf("queue_limit", "must not be negative")
		}
		if q.Messages > 0 {
			d.MaxMessages = q.Messages
		}
		if q.Bytes > 0 {
			d.MaxBytes = int64(q.Bytes)
		}
	}
	r.Delivery = d

	r.KeepsRefusedBodies = rc.RefusedBodies == nil || *rc.RefusedBodies
	r.Journal = rc.Journal
	if r.Journal == "" {
		r.Journal = tunnel.Journal
	}
	switch r.Journal {
	case "":
		r.Journal = JournalFull
	case JournalMetadata, JournalHeaders, JournalFull:
	default:
		field := "journal"
		if rc.Journal == "" {
			return fmt.Errorf("journal: %q is not one of metadata, headers, full", r.Journal)
		}
		return fieldf(field, "%q is not one of metadata, headers, full", r.Journal)
	}
	for _, rd := range []*RedactConfig{tunnel.Redact, rc.Redact} {
		if rd == nil {
			continue
		}
		for _, h := range rd.Headers {
			r.RedactHeaders = append(r.RedactHeaders, http.CanonicalHeaderKey(h))
		}
		r.RedactQuery = append(r.RedactQuery, rd.Query...)
	}
	if r.token != nil {
		if r.token.header != "" {
			r.RedactHeaders = append(r.RedactHeaders, http.CanonicalHeaderKey(r.token.header))
		}
		if r.token.query != "" {
			r.RedactQuery = append(r.RedactQuery, r.token.query)
		}
	}
	if r.verifier != nil && rc.Verify.Header != "" {
		r.RedactHeaders = append(r.RedactHeaders, http.CanonicalHeaderKey(rc.Verify.Header))
	}
	return nil
}

// ForwardSecret is the tunnel's resolved forward_secret, nil if unset.
func (p *Policy) ForwardSecret() []byte { return p.forwardSecret }

// credentialHeaders carry credentials: the sender's own, or a shared token
// that is the secret itself (GitLab's X-Gitlab-Token). The journal never
// keeps their values.
var credentialHeaders = []string{
	"Authorization", "Proxy-Authorization", "Cookie", "X-Gitlab-Token",
}

// CredentialHeaders returns the header names to redact whatever the route.
func CredentialHeaders() []string { return append([]string(nil), credentialHeaders...) }

// SignatureHeaders returns the headers the providers' signatures travel in
// (the provider table's signatures), canonical and sorted, less the
// credential headers (Teams signs in Authorization), which are never kept.
//
// They carry the MAC or signature of a body under a provider's secret. A
// signature is not a secret: it is the MAC of a body the journal already
// holds, and it proves nothing about another body. The journal keeps them
// so a replay is what the provider sent and an app that checks the
// signature itself accepts it.
func SignatureHeaders() []string {
	credential := map[string]bool{}
	for _, h := range credentialHeaders {
		credential[http.CanonicalHeaderKey(h)] = true
	}
	seen := map[string]bool{}
	var names []string
	for _, p := range providers {
		for _, h := range p.signatures {
			h = http.CanonicalHeaderKey(h)
			if !credential[h] && !seen[h] {
				seen[h] = true
				names = append(names, h)
			}
		}
	}
	slices.Sort(names)
	return names
}
