package policy

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"time"
)

// macScheme is a signature scheme in which one header carries an HMAC of
// content built from the request: the raw body for most providers, or a
// template of body, timestamp, method, URL and headers. GitHub, Bitbucket,
// Atlassian, Shopify, Intercom, Typeform and the generic "hmac" provider
// are all instances; building one is the compiling of their config.
type macScheme struct {
	header   string // the signature header
	hash     func() hash.Hash
	hashName string // "HMAC-SHA256", for refusals
	size     int    // digest length in bytes
	encoding macEncoding
	prefix   string // required before the encoded digest when set

	content   []contentPart // signed content; nil means the raw body
	tsHeader  string        // Unix seconds, checked against tolerance; "" for none
	tolerance time.Duration
	idHeaders []string // delivery id: the first one present
	bodyID    string   // or this top-level string field of a JSON body

	secrets []Secret
}

var _ Verifier = (*macScheme)(nil)

// hubSignatureHeader is WebSub's signature header, "method=hex digest",
// which Bitbucket, Atlassian and Intercom sign with, and GitHub with SHA-1.
const hubSignatureHeader = "X-Hub-Signature"

type macEncoding int

const (
	macHex macEncoding = iota
	macBase64
)

func (e macEncoding) String() string {
	if e == macBase64 {
		return "base64"
	}
	return "hex"
}

// newMACScheme fills in the digest facts of hashName ("sha256"...), which
// callers have already checked.
func newMACScheme(header, hashName string, enc macEncoding, prefix string, secrets []Secret) *macScheme {
	h, _ := hashNamed(hashName)
	return &macScheme{
		header:   header,
		hash:     h,
		hashName: "HMAC-" + strings.ToUpper(hashName),
		size:     h().Size(),
		encoding: enc,
		prefix:   prefix,
		secrets:  secrets,
	}
}

func (s *macScheme) Verify(r *Request, now time.Time) (Result, error) {
	raw, err := requireHeader(r.Header, s.header)
	if err != nil {
		return Result{}, err
	}
	sig, err := s.parse(raw)
	if err != nil {
		return Result{}, err
	}
	var ts time.Time
	var tsRaw string
	if s.tsHeader != "" {
		if ts, tsRaw, err = secondsHeader(r.Header, s.tsHeader); err != nil {
			return Result{}, err
		}
	}
	content, err := s.signedContent(r, tsRaw)
	if err != nil {
		return Result{}, err
	}
	i, fp, ok := matchSecret(s.secrets, func(key []byte) []byte { return macOf(s.hash, key, content...) }, [][]byte{sig})
	if !ok {
		return Result{}, refuse(ErrBadSignature, "signature in "+s.header+" does not match the "+s.hashName+" of the signed content under any configured secret; check the secret and that nothing rewrites the body before the edge")
	}
	if s.tsHeader != "" {
		if err := checkFreshness(ts, now, s.tolerance, s.tsHeader); err != nil {
			return Result{}, err
		}
	}
	res := Result{Secret: i, DeliveryID: firstHeader(r.Header, s.idHeaders), Signature: s.canonical(sig), Fingerprint: fp, Timestamp: ts}
	if res.DeliveryID == "" && s.bodyID != "" {
		res.DeliveryID = bodyStringAt(r.Body, s.bodyID)
	}
	return res, nil
}

// parse strips the prefix and decodes the digest, refusing anything that
// cannot be a digest of this scheme before any MAC is computed.
func (s *macScheme) parse(raw string) ([]byte, error) {
	v, ok := strings.CutPrefix(raw, s.prefix)
	if !ok {
		return nil, refuse(ErrSignatureMalformed, fmt.Sprintf("signature in %s must start with %q", s.header, s.prefix))
	}
	var sig []byte
	var err error
	if s.encoding == macBase64 {
		sig, err = base64.StdEncoding.DecodeString(v)
	} else {
		sig, err = hex.DecodeString(v)
	}
	if err != nil {
		return nil, refuse(ErrSignatureMalformed, fmt.Sprintf("signature in %s is not %s", s.header, s.encoding))
	}
	if len(sig) != s.size {
		return nil, refuse(ErrSignatureMalformed, fmt.Sprintf("signature in %s is %d bytes, but an %s is %d; it was truncated or made with another algorithm", s.header, len(sig), s.hashName, s.size))
	}
	return sig, nil
}

// canonical re-encodes a parsed signature. The duplicate key must not
// change when a replay spells the same digest in upper-case hex or with
// other base64 padding bits; for what providers send it is the header
// value unchanged.
func (s *macScheme) canonical(sig []byte) string {
	if s.encoding == macBase64 {
		return s.prefix + base64.StdEncoding.EncodeToString(sig)
	}
	return s.prefix + hex.EncodeToString(sig)
}

// signedContent returns the parts the sender signed, in order.
func (s *macScheme) signedContent(r *Request, ts string) ([][]byte, error) {
	if s.content == nil {
		return [][]byte{r.Body}, nil
	}
	parts := make([][]byte, 0, len(s.content))
	for _, p := range s.content {
		switch p.kind {
		case partLiteral:
			parts = append(parts, []byte(p.text))
		case partBody:
			parts = append(parts, r.Body)
		case partTimestamp:
			parts = append(parts, []byte(ts))
		case partMethod:
			parts = append(parts, []byte(r.Method))
		case partURL:
			if r.URL == nil {
				return nil, refuse(ErrBadSignature, "the request URL is unknown, so "+s.header+" cannot be checked")
			}
			parts = append(parts, []byte(r.URL.String()))
		case partHeader:
			v := r.Header.Get(p.text)
			if v == "" {
				return nil, refuse(ErrSignatureMalformed, "header "+p.text+", part of the content "+s.header+" signs, is missing")
			}
			parts = append(parts, []byte(v))
		}
	}
	return parts, nil
}

// firstHeader returns the value of the first of names that is present.
func firstHeader(h http.Header, names []string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// requireSecrets refuses a spec without secrets; NewVerifier checks this
// too, but a constructor must not build a verifier that allows everything.
func requireSecrets(s VerifierSpec) error {
	if len(s.Secrets) == 0 {
		return fieldf("verify.secrets", "at least one secret is required")
	}
	return nil
}
