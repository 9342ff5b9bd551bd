package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooktunnel/hooktunnel/agent"
	"github.com/hooktunnel/hooktunnel/tunnel"
)

// Check outcomes, as printed at the start of each line.
const (
	checkOK   = "ok"
	checkFail = "FAIL"
	checkWarn = "warn"
	checkSkip = "skip"
)

// maxClockSkew is how far this machine's clock may be from the edge's
// before signatures with timestamps start failing.
const maxClockSkew = time.Minute

func doctorCommand() *cobra.Command {
	var (
		f       agentFlags
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "doctor [PORT|HOST:PORT|URL]",
		Short: "Check what an agent needs: the edge resolves, TLS verifies, the token is accepted, the app answers",
		Long: `Doctor runs the checks an agent depends on, in order, and prints one line
per check (ok, warn, FAIL or skip) with what to fix. It takes the agent's
flags: run it with the same ones as the agent.

The token check is a real handshake: for a moment the doctor is one more
agent of the tunnel, then it says it is going away and closes. Pass the
agent's --route/--policy too, so it declares the same routes.

Exit status: 0 when nothing failed (warnings allowed), 1 when a check
failed, 2 on bad usage.`,
		Example: `  hooktunnel doctor 8000 --edge https://hooks.example.com --name demo
  hooktunnel doctor https://localhost:8443 --target-ca dev-ca.pem --edge https://hooks.internal --edge-ca ca.pem`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := ""
			if len(args) == 1 {
				target = args[0]
			}
			cfg, err := f.config(target)
			if err != nil {
				return usageError{err}
			}
			d := &doctor{cfg: cfg, edgeAddr: f.edgeAddr, insecure: f.edgeInsecure, timeout: timeout, now: time.Now,
				out: cmd.OutOrStdout()}
			if target != "" {
				if d.target, err = agent.ParseTarget(target); err != nil {
					return usageError{err}
				}
			}
			if cfg.Name != "" && !tunnel.ValidName(cfg.Name) {
				return usageError{fmt.Errorf("--name %q is not a valid tunnel name (lowercase letters, digits and '-', at most 63)", cfg.Name)}
			}
			if timeout <= 0 {
				return usageError{fmt.Errorf("--timeout must be positive")}
			}
			d.run(cmd.Context())
			if d.failed > 0 {
				return fmt.Errorf("%d of %d checks failed", d.failed, d.ran)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.edge, "edge", "", "the edge's URL, e.g. https://hooks.example.com")
	fl.StringVar(&f.token, "token", "", "agent token (default $HOOKTUNNEL_TOKEN)")
	fl.StringVar(&f.name, "name", "", "tunnel name to check (default: the one the edge picks for this token and port)")
	fl.StringArrayVar(&f.routes, "route", nil, `route the agent declares: PATH or "METHOD[,METHOD] PATH" (repeatable)`)
	fl.StringVar(&f.policyFile, "policy", "", "YAML file with routes: [...] the agent declares")
	fl.StringVar(&f.targetCA, "target-ca", "", "PEM CA file to verify an https:// target")
	fl.BoolVar(&f.targetInsecure, "target-insecure", false, "do not verify an https:// target's certificate")
	fl.StringVar(&f.edgeCA, "edge-ca", "", "PEM CA file to verify the edge with instead of the system roots")
	fl.BoolVar(&f.edgeInsecure, "edge-insecure", false, "do not verify the edge's certificate")
	fl.StringVar(&f.edgeAddr, "edge-addr", "", "HOST:PORT to connect to instead of resolving the --edge URL's host")
	fl.DurationVar(&timeout, "timeout", 10*time.Second, "how long each check may take")
	return cmd
}

// doctor runs the checks and keeps count.
type doctor struct {
	cfg      agent.Config
	target   *url.URL // nil: no target given
	edgeAddr string
	insecure bool
	timeout  time.Duration
	now      func() time.Time
	out      io.Writer

	edge     *url.URL
	addr     string         // where the agent connects: --edge-addr or the URL's host:port
	probe    *http.Response // the edge's answer to GET /, for TLS facts and its clock
	probeErr error

	ran, failed, warned int
}

// report prints one check's line, and the fix when there is one.
func (d *doctor) report(status, check, detail, fix string) {
	d.ran++
	switch status {
	case checkFail:
		d.failed++
	case checkWarn:
		d.warned++
	}
	fmt.Fprintf(d.out, "%-4s  %s: %s\n", status, check, detail)
	if fix != "" {
		fmt.Fprintf(d.out, "      fix: %s\n", fix)
	}
}

// run performs the checks in order; a check whose prerequisite failed is
// skipped with the reason.
func (d *doctor) run(ctx context.Context) {
	reachable := false
	if d.checkResolve(ctx) {
		reachable = d.checkConnect(ctx)
	} else {
		d.report(checkSkip, "connect", "the edge's address is unknown", "")
	}
	trusted := false
	if reachable {
		trusted = d.checkTLS(ctx)
	} else {
		d.report(checkSkip, "tls", "the edge is not reachable", "")
	}
	if trusted {
		d.checkEdge(ctx)
	} else {
		d.report(checkSkip, "edge", "needs a connection to the edge this agent trusts", "")
	}
	d.checkTarget(ctx)
	d.checkClock()
	if d.probe != nil {
		d.probe.Body.Close()
	}
	switch {
	case d.failed == 0 && d.warned == 0:
		fmt.Fprintln(d.out, "All checks passed.")
	case d.failed == 0:
		fmt.Fprintf(d.out, "All checks passed, with %d warning(s).\n", d.warned)
	}
}

// checkResolve parses the edge URL and resolves its host.
func (d *doctor) checkResolve(ctx context.Context) bool {
	u, err := url.Parse(d.cfg.Edge)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		d.report(checkFail, "resolve", fmt.Sprintf("--edge %q is not an https:// URL with a host", d.cfg.Edge),
			"pass the edge's apex URL, e.g. --edge https://hooks.example.com")
		return false
	}
	d.edge = u
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	d.addr = net.JoinHostPort(host, port)
	if d.edgeAddr != "" {
		d.addr = d.edgeAddr
		d.report(checkOK, "resolve", fmt.Sprintf("--edge-addr %s is used instead of resolving %s", d.edgeAddr, host), "")
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if net.ParseIP(host) != nil {
		d.report(checkOK, "resolve", host+" is an IP address", "")
		return true
	}
	if agent.IsLocalhost(host) {
		d.report(checkOK, "resolve", host+" is a loopback name (RFC 6761): 127.0.0.1 or ::1, without asking DNS", "")
		return true
	}
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err == nil && len(addrs) == 0 { // Go's answer for names it never asks DNS about (.onion)
		err = &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			d.report(checkFail, "resolve", host+" does not resolve (no such host)",
				"check the spelling of --edge; DNS needs A/AAAA records for "+host+" and *."+host+
					" (dig +short "+host+"); before DNS is set up, pass --edge-addr IP:PORT")
			return false
		}
		d.report(checkFail, "resolve", "looking up "+host+": "+err.Error(),
			"check this machine's DNS resolver (/etc/resolv.conf), or pass --edge-addr IP:PORT")
		return false
	}
	d.report(checkOK, "resolve", host+" → "+strings.Join(addrs, ", "), "")
	return true
}

