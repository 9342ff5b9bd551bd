package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooktunnel/hooktunnel/agent"
	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

type agentFlags struct {
	edge, token, name, policyFile, hostHeader, targetCA string
	edgeCA, edgeAddr, inspect, debugAddr                string
	routes, targets                                     []string
	targetInsecure, edgeInsecure                        bool
	giveUpAfter                                         int
	logs                                                logFlags
}

// giveUpInTerminal is --give-up-after when the agent runs in a terminal:
// a person is waiting for it, and a wrong URL does not fix itself.
const giveUpInTerminal = 3

func agentCommand() *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "agent [PORT|HOST:PORT|URL]",
		Short: "Connect a local app to the edge and forward its webhooks",
		Example: `  hooktunnel agent 8000 --edge https://hooks.example.com --token $HOOKTUNNEL_TOKEN --name demo --route /webhooks/github
  hooktunnel agent https://localhost:8443 --target-ca dev-ca.pem --edge https://hooks.example.com --policy routes.yaml
  hooktunnel agent --route /webhooks/github=8000 --route /webhooks/stripe=127.0.0.1:9000 --target billing=7000 --edge https://hooks.example.com`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := ""
			if len(args) == 1 {
				target = args[0]
			}
			cfg, err := f.config(target)
			if err != nil {
				return usageError{err}
			}
			log, err := f.logs.logger(os.Stderr)
			if err != nil {
				return err
			}
			cfg.Logger = log
			cfg.Version = version
			cfg.Say = func(line string) { fmt.Fprintln(cmd.ErrOrStderr(), "hooktunnel: "+line) }
			cfg.GiveUpAfter = f.giveUpAfter
			if !cmd.Flags().Changed("give-up-after") && inTerminal() {
				cfg.GiveUpAfter = giveUpInTerminal
			}
			if cfg.GiveUpAfter < 0 {
				return usageError{fmt.Errorf("--give-up-after must be 0 (retry forever) or more")}
			}
			if cmd.Flags().Changed("inspect") {
				cfg.InspectTries = 1 // the user's address or none: never another one
			}
			var a *agent.Agent
			cfg.OnConnect = func(w tunnel.Welcome) { printWelcome(cmd.OutOrStdout(), w, a) }
			a, err = agent.New(cfg)
			if err != nil {
				return usageError{err}
			}
			err = a.Run(cmd.Context())
			if errors.Is(err, agent.ErrInspectAddr) {
				return usageError{fmt.Errorf("--inspect %s: %w (pick another address, or --inspect off)", f.inspect, err)}
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.edge, "edge", "", "the edge's URL, e.g. https://hooks.example.com")
	fl.StringVar(&f.token, "token", "", "agent token (default $HOOKTUNNEL_TOKEN)")
	fl.StringVar(&f.name, "name", "", "tunnel name to serve (default: one the edge picks and keeps for this token and port)")
	fl.StringArrayVar(&f.routes, "route", nil, `route to declare: PATH or "METHOD[,METHOD] PATH", with =TARGET to send it (and the paths below it) to another local app (repeatable; default method POST)`)
	fl.StringArrayVar(&f.targets, "target", nil, "NAME=ADDR: the local app an edge route's `target: NAME` goes to; ADDR is a PORT, HOST:PORT or URL (repeatable)")
	fl.StringVar(&f.policyFile, "policy", "", "YAML file with routes: [...] to declare and targets: [...] to serve")
	fl.StringVar(&f.hostHeader, "host-header", "", `Host header the app gets: the public host (default), "rewrite" for the target's, or a value`)
	fl.StringVar(&f.targetCA, "target-ca", "", "PEM CA file to verify an https:// target")
	fl.BoolVar(&f.targetInsecure, "target-insecure", false, "do not verify an https:// target's certificate")
	fl.StringVar(&f.edgeCA, "edge-ca", "", "PEM CA file to verify the edge with instead of the system roots (e.g. the CA of an edge with --tls self-signed)")
	fl.BoolVar(&f.edgeInsecure, "edge-insecure", false, "do not verify the edge's certificate (anyone on the path could pose as the edge)")
	fl.StringVar(&f.edgeAddr, "edge-addr", "", "HOST:PORT to connect to instead of resolving the --edge URL's host (before DNS is set up)")
	fl.StringVar(&f.inspect, "inspect", "127.0.0.1:4040", `local address of the inspector (web UI of this tunnel's webhooks); "off" to turn it off`)
	fl.IntVar(&f.giveUpAfter, "give-up-after", 0, "exit (status 2) after N tries in a row that retrying cannot fix (a wrong --edge, an untrusted CA); "+
		"0 retries forever (default: 3 when run in a terminal, 0 otherwise, as under systemd)")
	// Profiles for the benchmark and for looking into a live agent;
	// loopback only, and not something a user needs to see.
	fl.StringVar(&f.debugAddr, "debug-addr", "", "loopback HOST:PORT to serve the agent's profiles on (/debug/pprof/)")
	_ = fl.MarkHidden("debug-addr")
	f.logs.register(cmd)
	return cmd
}

