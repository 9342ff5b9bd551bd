package policy

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

const teamsHeader = "Authorization"

// teams verifies a Microsoft Teams outgoing webhook: "Authorization: HMAC
// <base64>", HMAC-SHA256 of the body keyed with the base64-decoded security
// token Teams shows when the webhook is created.
type teams struct {
	secrets []Secret // values base64-decoded, in config order
}

var _ Verifier = (*teams)(nil)

func newTeams(s VerifierSpec) (Verifier, error) {
	if len(s.Secrets) == 0 {
		return nil, errors.New("teams: needs at least one security token")
	}
	t := &teams{secrets: make([]Secret, len(s.Secrets))}
	for i, sec := range s.Secrets {
		key, err := base64.StdEncoding.DecodeString(string(sec.Value))
		if err != nil {
			key, err = base64.RawStdEncoding.DecodeString(string(sec.Value))
		}
		if err != nil || len(key) == 0 {
			return nil, fmt.Errorf("teams: secrets[%d] (%s) is not base64; use the security token exactly as Teams shows it", i, sec.Ref)
		}
		t.secrets[i] = Secret{Ref: sec.Ref, Value: key}
	}
	return t, nil
}

func (v *teams) Verify(r *Request, _ time.Time) (Result, error) {
	header, err := requireHeader(r.Header, teamsHeader)
	if err != nil {
		return Result{}, err
	}
	sig, err := parseTeamsAuthorization(header)
	if err != nil {
		return Result{}, err
	}
	index, fp, ok := matchSecret(v.secrets, func(key []byte) []byte {
		return macOf(sha256.New, key, r.Body)
	}, [][]byte{sig})
	if !ok {
		return Result{}, refuse(ErrBadSignature, "the HMAC in "+teamsHeader+" does not match the body signed with any configured security token")
	}
	return Result{Secret: index, Signature: header, Fingerprint: fp}, nil
}

// parseTeamsAuthorization reads "HMAC <base64 of 32 bytes>". The scheme is
// matched without case, as HTTP auth schemes are.
func parseTeamsAuthorization(header string) ([]byte, error) {
	scheme, value, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "HMAC") {
		return nil, refuse(ErrSignatureMalformed, teamsHeader+" must be \"HMAC <base64 signature>\"")
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(value)
	if err != nil || len(sig) != sha256.Size {
		return nil, refuse(ErrSignatureMalformed, "the signature in "+teamsHeader+" must be the base64 of a 32-byte HMAC-SHA256")
	}
	return sig, nil
}