// checkConnect opens a TCP connection to the edge.
func (d *doctor) checkConnect(ctx context.Context) bool {
	dialer := &agent.LoopbackDialer{Dialer: net.Dialer{Timeout: d.timeout}}
	start := time.Now()
	c, err := dialer.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			d.report(checkFail, "connect", "nothing listens on "+d.addr+" (connection refused)",
				"is the edge running (systemctl status hooktunnel-edge)? Does --edge name the port it listens on?")
		case isTimeout(err):
			d.report(checkFail, "connect", fmt.Sprintf("no answer from %s within %s", d.addr, d.timeout),
				"a firewall drops the traffic: open TCP "+portOf(d.addr)+" on the edge's VM (and in its cloud's security group)")
		default:
			d.report(checkFail, "connect", err.Error(), "check the address and this machine's network")
		}
		return false
	}
	remote := c.RemoteAddr().String()
	c.Close()
	d.report(checkOK, "connect", fmt.Sprintf("%s accepted a connection (%.1fms)", remote, time.Since(start).Seconds()*1000), "")
	return true
}

// checkTLS asks the edge for / over the agent's own client, so the
// handshake is the agent's (roots, --edge-ca, --edge-addr); the answer
// also carries the edge's clock.
func (d *doctor) checkTLS(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	client := *d.cfg.EdgeClient
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	root := &url.URL{Scheme: d.edge.Scheme, Host: d.edge.Host, Path: "/"}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, root.String(), nil)
	d.probe, d.probeErr = client.Do(req)
	host := d.edge.Hostname()
	if d.edge.Scheme == "http" {
		if (d.probeErr != nil || d.probe.StatusCode == http.StatusBadRequest) && agent.SpeaksTLS(ctx, d.cfg.EdgeClient, d.edge) {
			d.report(checkFail, "tls", d.addr+" speaks TLS, not plain HTTP", "use --edge https://"+d.edge.Host)
			return false
		}
		if d.probe != nil && d.probe.StatusCode/100 == 3 && strings.HasPrefix(d.probe.Header.Get("Location"), "https:") {
			d.report(checkFail, "tls", "the edge redirects http:// to https://", "use --edge https://"+host)
			return false
		}
		d.report(checkSkip, "tls", "http:// edge URL: no TLS, the token and webhooks cross the network unencrypted (fine on loopback or behind a TLS terminator)", "")
		return true
	}
	if d.probeErr != nil {
		detail, fix := tlsFailure(d.probeErr, host, d.now())
		d.report(checkFail, "tls", detail, fix)
		return false
	}
	if d.probe.TLS == nil || len(d.probe.TLS.PeerCertificates) == 0 {
		d.report(checkFail, "tls", "the edge answered without TLS", "")
		return false
	}
	leaf := d.probe.TLS.PeerCertificates[0]
	facts := fmt.Sprintf("%s, certificate for %s from %q, valid until %s", tls.VersionName(d.probe.TLS.Version),
		strings.Join(leaf.DNSNames, ", "), leaf.Issuer.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly))
	switch left := leaf.NotAfter.Sub(d.now()); {
	case d.insecure:
		d.report(checkWarn, "tls", "NOT verified (--edge-insecure): "+facts,
			"trust the edge's CA with --edge-ca FILE instead, or give the edge a publicly trusted certificate")
	case left < 7*24*time.Hour:
		d.report(checkWarn, "tls", fmt.Sprintf("verified, but it expires in %s: %s", left.Round(time.Hour), facts),
			"ACME renews 30 days ahead: look for 'certificate issuance failed' in the edge's log; with --tls file, replace the files")
	default:
		d.report(checkOK, "tls", "verified: "+facts, "")
	}
	return true
}

