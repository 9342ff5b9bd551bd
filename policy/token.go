package policy

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"go.yaml.in/yaml/v3"
)

// TokenConfig is a route's URL token: a shared secret the sender puts in a
// query parameter or a header, for providers that cannot sign.
// `token: generate` lets the edge create and keep one per route.
type TokenConfig struct {
	Query    string   `yaml:"query,omitempty" json:"query,omitempty"`
	Header   string   `yaml:"header,omitempty" json:"header,omitempty"`
	Secrets  []string `yaml:"secrets,omitempty" json:"secrets,omitempty"`
	Generate bool     `yaml:"-" json:"generate,omitempty"`
}

func (t *TokenConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Value != "generate" {
			return fmt.Errorf("token must be `generate` or a mapping {query, header, secrets}")
		}
		*t = TokenConfig{Generate: true}
		return nil
	}
	type plain TokenConfig
	return n.Decode((*plain)(t))
}

// tokenCheck is a compiled TokenConfig.
type tokenCheck struct {
	query, header string
	secrets       []Secret
}

func compileToken(c *TokenConfig, generated func() (string, error)) (*tokenCheck, error) {
	t := &tokenCheck{query: c.Query, header: c.Header}
	if t.query == "" && t.header == "" {
		t.query = "token"
	}
	if c.Generate {
		if len(c.Secrets) > 0 {
			return nil, fieldf("secrets", "cannot be set with token: generate")
		}
		if generated == nil {
			return nil, errors.New("token: generate is only available in the edge config")
		}
		v, err := generated()
		if err != nil {
			return nil, err
		}
		t.secrets = []Secret{{Ref: "generated", Value: []byte(v)}}
		return t, nil
	}
	if len(c.Secrets) == 0 {
		return nil, fieldf("secrets", "lists no token (use env:NAME or file:PATH, or token: generate)")
	}
	for i, ref := range c.Secrets {
		s, err := ResolveSecret(ref)
		if err != nil {
			return nil, fieldf(fmt.Sprintf("secrets[%d]", i), "%v", err)
		}
		t.secrets = append(t.secrets, s)
	}
	return t, nil
}

// check finds the token in the request and compares it in constant time.
func (t *tokenCheck) check(header http.Header, query url.Values) error {
	var got string
	switch {
	case t.header != "" && header.Get(t.header) != "":
		got = header.Get(t.header)
	case t.query != "" && query.Get(t.query) != "":
		got = query.Get(t.query)
	default:
		return refuse(ErrTokenMissing, "the URL token is missing: "+t.where())
	}
	ok := 0
	for _, s := range t.secrets {
		ok |= subtle.ConstantTimeCompare([]byte(got), s.Value)
	}
	if ok != 1 {
		return refuse(ErrBadToken, "the URL token does not match: "+t.where())
	}
	return nil
}

func (t *tokenCheck) where() string {
	switch {
	case t.query != "" && t.header != "":
		return "send it as the " + t.query + " query parameter or the " + t.header + " header"
	case t.header != "":
		return "send it in the " + t.header + " header"
	}
	return "send it as the " + t.query + " query parameter"
}

// generatedValue is the token a sender must use, for printing the URL.
func (t *tokenCheck) generatedValue() string {
	if len(t.secrets) == 1 && t.secrets[0].Ref == "generated" {
		return string(t.secrets[0].Value)
	}
	return ""
}
