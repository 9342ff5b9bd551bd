package relay

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/hooktunnel/hooktunnel/policy"
)

// Remote is the other edges of a cluster as this edge's relay sees them:
// a request for a tunnel no session here serves goes to an edge that holds
// one. It answers as a local agent does: the app's response, or the
// relay's sentinel errors (ErrNoAgent when no edge holds a session for the
// tunnel, ErrAgentLost, *BodyError, ErrAppUnreachable), so what the sender
// is told is chosen in one place whichever edge delivered.
type Remote interface {
	// Deliver sends req, prepared as for a local agent, to an edge that
	// holds a session for the tunnel; req's context bounds it.
	Deliver(tunnel string, req *http.Request) (*http.Response, error)
	// Online reports whether another edge holds a live session for the
	// tunnel.
	Online(tunnel string) bool
	// Declared is the policy the agent another edge holds for the tunnel
	// declared; nil if none.
	Declared(tunnel string) *policy.Policy
}

// SetRemote sets where requests go that no local session can take; nil
// turns relaying off. A request that came from another edge never goes on
// to a third: one hop at most.
func (r *Relay) SetRemote(rm Remote) {
	if rm == nil {
		r.remote.Store(nil)
		return
	}
	r.remote.Store(&rm)
}

func (r *Relay) remoteOf() Remote {
	if p := r.remote.Load(); p != nil {
		return *p
	}
	return nil
}

// Deliver sends req to one of the tunnel's agents and returns the app's
// answer, whose body the caller closes: to a session of this edge when one
// serves the tunnel (see DeliverLocal), else through the remote. A request
// another edge relayed here goes to DeliverLocal only (edge/peer.go): one
// hop at most.
func (r *Relay) Deliver(tunnelName string, req *http.Request) (*http.Response, error) {
	resp, err := r.DeliverLocal(tunnelName, req)
	if !errors.Is(err, ErrNoAgent) {
		return resp, err
	}
	rm := r.remoteOf()
	if rm == nil {
		return nil, err
	}
	return rm.Deliver(tunnelName, req)
}

// Codes of the relay's errors on the wire between edges: the edge that
// delivered sends one back, the edge that relayed turns it into the same
// error, so the sender is told what a local delivery would have told it.
const (
	CodeNoAgent        = "no_agent"
	CodeAgentLost      = "agent_lost"
	CodeBodyAborted    = "body_aborted"
	CodeAppUnreachable = "app_unreachable"
)

// ErrorCode is the wire code of a delivery error: "" for an error that is
// none of the relay's (the caller's context ended).
func ErrorCode(err error) string {
	switch {
	case errors.Is(err, ErrBodyAborted):
		return CodeBodyAborted
	case errors.Is(err, ErrNoAgent):
		return CodeNoAgent
	case errors.Is(err, ErrAppUnreachable):
		return CodeAppUnreachable
	case errors.Is(err, ErrAgentLost):
		return CodeAgentLost
	}
	return ""
}

// ErrorOf is the error another edge reported with code, naming the edge:
// an unknown code is ErrAgentLost (the answer did not come).
func ErrorOf(code, edge string) error {
	switch code {
	case CodeNoAgent:
		return fmt.Errorf("%w (edge %s)", ErrNoAgent, edge)
	case CodeBodyAborted:
		return &BodyError{Err: fmt.Errorf("edge %s: the request body was cut on its way: %w", edge, io.ErrUnexpectedEOF)}
	case CodeAppUnreachable:
		return fmt.Errorf("%w (edge %s)", ErrAppUnreachable, edge)
	}
	return fmt.Errorf("%w (edge %s answered %q)", ErrAgentLost, edge, code)
}