// tlsFailure says why the edge's certificate was not accepted, and what
// to do about it.
func tlsFailure(err error, host string, now time.Time) (detail, fix string) {
	var (
		unknown  x509.UnknownAuthorityError
		mismatch x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &unknown):
		issuer := ""
		if unknown.Cert != nil {
			issuer = unknown.Cert.Issuer.CommonName
		}
		selfSigned := "for an edge with --tls self-signed, copy its CA (<data>/self-signed/ca.pem) here and pass --edge-ca FILE"
		staging := "for Let's Encrypt staging, test with --edge-insecure, then move the edge to production (no acme.directory)"
		fix = selfSigned + "; " + staging
		switch {
		case strings.Contains(issuer, "STAGING"):
			fix = staging
		case strings.Contains(issuer, "hooktunnel self-signed"):
			fix = selfSigned
		}
		return fmt.Sprintf("the edge's certificate is from an unknown authority (issuer %q)", issuer), fix
	case errors.As(err, &mismatch):
		names := "no names"
		if mismatch.Certificate != nil {
			names = strings.Join(mismatch.Certificate.DNSNames, ", ")
		}
		return fmt.Sprintf("name mismatch: the certificate is for %s, not %s", names, host),
			"the edge's --domain must be " + host + "; with --tls file its certificate must cover " + host + " and *." + host +
				"; a wrong --edge-addr reaches another server"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		expiry := ""
		if invalid.Cert != nil {
			expiry = " (valid " + invalid.Cert.NotBefore.UTC().Format(time.DateOnly) + " to " + invalid.Cert.NotAfter.UTC().Format(time.DateOnly) + ")"
		}
		return "the edge's certificate is expired or not yet valid" + expiry + "; this machine's clock says " + now.UTC().Format(time.RFC3339),
			"if this machine's date is right, renew the certificate (ACME: look for 'certificate issuance failed' in the edge's log; --tls file: replace the files)"
	case errors.Is(err, http.ErrSchemeMismatch):
		return "the edge speaks plain HTTP on this port, not TLS",
			"an edge with --tls off (behind a TLS terminator, or for tests) is reached with --edge http://…"
	case isTimeout(err):
		return "the TLS handshake did not finish: " + err.Error(),
			"something between here and the edge holds the connection; is it the edge's port?"
	}
	return "TLS handshake failed: " + err.Error(),
		"if the edge runs with --tls off, use --edge http://…; an ACME edge with no certificate for " + host +
			" yet fails handshakes: look for 'certificate issuance failed' in its log"
}

