package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooktunnel/hooktunnel/edge/store"
)

// Shell completion of flag values and arguments (`hooktunnel completion
// bash|zsh|fish|powershell` prints the script). Values from the admin API
// are best effort: a short deadline, nothing offered when it does not
// answer.

// completionTimeout bounds a completion's call to the admin API: a shell
// waits for it.
const completionTimeout = 2 * time.Second

// completeWords completes a flag from a fixed list.
func completeWords(words ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return words, cobra.ShellCompDirectiveNoFileComp
	}
}

// completionGet is a GET for completion, on the flags the command line has so far.
func (f *apiFlags) completionGet(cmd *cobra.Command, path string, q url.Values, out any) bool {
	c, err := f.client()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
	defer cancel()
	body, err := c.call(ctx, http.MethodGet, path, q)
	return err == nil && json.Unmarshal(body, out) == nil
}

// completeMessageIDs offers the ids of the newest messages, each with its
// method, path and decision as the description.
func (f *apiFlags) completeMessageIDs(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var page store.Page
	if !f.completionGet(cmd, "/api/v1/messages", url.Values{"limit": {"50"}}, &page) {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ids := make([]string, 0, len(page.Messages))
	for _, m := range page.Messages {
		ids = append(ids, fmt.Sprintf("%s\t%s %s %s", clean(m.ID, 64), clean(m.Method, 16), clean(m.Path, 60), clean(m.Decision, 16)))
	}
	return ids, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
}

// completeTunnels offers the tunnels the edge knows.
func (f *apiFlags) completeTunnels(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	var list struct {
		Tunnels []struct {
			Name string `json:"name"`
		} `json:"tunnels"`
	}
	if !f.completionGet(cmd, "/api/v1/tunnels", nil, &list) {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, 0, len(list.Tunnels))
	for _, t := range list.Tunnels {
		names = append(names, clean(t.Name, 64))
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