func (f *agentFlags) config(target string) (agent.Config, error) {
	cfg := agent.DefaultConfig()
	// The target first: it is what the user typed last and looks at.
	// (doctor may have none.)
	if target != "" {
		if _, err := agent.ParseTarget(target); err != nil {
			return cfg, err
		}
	}
	cfg.Edge, cfg.Name, cfg.Target, cfg.HostHeader = f.edge, f.name, target, f.hostHeader
	cfg.Inspect = f.inspect
	if f.inspect == "off" {
		cfg.Inspect = ""
	}
	cfg.DebugAddr = f.debugAddr
	cfg.Token = f.token
	if cfg.Token == "" {
		cfg.Token = os.Getenv("HOOKTUNNEL_TOKEN")
	}
	if cfg.Edge == "" {
		return cfg, fmt.Errorf("--edge is required (the edge's URL, e.g. https://hooks.example.com)")
	}
	if f.policyFile != "" {
		file, err := agent.LoadFile(f.policyFile)
		if err != nil {
			return cfg, err
		}
		cfg.Policy, cfg.Targets = file.Config, file.Targets
		if len(file.Tunnels) > 0 {
			if target != "" || f.name != "" || len(f.routes) > 0 || len(f.targets) > 0 {
				return cfg, fmt.Errorf("--policy %s lists tunnels: give each tunnel its target, routes and targets there, not a positional target, --name, --route or --target", f.policyFile)
			}
			cfg.Tunnels = file.Tunnels
		}
	}
	routes, targets, err := parseRoutes(f.routes)
	if err != nil {
		return cfg, err
	}
	cfg.Policy.Routes = append(cfg.Policy.Routes, routes...)
	cfg.Targets = append(cfg.Targets, targets...)
	named, err := parseNamedTargets(f.targets)
	if err != nil {
		return cfg, err
	}
	cfg.Targets = append(cfg.Targets, named...)
	tlsCfg, err := targetTLS(f.targetCA, f.targetInsecure)
	if err != nil {
		return cfg, err
	}
	cfg.TargetTLS = tlsCfg
	if cfg.EdgeClient, cfg.OtherEdgesClient, err = edgeClients(f.edgeCA, f.edgeAddr, f.edgeInsecure); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// edgeClients are the HTTP clients the agent dials the edge with: the
// system roots or --edge-ca, TLS 1.2 at least, and HTTP/1.1 only — the
// agent endpoint is a websocket upgrade, which HTTP/2 does not carry.
// The first dials --edge (at --edge-addr when given); the other, with the
// same trust, the other edges of a cluster, at their own addresses.
func edgeClients(caFile, addr string, insecure bool) (edge, others *http.Client, err error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	switch {
	case caFile != "" && insecure:
		return nil, nil, fmt.Errorf("--edge-ca and --edge-insecure contradict each other: pass one")
	case insecure:
		fmt.Fprintln(os.Stderr, "hooktunnel: WARNING: --edge-insecure: the edge's TLS certificate is NOT verified. "+
			"Anyone on the network path can pose as the edge, read the agent token and every webhook, and send requests to your app. "+
			"Use --edge-ca FILE to trust a private CA instead.")
		tlsCfg.InsecureSkipVerify = true
	case caFile != "":
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--edge-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("--edge-ca %s: no PEM certificate in it", caFile)
		}
		tlsCfg.RootCAs = pool
	}
	// localhost and *.localhost go to loopback without a DNS query, as in
	// browsers and curl (RFC 6761), and never through a proxy.
	dialer := &agent.LoopbackDialer{Dialer: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}}
	tr := &http.Transport{
		Proxy: func(req *http.Request) (*url.URL, error) {
			if agent.IsLocalhost(req.URL.Hostname()) {
				return nil, nil
			}
			return http.ProxyFromEnvironment(req)
		},
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: 10 * time.Second,
		// A non-nil, empty TLSNextProto keeps the transport off HTTP/2.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	others = &http.Client{Transport: tr.Clone()}
	if addr != "" {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, nil, fmt.Errorf("--edge-addr %q: want HOST:PORT", addr)
		}
		tr.Proxy = nil
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		}
	}
	return &http.Client{Transport: tr}, others, nil
}

