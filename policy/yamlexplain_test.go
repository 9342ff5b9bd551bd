package policy

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// A file holding every kind of field, as the edge config nests them.
type explainFile struct {
	Retention time.Duration     `yaml:"retention"`
	MaxBody   ByteSize          `yaml:"max_body"`
	Workers   int               `yaml:"workers"`
	Port      uint16            `yaml:"port"`
	Verbose   bool              `yaml:"verbose"`
	Ratio     float64           `yaml:"ratio"`
	Hosts     []string          `yaml:"hosts"`
	Tunnels   map[string]Config `yaml:"tunnels"`
	Inline    explainInline     `yaml:",inline"`
	Skipped   string            `yaml:"-"`
}

type explainInline struct {
	Domain string `yaml:"domain"`
}

func TestDecodeFileSaysWhatIsWrongInTheFilesWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		line       int
		field      string
		msg        string
		kind       error
	}{
		{"misspelt route field", "tunnels:\n  demo:\n    routes:\n      - path: /hook\n        methds: [POST]\n",
			5, "tunnels.demo.routes[0]", `unknown field "methds" (did you mean "methods"?)`, ErrUnknownField},
		{"misspelt top-level field", "domian: hooks.test\n",
			1, "", `unknown field "domian" (did you mean "domain"?)`, ErrUnknownField},
		{"a prefix of a field", "tunnels:\n  demo:\n    routes:\n      - path: /a\n        verify:\n          provider: github\n          secret: [env:S]\n",
			7, "tunnels.demo.routes[0].verify", `unknown field "secret" (did you mean "secrets"?)`, ErrUnknownField},
		{"longer than a field", "tunnels:\n  demo:\n    routes_list: []\n",
			3, "tunnels.demo", `unknown field "routes_list" (did you mean "routes"?)`, ErrUnknownField},
		{"nothing close", "tunnels:\n  demo:\n    colour: blue\n",
			3, "tunnels.demo", `unknown field "colour"`, ErrUnknownField},
		{"a yaml:\"-\" field is not a field", "skipped: x\n",
			1, "", `unknown field "skipped"`, ErrUnknownField},
		{"capitalised", "Retention: 1h\n",
			1, "", `unknown field "Retention" (did you mean "retention"?)`, ErrUnknownField},
		{"set twice", "workers: 1\nworkers: 2\n",
			2, "workers", "is set twice (first on line 1)", ErrDuplicateField},
		{"duration in words", "domain: h.test\nretention: 7 days\n",
			2, "retention", `"7 days" is not a duration (use Go's form: 168h, 90m, 30s)`, ErrWrongValue},
		{"duration without a unit", "retention: 7\n",
			1, "retention", `"7" is not a duration (use Go's form: 168h, 90m, 30s)`, ErrWrongValue},
		{"route tolerance", "tunnels:\n  demo:\n    routes:\n      - path: /a\n        tolerance: five minutes\n",
			5, "tunnels.demo.routes[0].tolerance", `"five minutes" is not a duration (use Go's form: 168h, 90m, 30s)`, ErrWrongValue},
		{"size", "max_body: 10 megs\n",
			1, "max_body", `"10 megs" is not a size (e.g. 10MiB, 512KiB or 4096)`, ErrWrongValue},
		{"nested size", "tunnels:\n  demo:\n    routes:\n      - path: /a\n        queue_limit: {bytes: lots}\n",
			5, "tunnels.demo.routes[0].queue_limit.bytes", `"lots" is not a size (e.g. 10MiB, 512KiB or 4096)`, ErrWrongValue},
		{"int", "workers: four\n",
			1, "workers", `"four" is not a whole number`, ErrWrongValue},
		{"unsigned", "port: -1\n",
			1, "port", `"-1" is not a whole number (0 or more)`, ErrWrongValue},
		{"bool", "verbose: sometimes\n",
			1, "verbose", `"sometimes" is not true or false`, ErrWrongValue},
		{"float", "ratio: half\n",
			1, "ratio", `"half" is not a number`, ErrWrongValue},
		{"one value for a list", "tunnels:\n  demo:\n    routes:\n      - path: /a\n        methods: POST\n",
			5, "tunnels.demo.routes[0].methods", `"POST" is not a list (write [POST], or one "- item" line each)`, ErrWrongValue},
		{"a mapping for a list", "hosts: {a: b}\n",
			1, "hosts", `is a mapping, want a list ([a, b], or one "- item" line each)`, ErrWrongValue},
		{"a list for a mapping", "tunnels: [demo]\n",
			1, "tunnels", "is a list, want a mapping (key: value lines)", ErrWrongValue},
		{"a value for a mapping", "tunnels:\n  demo: yes\n",
			2, "tunnels.demo", `"yes" is not a mapping (write key: value lines under it, indented)`, ErrWrongValue},
		{"a list for a value", "domain: [a, b]\n",
			1, "domain", "is a list, want a single value", ErrWrongValue},
		{"a type's own message", "tunnels:\n  demo:\n    routes:\n      - path: /a\n        token: please\n",
			5, "tunnels.demo.routes[0].token", "token must be `generate` or a mapping {query, header, secrets}", ErrWrongValue},
		{"through an alias", "base: &b 7 days\nretention: *b\n",
			1, "", `unknown field "base"`, ErrUnknownField},
		{"the line yaml names wins", "workers: x\nretention: 7 days\n",
			1, "workers", `"x" is not a whole number`, ErrWrongValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out explainFile
			err := DecodeFile("edge.yaml", []byte(tc.yaml), &out, nil)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v, want a ConfigError", err)
			}
			if ce.Line != tc.line || ce.Field != tc.field || ce.Err.Error() != tc.msg || !errors.Is(err, tc.kind) {
				t.Errorf("got line %d field %q: %q (%v)\nwant line %d field %q: %q (%v)", ce.Line, ce.Field, ce.Err, errors.Unwrap(ce.Err), tc.line, tc.field, tc.msg, tc.kind)
			}
		})
	}
}

