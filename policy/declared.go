package policy

import "errors"

// ErrSecretReference is a secret reference (env:, file:) in a policy an
// agent declared. Such a reference would name the edge's environment and
// files, not the agent's: honouring it lets one tenant's agent borrow
// another's secret (the edge would sign or verify with it) and learn which
// variables and files exist on the edge.
var ErrSecretReference = errors.New("policy: secret reference in a declared policy")

// secretReferenceDetail is the whole refusal: the same sentence whatever
// the reference names, so it tells nothing of the edge.
const secretReferenceDetail = "secret references (env:, file:) are not accepted from an agent; the agent resolves them itself"

// CompileDeclared compiles a policy an agent declared in its Hello. Every
// secret in it must be a value the agent sent: a reference is refused, by
// its field alone and before anything is resolved, so no variable or file
// of the edge is read. mTLS is the edge config's alone.
func (c Config) CompileDeclared(env Env) (*Policy, error) {
	if c.MTLS != nil {
		return nil, fieldf("mtls", "is set only in the edge config")
	}
	for _, s := range c.SecretRefs() {
		if !IsLiteral(s.Ref) {
			return nil, &FieldError{Field: s.Field, Err: refuse(ErrSecretReference, secretReferenceDetail)}
		}
	}
	return c.CompileEnv(env)
}
