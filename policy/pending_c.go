package policy

import "errors"

// Placeholders replaced by the real verifiers; this file is deleted when they land.
func newTwilio(VerifierSpec) (Verifier, error)   { return nil, errors.New("not implemented") }
func newSquare(VerifierSpec) (Verifier, error)   { return nil, errors.New("not implemented") }
func newTeams(VerifierSpec) (Verifier, error)    { return nil, errors.New("not implemented") }
func newDiscord(VerifierSpec) (Verifier, error)  { return nil, errors.New("not implemented") }
func newSendGrid(VerifierSpec) (Verifier, error) { return nil, errors.New("not implemented") }
