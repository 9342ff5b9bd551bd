// Package outcome names what the edge does with a request, in one place
// for the edge, the CLI and the offline verifier: the decision the
// journal records (Decision), the stable code of a refusal or of an API
// error (Code), and which code and HTTP status each of policy's sentinel
// errors gets (Of).
//
// The journal (edge/store) keeps decisions and codes as plain strings and
// does not import this package; the edge converts at that seam.
package outcome

import "slices"

// Decision is what the edge did with a request: the journal's decision,
// the outcome label of hooktunnel_requests_total, the --decision filter.
type Decision string

// The decisions a request gets when it arrives.
const (
	Forwarded Decision = "forwarded" // handed to the agent; the app's answer went back
	Queued    Decision = "queued"    // committed to the queue and answered 202
	Refused   Decision = "refused"   // answered by the edge with a refusal Code
	Duplicate Decision = "duplicate" // a delivery already accepted: acknowledged, not forwarded
	Answered  Decision = "answered"  // a provider handshake the edge answered itself
	Filtered  Decision = "filtered"  // no route's filter took it: acknowledged, held or rejected
)

// Dead is not a decision made when a request arrives: it is the last
// outcome of a queued message whose delivery gave up, which the alert
// rules count beside the decisions.
const Dead Decision = "dead"

// Decisions lists the decisions a request gets when it arrives, in the
// order the CLI shows them.
func Decisions() []Decision {
	return []Decision{Forwarded, Queued, Refused, Duplicate, Answered, Filtered}
}

// Valid reports whether d is one of Decisions.
func (d Decision) Valid() bool { return slices.Contains(Decisions(), d) }
