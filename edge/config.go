// Package edge is the public side of hooktunnel: it accepts agents, routes
// each tunnel host to its agents' sessions, applies the tunnel's policy and
// forwards what the policy allows.
package edge

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/hooktunnel/hooktunnel/certs"
	"github.com/hooktunnel/hooktunnel/edge/alert"
	"github.com/hooktunnel/hooktunnel/edge/clock"
	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// Config is the edge's settings, from flags and the YAML config file.
type Config struct {
	Domain      string `yaml:"domain"`
	Listen      string `yaml:"listen"`
	HTTPListen  string `yaml:"http_listen"`
	AdminListen string `yaml:"admin_listen"`
	// TLS is acme | file | self-signed | off; empty picks acme for a
	// public domain and off otherwise (see certs.DefaultMode).
	TLS string `yaml:"tls"`
	// TLSCert and TLSKey are the PEM files of tls: file, reloaded when
	// they change.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// ACME configures tls: acme; its cache defaults to <data>/certs.
	ACME certs.ACMEConfig `yaml:"acme"`
	// HSTSMaxAge is the Strict-Transport-Security max-age sent on tunnel
	// hosts when TLS is on; 0 sends none.
	HSTSMaxAge time.Duration `yaml:"hsts_max_age"`
	// PublicScheme and PublicPort shape the URLs printed for agents; by
	// default they follow TLS and Listen.
	PublicScheme string `yaml:"public_scheme"`
	PublicPort   string `yaml:"public_port"`
	Data         string `yaml:"data"`
	// Store is where the edge keeps its state: empty for the embedded
	// database in Data, or a postgres:// URL (env:NAME / file:PATH
	// holding one) for a store several edges share.
	Store string `yaml:"store"`
	// Cluster makes this edge one of several on a shared store.
	Cluster ClusterConfig `yaml:"cluster"`

	// TrustedProxies are the peers whose X-Forwarded-For is believed (a
	// load balancer or TLS terminator in front of the edge).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ProxyProtocol reads a PROXY protocol header (v1 or v2) on
	// connections from trusted_proxies: a TCP load balancer's way of
	// passing on the sender's address.
	ProxyProtocol bool `yaml:"proxy_protocol"`
	// IPLists are the named provider address lists routes may allow; the
	// command fills them from the embedded snapshot and the data dir.
	IPLists map[string][]netip.Prefix `yaml:"-"`

	Admin   AdminConfig              `yaml:"admin"`
	Agents  []AgentConfig            `yaml:"agents"`
	Tunnels map[string]policy.Config `yaml:"tunnels"`
	Limits  LimitsConfig             `yaml:"limits"`
	// Retention is how long the journal keeps messages (7 days).
	Retention time.Duration `yaml:"retention"`
	Journal   JournalConfig `yaml:"journal"`
	// Alerts are the anomaly rules and where their alerts go.
	Alerts alert.Config `yaml:"alerts"`

	Session tunnel.Config `yaml:"-"`
	// Reload reads the config again (SIGHUP, POST /api/v1/reload): the
	// file, with the flags that won over it. Nil: nothing to reload.
	Reload func() (Config, error) `yaml:"-"`
	Logger *slog.Logger           `yaml:"-"`
	// Clock is the edge's time; nil is the system's. Tests move a fake
	// one to reach a retry, an expiry or a purge without waiting.
	Clock clock.Clock `yaml:"-"`
}

// AdminConfig protects the admin listener.
type AdminConfig struct {
	// TokenSHA256 is the hex SHA-256 of the bearer token the admin API
	// requires; required when the admin listener is not on loopback.
	TokenSHA256 string `yaml:"token_sha256"`
	// Hosts are the names the admin listener answers besides IP addresses
	// and localhost (the name of a reverse proxy in front of it); a
	// request for any other Host is refused, against DNS rebinding.
	Hosts []string `yaml:"hosts"`
}

// AgentConfig is one agent token and what it may serve.
type AgentConfig struct {
	Name        string `yaml:"name"`
	TokenSHA256 string `yaml:"token_sha256"`
	// Tunnels lists the tunnel names the token grants: exact names or
	// globs ("ci-*", "*").
	Tunnels          []string `yaml:"tunnels"`
	MayDeclareRoutes bool     `yaml:"may_declare_routes"`
}

// JournalConfig bounds what the journal keeps.
type JournalConfig struct {
	// MaxDatabase caps the database file; the oldest messages go first.
	MaxDatabase policy.ByteSize `yaml:"max_database"`
	// MaxResponseBody caps how much of each app answer is kept.
	MaxResponseBody policy.ByteSize `yaml:"max_response_body"`
	// PurgeInterval is how often retention runs.
	PurgeInterval time.Duration `yaml:"purge_interval"`
	// MaxPending bounds the memory of bodies the journal holds: copies of
	// bodies on their way to the app and bodies waiting to be written.
	// A body that does not fit is not kept (the message is, with
	// body_dropped: journal_backlog); forwarding goes on.
	MaxPending policy.ByteSize `yaml:"max_pending"`
}

