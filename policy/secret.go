package policy

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Secret is one resolved secret. Ref is how the config named it
// ("env:GH_SECRET_NEW"), safe to log and to report as the one that matched;
// Value never leaves this package's verifiers.
type Secret struct {
	Ref   string
	Value []byte
}

// ErrEmptySecret is returned for a secret reference that resolves to nothing.
var ErrEmptySecret = errors.New("policy: secret is empty")

// ResolveSecret turns a reference into a Secret: "env:NAME" reads the
// environment, "file:PATH" reads a file (one trailing newline trimmed), and
// anything else is a literal. An empty result is an error, never "allow".
func ResolveSecret(ref string) (Secret, error) {
	var value string
	switch {
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		v, ok := os.LookupEnv(name)
		if !ok {
			return Secret{}, fmt.Errorf("env %s is not set", name)
		}
		value = v
	case strings.HasPrefix(ref, "file:"):
		path := strings.TrimPrefix(ref, "file:")
		b, err := os.ReadFile(path)
		if err != nil {
			return Secret{}, fmt.Errorf("file %s: %w", path, errors.Unwrap(err))
		}
		value = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	default:
		value = ref
		ref = "literal"
	}
	if value == "" {
		return Secret{}, fmt.Errorf("%w: %s", ErrEmptySecret, ref)
	}
	return Secret{Ref: ref, Value: []byte(value)}, nil
}

// IsLiteral reports whether ref is an inline secret rather than a reference.
func IsLiteral(ref string) bool {
	return !strings.HasPrefix(ref, "env:") && !strings.HasPrefix(ref, "file:")
}

// SecretRef is one field of a Config that holds a secret, with the value
// as written there: env:NAME, file:PATH or the secret itself.
type SecretRef struct {
	Field string // "routes[0].verify.secrets[1]", "forward_secret"
	Ref   string
}

// SecretRefs lists every field of c that holds a secret, in config order.
func (c Config) SecretRefs() []SecretRef {
	var refs []SecretRef
	_, _ = c.mapSecrets(func(field, ref string) (string, error) {
		refs = append(refs, SecretRef{Field: field, Ref: ref})
		return ref, nil
	})
	return refs
}

// ResolveSecrets returns a copy of c whose secret references are replaced
// by their values. An agent does this before declaring its policy to the
// edge: env: and file: name things on the agent's machine, not the edge's
// (which refuses them, see CompileDeclared).
func (c Config) ResolveSecrets() (Config, error) {
	return c.mapSecrets(func(field, ref string) (string, error) {
		s, err := ResolveSecret(ref)
		if err != nil {
			return "", fieldf(field, "%v", err)
		}
		return string(s.Value), nil
	})
}

// mapSecrets returns a copy of c (c's slices are not written) with every
// secret replaced by what f returns for it; the first error stops it. It is
// the one list of the fields that hold secrets: a new one is added here,
// and SecretRefs, ResolveSecrets and CompileDeclared all follow.
func (c Config) mapSecrets(f func(field, ref string) (string, error)) (Config, error) {
	out := c
	if c.ForwardSecret != "" {
		v, err := f("forward_secret", c.ForwardSecret)
		if err != nil {
			return c, err
		}
		out.ForwardSecret = v
	}
	out.Routes = make([]RouteConfig, len(c.Routes))
	for i, rc := range c.Routes {
		if rc.Verify != nil {
			v := *rc.Verify
			vals, err := mapAll(v.Secrets, fmt.Sprintf("routes[%d].verify.secrets", i), f)
			if err != nil {
				return c, err
			}
			v.Secrets = vals
			rc.Verify = &v
		}
		if rc.Token != nil {
			t := *rc.Token
			vals, err := mapAll(t.Secrets, fmt.Sprintf("routes[%d].token.secrets", i), f)
			if err != nil {
				return c, err
			}
			t.Secrets = vals
			rc.Token = &t
		}
		out.Routes[i] = rc
	}
	if c.Routes == nil {
		out.Routes = nil
	}
	return out, nil
}

func mapAll(refs []string, field string, f func(field, ref string) (string, error)) ([]string, error) {
	if refs == nil {
		return nil, nil
	}
	out := make([]string, len(refs))
	for j, ref := range refs {
		v, err := f(fmt.Sprintf("%s[%d]", field, j), ref)
		if err != nil {
			return nil, err
		}
		out[j] = v
	}
	return out, nil
}
