package main

import (
	"context"
	"encoding/hex"
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
	)
	cmd := &cobra.Command{
		Use:   "dev [PORT|HOST:PORT|URL]",
		Short: "Run an edge and an agent in one process on loopback, to try hooktunnel",
		Example: `  hooktunnel dev 8000
  hooktunnel dev --echo          # with a built-in app that echoes each request`,
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
			declared, targets, err := parseRoutes(routes)
			if err != nil {
				return usageError{err}
			}
			if len(declared) == 0 {
				declared = []policy.RouteConfig{{Path: "/", Methods: []string{"*"}}}
			}
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
			cfg.Agents = []edge.AgentConfig{{Name: "dev", TokenSHA256: hex.EncodeToString(hash[:]), Tunnels: []string{name}, MayDeclareRoutes: true}}
			cfg.Logger = log
			if err := loadIPLists(&cfg); err != nil {
				return err
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
			acfg.Policy, acfg.Targets = policy.Config{Routes: declared}, targets
			acfg.Logger, acfg.Version = log, version
			acfg.Inspect = "" // the dev edge's admin listener serves the UI
			out := cmd.OutOrStdout()
			var a *agent.Agent
			acfg.OnConnect = func(w tunnel.Welcome) {
				printWelcome(out, w, a)
				if len(w.URLs) > 0 {
					u := strings.TrimSuffix(w.URLs[0], "/") + "/hello"
					fmt.Fprintf(out, "\nTry it:\n  curl -sS -X POST -H 'Content-Type: application/json' -d '{\"hello\":\"world\"}' %s\n", u)
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