func TestDecodeFileErrorLine(t *testing.T) {
	t.Parallel()
	yaml := "# demo\ndomain: hooks.test\ntunnels:\n  demo:\n    routes:\n      - path: /hook\n        methds: [POST]\n"
	var out explainFile
	err := DecodeFile("edge.yaml", []byte(yaml), &out, nil)
	want := `edge.yaml:7: tunnels.demo.routes[0]: unknown field "methds" (did you mean "methods"?)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
}

func TestDecodeFileKeepsWhatItCannotExplain(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, yaml, want string }{
		{"syntax", "domain: [a\n", "edge.yaml:1: did not find expected ',' or ']'"},
		{"tab indent", "tunnels:\n\tdemo: {}\n", "edge.yaml:2: found character that cannot start any token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out explainFile
			err := DecodeFile("edge.yaml", []byte(tc.yaml), &out, nil)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	fields := map[string]reflect.Type{"methods": nil, "path": nil, "allow_ips": nil, "max_body": nil, "mode": nil, "tls": nil}
	tests := []struct{ key, want string }{
		{"methds", "methods"},
		{"method", "methods"},
		{"allowips", "allow_ips"},
		{"allow_ip", "allow_ips"},
		{"maxbody", "max_body"},
		{"pth", "path"},
		{"mod", "mode"},
		{"ttl", ""},
		{"x", ""},
		{"colour", ""},
		{"max_body_size", "max_body"},
	}
	for _, tc := range tests {
		want := ""
		if tc.want != "" {
			want = ` (did you mean "` + tc.want + `"?)`
		}
		if got := suggest(tc.key, fields); got != want {
			t.Errorf("suggest(%q) = %q, want %q", tc.key, got, want)
		}
	}
}

// FuzzDecodeFile: any file decodes or fails with a ConfigError, and an
// explained error points at a line.
func FuzzDecodeFile(f *testing.F) {
	f.Add("tunnels:\n  demo:\n    routes:\n      - path: /hook\n        methds: [POST]\n")
	f.Add("retention: 7 days\nmax_body: 10 megs\nhosts: a\n")
	f.Add("a: &a [*a]\nretention: *a\n")
	f.Add("<<: {workers: 2}\ntunnels: {d: {<<: {routes: []}, routes: x}}\n")
	f.Fuzz(func(t *testing.T, yaml string) {
		var out explainFile
		err := DecodeFile("f.yaml", []byte(yaml), &out, nil)
		if err == nil {
			return
		}
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Fatalf("error %v is not a ConfigError", err)
		}
		var de *DecodeError
		if errors.As(err, &de) && ce.Line <= 0 {
			t.Errorf("%v: no line", err)
		}
	})
}
