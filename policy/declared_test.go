package policy

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// declaredBase is a valid policy that reaches every part of the schema a
// secret could hide in: a verified route with a token, limits and
// redactions, and a forward secret; all of its secrets are literals.
func declaredBase() Config {
	return Config{
		ForwardSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		Routes: []RouteConfig{{
			Path:       "/a",
			Token:      &TokenConfig{Query: "t", Secrets: []string{"token-literal"}},
			Verify:     &VerifyConfig{Provider: "hmac", Secrets: []string{"verify-literal"}, Header: "X-Sig", Algorithm: "sha256", Encoding: "hex"},
			Rate:       &RateConfig{PerIP: "10/s"},
			QueueLimit: &QueueLimit{Messages: 10},
			Redact:     &RedactConfig{Headers: []string{"X-A"}, Query: []string{"a"}},
		}},
		Redact: &RedactConfig{Headers: []string{"X-B"}},
	}
}

func TestCompileDeclaredRefusesSecretReferences(t *testing.T) {
	t.Setenv("POLICY_TEST_DECLARED_SET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	existing := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(existing, []byte("s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	refs := []struct{ name, ref string }{
		{"env that is set", "env:POLICY_TEST_DECLARED_SET"},
		{"env that is not set", "env:POLICY_TEST_DECLARED_UNSET"},
		{"file that exists", "file:" + existing},
		{"file that does not exist", "file:" + existing + ".nope"},
	}
	fields := []struct {
		field string
		set   func(c *Config, ref string)
	}{
		{"forward_secret", func(c *Config, ref string) { c.ForwardSecret = ref }},
		{"routes[0].verify.secrets[1]", func(c *Config, ref string) { c.Routes[0].Verify.Secrets = []string{"ok", ref} }},
		{"routes[0].token.secrets[0]", func(c *Config, ref string) { c.Routes[0].Token.Secrets = []string{ref} }},
	}
	for _, fc := range fields {
		want := fc.field + ": " + secretReferenceDetail
		for _, rc := range refs {
			t.Run(fc.field+"/"+rc.name, func(t *testing.T) {
				c := declaredBase()
				fc.set(&c, rc.ref)
				_, err := c.CompileDeclared(Env{})
				if !errors.Is(err, ErrSecretReference) {
					t.Fatalf("CompileDeclared = %v, want ErrSecretReference", err)
				}
				// One sentence whatever the reference names: no oracle.
				if err.Error() != want {
					t.Errorf("refusal = %q, want %q", err, want)
				}
			})
		}
	}
	t.Run("literals compile", func(t *testing.T) {
		if _, err := declaredBase().CompileDeclared(Env{}); err != nil {
			t.Fatalf("a declared policy of literals was refused: %v", err)
		}
	})
	t.Run("mtls is the edge's", func(t *testing.T) {
		c := declaredBase()
		c.MTLS = &MTLSConfig{ClientCA: "file:/etc/ssl/ca.pem"}
		var fe *FieldError
		if _, err := c.CompileDeclared(Env{}); !errors.As(err, &fe) || fe.Field != "mtls" {
			t.Fatalf("CompileDeclared with mtls = %v", err)
		}
	})
}

// Every field that Compile resolves as a secret must be one SecretRefs
// lists, or an agent could slip a reference past CompileDeclared through
// it. The test sets each string field of the schema in turn to an unset
// env reference and sees which ones Compile tries to resolve.
func TestSecretRefsCoversEveryResolvedField(t *testing.T) {
	// A name no environment sets: the process's own id in it.
	probe := "POLICY_TEST_PROBE_UNSET_" + strconv.Itoa(os.Getpid())
	if _, ok := os.LookupEnv(probe); ok {
		t.Fatalf("%s is set", probe)
	}
	var resolved []string
	for _, path := range stringFields(reflect.TypeFor[Config](), nil, "") {
		c := declaredBase()
		setField(reflect.ValueOf(&c).Elem(), path.steps, "env:"+probe)
		_, err := c.Compile()
		if err == nil || !strings.Contains(err.Error(), "env "+probe+" is not set") {
			continue // not resolved as a secret
		}
		resolved = append(resolved, path.name)
		listed := false
		for _, s := range c.SecretRefs() {
			listed = listed || s.Ref == "env:"+probe
		}
		if !listed {
			t.Errorf("%s is resolved as a secret but SecretRefs does not list it", path.name)
		}
		if _, err := c.CompileDeclared(Env{}); !errors.Is(err, ErrSecretReference) {
			t.Errorf("%s: CompileDeclared = %v, want ErrSecretReference", path.name, err)
		}
	}
	// The walk must have found the secrets we know of, or it walks nothing.
	for _, want := range []string{"ForwardSecret", "Routes.Token.Secrets", "Routes.Verify.Secrets"} {
		found := false
		for _, r := range resolved {
			found = found || r == want
		}
		if !found {
			t.Errorf("the walk did not find %s (found %v)", want, resolved)
		}
	}
}

// fieldPath is a string or []string field: its name for messages and the
// struct field indexes leading to it.
type fieldPath struct {
	name  string
	steps []int
}

// stringFields lists the string and []string fields reachable from t
// through structs, pointers and slices of structs.
func stringFields(t reflect.Type, steps []int, name string) []fieldPath {
	var out []fieldPath
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		path := append(append([]int(nil), steps...), i)
		fname := strings.TrimPrefix(name+"."+f.Name, ".")
		ft := f.Type
		for ft.Kind() == reflect.Pointer || (ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct) {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.String, ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String:
			out = append(out, fieldPath{fname, path})
		case ft.Kind() == reflect.Struct && ft.PkgPath() == reflect.TypeFor[Config]().PkgPath():
			out = append(out, stringFields(ft, path, fname)...)
		}
	}
	return out
}

