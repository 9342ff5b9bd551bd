package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hooktunnel/hooktunnel/agent"
	"github.com/hooktunnel/hooktunnel/edge"
	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

func devCommand() *cobra.Command {
	var (
		listen, adminListen, data, name string
		routes                          []string
		echo                            bool
		logs                            logFlags
		pol                             devPolicy
	)
	cmd := &cobra.Command{
		Use:   "dev [PORT|HOST:PORT|URL]",
		Short: "Run an edge and an agent in one process on loopback, to try hooktunnel",
		Long: `Run an edge and an agent in one process on loopback, to try hooktunnel or a policy.

--verify PROVIDER --secret REF checks every request's signature as the edge would
(repeat --secret for rotation). --config FILE runs an edge config file (edge.yaml) on
this machine: its tunnels, routes, verification, limits and journal settings, on the
dev listeners and data directory, over plain HTTP under localhost; --name picks the
tunnel when the file has several.`,
		Example: `  hooktunnel dev 8000
  hooktunnel dev --echo          # with a built-in app that echoes each request
  hooktunnel dev 8000 --verify github --secret env:GITHUB_SECRET
  hooktunnel dev 8000 --config /etc/hooktunnel/edge.yaml --name github`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			log, err := logs.logger(os.Stderr)
			if err != nil {
				return err
			}
			var target string
			switch {
			case echo:
				addr, err := startEcho(ctx)
				if err != nil {
					return err
				}
				target = addr
			case len(args) == 1:
				target = args[0]
			default:
				return usageError{fmt.Errorf("give the app's port (hooktunnel dev 8000) or --echo for a demo app")}
			}
			if err := pol.check(); err != nil {
				return usageError{err}
			}
			declared, targets, err := parseRoutes(routes)
			if err != nil {
				return usageError{err}
			}
			if len(declared) > 0 && pol.config != "" {
				return usageError{errors.New("--route declares the dev tunnel's routes; with --config the config's routes apply")}
			}
			if len(declared) == 0 && pol.config == "" {
				declared = []policy.RouteConfig{{Path: "/", Methods: []string{"*"}}}
			}
			pol.apply(declared)
			if data == "" {
				if data, err = os.MkdirTemp("", "hooktunnel-dev-"); err != nil {
					return err
				}
				defer os.RemoveAll(data)
			}
			token := newToken()
			hash := edge.TokenHash(token)
			cfg := edge.DefaultConfig()
			cfg.Domain, cfg.Listen, cfg.AdminListen, cfg.TLS, cfg.Data = "localhost", listen, adminListen, "off", data
			if err := loadIPLists(&cfg); err != nil {
				return err
			}
			devAgent := edge.AgentConfig{Name: "dev", TokenSHA256: hex.EncodeToString(hash[:]), Tunnels: []string{name}, MayDeclareRoutes: true}
			if pol.config != "" {
				if !cmd.Flags().Changed("name") {
					name = ""
				}
				if cfg, name, err = loadDevEdgeConfig(pol.config, cfg, name); err != nil {
					return usageError{err}
				}
				devAgent = edge.AgentConfig{Name: devAgentName, TokenSHA256: hex.EncodeToString(hash[:]), Tunnels: []string{name}}
			}
			cfg.Agents = append(cfg.Agents, devAgent)
			cfg.Logger = log
			if _, err := cfg.Compile(); err != nil {
				return usageError{err}
			}
			e, err := edge.New(cfg)
			if err != nil {
				return err
			}
			if err := e.Start(); err != nil {
				return err
			}
			defer e.Shutdown()
			_, port, _ := net.SplitHostPort(e.Addr().String())
			acfg := agent.DefaultConfig()
			acfg.Edge, acfg.Token, acfg.Name, acfg.Target = "http://localhost:"+port, token, name, target
			if len(declared) > 0 {
				acfg.Policy = policy.Config{Routes: declared}
			}
			acfg.Targets = targets
			acfg.Logger, acfg.Version = log, version
			acfg.Inspect = "" // the dev edge's admin listener serves the UI
			out := cmd.OutOrStdout()
			var a *agent.Agent
			acfg.OnConnect = func(w tunnel.Welcome) {
				printWelcome(out, w, a)
				if len(w.URLs) > 0 {
					u := strings.TrimSuffix(w.URLs[0], "/") + "/hello"
					switch {
					case pol.verify != "":
						printSignedTry(out, pol.verify, u)
					case pol.config != "":
						fmt.Fprintf(out, "\nThe policy of %s applies: send what its routes allow, signed as they require.\n", pol.config)
					default:
						fmt.Fprintf(out, "\nTry it:\n  curl -sS -X POST -H 'Content-Type: application/json' -d '{\"hello\":\"world\"}' %s\n", u)
					}
					fmt.Fprintf(out, "Web UI: http://%s/  (every webhook, with its headers and body; replay)\n\n", e.AdminAddr())
				}
			}
			if a, err = agent.New(acfg); err != nil {
				return usageError{err}
			}
			return a.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "public listener of the dev edge")
	f.StringVar(&adminListen, "admin-listen", "127.0.0.1:9090", "admin listener of the dev edge")
	f.StringVar(&data, "data", "", "data directory (default: a temporary one)")
	f.StringVar(&name, "name", "demo", "tunnel name")
	f.StringArrayVar(&routes, "route", nil, `route: PATH or "METHOD[,METHOD] PATH" (default: every method on /)`)
	f.BoolVar(&echo, "echo", false, "run a built-in demo app that echoes each request as JSON")
	f.StringVar(&pol.verify, "verify", "", "check each request's signature: "+strings.Join(policy.ProviderNames(), ", "))
	f.StringArrayVar(&pol.secrets, "secret", nil, "the --verify secret as env:NAME, file:PATH or a literal (repeatable, for rotation)")
	f.StringVar(&pol.config, "config", "", "run this edge config file's tunnels and policy locally")
	logs.register(cmd)
	return cmd
}

// startEcho runs the demo app on a free loopback port until ctx ends.
func startEcho(ctx context.Context) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: agent.EchoHandler()}
	go srv.Serve(ln)
	go func() { <-ctx.Done(); srv.Close() }()
	return ln.Addr().String(), nil
}
