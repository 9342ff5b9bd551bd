package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hooktunnel/hooktunnel/edge"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

func tokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage agent tokens"}
	var name string
	var tunnels []string
	var mayDeclare bool
	newCmd := &cobra.Command{
		Use:   "new",
		Short: "Create an agent token and print the config entry for it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !tunnel.ValidName(name) {
				return usageError{fmt.Errorf("--name %q: use lowercase letters, digits and '-'", name)}
			}
			if len(tunnels) == 0 {
				tunnels = []string{name}
			}
			token := newToken()
			h := edge.TokenHash(token)
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Token (shown once; give it to the agent as --token or HOOKTUNNEL_TOKEN):\n\n  %s\n\n", token)
			fmt.Fprintf(out, "Add this to the edge config under agents:\n\n")
			fmt.Fprintf(out, "  - name: %s\n    token_sha256: %s\n    tunnels: [%s]\n    may_declare_routes: %t\n", name, hex.EncodeToString(h[:]), joinQuoted(tunnels), mayDeclare)
			fmt.Fprintf(out, "\nthen reload the edge (systemctl reload hooktunnel-edge). `hooktunnel token list` shows the entries, `hooktunnel token revoke %s` removes this one.\n", name)
			return nil
		},
	}
	newCmd.Flags().StringVar(&name, "name", "", "agent name (also the tunnel it may serve, unless --tunnel is given)")
	newCmd.Flags().StringSliceVar(&tunnels, "tunnel", nil, "tunnel names or globs the token grants (repeatable)")
	newCmd.Flags().BoolVar(&mayDeclare, "may-declare-routes", false, "let the agent define its tunnel's routes with --route/--policy (off: routes come from the edge config only)")
	_ = newCmd.MarkFlagRequired("name")
	cmd.AddCommand(newCmd, tokenListCommand(), tokenRevokeCommand())
	return cmd
}

// newToken returns a random token with a recognisable prefix, so secret
// scanners can find leaked ones.
func newToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "ht_" + hex.EncodeToString(b[:])
}

func joinQuoted(items []string) string {
	s := ""
	for i, it := range items {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q", it)
	}
	return s
}
