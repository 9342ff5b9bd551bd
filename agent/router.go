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
	t, no := rt.pick(name, r.URL.Path, r.Header.Get(headerRequestID))
	if no != nil {
		writeAgentError(w, r, http.StatusBadGateway, no.code, no.msg)
		return
	}
	if p := t.path(r.URL.Path); p != r.URL.Path {
		u := *r.URL
		u.Path, u.RawPath = p, ""
		r.URL = &u
	}
	t.proxy.ServeHTTP(w, r)
}

// noTarget is the agent's own answer (a 502) when it has no target for
// a request.
type noTarget struct{ code, msg string }

// pick is the target of a request for path that the edge sent with the
// target name in the target header; when there is none, it logs why and
// says what to answer.
func (rt *router) pick(name, path, requestID string) (*localTarget, *noTarget) {
	if !rt.edgeNames {
		name = ""
	}
	if name != "" {
		t, err := rt.targets.forName(name)
		if err != nil {
			rt.errorLog("the edge named a target the agent does not have", "request_id", requestID, "target", name, "code", codeUnknownTarget)
			return nil, &noTarget{codeUnknownTarget,
				"the agent has no target named " + quoteName(name) + " (give it --target NAME=ADDR or targets: in its --policy file)"}
		}
		return t, nil
	}
	if t := rt.targets.forPath(path); t != nil {
		return t, nil
	}
	rt.errorLog("no target serves the path", "request_id", requestID, "path", path, "code", codeNoTarget)
	return nil, &noTarget{codeNoTarget, "no target of the agent serves this path"}
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