// checkEdge performs the agent's handshake: the edge must answer as a
// hooktunnel edge and accept the token (and the name). The session is
// closed at once.
func (d *doctor) checkEdge(ctx context.Context) {
	if d.cfg.Token == "" {
		d.report(checkFail, "edge", "no token", "pass --token or set HOOKTUNNEL_TOKEN to the token `hooktunnel token new` printed")
		return
	}
	// A probe: the edge answers as it would an agent but does not send it
	// the tunnel's webhooks, nor let it change the tunnel's routes.
	hello := tunnel.Hello{AgentVersion: version, Token: d.cfg.Token, Name: d.cfg.Name, Probe: true}
	if d.target != nil {
		hello.Target = d.target.String() // the key of a kept name, as the agent sends it
	}
	if len(d.cfg.Tunnels) > 0 {
		// Several tunnels from the --policy file: probe them all at once,
		// as the agent asks for them.
		var err error
		if hello, err = agent.ProbeHello(d.cfg); err != nil {
			d.report(checkFail, "edge", err.Error(), "fix tunnels: in the --policy file")
			return
		}
		hello.AgentVersion = version
	} else if len(d.cfg.Policy.Routes) > 0 {
		declared, err := d.cfg.Policy.ResolveSecrets()
		if err == nil {
			hello.Routes, err = json.Marshal(declared)
		}
		if err != nil {
			d.report(checkFail, "edge", "routes: "+err.Error(), "fix --route/--policy")
			return
		}
	}
	sessCfg := tunnel.DefaultConfig()
	sessCfg.HandshakeTimeout = d.timeout
	sess, welcome, err := tunnel.Dial(ctx, d.cfg.Edge, hello, sessCfg, d.cfg.EdgeClient)
	if err != nil {
		var refusal *tunnel.Refusal
		if errors.As(err, &refusal) {
			d.report(checkFail, "edge", fmt.Sprintf("the edge refused the agent (%s): %s", refusal.Code, refusal.Message), refusalFix(refusal.Code))
			return
		}
		fix := "check that --edge is the edge's apex URL (https://<domain>, not a tunnel's URL) and that the edge's --domain is " + d.edge.Hostname()
		var notUpgraded *tunnel.UpgradeError
		if errors.As(err, &notUpgraded) {
			fix += ", and that no proxy or CDN in front of the edge drops websocket upgrades"
		}
		// The agent's own reading of the failure, where it has one.
		if unfixable := agent.Diagnose(ctx, d.cfg.Edge, d.cfg.EdgeClient, err); unfixable != nil {
			fix = unfixable.Fix
		}
		d.report(checkFail, "edge", err.Error(), fix)
		return
	}
	// A doctor serves nothing: say so before closing, so the edge takes it
	// out of the tunnel at once.
	_ = sess.GoAway("hooktunnel doctor: check done")
	sess.Close()
	for _, t := range welcome.TunnelsServed() {
		urls := "no URLs"
		if len(t.URLs) > 0 {
			urls = strings.Join(t.URLs, ", ")
		}
		d.report(checkOK, "edge", fmt.Sprintf("token accepted; tunnel %s: %s", t.Tunnel, urls), "")
		for _, w := range t.Warnings {
			d.report(checkWarn, "edge", "the edge says: "+w, "")
		}
	}
}