// inTerminal reports whether a person runs the agent: stdin and stderr
// are terminals. Under systemd stderr is the journal's socket; in a
// container without -t, a pipe.
func inTerminal() bool {
	for _, f := range []*os.File{os.Stdin, os.Stderr} {
		fi, err := f.Stat()
		if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			return false
		}
	}
	return true
}

// parseRoutes reads --route values: "PATH" or "METHOD[,METHOD] PATH",
// each with an optional "=TARGET" that sends the route's path prefix to
// another local app.
func parseRoutes(values []string) ([]policy.RouteConfig, []agent.TargetConfig, error) {
	var routes []policy.RouteConfig
	var targets []agent.TargetConfig
	for _, v := range values {
		spec, target, mapped := strings.Cut(v, "=")
		rc := policy.RouteConfig{Path: strings.TrimSpace(spec)}
		if methods, path, ok := strings.Cut(rc.Path, " "); ok {
			rc.Path = strings.TrimSpace(path)
			rc.Methods = strings.Split(methods, ",")
		}
		if _, err := (policy.Config{Routes: []policy.RouteConfig{rc}}).Compile(); err != nil {
			return nil, nil, fmt.Errorf("--route %q: %w", v, err)
		}
		routes = append(routes, rc)
		if !mapped {
			continue
		}
		tc := agent.TargetConfig{Path: agent.RoutePrefix(rc.Path), Target: strings.TrimSpace(target)}
		if _, err := agent.ParseTarget(tc.Target); err != nil {
			return nil, nil, fmt.Errorf("--route %q: %w", v, err)
		}
		targets = append(targets, tc)
	}
	return routes, targets, nil
}

// parseNamedTargets reads --target values: NAME=ADDR.
func parseNamedTargets(values []string) ([]agent.TargetConfig, error) {
	var out []agent.TargetConfig
	for _, v := range values {
		name, addr, ok := strings.Cut(v, "=")
		if !ok {
			return nil, fmt.Errorf("--target %q: want NAME=ADDR, e.g. billing=127.0.0.1:7000", v)
		}
		tc := agent.TargetConfig{Name: strings.TrimSpace(name), Target: strings.TrimSpace(addr)}
		if !policy.ValidTargetName(tc.Name) {
			return nil, fmt.Errorf("--target %q: %q is not a target name (lowercase letters, digits, '-' and '_', at most 63)", v, tc.Name)
		}
		if _, err := agent.ParseTarget(tc.Target); err != nil {
			return nil, fmt.Errorf("--target %q: %w", v, err)
		}
		out = append(out, tc)
	}
	return out, nil
}

func targetTLS(caFile string, insecure bool) (*tls.Config, error) {
	if caFile == "" && !insecure {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if insecure {
		fmt.Fprintln(os.Stderr, "hooktunnel: --target-insecure: the local app's certificate is NOT verified")
		cfg.InsecureSkipVerify = true
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--target-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--target-ca %s: no PEM certificate in it", caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// printWelcome shows, for each tunnel, the public URLs the user pastes
// into the provider, each with the local target its requests go to.
func printWelcome(w io.Writer, welcome tunnel.Welcome, a *agent.Agent) {
	for _, t := range welcome.TunnelsServed() {
		fmt.Fprintf(w, "Tunnel %s is online (session %s)\n", t.Tunnel, welcome.SessionID)
		for i, u := range t.URLs {
			path, name := "/", ""
			if pu, err := url.Parse(u); err == nil {
				path = pu.Path
			}
			if i < len(t.Targets) {
				name = t.Targets[i]
			}
			fmt.Fprintf(w, "  %s  ->  %s\n", u, a.TargetFor(t.Tunnel, path, name))
		}
		for _, warning := range t.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", warning)
		}
	}
}
