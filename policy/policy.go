package policy

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
)

// Config is a tunnel's policy: the same YAML schema in the edge config
// (`tunnels.<name>`) and in an agent's --policy file.
type Config struct {
	// AllowIPs applies to every route of the tunnel, before the route's own.
	AllowIPs []string      `yaml:"allow_ips,omitempty" json:"allow_ips,omitempty"`
	Routes   []RouteConfig `yaml:"routes" json:"routes"`
	// MTLS asks the tunnel's senders for a client certificate. Only the
	// edge config sets it (agents cannot declare it); see mtls.go.
	MTLS *MTLSConfig `yaml:"mtls,omitempty" json:"-"`
	// ForwardSecret signs the edge → app hop (Standard Webhooks), so the
	// app can check a queued or replayed message passed the edge.
	ForwardSecret string `yaml:"forward_secret,omitempty" json:"forward_secret,omitempty"`
	// Journal and Redact apply to every route that sets none.
	Journal string        `yaml:"journal,omitempty" json:"journal,omitempty"`
	Redact  *RedactConfig `yaml:"redact,omitempty" json:"redact,omitempty"`
}

// RouteConfig is one entry of `routes:`.
type RouteConfig struct {
	// Path in net/http pattern syntax: exact, ending in "/" for a subtree,
	// {name} for one segment, {name...} for the rest.
	Path string `yaml:"path" json:"path"`
	// Methods allowed; default [POST]. "*" allows every method.
	Methods []string `yaml:"methods,omitempty" json:"methods,omitempty"`
	// AllowIPs: CIDRs, addresses, or provider lists ("github", "stripe").
	AllowIPs []string      `yaml:"allow_ips,omitempty" json:"allow_ips,omitempty"`
	Token    *TokenConfig  `yaml:"token,omitempty" json:"token,omitempty"`
	Verify   *VerifyConfig `yaml:"verify,omitempty" json:"verify,omitempty"`
	// Tolerance overrides the provider's timestamp tolerance.
	Tolerance time.Duration `yaml:"tolerance,omitempty" json:"tolerance,omitempty"`
	// MaxBody bounds the request body; default 25 MiB (GitHub's cap).
	MaxBody ByteSize    `yaml:"max_body,omitempty" json:"max_body,omitempty"`
	Rate    *RateConfig `yaml:"rate,omitempty" json:"rate,omitempty"`

	// Delivery: sync (the default) forwards at once and streams the app's
	// answer back; queue commits the message, answers 202 and delivers it
	// with retries. Offline "queue" makes a sync route queue while no
	// agent is connected.
	Mode        string        `yaml:"mode,omitempty" json:"mode,omitempty"`
	Offline     string        `yaml:"offline,omitempty" json:"offline,omitempty"`
	MaxInFlight int           `yaml:"max_in_flight,omitempty" json:"max_in_flight,omitempty"`
	Ordered     bool          `yaml:"ordered,omitempty" json:"ordered,omitempty"`
	MaxAge      time.Duration `yaml:"max_age,omitempty" json:"max_age,omitempty"`
	QueueLimit  *QueueLimit   `yaml:"queue_limit,omitempty" json:"queue_limit,omitempty"`

	// Journal is what is kept of each request: metadata, headers or full.
	Journal string        `yaml:"journal,omitempty" json:"journal,omitempty"`
	Redact  *RedactConfig `yaml:"redact,omitempty" json:"redact,omitempty"`
	// RefusedBodies: false keeps no body of a refused request, whatever
	// Journal says (by default the bodies the edge read are kept: refused
	// requests are the ones a user debugs).
	RefusedBodies *bool `yaml:"refused_bodies,omitempty" json:"refused_bodies,omitempty"`

	// Filter is a CEL expression over the request once its checks passed
	// (docs/filters.md). A request it does not take goes on to the next
	// route with the same path, in file order; after the last one,
	// OnMismatch says what it gets: ack (200, not forwarded; the default)
	// or reject (RejectStatus, default 422).
	Filter       string `yaml:"filter,omitempty" json:"filter,omitempty"`
	OnMismatch   string `yaml:"on_mismatch,omitempty" json:"on_mismatch,omitempty"`
	RejectStatus int    `yaml:"reject_status,omitempty" json:"reject_status,omitempty"`
	// Target names the agent's local app the route's requests go to (the
	// agent maps it with --target NAME=ADDR); "" lets the agent choose by
	// path.
	Target string `yaml:"target,omitempty" json:"target,omitempty"`
}

