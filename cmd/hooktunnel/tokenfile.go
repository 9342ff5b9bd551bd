package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hooktunnel/hooktunnel/edge"
)

// The config file an installed edge reads (deploy/hooktunnel-edge.service).
const defaultEdgeConfig = "/etc/hooktunnel/edge.yaml"

func tokenListCommand() *cobra.Command {
	var configFile string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the agents of the edge config: names, tunnels, whether they may declare routes",
		Long: `List the agents: entries of the edge config file. Tokens are never printed:
the file holds only their SHA-256, and the token itself was shown once by token new.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := os.ReadFile(configFile)
			if err != nil {
				return usageError{fmt.Errorf("--config: %w", err)}
			}
			agents, err := edge.ConfigAgents(data)
			if err != nil {
				return usageError{fmt.Errorf("%s: %w", configFile, err)}
			}
			out := cmd.OutOrStdout()
			if len(agents) == 0 {
				fmt.Fprintf(out, "No agents in %s: hooktunnel token new --name NAME makes one.\n", configFile)
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTUNNELS\tMAY DECLARE ROUTES")
			for _, a := range agents {
				declare := "no"
				if a.MayDeclareRoutes {
					declare = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", clean(a.Name, 64), clean(strings.Join(a.Tunnels, ", "), 200), declare)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&configFile, "config", defaultEdgeConfig, "the edge's YAML config file")
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	return cmd
}

func tokenRevokeCommand() *cobra.Command {
	var configFile, admin, adminToken string
	cmd := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Remove an agent's entry from the edge config, then reload the edge",
		Long: `Remove the agents: entry named NAME from the edge config file; the rest of the
file stays as it is, comments included. The running edge refuses the token once it
reloads its config: with --admin the command asks it to (POST /api/v1/reload);
otherwise it prints how. On reload the edge ends the agent's sessions.`,
		Example: `  hooktunnel token revoke laptop --config /etc/hooktunnel/edge.yaml
  hooktunnel token revoke laptop --admin http://127.0.0.1:9090`,
		Args: cobra.ExactArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return agentNames(configFile), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if u, err := url.Parse(admin); admin != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
				return usageError{fmt.Errorf("--admin %q: want the admin API's URL, such as http://127.0.0.1:9090", admin)}
			}
			data, err := os.ReadFile(configFile)
			if err != nil {
				return usageError{fmt.Errorf("--config: %w", err)}
			}
			st, err := os.Stat(configFile)
			if err != nil {
				return err
			}
			out, err := edge.RemoveAgent(data, name)
			if errors.Is(err, edge.ErrNoSuchAgent) {
				return usageError{fmt.Errorf("%s has no agent named %q (agents: %s)", configFile, name, strings.Join(agentNames(configFile), ", "))}
			}
			if err != nil {
				return usageError{fmt.Errorf("%s: %w", configFile, err)}
			}
			// In place: the file keeps its owner, group and mode (the edge's
			// user must still read it).
			if err := os.WriteFile(configFile, out, st.Mode().Perm()); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Removed agent %q from %s.\n", name, configFile)
			if admin == "" {
				fmt.Fprintf(w, "The running edge accepts its token until it reloads its config: systemctl reload hooktunnel-edge,\n"+
					"or kill -HUP <the edge's pid>, or POST /api/v1/reload with the admin token (or pass --admin URL next time).\n")
				return nil
			}
			api := apiFlags{api: admin, token: adminToken}
			c, err := api.client()
			if err != nil {
				return err
			}
			body, err := c.call(cmd.Context(), http.MethodPost, "/api/v1/reload", nil)
			if err != nil {
				return fmt.Errorf("the file is changed but the edge did not reload it: %w", err)
			}
			var r struct {
				Agents  int `json:"agents"`
				Tunnels int `json:"tunnels"`
			}
			_ = json.Unmarshal(body, &r)
			fmt.Fprintf(w, "The edge at %s reloaded its config (%d agents, %d tunnels): the token no longer works.\n", api.where(), r.Agents, r.Tunnels)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&configFile, "config", defaultEdgeConfig, "the edge's YAML config file")
	fl.StringVar(&admin, "admin", "", "the edge's admin API (its --admin-listen, e.g. http://127.0.0.1:9090): reload it after the change")
	fl.StringVar(&adminToken, "admin-token", "", "the admin token (default $HOOKTUNNEL_ADMIN_TOKEN); needed when the admin API is not on loopback")
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	return cmd
}

// agentNames are the agents of a config file, for completion and hints;
// none when the file cannot be read.
func agentNames(configFile string) []string {
	data, err := os.ReadFile(configFile)
	if err != nil {
		return nil
	}
	agents, _ := edge.ConfigAgents(data)
	var names []string
	for _, a := range agents {
		names = append(names, a.Name)
	}
	return names
}
