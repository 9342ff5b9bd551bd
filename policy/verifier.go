package policy

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Verifier checks that a request was signed by the provider it claims to
// come from. now is injected so tests and the offline verify command can
// fix the clock.
type Verifier interface {
	Verify(r *Request, now time.Time) (Result, error)
}

// Result is what a successful verification learned.
type Result struct {
	// Secret is the index, in the route's secrets, of the one that matched,
	// so an old secret can be retired once nothing matches it any more.
	Secret int
	// DeliveryID is the provider's id of this delivery (X-GitHub-Delivery,
	// webhook-id, ...), used to detect duplicates; empty when the provider
	// sends none, in which case the signature itself is used.
	DeliveryID string
	// Signature is the signature value as received.
	Signature string
	// Fingerprint identifies the signed content: the same for every copy
	// of one signed message, however its signature header is spelled,
	// reordered or trimmed, and whichever secret matched. It is the MAC of
	// the content under the route's first secret (for public-key schemes,
	// the SHA-256 of the signed message), so only the provider can make a
	// new one. With DeliveryID it is a duplicate key: a replay that changes
	// or drops an unsigned delivery id keeps its fingerprint. It may be
	// used as a signature under the first secret, so it is never stored or
	// shown as is.
	Fingerprint []byte
	// Timestamp is the signed timestamp, zero when the scheme has none.
	Timestamp time.Time
}

// Answer is a response the edge sends itself, without forwarding.
type Answer struct {
	Status      int
	ContentType string
	Body        []byte
}

// Handshaker is implemented by verifiers whose provider sends an endpoint
// verification request (Slack url_verification, Zoom endpoint.url_validation,
// Twitch webhook_callback_verification, Discord PING...). Such requests are
// never queued. When the edge can answer one itself (it holds the secret),
// Handshake returns the answer; otherwise answer is nil and the request is
// forwarded synchronously.
type Handshaker interface {
	Handshake(r *Request, res Result) (isHandshake bool, answer *Answer)
}

// VerifyConfig is a route's `verify:` block.
type VerifyConfig struct {
	Provider string   `yaml:"provider" json:"provider"`
	Secrets  []string `yaml:"secrets" json:"secrets"`

	// Settings of the generic "hmac" provider.
	Header          string `yaml:"header,omitempty" json:"header,omitempty"`
	Algorithm       string `yaml:"algorithm,omitempty" json:"algorithm,omitempty"` // sha1 | sha256 | sha512
	Encoding        string `yaml:"encoding,omitempty" json:"encoding,omitempty"`   // hex | base64
	Prefix          string `yaml:"prefix,omitempty" json:"prefix,omitempty"`
	Template        string `yaml:"template,omitempty" json:"template,omitempty"` // signed content, e.g. "{timestamp}.{body}"
	TimestampHeader string `yaml:"timestamp_header,omitempty" json:"timestamp_header,omitempty"`
	IDHeader        string `yaml:"id_header,omitempty" json:"id_header,omitempty"`
}

// VerifierSpec is what a provider's constructor gets: the config, the
// resolved secrets in config order, and the effective tolerance (the
// route's, or the provider's default).
type VerifierSpec struct {
	Config    VerifyConfig
	Secrets   []Secret
	Tolerance time.Duration
}

// provider is one entry of the provider table.
type provider struct {
	// tolerance is the timestamp tolerance the provider's documentation or
	// official SDK uses; zero for schemes that sign no timestamp.
	tolerance time.Duration
	build     func(VerifierSpec) (Verifier, error)
	// event reads the kind of event a delivery is; nil when the provider
	// does not say.
	event eventRule
	// signatures are the headers a delivery's signature travels in: every
	// one the verifier reads it from, then older ones the provider still
	// sends beside them. SignatureHeaders is made of them.
	signatures []string
}

// aliases maps alternative provider names to their table entry.
var aliases = map[string]string{"svix": "standard-webhooks"}

// providerNamed looks a provider up by its config name.
func providerNamed(name string) (provider, bool) {
	if canonical, ok := aliases[name]; ok {
		name = canonical
	}
	p, ok := providers[name]
	return p, ok
}

// ProviderNames lists the provider names accepted in config, sorted.
func ProviderNames() []string {
	names := slices.AppendSeq(slices.Collect(maps.Keys(providers)), maps.Keys(aliases))
	slices.Sort(names)
	return names
}

// DefaultTolerance returns the provider's documented timestamp tolerance.
func DefaultTolerance(name string) (time.Duration, bool) {
	p, ok := providerNamed(name)
	return p.tolerance, ok
}

// NewVerifier builds the verifier of c.Provider. tolerance zero means the
// provider's default. Secrets must already be resolved and non-empty.
func NewVerifier(c VerifyConfig, secrets []Secret, tolerance time.Duration) (Verifier, error) {
	p, ok := providerNamed(c.Provider)
	if !ok {
		return nil, fmt.Errorf("unknown provider %q", c.Provider)
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("provider %s needs at least one secret", c.Provider)
	}
	if tolerance == 0 {
		tolerance = p.tolerance
	}
	return p.build(VerifierSpec{Config: c, Secrets: secrets, Tolerance: tolerance})
}
