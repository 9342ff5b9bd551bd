package tunnel

// Names of the Hooktunnel-* headers the edge and the agent set, beside
// HeaderTarget and HeaderTunnel (protocol.go). The values they carry are
// the edge's and the agent's, never a sender's: the edge replaces or
// removes a sender's copy of the ones it sets.
const (
	// HeaderRequestID carries the edge's id of the request (the journal's
	// message id) to the agent and the app; a queued delivery's retries
	// carry the same one.
	HeaderRequestID = "Hooktunnel-Request-Id"
	// HeaderMessageID and HeaderAttempt name, on every delivery to the
	// app, the journal's message and which attempt at delivering it this
	// is, so the app can tell deliveries and retries apart.
	HeaderMessageID = "Hooktunnel-Message-Id"
	HeaderAttempt   = "Hooktunnel-Attempt"
	// HeaderError names why the tunnel, not the app, answered: the agent
	// sets it when the app did not answer, the edge when the agent did not.
	HeaderError = "Hooktunnel-Error"
	// HeaderDuplicate is "true" on the edge's answer to a delivery it had
	// already accepted, which it does not forward again.
	HeaderDuplicate = "Hooktunnel-Duplicate"
	// HeaderFiltered is "true" on the edge's answer to a request no route's
	// filter took.
	HeaderFiltered = "Hooktunnel-Filtered"
)
