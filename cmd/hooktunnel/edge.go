package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooktunnel/hooktunnel/certs"
	"github.com/hooktunnel/hooktunnel/edge"
	"github.com/hooktunnel/hooktunnel/edge/store"
	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/policy/iplist"
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
		Example: `  hooktunnel edge --domain hooks.example.com --acme-email ops@example.com --config /etc/hooktunnel/edge.yaml
  hooktunnel edge --config edge.yaml --check`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			load := func() (edge.Config, error) { return loadEdgeConfig(cmd, configFile, flags) }
			cfg, err := load()
			if err != nil {
				return err
			}
			if check {
				warnings, err := cfg.Warnings()
				if err != nil {
					return usageError{err}
				}
				if len(warnings) > 0 {
					data, _ := os.ReadFile(configFile) // read a moment ago; no lines if it is gone
					for _, w := range policy.LocateWarnings(configFile, data, warnings) {
						at := w.File
						if w.Line > 0 {
							at += ":" + strconv.Itoa(w.Line)
						}
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: warning: %s: %v\n", at, w.Field, w.Err)
					}
				}
				ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
				defer cancel()
				if err := cfg.CheckStore(ctx); errors.Is(err, store.ErrSchemaBehind) {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: warning: store: %v\n", configFile, err)
				} else if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", configFile)
				return nil
			}
			log, err := logs.logger(os.Stderr)
			if err != nil {
				return err
			}
			cfg.Logger = log
			if configFile != "" {
				cfg.Reload = load
			}
			e, err := edge.New(cfg)
			if err != nil {
				return err
			}
			// SIGHUP reloads the config; a broken one is logged and refused.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for range hup {
					_ = e.Reload()
				}
			}()
			return e.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "YAML config file (agents, tunnels, routes)")
	f.BoolVar(&check, "check", false, "validate the config and exit")
	f.StringVar(&flags.Domain, "domain", "", "apex domain; tunnels are served on <name>.<domain>")
	f.StringVar(&flags.Listen, "listen", flags.Listen, "public listener address")
	f.StringVar(&flags.HTTPListen, "http-listen", flags.HTTPListen, "plain-HTTP listener when TLS is on (ACME HTTP-01, 308 to HTTPS); off for none")
	f.StringVar(&flags.AdminListen, "admin-listen", flags.AdminListen, "admin API listener")
	f.StringVar(&flags.TLS, "tls", flags.TLS, "acme, file, self-signed or off (default: acme for a public --domain, off for localhost)")
	f.StringVar(&flags.TLSCert, "tls-cert", "", "PEM certificate (chain) for --tls file, reloaded when it changes")
	f.StringVar(&flags.TLSKey, "tls-key", "", "PEM private key for --tls file")
	f.StringVar(&flags.ACME.Email, "acme-email", "", "contact email of the ACME account (expiry and policy notices)")
	f.StringVar(&flags.ACME.Directory, "acme-directory", "", "ACME directory URL (default Let's Encrypt; staging: "+certs.LetsEncryptStaging+")")
	f.StringVar(&flags.ACME.CARoot, "acme-ca-root", "", "PEM file of extra roots to trust for the ACME server itself (a private CA)")
	f.DurationVar(&flags.HSTSMaxAge, "hsts-max-age", flags.HSTSMaxAge, "Strict-Transport-Security max-age on tunnel hosts when TLS is on; 0 for none")
	f.StringVar(&flags.Data, "data", "", "data directory (default /var/lib/hooktunnel)")
	f.StringVar(&flags.Store, "store", "", "shared store: a postgres:// URL, or env:NAME / file:PATH holding one (default: the embedded database in --data)")
	f.StringVar(&flags.Cluster.Advertise, "advertise", "", "the URL agents and other edges reach this edge at (cluster.advertise)")
	f.StringVar(&flags.PublicScheme, "public-scheme", "", "scheme of the printed URLs (default: https unless --tls off)")
	f.StringVar(&flags.PublicPort, "public-port", "", "port of the printed URLs (default: the listener's, unless 80 or 443)")
	_ = cmd.RegisterFlagCompletionFunc("tls", completeWords("acme", "file", "self-signed", "off"))
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
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
	set("tls-cert", &cfg.TLSCert, flags.TLSCert)
	set("tls-key", &cfg.TLSKey, flags.TLSKey)
	set("acme-email", &cfg.ACME.Email, flags.ACME.Email)
	set("acme-directory", &cfg.ACME.Directory, flags.ACME.Directory)
	set("acme-ca-root", &cfg.ACME.CARoot, flags.ACME.CARoot)
	if cmd.Flags().Changed("hsts-max-age") {
		cfg.HSTSMaxAge = flags.HSTSMaxAge
	}
	set("data", &cfg.Data, flags.Data)
	set("store", &cfg.Store, flags.Store)
	set("advertise", &cfg.Cluster.Advertise, flags.Cluster.Advertise)
	set("public-scheme", &cfg.PublicScheme, flags.PublicScheme)
	set("public-port", &cfg.PublicPort, flags.PublicPort)
}

// loadIPLists fills the provider address lists routes may name: the
// snapshot built in, and newer ones `hooktunnel ips update` saved in the
// data directory. It also settles the data directory's default.
func loadIPLists(cfg *edge.Config) error {
	if cfg.Data == "" {
		cfg.Data = "/var/lib/hooktunnel"
	}
	lists, err := iplist.Load(cfg.Data)
	if err != nil {
		return usageError{fmt.Errorf("%w (the data directory is %s: pass --data DIR, or data: in the config)", err, cfg.Data)}
	}
	cfg.IPLists = lists.Prefixes()
	return nil
}

// loadEdgeConfig builds the edge's config: defaults, the file, and the
// flags the user set, which win over the file. It runs at start and on
// every reload.
func loadEdgeConfig(cmd *cobra.Command, configFile string, flags edge.Config) (edge.Config, error) {
	cfg := edge.DefaultConfig()
	// Apply the flags before loading too, so the file is validated with
	// them (a --domain the file leaves out).
	applyEdgeFlags(cmd, &cfg, flags)
	if err := loadIPLists(&cfg); err != nil {
		return cfg, err
	}
	if configFile != "" {
		var err error
		if cfg, err = edge.LoadConfigFile(configFile, cfg); err != nil {
			return cfg, usageError{err}
		}
	}
	applyEdgeFlags(cmd, &cfg, flags)
	// The data directory may come from the file: its lists win.
	if err := loadIPLists(&cfg); err != nil {
		return cfg, err
	}
	if _, err := cfg.Compile(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}