// QueueLimit bounds a queue route; past it the edge answers 503 with
// Retry-After, so the provider retries instead of losing the delivery.
type QueueLimit struct {
	Messages int      `yaml:"messages,omitempty" json:"messages,omitempty"`
	Bytes    ByteSize `yaml:"bytes,omitempty" json:"bytes,omitempty"`
}

// RedactConfig names more headers and query parameters to keep out of
// the journal, beyond the ones always redacted.
type RedactConfig struct {
	Headers []string `yaml:"headers,omitempty" json:"headers,omitempty"`
	Query   []string `yaml:"query,omitempty" json:"query,omitempty"`
}

// DefaultMaxBody is the body limit of a route that sets none.
const DefaultMaxBody ByteSize = 25 << 20

// Env is what compiling a policy may draw on besides the config.
type Env struct {
	// IPLists are the named provider address lists allow_ips may use.
	IPLists map[string][]netip.Prefix
	// GeneratedToken returns the kept token of a route with
	// `token: generate`, creating it the first time; nil where generated
	// tokens are not available (an agent's policy file).
	GeneratedToken func(routePath string) (string, error)
	// Replay remembers accepted deliveries; nil disables duplicate
	// detection. Scope prefixes its keys (the tunnel name).
	Replay ReplayCache
	Scope  string
}

// Route is a compiled route. It is immutable.
type Route struct {
	Index   int
	Path    string
	Methods []string // nil means any method
	MaxBody int64
	pattern pattern

	allow     *ipSet
	token     *tokenCheck
	verifier  Verifier
	secrets   []Secret // the verifier's, for naming the one that matched
	provider  string
	tolerance time.Duration
	limiter   *limiter

	Delivery Delivery
	// Journal is metadata, headers or full; RedactHeaders and RedactQuery
	// list (canonical) names to redact besides the built-in ones.
	// KeepsRefusedBodies is false when the route opted out of keeping the
	// bodies of refused requests.
	KeepsRefusedBodies bool
	Journal            string
	RedactHeaders      []string
	RedactQuery        []string

	filter *Filter
	// OnMismatch is what a request the filter does not take gets when no
	// later route with the same path takes it: OnMismatchAck or
	// OnMismatchReject with RejectStatus.
	OnMismatch    string
	RejectStatus  int
	onMismatchSet bool
	// Target is the agent's local target the requests go to; "" for the
	// one the agent picks by path.
	Target string
}

// Delivery is how a route's accepted requests reach the app.
type Delivery struct {
	Queue        bool // mode: queue
	QueueOffline bool // offline: queue
	MaxInFlight  int
	Ordered      bool
	MaxAge       time.Duration
	MaxMessages  int
	MaxBytes     int64
}

// Verifies reports whether the route checks signatures (and so needs the
// whole body before forwarding).
func (r *Route) Verifies() bool { return r.verifier != nil }

// Provider is the name of the route's signature scheme, "" if none.
func (r *Route) Provider() string { return r.provider }

// Token is the generated URL token of the route, "" unless the route uses
// `token: generate`; with TokenQuery it makes the URL to hand out.
func (r *Route) Token() string {
	if r.token == nil {
		return ""
	}
	return r.token.generatedValue()
}

// TokenQuery is the query parameter the route's token goes in, if any.
func (r *Route) TokenQuery() string {
	if r.token == nil {
		return ""
	}
	return r.token.query
}

// TokenHeader is the header the route's token goes in, if any.
func (r *Route) TokenHeader() string {
	if r.token == nil {
		return ""
	}
	return r.token.header
}

// allows reports whether the route accepts method.
func (r *Route) allows(method string) bool {
	if r.Methods == nil {
		return true
	}
	for _, m := range r.Methods {
		if m == method {
			return true
		}
	}
	return false
}

