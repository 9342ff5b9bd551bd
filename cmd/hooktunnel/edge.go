package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/hooktunnel/hooktunnel/edge"
)

func edgeCommand() *cobra.Command {
	var (
		configFile string
		check      bool
		logs       logFlags
		flags      = edge.DefaultConfig()
	)
	cmd := &cobra.Command{
		Use:   "edge",
		Short: "Run the public edge that agents connect to",
		Example: `  hooktunnel edge --domain hooks.example.com --config /etc/hooktunnel/edge.yaml
  hooktunnel edge --config edge.yaml --check`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := edge.DefaultConfig()
			// Flags win over the file; apply them before loading too, so the
			// file is validated with them (a --domain the file leaves out).
			applyEdgeFlags(cmd, &cfg, flags)
			if configFile != "" {
				var err error
				if cfg, err = edge.LoadConfigFile(configFile, cfg); err != nil {
					return usageError{err}
				}
			}
			applyEdgeFlags(cmd, &cfg, flags)
			if cfg.Data == "" {
				cfg.Data = "/var/lib/hooktunnel"
			}
			if _, err := cfg.Compile(); err != nil {
				return usageError{err}
			}
			if check {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", configFile)
				return nil
			}
			log, err := logs.logger(os.Stderr)
			if err != nil {
				return err
			}
			cfg.Logger = log
			e, err := edge.New(cfg)
			if err != nil {
				return err
			}
			return e.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "YAML config file (agents, tunnels, routes)")
	f.BoolVar(&check, "check", false, "validate the config and exit")
	f.StringVar(&flags.Domain, "domain", "", "apex domain; tunnels are served on <name>.<domain>")
	f.StringVar(&flags.Listen, "listen", flags.Listen, "public listener address")
	f.StringVar(&flags.HTTPListen, "http-listen", flags.HTTPListen, "plain-HTTP listener (ACME challenges, redirect to HTTPS)")
	f.StringVar(&flags.AdminListen, "admin-listen", flags.AdminListen, "admin API listener")
	f.StringVar(&flags.TLS, "tls", flags.TLS, "off (plain HTTP, behind a TLS terminator or for tests) or file")
	f.StringVar(&flags.Data, "data", "", "data directory (default /var/lib/hooktunnel)")
	f.StringVar(&flags.PublicScheme, "public-scheme", "", "scheme of the printed URLs (default: https unless --tls off)")
	f.StringVar(&flags.PublicPort, "public-port", "", "port of the printed URLs (default: the listener's, unless 80 or 443)")
	logs.register(cmd)
	return cmd
}

// applyEdgeFlags lets flags the user set win over the config file.
func applyEdgeFlags(cmd *cobra.Command, cfg *edge.Config, flags edge.Config) {
	set := func(name string, dst *string, v string) {
		if cmd.Flags().Changed(name) {
			*dst = v
		}
	}
	set("domain", &cfg.Domain, flags.Domain)
	set("listen", &cfg.Listen, flags.Listen)
	set("http-listen", &cfg.HTTPListen, flags.HTTPListen)
	set("admin-listen", &cfg.AdminListen, flags.AdminListen)
	set("tls", &cfg.TLS, flags.TLS)
	set("data", &cfg.Data, flags.Data)
	set("public-scheme", &cfg.PublicScheme, flags.PublicScheme)
	set("public-port", &cfg.PublicPort, flags.PublicPort)
}
