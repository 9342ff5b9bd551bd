package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/hooktunnel/hooktunnel/tunnel"
)

// Failures to reach the edge that retrying cannot fix: the URL or the
// trust is wrong, not the network. An *EdgeError carries one as its Kind.
var (
	ErrEdgeSpeaksTLS    = errors.New("agent: the edge's port speaks TLS, not plain HTTP")
	ErrEdgeSpeaksPlain  = errors.New("agent: the edge's port speaks plain HTTP, not TLS")
	ErrEdgeUnknownCA    = errors.New("agent: the edge's certificate is from an authority this agent does not trust")
	ErrEdgeNameMismatch = errors.New("agent: the edge's certificate is for another name")
	ErrEdgeAdminPort    = errors.New("agent: this is the edge's admin listener, not its public one")
	ErrEdgeTunnelURL    = errors.New("agent: --edge is a tunnel's URL, not the edge's")
	ErrNotAnEdge        = errors.New("agent: no hooktunnel edge answers at this URL")
)

// EdgeError is a failure to reach the edge that retrying cannot fix, and
// what to do about it. errors.Is finds its Kind and the dial's error.
type EdgeError struct {
	Kind error  // one of the ErrEdge… above, or ErrNotAnEdge
	Fix  string // what to change, in the flags' words
	Err  error  // what dialing the edge returned
}

func (e *EdgeError) Error() string { return e.Kind.Error() + ": " + e.Fix + doctorHint }

func (e *EdgeError) Unwrap() []error { return []error{e.Kind, e.Err} }

// doctorHint ends the line an agent shows: the doctor checks the rest.
const doctorHint = " (`hooktunnel doctor` with the same flags checks each step)"

// probeTimeout bounds the one request Diagnose may send.
const probeTimeout = 5 * time.Second

// Diagnose tells a failure to dial the edge (tunnel.Dial's error) that
// retrying cannot fix from one it may (an edge restarting, a network
// down): for the first it returns an *EdgeError that says what to do, for
// the second nil. edge is the --edge URL; client the one the agent dials
// with (nil for http.DefaultClient), with which Diagnose may send one more
// request: whether a plain-HTTP URL's port speaks TLS.
func Diagnose(ctx context.Context, edge string, client *http.Client, err error) *EdgeError {
	u, perr := url.Parse(edge)
	if err == nil || perr != nil {
		return nil
	}
	secure := u.Scheme == "https" || u.Scheme == "wss"
	var (
		unknown  x509.UnknownAuthorityError
		mismatch x509.HostnameError
		answer   *tunnel.UpgradeError
	)
	upgrade := errors.As(err, &answer)
	switch {
	case errors.As(err, &unknown):
		return &EdgeError{Kind: ErrEdgeUnknownCA, Err: err,
			Fix: "pass --edge-ca FILE with the edge's CA (an edge with --tls self-signed keeps it in <data>/self-signed/ca.pem)"}
	case errors.As(err, &mismatch):
		names := "other names"
		if mismatch.Certificate != nil && len(mismatch.Certificate.DNSNames) > 0 {
			names = mismatch.Certificate.DNSNames[0]
		}
		return &EdgeError{Kind: ErrEdgeNameMismatch, Err: err,
			Fix: "the certificate is for " + names + ", not " + u.Hostname() + ": give --edge the edge's domain, and --edge-addr IP:PORT to reach it by address"}
	case errors.Is(err, http.ErrSchemeMismatch):
		return &EdgeError{Kind: ErrEdgeSpeaksPlain, Err: err,
			Fix: "use --edge http://" + u.Host + " (an edge with --tls off), or the edge's TLS port"}
	case upgrade && answer.Code == tunnel.RefusedNotPublic:
		return &EdgeError{Kind: ErrEdgeAdminPort, Err: err,
			Fix: "point --edge (or --edge-addr) at the port of the edge's --listen (443 by default), not its --admin-listen"}
	case !secure && answered(err) && SpeaksTLS(ctx, client, u):
		return &EdgeError{Kind: ErrEdgeSpeaksTLS, Err: err, Fix: "use --edge https://" + u.Host}
	case upgrade && answer.StatusCode == http.StatusNotFound && answer.Code != "":
		return &EdgeError{Kind: ErrEdgeTunnelURL, Err: err,
			Fix: "give --edge the edge's own URL (https://<domain>), not a tunnel's (https://<tunnel>.<domain>)"}
	case upgrade && answer.StatusCode == http.StatusNotFound:
		return &EdgeError{Kind: ErrNotAnEdge, Err: err,
			Fix: "check --edge (and --edge-addr): it is the edge's URL, https://<domain>, and its public port"}
	}
	return nil
}

// answered reports whether err came after a connection was made: the
// server sent something that is not a websocket upgrade (a plain-HTTP
// client at a TLS port gets a 400, or bytes that are not HTTP). A
// connection refused, a name that does not resolve or a timeout is not.
func answered(err error) bool {
	var answer *tunnel.UpgradeError
	if errors.As(err, &answer) {
		return answer.StatusCode == http.StatusBadRequest
	}
	var (
		op  *net.OpError
		dns *net.DNSError
		ne  net.Error
	)
	switch {
	case errors.As(err, &op) && op.Op == "dial", errors.As(err, &dns), errors.As(err, &ne) && ne.Timeout(),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	}
	return true
}

// SpeaksTLS reports whether the server of a plain-HTTP URL u speaks TLS
// on that port: a TLS handshake with it completes, or fails only on its
// certificate or a TLS alert. client dials it as the agent would (nil
// for http.DefaultClient).
func SpeaksTLS(ctx context.Context, client *http.Client, u *url.URL) bool {
	if client == nil {
		client = http.DefaultClient
	}
	probe := *client
	probe.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, (&url.URL{Scheme: "https", Host: u.Host, Path: "/"}).String(), nil)
	if err != nil {
		return false
	}
	resp, err := probe.Do(req)
	if err == nil {
		resp.Body.Close()
		return true
	}
	var (
		verify *tls.CertificateVerificationError
		alert  tls.AlertError
	)
	return errors.As(err, &verify) || errors.As(err, &alert)
}