// Policy is a compiled Config: what the hot path reads. It is immutable and
// safe for concurrent use; reloading builds a new one.
type Policy struct {
	routes        []*Route // most specific first
	allow         *ipSet   // tunnel-wide allowlist
	forwardSecret []byte
	replay        ReplayCache
	scope         string
	// credentialQuery and credentialHeaders name where any route of the
	// tunnel takes a token, or asks for redaction; see Credentials.
	credentialQuery   []string
	credentialHeaders []string
}

// Credentials names the query parameters and headers (canonical) in which
// any route of p takes a token or asks for redaction. The journal masks
// them in every request to the tunnel, refused or not: a request refused
// before its route is known (a wrong method, a rate limit) may still carry
// a route's real token. A nil Policy has none.
func (p *Policy) Credentials() (query, headers []string) {
	if p == nil {
		return nil, nil
	}
	return p.credentialQuery, p.credentialHeaders
}

func (p *Policy) addCredentials(r *Route) {
	// A route's redactions include where its token goes.
	for _, q := range r.RedactQuery {
		if !slices.Contains(p.credentialQuery, q) {
			p.credentialQuery = append(p.credentialQuery, q)
		}
	}
	for _, h := range r.RedactHeaders {
		if !slices.Contains(p.credentialHeaders, h) {
			p.credentialHeaders = append(p.credentialHeaders, h)
		}
	}
}

// Compile validates c once and returns its compiled form. Errors are
// FieldErrors naming the field ("routes[2].methods[0]").
func (c Config) Compile() (*Policy, error) {
	return c.CompileEnv(Env{})
}

// CompileEnv is Compile with provider lists, generated tokens and a
// replay cache.
func (c Config) CompileEnv(env Env) (*Policy, error) {
	p := &Policy{replay: env.Replay, scope: env.Scope}
	allow, err := compileIPs(c.AllowIPs, env.IPLists)
	if err != nil {
		return nil, AtField("allow_ips", err)
	}
	p.allow = allow
	if c.ForwardSecret != "" {
		s, err := ResolveSecret(c.ForwardSecret)
		if err != nil {
			return nil, fieldf("forward_secret", "%v", err)
		}
		if p.forwardSecret, err = DecodeWebhookSecret(s.Value); err != nil {
			return nil, fieldf("forward_secret", "%v", err)
		}
	}
	for i, rc := range c.Routes {
		r, err := rc.compile(i, env, c)
		if err != nil {
			return nil, AtField(fmt.Sprintf("routes[%d]", i), err)
		}
		p.routes = append(p.routes, r)
		p.addCredentials(r)
	}
	sort.SliceStable(p.routes, func(i, j int) bool {
		return p.routes[i].pattern.specificity() > p.routes[j].pattern.specificity()
	})
	return p, nil
}

func (rc RouteConfig) compile(index int, env Env, tunnel Config) (*Route, error) {
	if rc.Path == "" {
		return nil, fieldf("path", "is required")
	}
	pat, err := parsePattern(rc.Path)
	if err != nil {
		return nil, AtField("path", err)
	}
	r := &Route{Index: index, Path: rc.Path, pattern: pat}
	if rc.Target != "" && !ValidTargetName(rc.Target) {
		return nil, fieldf("target", "%q is not a target name (lowercase letters, digits, '-' and '_', at most 63)", rc.Target)
	}
	r.Target = rc.Target
	methods := rc.Methods
	if len(methods) == 0 {
		methods = []string{http.MethodPost}
	}
	for i, m := range methods {
		if m == "*" {
			r.Methods = nil
			break
		}
		if !validMethod(m) {
			return nil, fieldf(fmt.Sprintf("methods[%d]", i), "%q is not an HTTP method", m)
		}
		r.Methods = append(r.Methods, strings.ToUpper(m))
	}
	if err := rc.compileChecks(r, env); err != nil {
		return nil, err
	}
	if err := rc.compileDelivery(r, tunnel); err != nil {
		return nil, err
	}
	if err := rc.compileFilter(r); err != nil {
		return nil, err
	}
	return r, nil
}

