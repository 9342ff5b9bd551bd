package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/hooktunnel/hooktunnel/edge"
	"github.com/hooktunnel/hooktunnel/policy"
)

// devPolicy is what `hooktunnel dev` checks: signatures on its own routes
// (--verify, --secret), or the policy of a whole edge config (--config).
type devPolicy struct {
	verify  string
	secrets []string
	config  string
}

// check refuses flag combinations that cannot mean anything.
func (p devPolicy) check() error {
	switch {
	case p.verify != "" && len(p.secrets) == 0:
		return fmt.Errorf("--verify %s needs the webhook's secret: --secret env:NAME, file:PATH or a literal (repeat it for rotation)", p.verify)
	case p.verify == "" && len(p.secrets) > 0:
		return errors.New("--secret needs --verify PROVIDER (" + strings.Join(policy.ProviderNames(), ", ") + ")")
	case p.config != "" && p.verify != "":
		return errors.New("--verify applies to the dev tunnel's own routes; with --config, put verify: in the config's routes")
	}
	return nil
}

// apply sets the signature check on each declared route.
func (p devPolicy) apply(routes []policy.RouteConfig) {
	if p.verify == "" {
		return
	}
	for i := range routes {
		routes[i].Verify = &policy.VerifyConfig{Provider: p.verify, Secrets: slices.Clone(p.secrets)}
	}
}

// devAgentName names the dev command's own agent in an edge config; a
// config's agents keep theirs.
const devAgentName = "hooktunnel-dev"

// loadDevEdgeConfig reads an edge config file for local use: its tunnels,
// policy, limits and journal settings as written, on the dev listeners,
// data directory and plain HTTP under "localhost". It returns the config
// and the tunnel the dev agent serves: name if given, else the config's
// only tunnel.
func loadDevEdgeConfig(file string, base edge.Config, name string) (edge.Config, string, error) {
	cfg, err := edge.LoadConfigFile(file, base)
	if err != nil {
		return cfg, "", err
	}
	cfg.Domain, cfg.Listen, cfg.AdminListen, cfg.Data = base.Domain, base.Listen, base.AdminListen, base.Data
	cfg.TLS, cfg.TLSCert, cfg.TLSKey, cfg.HTTPListen = "off", "", "", ""
	cfg.PublicScheme, cfg.PublicPort, cfg.HSTSMaxAge = "", "", 0
	cfg.ProxyProtocol = false
	names := slices.Sorted(maps.Keys(cfg.Tunnels))
	switch {
	case name != "" && !slices.Contains(names, name):
		return cfg, "", fmt.Errorf("%s has no tunnel %q (it has %s); pick one with --name", file, name, listOr(names))
	case name == "" && len(names) == 1:
		name = names[0]
	case name == "":
		return cfg, "", fmt.Errorf("%s has %d tunnels (%s): pick the one to run with --name", file, len(names), listOr(names))
	}
	return cfg, name, nil
}

// listOr joins names for a message, "none" when there are none.
func listOr(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// printSignedTry says how to send a signed test to url: a recipe for
// GitHub's scheme, and for every provider the offline check of a captured
// delivery.
func printSignedTry(w io.Writer, provider, url string) {
	fmt.Fprintf(w, "\nRequests must carry a valid %s signature; others get 401.\n", provider)
	if provider == "github" {
		fmt.Fprintf(w, "Send a signed one (SECRET is the webhook secret):\n")
		fmt.Fprintf(w, "  body='{\"zen\":\"Design for failure.\",\"hook_id\":1}'\n")
		fmt.Fprintf(w, "  sig=$(printf %%s \"$body\" | openssl dgst -sha256 -hmac \"$SECRET\" | sed 's/^.* //')\n")
		fmt.Fprintf(w, "  curl -sS -H \"X-Hub-Signature-256: sha256=$sig\" -H 'X-GitHub-Event: ping' -H 'Content-Type: application/json' -d \"$body\" %s\n", url)
	}
	fmt.Fprintf(w, "Check a captured delivery offline:\n")
	fmt.Fprintf(w, "  hooktunnel messages export ID --api http://ADMIN > req.http && hooktunnel verify --provider %s --secret REF req.http\n", provider)
}
