package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooktunnel/hooktunnel/edge/outcome"
	"github.com/hooktunnel/hooktunnel/policy"
)

// verifyFlags are the flags of `hooktunnel verify`.
type verifyFlags struct {
	provider  string
	secrets   []string
	publicURL string
	now       string
	tolerance time.Duration
	filter    string
	// config and tunnel take the routes from an edge config file.
	config, tunnel string
	// The generic "hmac" provider's settings.
	header, algorithm, encoding, prefix, template, timestampHeader, idHeader string
}

// verifyLine is the JSON line printed for each file.
type verifyLine struct {
	File   string `json:"file"`
	Allow  bool   `json:"allow"`
	Reason string `json:"reason"`
	// Secret is the reference of the secret that matched ("env:GH_OLD"),
	// never its value; DeliveryID is the provider's id of the delivery.
	// Both are set whenever the signature was good (allowed or duplicate).
	Secret     string `json:"secret,omitempty"`
	DeliveryID string `json:"delivery_id,omitempty"`
	// Handshake marks an endpoint verification the edge answers itself.
	Handshake bool `json:"handshake,omitempty"`
	// Route is the config entry of the route that took the request
	// ("tunnels.github.routes[1]"), with --config.
	Route string `json:"route,omitempty"`
}

// maxCapture bounds a capture file: the default body limit and room for
// the head.
const maxCapture = int64(policy.DefaultMaxBody) + 1<<20

func verifyCommand() *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify [--provider NAME --secret REF [--secret REF]... | --config FILE [--tunnel NAME]] [--filter EXPR] FILE...",
		Short: "Check captured webhook requests offline, as the edge would",
		Long: `Check captured webhook requests with the signature, timestamp and duplicate checks the
edge runs, to learn why a delivery is refused.

Each FILE ("-" for standard input) holds one raw HTTP/1.1 request as it arrives on the
wire: request line, headers, a blank line, and the body (Content-Length bytes or
chunked). The files are checked in order with one replay cache, so a later copy of a
delivery already allowed is reported as "duplicate". One JSON line is printed per file:

  {"file":"push.http","allow":true,"reason":"ok","secret":"env:GH_OLD","delivery_id":"72d3…"}
  {"file":"bad.http","allow":false,"reason":"bad_signature: signature in X-Hub-Signature-256 does not match …"}

With --filter, a request whose signature passed (or every request, without --provider)
is also run through the filter (a CEL expression, see docs/filters.md), as a route's
filter: one it does not take is reported "filtered" (or "filter_failed" when the
expression failed on it, e.g. a field read without has()). This tries a filter on real
deliveries before it goes live.

With --config, the routes come from an edge config file instead of the flags: each
request goes to the route its method and path match in the tunnel --tunnel names (or
the file's only tunnel), and is checked with that route's verify and filter, routes
sharing a path tried in file order as the edge tries them; the line names the route
that took it ("route":"tunnels.github.routes[1]"). Source address lists, tokens and rate limits are not checked (a capture
has no sender address).

A refusal's reason is a stable code (signature_missing, signature_malformed,
bad_signature, timestamp_missing, stale_timestamp, future_timestamp, bad_path,
body_too_large, bad_request for a file that is not one HTTP request) and a sentence.
Secret values and expected signatures are never printed.

Exit status: 0 when every request was allowed, 1 when any was not, 2 on a usage or
configuration error (unknown provider, empty or unset secret, missing file).`,
		Example: `  hooktunnel verify --provider github --secret env:GH_SECRET push.http
  hooktunnel verify --provider stripe --secret env:STRIPE_NEW --secret env:STRIPE_OLD --now 1735689603 evt.http
  hooktunnel verify --provider github --secret env:GH_SECRET --filter 'body.action in ["opened", "synchronize"]' pr-*.http
  hooktunnel verify --filter 'body.type.startsWith("invoice.") && body.type != "invoice.upcoming"' evt-*.http
  hooktunnel verify --config /etc/hooktunnel/edge.yaml --tunnel github pr-*.http
  hooktunnel verify --provider twilio --secret file:/etc/hooktunnel/twilio --url https://sms.hooks.example.com/twilio sms.http`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("verify: name at least one FILE holding a captured request")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, files []string) error {
			v, err := f.verifier(cmd.ErrOrStderr(), len(files))
			if err != nil {
				return err
			}
			if err := checkFiles(files); err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetEscapeHTML(false)
			refused := 0
			for _, name := range files {
				line := v.check(name, cmd.InOrStdin())
				if !line.Allow {
					refused++
				}
				if err := enc.Encode(line); err != nil {
					return err
				}
			}
			if refused > 0 {
				return fmt.Errorf("verify: %d of %d requests would not be forwarded", refused, len(files))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.provider, "provider", "", "signature scheme: "+strings.Join(policy.ProviderNames(), ", "))
	fl.StringArrayVar(&f.secrets, "secret", nil, "secret as env:NAME, file:PATH or a literal (repeatable, for rotation)")
	fl.StringVar(&f.publicURL, "url", "", "the public URL the provider called (default https://<Host header><path>); Twilio, Square and HubSpot sign it")
	fl.StringVar(&f.now, "now", "", "check timestamps as of this Unix time in seconds (default: now)")
	fl.DurationVar(&f.tolerance, "tolerance", 0, "timestamp tolerance (default: the provider's)")
	fl.StringVar(&f.filter, "filter", "", "a route filter (CEL) to run on requests that pass; without --provider, on every request")
	fl.StringVar(&f.config, "config", "", "take the routes (verify and filter) from this edge config file")
	fl.StringVar(&f.tunnel, "tunnel", "", "with --config: the tunnel whose routes apply (default: the file's only tunnel)")
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	fl.StringVar(&f.header, "header", "", "hmac: the header carrying the signature")
	fl.StringVar(&f.algorithm, "algorithm", "", "hmac: sha1, sha256 (default) or sha512")
	fl.StringVar(&f.encoding, "encoding", "", "hmac: hex (default) or base64")
	fl.StringVar(&f.prefix, "prefix", "", `hmac: text before the digest, e.g. "sha256="`)
	_ = cmd.RegisterFlagCompletionFunc("provider", completeWords(policy.ProviderNames()...))
	_ = cmd.RegisterFlagCompletionFunc("algorithm", completeWords("sha1", "sha256", "sha512"))
	_ = cmd.RegisterFlagCompletionFunc("encoding", completeWords("hex", "base64"))
	fl.StringVar(&f.template, "template", "", `hmac: signed content, e.g. "{timestamp}.{body}" (default "{body}")`)
	fl.StringVar(&f.timestampHeader, "timestamp-header", "", "hmac: header with the signed Unix timestamp")
	fl.StringVar(&f.idHeader, "id-header", "", "hmac: header with the delivery id")
	return cmd
}

