package agent

import (
	"net/http"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// router sends each request from the edge to its local target: the one
// the edge named (an edge route's `target:`), else the one whose path
// prefix is the longest that matches, else the default target.
type router struct {
	targets  *targetSet
	errorLog func(msg string, args ...any)
	// edgeNames is set when the edge of the session sets the target
	// header itself (Welcome.SetsTarget); otherwise the header is the
	// sender's, and ignored.
	edgeNames bool
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.Header.Get(tunnel.HeaderTarget)
	// The edge's word to the agent, not the app's business.
	r.Header.Del(tunnel.HeaderTarget)
	if !rt.edgeNames {
		name = ""
	}
	var t *localTarget
	if name != "" {
		var err error
		if t, err = rt.targets.forName(name); err != nil {
			rt.errorLog("the edge named a target the agent does not have", "request_id", r.Header.Get(headerRequestID), "target", name, "code", codeUnknownTarget)
			writeAgentError(w, r, http.StatusBadGateway, codeUnknownTarget,
				"the agent has no target named "+quoteName(name)+" (give it --target NAME=ADDR or targets: in its --policy file)")
			return
		}
	} else if t = rt.targets.forPath(r.URL.Path); t == nil {
		rt.errorLog("no target serves the path", "request_id", r.Header.Get(headerRequestID), "path", r.URL.Path, "code", codeNoTarget)
		writeAgentError(w, r, http.StatusBadGateway, codeNoTarget, "no target of the agent serves this path")
		return
	}
	if p := t.path(r.URL.Path); p != r.URL.Path {
		u := *r.URL
		u.Path, u.RawPath = p, ""
		r.URL = &u
	}
	t.proxy.ServeHTTP(w, r)
}

// Codes of the agent's own answers when it cannot pick a target.
const (
	codeUnknownTarget = "unknown_target"
	codeNoTarget      = "no_target"
)

// quoteName shows a target name from the edge; names are checked by the
// edge's config, but the header could be anything: keep it short and
// printable.
func quoteName(name string) string {
	if len(name) > 63 {
		name = name[:63] + "…"
	}
	b := []byte{'"'}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c > 0x7e || c == '"' {
			c = '?'
		}
		b = append(b, c)
	}
	return string(append(b, '"'))
}
