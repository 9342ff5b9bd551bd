package edge

import (
	"strings"

	"github.com/hooktunnel/hooktunnel/policy"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// localTargetOf is where an agent that described targets sends a route's
// requests, as the agent picks: the target the route names, else the one
// with the longest path prefix holding the route's path, else its default
// (the target with neither name nor path). "" when there is none.
func localTargetOf(targets []tunnel.TargetInfo, rt *policy.Route) string {
	if rt.Target != "" {
		for _, t := range targets {
			if t.Name == rt.Target {
				return t.Local
			}
		}
		return ""
	}
	path := rt.Path
	if i := strings.Index(path, "{"); i >= 0 {
		path = path[:i]
	}
	best, def := -1, ""
	for i, t := range targets {
		switch {
		case t.Path == "" && t.Name == "":
			def = t.Local
		case tunnel.PathUnder(t.Path, path) && (best < 0 || len(t.Path) > len(targets[best].Path)):
			best = i
		}
	}
	if best >= 0 {
		return targets[best].Local
	}
	return def
}
