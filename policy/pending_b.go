package policy

import "errors"

// Placeholders replaced by the real verifiers; this file is deleted when they land.
func newStripe(VerifierSpec) (Verifier, error)           { return nil, errors.New("not implemented") }
func newStandardWebhooks(VerifierSpec) (Verifier, error) { return nil, errors.New("not implemented") }
func newSlack(VerifierSpec) (Verifier, error)            { return nil, errors.New("not implemented") }
func newPaddle(VerifierSpec) (Verifier, error)           { return nil, errors.New("not implemented") }
func newHubSpot(VerifierSpec) (Verifier, error)          { return nil, errors.New("not implemented") }
func newZoom(VerifierSpec) (Verifier, error)             { return nil, errors.New("not implemented") }
func newTwitch(VerifierSpec) (Verifier, error)           { return nil, errors.New("not implemented") }
func newPagerDuty(VerifierSpec) (Verifier, error)        { return nil, errors.New("not implemented") }
