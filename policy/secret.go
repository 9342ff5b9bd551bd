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

// ResolveSecrets returns a copy of c whose secret references are replaced
// by their values. An agent does this before declaring its policy to the
// edge: env: and file: name things on the agent's machine, not the edge's.
func (c Config) ResolveSecrets() (Config, error) {
	out := c
	out.Routes = make([]RouteConfig, len(c.Routes))
	for i, rc := range c.Routes {
		if rc.Verify != nil {
			v := *rc.Verify
			vals, err := resolveAll(v.Secrets, fmt.Sprintf("routes[%d].verify.secrets", i))
			if err != nil {
				return c, err
			}
			v.Secrets = vals
			rc.Verify = &v
		}
		if rc.Token != nil && !rc.Token.Generate {
			t := *rc.Token
			vals, err := resolveAll(t.Secrets, fmt.Sprintf("routes[%d].token.secrets", i))
			if err != nil {
				return c, err
			}
			t.Secrets = vals
			rc.Token = &t
		}
		out.Routes[i] = rc
	}
	return out, nil
}

func resolveAll(refs []string, field string) ([]string, error) {
	out := make([]string, len(refs))
	for j, ref := range refs {
		s, err := ResolveSecret(ref)
		if err != nil {
			return nil, fieldf(fmt.Sprintf("%s[%d]", field, j), "%v", err)
		}
		out[j] = string(s.Value)
	}
	return out, nil
}