// LimitsConfig keeps the edge alive under bad input.
type LimitsConfig struct {
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`
	// MaxStreamsPerAgent bounds concurrent requests on one agent session;
	// more wait for a free stream.
	MaxStreamsPerAgent int `yaml:"max_streams_per_agent"`
	// ShutdownTimeout bounds how long in-flight requests may finish.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// BodyTimeout bounds how long a request body may take to arrive, and
	// MinBodyRate is the average rate (bytes per second) it must keep
	// after its first 5 seconds: a sender that trickles its body is cut
	// off instead of holding a connection and a stream.
	BodyTimeout time.Duration   `yaml:"body_timeout"`
	MinBodyRate policy.ByteSize `yaml:"min_body_rate"`
	// MaxRequestsPerIP bounds the requests one client address may have in
	// flight at once, over all tunnels: one source cannot take a tunnel's
	// streams from every other sender.
	MaxRequestsPerIP int `yaml:"max_requests_per_ip"`
}

// DefaultConfig is a production edge on the standard ports.
func DefaultConfig() Config {
	return Config{
		Listen:      ":443",
		HTTPListen:  ":80",
		AdminListen: "127.0.0.1:9090",
		HSTSMaxAge:  365 * 24 * time.Hour,
		Limits: LimitsConfig{
			ReadHeaderTimeout:  10 * time.Second,
			IdleTimeout:        120 * time.Second,
			MaxHeaderBytes:     64 << 10,
			MaxStreamsPerAgent: 512,
			ShutdownTimeout:    15 * time.Second,
			BodyTimeout:        60 * time.Second,
			MinBodyRate:        16 << 10,
			MaxRequestsPerIP:   256,
		},
		Retention: 7 * 24 * time.Hour,
		Journal: JournalConfig{
			MaxDatabase:     4 << 30,
			MaxResponseBody: 64 << 10,
			PurgeInterval:   10 * time.Minute,
			MaxPending:      64 << 20,
		},
		Session: edgeSessionConfig(),
	}
}

// edgeSessionConfig is the tunnel config of the edge's side: agents open
// few streams to the edge (control, inspector), so the accept backlog, which
// is also the bound on streams the edge opens that the agent has yet to
// acknowledge, can be small; it costs memory in every idle session.
func edgeSessionConfig() tunnel.Config {
	c := tunnel.DefaultConfig()
	c.AcceptBacklog = 64
	return c
}

// compiled is Config validated once; the hot path reads only this.
type compiled struct {
	domain       string
	publicScheme string
	publicPort   string
	adminToken   []byte // SHA-256, nil when not set
	adminHosts   *policy.Hosts
	grants       map[[32]byte]*grant
	tunnels      map[string]*policy.Policy
	limits       LimitsConfig
	tls          tlsSettings // see tls.go
	trusted      []netip.Prefix
	ipLists      map[string][]netip.Prefix
	journal      journalSettings // see journal.go
	fixed        []fixedSetting  // what a reload cannot change; see reload.go
	storeURL     string          // "" for the embedded store
	cluster      clusterSettings // see clusterconfig.go
}

// grant is a compiled AgentConfig.
type grant struct {
	name             string
	tokenHash        [32]byte
	tunnels          []string
	mayDeclareRoutes bool
}

// allows reports whether the grant covers tunnel name.
func (g *grant) allows(name string) bool {
	for _, pat := range g.tunnels {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	return false
}

// Compile validates c. Errors are policy.FieldErrors naming the field.
func (c Config) Compile() (*compiled, error) {
	return c.compile(nil)
}

// compile validates c, compiling each tunnel's policy in the environment
// env gives it (generated tokens, replay cache); nil validates only.
func (c Config) compile(env func(tunnel string) policy.Env) (*compiled, error) {
	out := &compiled{
		domain:  strings.TrimSuffix(strings.ToLower(c.Domain), "."),
		grants:  map[[32]byte]*grant{},
		tunnels: map[string]*policy.Policy{},
		limits:  c.Limits,
	}
	if out.domain == "" {
		return nil, policy.AtField("domain", fmt.Errorf("is required (the apex of the tunnel hosts, e.g. hooks.example.com)"))
	}
	if err := compileTLS(c, out); err != nil {
		return nil, err
	}
	out.publicScheme = c.PublicScheme
	if out.publicScheme == "" {
		out.publicScheme = "https"
		if out.tls.mode == certs.ModeOff {
			out.publicScheme = "http"
		}
	}
	out.publicPort = c.PublicPort
	if out.publicPort == "" {
		if _, port, err := net.SplitHostPort(c.Listen); err == nil && port != "443" && port != "80" {
			out.publicPort = port
		}
	}
	if c.Admin.TokenSHA256 != "" {
		h, err := parseSHA256(c.Admin.TokenSHA256)
		if err != nil {
			return nil, policy.AtField("admin.token_sha256", err)
		}
		out.adminToken = h[:]
	}
	hosts, err := policy.CompileHosts(c.Admin.Hosts)
	if err != nil {
		return nil, policy.AtField("admin.hosts", err)
	}
	out.adminHosts = hosts
	if err := compileAgents(c.Agents, out); err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(c.Tunnels))
	for _, name := range names {
		if !tunnel.ValidName(name) {
			return nil, policy.AtField("tunnels."+name, fmt.Errorf("%q is not a valid tunnel name (lowercase letters, digits and '-')", name))
		}
		tenv := policy.Env{IPLists: c.IPLists, GeneratedToken: validationToken}
		if env != nil {
			tenv = env(name)
		}
		p, err := c.Tunnels[name].CompileEnv(tenv)
		if err != nil {
			return nil, policy.AtField("tunnels."+name, err)
		}
		out.tunnels[name] = p
	}
	trusted, err := policy.ParsePrefixes(c.TrustedProxies)
	if err != nil {
		return nil, policy.AtField("trusted_proxies", err)
	}
	out.trusted = trusted
	if c.ProxyProtocol && len(trusted) == 0 {
		return nil, policy.AtField("proxy_protocol", fmt.Errorf("needs trusted_proxies: only their connections carry the header"))
	}
	out.ipLists = c.IPLists
	if err := compileCluster(c, out); err != nil {
		return nil, err
	}
	out.fixed = fixedSettings(c, out)
	if out.journal, err = compileJournal(c); err != nil {
		return nil, err
	}
	if c.Limits.MaxStreamsPerAgent <= 0 {
		return nil, policy.AtField("limits.max_streams_per_agent", fmt.Errorf("must be positive"))
	}
	if c.Limits.BodyTimeout < time.Second {
		return nil, policy.AtField("limits.body_timeout", fmt.Errorf("must be at least 1s (e.g. 60s)"))
	}
	if c.Limits.MinBodyRate < 0 {
		return nil, policy.AtField("limits.min_body_rate", fmt.Errorf("must not be negative (e.g. 16KiB; 0 turns the rate check off)"))
	}
	if c.Limits.MaxRequestsPerIP <= 0 {
		return nil, policy.AtField("limits.max_requests_per_ip", fmt.Errorf("must be positive"))
	}
	if _, err := c.Alerts.Compile(); err != nil {
		return nil, policy.AtField("alerts", err)
	}
	return out, nil
}

// validationToken stands in for generated URL tokens when a config is only
// checked: the real ones live in the store.
func validationToken(string) (string, error) { return "validation-only", nil }

func compileAgents(agents []AgentConfig, out *compiled) error {
	seen := map[string]bool{}
	for i, a := range agents {
		field := fmt.Sprintf("agents[%d]", i)
		if a.Name == "" {
			return policy.AtField(field+".name", fmt.Errorf("is required"))
		}
		if seen[a.Name] {
			return policy.AtField(field+".name", fmt.Errorf("%q is used twice", a.Name))
		}
		seen[a.Name] = true
		h, err := parseSHA256(a.TokenSHA256)
		if err != nil {
			return policy.AtField(field+".token_sha256", err)
		}
		if _, dup := out.grants[h]; dup {
			return policy.AtField(field+".token_sha256", fmt.Errorf("is the same token as another agent's"))
		}
		if len(a.Tunnels) == 0 {
			return policy.AtField(field+".tunnels", fmt.Errorf("is empty: list the tunnel names (or globs) this token may serve"))
		}
		for j, pat := range a.Tunnels {
			if _, err := path.Match(pat, ""); err != nil || pat == "" {
				return policy.AtField(fmt.Sprintf("%s.tunnels[%d]", field, j), fmt.Errorf("%q is not a name or glob", pat))
			}
		}
		out.grants[h] = &grant{name: a.Name, tokenHash: h, tunnels: a.Tunnels, mayDeclareRoutes: a.MayDeclareRoutes}
	}
	return nil
}

func parseSHA256(s string) ([32]byte, error) {
	var h [32]byte
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("must be 64 hex digits (the SHA-256 printed by `hooktunnel token new`)")
	}
	copy(h[:], b)
	return h, nil
}

// TokenHash is the SHA-256 the config stores for a token.
func TokenHash(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// LoadConfigFile reads a YAML config file over base and validates it.
// Errors name the file, line and field (*policy.ConfigError).
func LoadConfigFile(file string, base Config) (Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return base, &policy.ConfigError{File: file, Err: errors.Unwrap(err)}
	}
	cfg := base
	if err := policy.DecodeFile(file, data, &cfg, func() error { _, err := cfg.Compile(); return err }); err != nil {
		return base, err
	}
	return cfg, nil
}

// liveRoutes is what the edge knows of a tunnel's agents that decides its
// policy: whether one ever served it, and the routes the latest declared.
type liveRoutes interface {
	Known(tunnel string) bool
	Declared(tunnel string) *policy.Policy
}

// policyFor is the tunnel's policy: the config's routes, else the ones its
// agent declared, else deny-all for a tunnel an agent served; nil for an
// unknown tunnel.
func (c *compiled) policyFor(tunnel string, live liveRoutes) *policy.Policy {
	p := c.tunnels[tunnel]
	if p != nil && p.Len() > 0 {
		return p
	}
	if declared := live.Declared(tunnel); declared != nil {
		return declared
	}
	if p == nil && live.Known(tunnel) {
		return denyAll
	}
	return p
}
