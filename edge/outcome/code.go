package outcome

// Code is the stable code of a refusal (the "error" of the edge's JSON
// answer, the journal's reason) or of an admin API error. Senders,
// dashboards and alert rules match on it: a code, once sent, keeps its
// spelling.
type Code string

// Codes of the refusals of requests to tunnel hosts.
const (
	CodeUnknownHost      Code = "unknown_host"
	CodeUnknownTunnel    Code = "unknown_tunnel"
	CodeNoRoute          Code = "no_route"
	CodeMethodNotAllow   Code = "method_not_allowed"
	CodeBadPath          Code = "bad_path"
	CodeTunnelOffline    Code = "tunnel_offline"
	CodeAgentLost        Code = "agent_disconnected"
	CodeSignatureMissing Code = "signature_missing"
	CodeBadSignature     Code = "bad_signature"
	CodeMalformedSig     Code = "signature_malformed"
	CodeStaleTimestamp   Code = "stale_timestamp"
	CodeFutureTimestamp  Code = "future_timestamp"
	CodeNoTimestamp      Code = "timestamp_missing"
	CodeTokenMissing     Code = "token_missing"
	CodeBadToken         Code = "bad_token"
	CodeIPNotAllowed     Code = "ip_not_allowed"
	CodeRateLimited      Code = "rate_limited"
	CodeBodyTooLarge     Code = "body_too_large"
	CodeBodyRead         Code = "body_incomplete"
	CodeBodyMalformed    Code = "body_malformed"
	CodeBodyTimeout      Code = "body_timeout"
	CodeTooManyFromIP    Code = "too_many_requests_from_ip"
	CodeDuplicate        Code = "duplicate"
	CodeInFlight         Code = "in_flight"
	CodeQueueFull        Code = "queue_full"
	CodeFiltered         Code = "filtered"
	CodeFilterFailed     Code = "filter_failed"
	// CodeBadRequest is input that is not one HTTP request: a capture
	// the offline verifier cannot read.
	CodeBadRequest Code = "bad_request"
	// CodeRefused is a refusal no sentinel error names.
	CodeRefused Code = "refused"
)

// Codes of the refusals of the TLS layer and of the host guard of the
// admin and inspector listeners.
const (
	CodeMisdirected      Code = "misdirected_request"
	CodeClientCertNeeded Code = "client_certificate_required"
	CodeHostNotAllowed   Code = "host_not_allowed"
	CodeCrossSite        Code = "cross_site"
)

// Codes of the admin API's and the web UI's error answers.
const (
	CodeUnauthorized Code = "unauthorized"
	CodeNotFound     Code = "not_found"
	CodeBadFilter    Code = "bad_filter"
	CodeBadEdit      Code = "bad_edit"
	CodeNoBody       Code = "no_body"
	CodeNotHeld      Code = "not_held"
	CodeJournalError Code = "journal_error"
	CodeAuditError   Code = "audit_error"
	CodeConfigError  Code = "config_error"
)

// SignatureFailure reports whether c refuses a request for its signature,
// the signature's timestamp or its URL token: what
// hooktunnel_signature_failures_total and the alert rules'
// signature_failures count.
func (c Code) SignatureFailure() bool {
	switch c {
	case CodeSignatureMissing, CodeBadSignature, CodeMalformedSig,
		CodeStaleTimestamp, CodeFutureTimestamp, CodeNoTimestamp,
		CodeTokenMissing, CodeBadToken:
		return true
	}
	return false
}