// verifier is the compiled one-route policy the files are checked against.
type verifier struct {
	policy    *policy.Policy
	secrets   []string // the --secret references, in order
	publicURL string
	now       time.Time
	// tunnel names the tunnel of the config file the routes are from,
	// with --config.
	tunnel string
}

// verifier validates the flags and compiles the policy; every error is a
// usage error naming the flag.
func (f *verifyFlags) verifier(stderr io.Writer, files int) (*verifier, error) {
	if f.config != "" {
		return f.fromConfig(files)
	}
	if f.tunnel != "" {
		return nil, usageError{errors.New("verify: --tunnel names a tunnel of the --config file; give --config too")}
	}
	if f.provider == "" && f.filter != "" {
		return f.filterOnly()
	}
	if f.provider == "" {
		return nil, usageError{fmt.Errorf("verify: --provider is required (one of %s)", strings.Join(policy.ProviderNames(), ", "))}
	}
	if _, ok := policy.DefaultTolerance(f.provider); !ok {
		return nil, usageError{fmt.Errorf("verify: --provider %q is not a known provider (%s)", f.provider, strings.Join(policy.ProviderNames(), ", "))}
	}
	vc, err := f.verifyConfig()
	if err != nil {
		return nil, err
	}
	if err := checkSecrets(stderr, f.secrets); err != nil {
		return nil, err
	}
	v, err := f.newVerifier()
	if err != nil {
		return nil, err
	}
	v.secrets = f.secrets
	if f.tolerance < 0 {
		return nil, usageError{fmt.Errorf("verify: --tolerance %s must not be negative", f.tolerance)}
	}
	cfg := policy.Config{Routes: []policy.RouteConfig{{
		Path:      "/", // a subtree: every canonical path
		Methods:   []string{"*"},
		Verify:    vc,
		Tolerance: f.tolerance,
		Filter:    f.filter,
	}}}
	// Two keys a delivery: its delivery id and its fingerprint.
	v.policy, err = cfg.CompileEnv(policy.Env{Replay: policy.NewMemoryReplayCache(2 * max(files, 1)), Scope: "verify"})
	if err != nil {
		return nil, f.configError(err)
	}
	return v, nil
}