// compileChecks builds the route's allowlist, token, verifier and limits.
func (rc RouteConfig) compileChecks(r *Route, env Env) error {
	var err error
	if r.allow, err = compileIPs(rc.AllowIPs, env.IPLists); err != nil {
		return AtField("allow_ips", err)
	}
	if rc.Token != nil {
		var gen func() (string, error)
		if env.GeneratedToken != nil {
			gen = func() (string, error) { return env.GeneratedToken(rc.Path) }
		}
		if r.token, err = compileToken(rc.Token, gen); err != nil {
			return AtField("token", err)
		}
	}
	r.MaxBody = int64(rc.MaxBody)
	if r.MaxBody == 0 {
		r.MaxBody = int64(DefaultMaxBody)
	}
	if rc.Tolerance < 0 {
		return fieldf("tolerance", "must not be negative")
	}
	if rc.Rate != nil {
		if r.limiter, err = compileRate(rc.Rate); err != nil {
			return AtField("rate", err)
		}
	}
	if rc.Verify == nil {
		if rc.Tolerance != 0 {
			return fieldf("tolerance", "is only meaningful with verify")
		}
		return nil
	}
	return rc.compileVerifier(r)
}

func (rc RouteConfig) compileVerifier(r *Route) error {
	v := rc.Verify
	if _, ok := providerNamed(v.Provider); !ok {
		return fieldf("verify.provider", "%q is not a known provider (%s)", v.Provider, strings.Join(ProviderNames(), ", "))
	}
	if len(v.Secrets) == 0 {
		return fieldf("verify.secrets", "lists no secret: a route that verifies must have one (env:NAME or file:PATH)")
	}
	for i, ref := range v.Secrets {
		s, err := ResolveSecret(ref)
		if err != nil {
			return fieldf(fmt.Sprintf("verify.secrets[%d]", i), "%v", err)
		}
		r.secrets = append(r.secrets, s)
	}
	verifier, err := NewVerifier(*v, r.secrets, rc.Tolerance)
	var fe *FieldError
	if errors.As(err, &fe) && strings.HasPrefix(fe.Field, "verify.") {
		return err // the provider named the whole path already
	}
	if err != nil {
		return AtField("verify", err)
	}
	r.verifier, r.provider = verifier, v.Provider
	r.tolerance = rc.Tolerance
	if r.tolerance == 0 {
		r.tolerance, _ = DefaultTolerance(v.Provider)
	}
	return nil
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, r := range m {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

// Len is the number of routes; zero forwards nothing.
func (p *Policy) Len() int { return len(p.routes) }

// Routes returns the compiled routes in the order they were configured.
func (p *Policy) Routes() []*Route {
	out := append([]*Route(nil), p.routes...)
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

// Match finds the route for a request. A path no route covers is
// ErrNoRoute; a path some route covers for other methods is
// ErrMethodNotAllowed, with those methods in allow; a path that is not
// canonical (see canonicalPath) is ErrBadPath. A policy with no routes
// matches nothing.
func (p *Policy) Match(method, path string) (r *Route, allow []string, err error) {
	if why := pathProblem(path); why != "" {
		return nil, nil, refuse(ErrBadPath, "path "+quoteShort(path)+" is refused: it has "+why)
	}
	seen := map[string]bool{}
	for _, r := range p.routes {
		if !r.pattern.match(path) {
			continue
		}
		if r.allows(method) {
			return r, nil, nil
		}
		for _, m := range r.Methods {
			if !seen[m] {
				seen[m] = true
				allow = append(allow, m)
			}
		}
	}
	if len(allow) > 0 {
		sort.Strings(allow)
		return nil, allow, refuse(ErrMethodNotAllowed, "method "+quoteShort(method)+" is not allowed here; allowed: "+strings.Join(allow, ", "))
	}
	return nil, nil, refuse(ErrNoRoute, "no route of this tunnel matches "+quoteShort(path))
}

// quoteShort quotes untrusted input for an error message, cut to a length
// that keeps refusals short.
func quoteShort(s string) string {
	const max = 128
	if len(s) > max {
		s = s[:max] + "…"
	}
	return fmt.Sprintf("%q", s)
}
