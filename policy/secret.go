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