// filterOnly is the verifier of --filter without --provider: a route
// that checks no signature and runs the filter.
func (f *verifyFlags) filterOnly() (*verifier, error) {
	if len(f.secrets) > 0 || f.tolerance != 0 {
		return nil, usageError{errors.New("verify: --secret and --tolerance need --provider")}
	}
	v, err := f.newVerifier()
	if err != nil {
		return nil, err
	}
	cfg := policy.Config{Routes: []policy.RouteConfig{{Path: "/", Methods: []string{"*"}, Filter: f.filter}}}
	if v.policy, err = cfg.Compile(); err != nil {
		return nil, f.configError(err)
	}
	return v, nil
}

// newVerifier is a verifier with what every way of verifying takes: the
// public URL (--url) and the time to check against (--now).
func (f *verifyFlags) newVerifier() (*verifier, error) {
	v := &verifier{publicURL: f.publicURL, now: time.Now()}
	if f.publicURL != "" {
		if _, err := policy.ParsePublicURL(f.publicURL); err != nil {
			return nil, usageError{fmt.Errorf("verify: --url %v", err)}
		}
	}
	if f.now != "" {
		sec, err := strconv.ParseInt(f.now, 10, 64)
		if err != nil || sec < 0 {
			return nil, usageError{fmt.Errorf("verify: --now %q is not a Unix time in seconds", f.now)}
		}
		v.now = time.Unix(sec, 0)
	}
	return v, nil
}

// verifyConfig is the route's verify block; the hmac settings are refused
// with any other provider rather than silently ignored.
func (f *verifyFlags) verifyConfig() (*policy.VerifyConfig, error) {
	vc := &policy.VerifyConfig{
		Provider: f.provider, Secrets: f.secrets,
		Header: f.header, Algorithm: f.algorithm, Encoding: f.encoding, Prefix: f.prefix,
		Template: f.template, TimestampHeader: f.timestampHeader, IDHeader: f.idHeader,
	}
	if f.provider != "hmac" {
		for flag, val := range map[string]string{
			"--header": f.header, "--algorithm": f.algorithm, "--encoding": f.encoding, "--prefix": f.prefix,
			"--template": f.template, "--timestamp-header": f.timestampHeader, "--id-header": f.idHeader,
		} {
			if val != "" {
				return nil, usageError{fmt.Errorf("verify: %s is a setting of --provider hmac, not of %s", flag, f.provider)}
			}
		}
	}
	return vc, nil
}

// checkSecrets resolves each --secret once, so an unset or empty one is
// reported by its flag, and warns about literals.
func checkSecrets(stderr io.Writer, refs []string) error {
	if len(refs) == 0 {
		return usageError{errors.New("verify: --secret is required: env:NAME, file:PATH, or the value itself")}
	}
	warned := false
	for i, ref := range refs {
		if _, err := policy.ResolveSecret(ref); err != nil {
			return usageError{fmt.Errorf("verify: --secret %s: %v", shownRef(ref, i), err)}
		}
		if policy.IsLiteral(ref) && !warned {
			fmt.Fprintln(stderr, "hooktunnel: warning: a --secret given as a literal value ends up in your shell history and the process list; prefer env:NAME or file:PATH")
			warned = true
		}
	}
	return nil
}

// shownRef names a --secret in a message without showing a literal value.
func shownRef(ref string, i int) string {
	if policy.IsLiteral(ref) {
		return fmt.Sprintf("literal #%d", i+1)
	}
	return ref
}

// configError turns a compile error of the one-route policy into a usage
// error naming the flag instead of the config field.
func (f *verifyFlags) configError(err error) error {
	var fe *policy.FieldError
	if !errors.As(err, &fe) {
		return usageError{fmt.Errorf("verify: %w", err)}
	}
	field := strings.TrimPrefix(fe.Field, "routes[0].")
	for strings.HasPrefix(field, "verify.verify") { // some constructors repeat the prefix
		field = strings.TrimPrefix(field, "verify.")
	}
	var name string
	switch rest, ok := strings.CutPrefix(field, "verify.secrets["); {
	case ok:
		idx, _, _ := strings.Cut(rest, "]")
		name = "--secret"
		if i, err := strconv.Atoi(idx); err == nil && i >= 0 && i < len(f.secrets) {
			name += " " + shownRef(f.secrets[i], i)
		}
	case field == "verify.secrets":
		name = "--secret"
	case field == "verify.provider":
		name = "--provider " + f.provider
	case field == "tolerance":
		name = "--tolerance"
	case field == "filter":
		name = "--filter"
	case field == "verify":
		return usageError{fmt.Errorf("verify: %w", fe.Err)}
	case strings.HasPrefix(field, "verify."):
		setting, _, _ := strings.Cut(strings.TrimPrefix(field, "verify."), ".")
		name = "--" + strings.ReplaceAll(setting, "_", "-")
	default:
		name = field
	}
	return usageError{fmt.Errorf("verify: %s: %w", name, fe.Err)}
}

