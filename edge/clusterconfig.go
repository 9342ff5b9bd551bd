package edge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/hooktunnel/hooktunnel/edge/cluster"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
)

// ClusterConfig makes the edge one of several sharing a PostgreSQL store.
type ClusterConfig struct {
	// Advertise is the URL agents and the other edges reach this edge at
	// (https://edge1.hooks.example.com). It differs per VM: --advertise
	// sets it, so every edge can read the same file.
	Advertise string `yaml:"advertise"`
	// Secret authenticates traffic between edges: env:NAME or file:PATH,
	// the same on every edge, at least 32 bytes.
	Secret string `yaml:"secret"`
	// Name labels this edge in the journal, the API and the metrics;
	// default the advertise URL's host:port.
	Name string `yaml:"name"`
}

// clusterSettings are ClusterConfig compiled; zero on a single edge.
type clusterSettings struct {
	on        bool
	advertise string
	// host is advertise's host, lower case without its port: requests to
	// it are this edge's (agents, peers), never a tunnel's, even when it
	// lies below the domain (https://edge1.hooks.example.com).
	host   string
	name   string
	secret []byte
}

// storeURL resolves the store setting: "" is the embedded SQLite store; a
// postgres:// URL, or env:NAME / file:PATH holding one, is shared.
func storeURL(ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	raw := ref
	if !policy.IsLiteral(ref) {
		s, err := policy.ResolveSecret(ref)
		if err != nil {
			return "", err
		}
		raw = strings.TrimSpace(string(s.Value))
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return "", fmt.Errorf("must be a postgres://user@host/database URL (or env:NAME / file:PATH holding one); empty for the embedded database")
	}
	return raw, nil
}

func compileCluster(c Config, out *compiled) error {
	u, err := storeURL(c.Store)
	if err != nil {
		return policy.AtField("store", err)
	}
	out.storeURL = u
	cc := c.Cluster
	if cc == (ClusterConfig{}) {
		return nil
	}
	if u == "" {
		return policy.AtField("cluster", fmt.Errorf("needs a shared store: set store: postgres://… (every edge of a cluster uses the same database)"))
	}
	adv, err := url.Parse(cc.Advertise)
	if cc.Advertise == "" || err != nil || (adv.Scheme != "https" && adv.Scheme != "http") || adv.Host == "" || adv.Path != "" && adv.Path != "/" {
		return policy.AtField("cluster.advertise", fmt.Errorf("must be the URL agents and other edges reach this edge at, e.g. https://edge1.hooks.example.com (or --advertise)"))
	}
	if cc.Secret == "" {
		return policy.AtField("cluster.secret", fmt.Errorf("is required: env:NAME or file:PATH of a secret shared by every edge (32 bytes or more)"))
	}
	if policy.IsLiteral(cc.Secret) {
		return policy.AtField("cluster.secret", fmt.Errorf("must be env:NAME or file:PATH, not the secret itself"))
	}
	s, err := policy.ResolveSecret(cc.Secret)
	if err != nil {
		return policy.AtField("cluster.secret", err)
	}
	if len(s.Value) < cluster.MinSecret {
		return policy.AtField("cluster.secret", fmt.Errorf("is %d bytes: use %d or more (openssl rand -hex 32)", len(s.Value), cluster.MinSecret))
	}
	name := cc.Name
	if name == "" {
		name = adv.Host
	}
	out.cluster = clusterSettings{on: true, advertise: strings.TrimSuffix(adv.String(), "/"), host: canonicalHost(adv.Host), name: name, secret: s.Value}
	return nil
}

// openStore opens the store the config names: the embedded database in
// the data directory, or the shared PostgreSQL one.
func openStore(cfg Config, c *compiled) (store.Store, error) {
	if c.storeURL != "" {
		return store.OpenPostgres(context.Background(), c.storeURL)
	}
	return store.OpenSQLite(context.Background(), filepath.Join(cfg.Data, "hooktunnel.db"))
}

// CheckStore reaches the configured store and checks its schema without
// changing it (hooktunnel edge --check); the embedded store has nothing to
// check before it is opened.
func (c Config) CheckStore(ctx context.Context) error {
	u, err := storeURL(c.Store)
	if err != nil || u == "" {
		return err
	}
	return store.CheckPostgres(ctx, u)
}

// newEdgeID is this process's id in the registry: the name and a random
// suffix, so a restarted edge is never taken for the one that died.
func newEdgeID(name string) string {
	b := make([]byte, 3)
	rand.Read(b)
	return name + "-" + hex.EncodeToString(b)
}
