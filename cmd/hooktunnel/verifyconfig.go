package main

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/hooktunnel/hooktunnel/edge"
	"github.com/hooktunnel/hooktunnel/policy"
)

// fromConfig is the verifier of --config: the routes of one tunnel of an
// edge config file, with their verify, filter and on_mismatch; what a
// capture cannot be checked against (source address lists, tokens, rate
// limits) is left out. Errors in the file name its line and field, as
// `hooktunnel edge --check` does.
func (f *verifyFlags) fromConfig(files int) (*verifier, error) {
	// In flag order, so the error names the same flag every time.
	for _, fl := range []struct {
		name string
		set  bool
	}{
		{"--provider", f.provider != ""}, {"--secret", len(f.secrets) > 0}, {"--filter", f.filter != ""}, {"--tolerance", f.tolerance != 0},
		{"--header", f.header != ""}, {"--algorithm", f.algorithm != ""}, {"--encoding", f.encoding != ""}, {"--prefix", f.prefix != ""},
		{"--template", f.template != ""}, {"--timestamp-header", f.timestampHeader != ""}, {"--id-header", f.idHeader != ""},
	} {
		if fl.set {
			return nil, usageError{fmt.Errorf("verify: --config takes the routes' settings from the file; leave out %s (or --config)", fl.name)}
		}
	}
	v, err := f.newVerifier()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(f.config)
	if err != nil {
		return nil, usageError{fmt.Errorf("verify: --config: %w", err)}
	}
	cfg := edge.DefaultConfig()
	err = policy.DecodeFile(f.config, data, &cfg, func() error {
		name, err := f.pickTunnel(cfg.Tunnels)
		if err != nil {
			return err
		}
		v.tunnel = name
		tc := cfg.Tunnels[name]
		if len(tc.Routes) == 0 {
			return &policy.FieldError{Field: "tunnels." + name, Err: errors.New("has no routes in the file (its agents declare them): nothing to check against")}
		}
		routes := make([]policy.RouteConfig, 0, len(tc.Routes))
		for _, r := range tc.Routes {
			routes = append(routes, policy.RouteConfig{
				Path: r.Path, Methods: r.Methods, Verify: r.Verify, Tolerance: r.Tolerance, MaxBody: r.MaxBody,
				Filter: r.Filter, OnMismatch: r.OnMismatch, RejectStatus: r.RejectStatus,
			})
		}
		// Two keys a delivery: its delivery id and its fingerprint.
		env := policy.Env{Replay: policy.NewMemoryReplayCache(2 * max(files, 1)), Scope: name}
		v.policy, err = policy.Config{Routes: routes}.CompileEnv(env)
		return policy.AtField("tunnels."+name, err)
	})
	if err != nil {
		return nil, usageError{fmt.Errorf("verify: %w", err)}
	}
	return v, nil
}

// pickTunnel is --tunnel, or the file's only tunnel.
func (f *verifyFlags) pickTunnel(tunnels map[string]policy.Config) (string, error) {
	names := slices.Sorted(maps.Keys(tunnels))
	switch {
	case f.tunnel != "":
		if _, ok := tunnels[f.tunnel]; !ok {
			return "", fmt.Errorf("--tunnel %s: the file has no such tunnel (it has: %s)", f.tunnel, listOr(names))
		}
		return f.tunnel, nil
	case len(names) == 1:
		return names[0], nil
	case len(names) == 0:
		return "", errors.New("the file configures no tunnels: nothing to check against")
	}
	return "", fmt.Errorf("the file has several tunnels (%s): name one with --tunnel", strings.Join(names, ", "))
}