// checkFiles refuses, before any output, files that cannot be read, so
// exit status 1 always means "a request was refused".
func checkFiles(files []string) error {
	stdin := false
	for _, name := range files {
		if name == "-" {
			if stdin {
				return usageError{errors.New(`verify: "-" (standard input) may be given once`)}
			}
			stdin = true
			continue
		}
		st, err := os.Stat(name)
		if err != nil {
			return usageError{fmt.Errorf("verify: %w", err)}
		}
		if st.IsDir() {
			return usageError{fmt.Errorf("verify: %s is a directory; name the capture files in it", name)}
		}
	}
	return nil
}

// check runs one capture through the policy as the edge would: route,
// body limit, signature, freshness, duplicates; an allowed delivery is
// recorded as answered 200, so a later copy is a duplicate.
func (v *verifier) check(name string, stdin io.Reader) verifyLine {
	line := verifyLine{File: name}
	data, err := readCapture(name, stdin)
	if err != nil {
		line.Reason = reasonOf(err)
		return line
	}
	req, err := policy.ParseRawRequest(data, v.publicURL)
	if err != nil {
		line.Reason = reasonOf(err)
		return line
	}
	d := v.policy.Admit(req, v.now)
	if d.Err == nil && int64(len(req.Body)) > d.Route.MaxBody {
		d.Err = &policy.Refusal{Kind: policy.ErrBodyTooLarge, Detail: fmt.Sprintf("the body is %d bytes, larger than the default max_body of %s", len(req.Body), policy.ByteSize(d.Route.MaxBody))}
	}
	v.policy.Verify(&d, req, v.now)
	v.policy.Filter(&d, req, v.now)
	if d.Verified.Provider != "" { // the signature was good
		line.Secret, line.DeliveryID = v.secretName(d), d.Verified.DeliveryID
	}
	if v.tunnel != "" && d.Route != nil {
		line.Route = fmt.Sprintf("tunnels.%s.routes[%d]", v.tunnel, d.Route.Index)
	}
	if d.Err != nil {
		line.Reason = reasonOf(d.Err)
		return line
	}
	v.policy.Delivered(d, http.StatusOK, v.now)
	line.Allow, line.Reason, line.Handshake = true, "ok", d.Handshake
	return line
}

// secretName names the secret that matched as the --secret flag did,
// never by its value.
func (v *verifier) secretName(d policy.Decision) string {
	if i := d.Verified.Secret; i >= 0 && i < len(v.secrets) {
		return shownRef(v.secrets[i], i)
	}
	return d.SecretRef
}

// readCapture reads a capture file, or standard input for "-", refusing
// one larger than any request the edge would accept.
func readCapture(name string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if name != "-" {
		file, err := os.Open(name)
		if err != nil {
			return nil, &policy.Refusal{Kind: policy.ErrMalformedRequest, Detail: "cannot read the file: " + err.Error()}
		}
		defer file.Close()
		r = file
	}
	data, err := io.ReadAll(io.LimitReader(r, maxCapture+1))
	if err != nil {
		return nil, &policy.Refusal{Kind: policy.ErrMalformedRequest, Detail: "cannot read the file: " + err.Error()}
	}
	if int64(len(data)) > maxCapture {
		return nil, &policy.Refusal{Kind: policy.ErrBodyTooLarge, Detail: fmt.Sprintf("the file is over %d bytes, more than the edge accepts in one request", maxCapture)}
	}
	return data, nil
}

// reasonOf is the reason printed for a request that was not allowed: its
// code and the refusal's sentence, or "duplicate".
func reasonOf(err error) string {
	if errors.Is(err, policy.ErrDuplicate) {
		return string(outcome.Duplicate)
	}
	_, code := outcome.Of(err)
	return string(code) + ": " + err.Error()
}