// refusalFix is what to do about each refusal code.
func refusalFix(code string) string {
	switch code {
	case tunnel.RefusedBadToken:
		return "check HOOKTUNNEL_TOKEN/--token; the edge config's agents: must list its token_sha256 " +
			"(`hooktunnel token new` prints both), then reload the edge"
	case tunnel.RefusedName:
		return "pass a --name the token grants (its tunnels: in the edge config), or leave --name out"
	case tunnel.RefusedNameInUse:
		return "another agent token serves this tunnel now: pick another --name"
	case tunnel.RefusedBadRoutes:
		return "fix the routes given with --route/--policy"
	case tunnel.RefusedProtocol:
		return "run the same hooktunnel version here and on the edge (this is " + version + ")"
	}
	return ""
}

// checkTarget asks the local app for /: any HTTP answer means it is up.
func (d *doctor) checkTarget(ctx context.Context) {
	if d.target == nil {
		d.report(checkSkip, "target", "no PORT given (hooktunnel doctor 8000 … checks the app too)", "")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	dialer := &agent.LoopbackDialer{Dialer: net.Dialer{Timeout: d.timeout}}
	tr := &http.Transport{DialContext: dialer.DialContext, TLSClientConfig: d.cfg.TargetTLS, DisableKeepAlives: true}
	if d.target.Scheme == "http" {
		tr.DialContext = tlsSniffing(dialer.DialContext) // an https target's answer is TLS
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.target.String(), nil)
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
		d.report(checkOK, "target", fmt.Sprintf("%s answered %s", d.target, resp.Status), "")
		return
	}
	var (
		unknown  x509.UnknownAuthorityError
		mismatch x509.HostnameError
	)
	host := d.target.Host
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		d.report(checkFail, "target", "nothing listens on "+host+" (connection refused)",
			"start your app, or give the doctor and the agent the port it listens on")
	case isTimeout(err):
		d.report(checkFail, "target", fmt.Sprintf("%s did not answer within %s", host, d.timeout),
			"the app accepts connections but sends no HTTP answer: is it stuck, or not an HTTP server?")
	case errors.Is(err, errSpeaksTLS):
		d.report(checkFail, "target", host+" speaks TLS, not plain HTTP", "use the target https://"+host)
	case errors.As(err, &unknown) || errors.As(err, &mismatch):
		d.report(checkFail, "target", "the app's certificate is not trusted: "+err.Error(),
			"pass --target-ca FILE with the app's CA (or --target-insecure for a local dev certificate)")
	default:
		d.report(checkFail, "target", err.Error(), "check the target's address")
	}
}

// checkClock compares this machine's clock with the Date the edge sent.
func (d *doctor) checkClock() {
	if d.probe == nil {
		d.report(checkSkip, "clock", "no answer from the edge to read its clock from", "")
		return
	}
	date, err := http.ParseTime(d.probe.Header.Get("Date"))
	if err != nil {
		d.report(checkSkip, "clock", "the edge sent no Date header", "")
		return
	}
	// Date has a one-second resolution, far below what matters here.
	skew := d.now().Sub(date)
	switch {
	case skew > maxClockSkew:
		d.report(checkWarn, "clock", fmt.Sprintf("this machine's clock is %s ahead of the edge's", skew.Round(time.Second)), clockFix)
	case skew < -maxClockSkew:
		d.report(checkWarn, "clock", fmt.Sprintf("this machine's clock is %s behind the edge's", (-skew).Round(time.Second)), clockFix)
	default:
		d.report(checkOK, "clock", fmt.Sprintf("within %s of the edge's", max(max(skew, -skew).Round(time.Second), time.Second)), "")
	}
}

const clockFix = "sync both clocks with NTP (timedatectl set-ntp true): signatures with timestamps " +
	"(Stripe, Slack, Standard Webhooks, the edge's forward signature) fail when clocks disagree"

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func portOf(addr string) string {
	if _, port, err := net.SplitHostPort(addr); err == nil {
		return port
	}
	return addr
}
