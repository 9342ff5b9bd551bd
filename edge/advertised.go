package edge

// advertised is what an agent's Welcome says of the edges it may hold
// sessions to: this edge's advertise URL, and those of its cluster's live
// edges, itself included. A single edge advertises nothing, and its
// agents keep one session, as before.
func (e *Edge) advertised() (self string, all []string) { return "", nil }
