package policy

import "errors"

// Placeholders replaced by the real verifiers; this file is deleted when they land.
func newGitHub(VerifierSpec) (Verifier, error)          { return nil, errors.New("not implemented") }
func newGitLab(VerifierSpec) (Verifier, error)          { return nil, errors.New("not implemented") }
func newBitbucket(VerifierSpec) (Verifier, error)       { return nil, errors.New("not implemented") }
func newBitbucketServer(VerifierSpec) (Verifier, error) { return nil, errors.New("not implemented") }
func newShopify(VerifierSpec) (Verifier, error)         { return nil, errors.New("not implemented") }
func newLinear(VerifierSpec) (Verifier, error)          { return nil, errors.New("not implemented") }
func newIntercom(VerifierSpec) (Verifier, error)        { return nil, errors.New("not implemented") }
func newAtlassian(VerifierSpec) (Verifier, error)       { return nil, errors.New("not implemented") }
func newTypeform(VerifierSpec) (Verifier, error)        { return nil, errors.New("not implemented") }
func newGenericHMAC(VerifierSpec) (Verifier, error)     { return nil, errors.New("not implemented") }
