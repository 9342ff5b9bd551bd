package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ConfigError points at the place in a config file that is wrong.
type ConfigError struct {
	File  string
	Line  int // 0 when unknown
	Field string
	Err   error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// DecodeFile parses YAML data from file into out, strictly (unknown fields
// are errors), then runs validate; every error comes back as a
// *ConfigError with the file, the line and, for validation errors that are
// FieldErrors, the field.
func DecodeFile(file string, data []byte, out any, validate func() error) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var root yaml.Node
	if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) { // an empty file configures nothing
		if yaml.Unmarshal(data, &root) != nil {
			return yamlError(file, err)
		}
		return explainedError(file, err, &root, reflect.TypeOf(out))
	}
	if err := yaml.Unmarshal(data, &root); err != nil {
		return yamlError(file, err)
	}
	if validate == nil {
		return nil
	}
	if err := validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return &ConfigError{File: file, Line: lineOf(&root, fe.Field), Field: fe.Field, Err: fe.Err}
		}
		return &ConfigError{File: file, Err: err}
	}
	return nil
}

// LocateWarnings places warnings about the fields of a config file (as
// Policy.Warnings gives them) at their lines in its YAML data: each comes
// back as a *ConfigError with the file, the line (0 when the data does not
// hold the field) and the field.
func LocateWarnings(file string, data []byte, warnings []*FieldError) []*ConfigError {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		root = yaml.Node{}
	}
	out := make([]*ConfigError, 0, len(warnings))
	for _, w := range warnings {
		out = append(out, &ConfigError{File: file, Line: lineOf(&root, w.Field), Field: w.Field, Err: w.Err})
	}
	return out
}

// explainedError says what yaml's err is about in the file's own words
// (field paths, YAML names, the accepted forms), or passes it on as it is
// when the walk finds nothing at the line yaml names.
func explainedError(file string, err error, root *yaml.Node, t reflect.Type) error {
	faults := explainYAML(root, t)
	if len(faults) == 0 {
		return yamlError(file, err)
	}
	f := faults[0]
	var ce *ConfigError
	if errors.As(yamlError(file, err), &ce) && ce.Line > 0 {
		found := false
		for _, g := range faults {
			if g.line == ce.Line {
				f, found = g, true
				break
			}
		}
		if !found {
			return ce
		}
	}
	return &ConfigError{File: file, Line: f.line, Field: f.field, Err: f.err}
}

var yamlLine = regexp.MustCompile(`^\s*line (\d+): (.*)$`)

// yamlError turns yaml's "line N: msg" errors into file:line: msg.
func yamlError(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		if m := yamlLine.FindStringSubmatch(te.Errors[0]); m != nil {
			n, _ := strconv.Atoi(m[1])
			return &ConfigError{File: file, Line: n, Err: errors.New(m[2])}
		}
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &ConfigError{File: file, Line: n, Err: errors.New(m[2])}
	}
	return &ConfigError{File: file, Err: errors.New(msg)}
}

var fieldStep = regexp.MustCompile(`([^.\[\]]+)|\[(\d+)\]`)

// lineOf finds the line of a field path ("tunnels.gh.routes[2].path") in a
// YAML document; the deepest node found wins, so a missing field points
// at its parent.
func lineOf(root *yaml.Node, field string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, m := range fieldStep.FindAllStringSubmatch(field, -1) {
		var next *yaml.Node
		switch {
		case m[1] != "" && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == m[1] {
					line = n.Content[i].Line
					next = n.Content[i+1]
					break
				}
			}
		case m[2] != "" && n.Kind == yaml.SequenceNode:
			if i, _ := strconv.Atoi(m[2]); i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}
