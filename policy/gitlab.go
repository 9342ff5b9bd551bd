package policy

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

const (
	gitlabTokenHeader     = "X-Gitlab-Token"
	gitlabSignatureHeader = "webhook-signature"
	gitlabIDHeader        = "webhook-id"
	gitlabTimestampHeader = "webhook-timestamp"
	gitlabSigningPrefix   = "whsec_"
)

// gitlabDeliveryHeaders name a token-scheme delivery, best first:
// Idempotency-Key is kept across retries, X-Gitlab-Webhook-UUID is new on
// each attempt, and X-Gitlab-Event-UUID (all GitLab has before 16.2) is
// shared by every webhook the event triggers.
var gitlabDeliveryHeaders = []string{"Idempotency-Key", "X-Gitlab-Webhook-UUID", "X-Gitlab-Event-UUID"}

// gitlab verifies either of GitLab's schemes, chosen by the headers sent
// and the secrets configured:
//
//   - signing token ("whsec_" + base64 key): Standard Webhooks headers,
//     webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>";
//   - secret token (any other secret): X-Gitlab-Token carries the token
//     itself, compared in constant time; nothing is signed.
//
// A request that carries webhook-signature is held to it when a signing
// token is configured; it never falls back to the weaker token.
type gitlab struct {
	tokens  []Secret // secret tokens
	tokenAt []int    // their index in the route's secrets
	keys    []Secret // decoded signing keys
	keyAt   []int

	tolerance time.Duration
}

var _ Verifier = (*gitlab)(nil)

func newGitLab(s VerifierSpec) (Verifier, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	v := &gitlab{tolerance: s.Tolerance}
	for i, sec := range s.Secrets {
		encoded, signing := strings.CutPrefix(string(sec.Value), gitlabSigningPrefix)
		if !signing {
			v.tokens = append(v.tokens, sec)
			v.tokenAt = append(v.tokenAt, i)
			continue
		}
		key, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil || len(key) == 0 {
			return nil, fieldf(fmt.Sprintf("verify.secrets[%d]", i), "%s is a GitLab signing token but not %q followed by base64; copy the whole token GitLab generated", sec.Ref, gitlabSigningPrefix)
		}
		v.keys = append(v.keys, Secret{Ref: sec.Ref, Value: key})
		v.keyAt = append(v.keyAt, i)
	}
	return v, nil
}

func (v *gitlab) Verify(r *Request, now time.Time) (Result, error) {
	switch {
	case r.Header.Get(gitlabSignatureHeader) != "" && len(v.keys) > 0:
		return v.verifySigned(r, now)
	case len(v.tokens) > 0:
		return v.verifyToken(r)
	}
	return Result{}, refuse(ErrSignatureMissing, "signature header "+gitlabSignatureHeader+" is missing; set the signing token on the GitLab webhook")
}

func (v *gitlab) verifyToken(r *Request) (Result, error) {
	token := r.Header.Get(gitlabTokenHeader)
	if token == "" {
		detail := "header " + gitlabTokenHeader + " is missing; set the secret token on the GitLab webhook"
		if r.Header.Get(gitlabSignatureHeader) != "" {
			detail += ", or add its signing token (whsec_...) to this route's secrets to check " + gitlabSignatureHeader
		}
		return Result{}, refuse(ErrSignatureMissing, detail)
	}
	// Comparing digests keeps the comparison constant-time in the token's
	// length too.
	digest := func(b []byte) []byte { sum := sha256.Sum256(b); return sum[:] }
	i, _, ok := matchSecret(v.tokens, digest, [][]byte{digest([]byte(token))})
	if !ok {
		return Result{}, refuse(ErrBadSignature, "header "+gitlabTokenHeader+" does not equal any configured secret token")
	}
	// The token is the secret itself, so it is never reported as the
	// signature; the delivery headers are the duplicate key.
	return Result{Secret: v.tokenAt[i], DeliveryID: firstHeader(r.Header, gitlabDeliveryHeaders)}, nil
}

func (v *gitlab) verifySigned(r *Request, now time.Time) (Result, error) {
	raw := r.Header.Get(gitlabSignatureHeader)
	sigs, err := parseGitLabSignature(raw)
	if err != nil {
		return Result{}, err
	}
	id := r.Header.Get(gitlabIDHeader)
	if id == "" {
		return Result{}, refuse(ErrSignatureMalformed, "header "+gitlabIDHeader+", part of the content "+gitlabSignatureHeader+" signs, is missing")
	}
	ts, tsRaw, err := secondsHeader(r.Header, gitlabTimestampHeader)
	if err != nil {
		return Result{}, err
	}
	content := [][]byte{[]byte(id), {'.'}, []byte(tsRaw), {'.'}, r.Body}
	// matchSecret stops at the key that matched: mac is left holding its MAC.
	var mac []byte
	i, fp, ok := matchSecret(v.keys, func(key []byte) []byte { mac = macOf(sha256.New, key, content...); return mac }, sigs)
	if !ok {
		return Result{}, refuse(ErrBadSignature, gitlabSignatureHeader+" does not match webhook-id.webhook-timestamp.body under any configured signing token; check the token and that nothing rewrites the body before the edge")
	}
	if err := checkFreshness(ts, now, v.tolerance, gitlabTimestampHeader); err != nil {
		return Result{}, err
	}
	// The matching entry alone, re-encoded, is the signature: a replay
	// that reorders or drops entries must not look new.
	return Result{Secret: v.keyAt[i], DeliveryID: id, Signature: "v1," + base64.StdEncoding.EncodeToString(mac), Fingerprint: fp, Timestamp: ts}, nil
}

// parseGitLabSignature returns the v1 digests of a Standard Webhooks
// signature list ("v1,<base64> v1,<base64>"). Entries of other versions
// are skipped, as the specification says; a list with no usable v1 entry
// is malformed. Entries are separated by " " only, as the Standard
// Webhooks libraries split them (see parseStandardSignature).
func parseGitLabSignature(raw string) ([][]byte, error) {
	var sigs [][]byte
	for entry := range strings.SplitSeq(raw, " ") {
		enc, ok := strings.CutPrefix(entry, "v1,")
		if !ok {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(enc)
		if err == nil && len(sig) == sha256.Size {
			sigs = append(sigs, sig)
		}
	}
	if len(sigs) == 0 {
		return nil, refuse(ErrSignatureMalformed, gitlabSignatureHeader+" has no v1,<base64 HMAC-SHA256> entry")
	}
	return sigs, nil
}