// setField follows steps from v, allocating nil pointers and empty slices
// of structs on the way, and sets the field it reaches to value.
func setField(v reflect.Value, steps []int, value string) {
	for _, i := range steps {
		v = v.Field(i)
		for {
			switch {
			case v.Kind() == reflect.Pointer:
				if v.IsNil() {
					v.Set(reflect.New(v.Type().Elem()))
				}
				v = v.Elem()
				continue
			case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct:
				if v.Len() == 0 {
					v.Set(reflect.MakeSlice(v.Type(), 1, 1))
				}
				v = v.Index(0)
				continue
			}
			break
		}
	}
	if v.Kind() == reflect.String {
		v.SetString(value)
		return
	}
	v.Set(reflect.ValueOf([]string{value}).Convert(v.Type()))
}

func TestResolveSecretsCoversForwardSecret(t *testing.T) {
	t.Setenv("POLICY_TEST_FORWARD", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	c := declaredBase()
	c.ForwardSecret = "env:POLICY_TEST_FORWARD"
	resolved, err := c.ResolveSecrets()
	if err != nil {
		t.Fatal(err)
	}
	if resolved.ForwardSecret != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" || c.ForwardSecret != "env:POLICY_TEST_FORWARD" {
		t.Errorf("forward_secret resolved to %q (original now %q)", resolved.ForwardSecret, c.ForwardSecret)
	}
	if _, err := resolved.CompileDeclared(Env{}); err != nil {
		t.Errorf("a resolved policy is refused as declared: %v", err)
	}
}

// FuzzCompileDeclared feeds the JSON an agent may send as its routes: a
// policy with any secret reference is refused as one, whatever else it
// holds, and none is ever compiled.
func FuzzCompileDeclared(f *testing.F) {
	for _, s := range []string{
		`{"routes":[{"path":"/a"}]}`,
		`{"forward_secret":"env:HOME","routes":[{"path":"/a"}]}`,
		`{"routes":[{"path":"/a","verify":{"provider":"github","secrets":["lit","file:/etc/hostname"]}}]}`,
		`{"routes":[{"path":"/a","token":{"query":"t","secrets":["env:PATH"]}},{"path":"/b"}]}`,
		`{"routes":[{"path":"/a","token":{"generate":true}}]}`,
		`{"routes":[{"path":"bad","verify":{"provider":"nope","secrets":["env:X"]}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Config
		if json.Unmarshal(data, &c) != nil {
			return
		}
		references := false
		for _, s := range c.SecretRefs() {
			references = references || !IsLiteral(s.Ref)
		}
		_, err := c.CompileDeclared(Env{})
		if references && !errors.Is(err, ErrSecretReference) {
			t.Fatalf("a policy with a secret reference: %v, want ErrSecretReference", err)
		}
		if errors.Is(err, ErrSecretReference) && !strings.HasSuffix(err.Error(), ": "+secretReferenceDetail) {
			t.Fatalf("refusal %q is not the one sentence", err)
		}
	})
}
