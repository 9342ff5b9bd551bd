package policy

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Errors a config file can have before validation, in the user's words:
// DecodeFile explains yaml's Go-typed messages ("field methds not found in
// type policy.RouteConfig") with the field path and YAML key names.
var (
	ErrUnknownField   = errors.New("policy: unknown field")
	ErrDuplicateField = errors.New("policy: field set twice")
	ErrWrongValue     = errors.New("policy: value of the wrong kind")
)

// DecodeError is one of the errors above with the sentence for the user.
type DecodeError struct {
	Kind   error // ErrUnknownField, ErrDuplicateField or ErrWrongValue
	Detail string
}

func (e *DecodeError) Error() string { return e.Detail }
func (e *DecodeError) Unwrap() error { return e.Kind }

// fault is a problem found at a line of the document, under a field path.
type fault struct {
	line  int
	field string
	err   *DecodeError
}

// explainYAML walks the document against the Go type it failed to decode
// into, the way yaml decodes, and returns what is wrong, first in document
// order; nothing when it finds no problem (yaml's own message stays).
func explainYAML(root *yaml.Node, t reflect.Type) []fault {
	w := &walker{}
	w.walk(root, t, "", 0)
	return w.faults
}

type walker struct {
	faults []fault
	visits int
}

// maxDepth and maxVisits bound the walk: aliases may point back up the
// document, or fan out to more nodes than the file holds.
const (
	maxDepth  = 64
	maxVisits = 1 << 16
)

var (
	durationType      = reflect.TypeFor[time.Duration]()
	byteSizeType      = reflect.TypeFor[ByteSize]()
	unmarshalerType   = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (w *walker) add(n *yaml.Node, field string, kind error, format string, args ...any) {
	w.faults = append(w.faults, fault{line: n.Line, field: field, err: &DecodeError{Kind: kind, Detail: fmt.Sprintf(format, args...)}})
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string, depth int) {
	if n == nil || depth > maxDepth || w.visits >= maxVisits {
		return
	}
	w.visits++
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			w.walk(n.Content[0], t, path, depth+1)
		}
		return
	case yaml.AliasNode:
		w.walk(n.Alias, t, path, depth+1)
		return
	}
	if n.ShortTag() == "!!null" {
		return // yaml leaves the zero value
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalType) {
		w.custom(n, t, path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if w.want(n, yaml.MappingNode, path) {
			w.structFields(n, t, path, depth)
		}
	case reflect.Map:
		if !w.want(n, yaml.MappingNode, path) {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if isMergeKey(n.Content[i]) {
				w.walk(n.Content[i+1], t, path, depth+1)
				continue
			}
			w.walk(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), depth+1)
		}
	case reflect.Slice, reflect.Array:
		if !w.want(n, yaml.SequenceNode, path) {
			return
		}
		for i, c := range n.Content {
			w.walk(c, t.Elem(), path+"["+strconv.Itoa(i)+"]", depth+1)
		}
	case reflect.Interface:
		// anything goes
	default:
		if w.want(n, yaml.ScalarNode, path) {
			w.scalar(n, t, path)
		}
	}
}

// want checks that n is of the kind the field takes.
func (w *walker) want(n *yaml.Node, kind yaml.Kind, path string) bool {
	if n.Kind == kind {
		return true
	}
	switch kind {
	case yaml.MappingNode:
		if n.Kind == yaml.ScalarNode {
			w.add(n, path, ErrWrongValue, "%q is not a mapping (write key: value lines under it, indented)", n.Value)
		} else {
			w.add(n, path, ErrWrongValue, "is a list, want a mapping (key: value lines)")
		}
	case yaml.SequenceNode:
		if n.Kind == yaml.ScalarNode {
			w.add(n, path, ErrWrongValue, "%q is not a list (write [%s], or one \"- item\" line each)", n.Value, n.Value)
		} else {
			w.add(n, path, ErrWrongValue, "is a mapping, want a list ([a, b], or one \"- item\" line each)")
		}
	default:
		w.add(n, path, ErrWrongValue, "is %s, want a single value", kindName(n.Kind))
	}
	return false
}

func kindName(k yaml.Kind) string {
	if k == yaml.SequenceNode {
		return "a list"
	}
	return "a mapping"
}

// structFields checks each key of a mapping against the struct's YAML
// names, and each value against its field's type.
func (w *walker) structFields(n *yaml.Node, t reflect.Type, path string, depth int) {
	fields, inlineMap := yamlFields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMergeKey(k) {
			w.walk(v, t, path, depth+1)
			continue
		}
		ft, ok := fields[k.Value]
		switch {
		case !ok && inlineMap != nil:
			w.walk(v, inlineMap.Elem(), join(path, k.Value), depth+1)
		case !ok:
			w.add(k, path, ErrUnknownField, "unknown field %q%s", k.Value, suggest(k.Value, fields))
		case seen[k.Value] > 0:
			w.add(k, join(path, k.Value), ErrDuplicateField, "is set twice (first on line %d)", seen[k.Value])
		default:
			seen[k.Value] = k.Line
			w.walk(v, ft, join(path, k.Value), depth+1)
		}
	}
}

// yamlFields maps a struct's YAML names to their types as yaml does:
// the tag's name or the lowercased field name, ",inline" structs merged
// in, "-" and unexported fields left out; an inline map takes any key.
func yamlFields(t reflect.Type) (map[string]reflect.Type, reflect.Type) {
	fields := map[string]reflect.Type{}
	var inlineMap reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		if f.PkgPath != "" && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "" && !strings.Contains(string(f.Tag), ":") {
			tag = string(f.Tag)
		}
		if tag == "-" {
			continue
		}
		name, flags, _ := strings.Cut(tag, ",")
		if strings.Contains(","+flags+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch ft.Kind() {
			case reflect.Map:
				inlineMap = ft
			case reflect.Struct:
				inner, m := yamlFields(ft)
				for k, v := range inner {
					fields[k] = v
				}
				if m != nil {
					inlineMap = m
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields, inlineMap
}

// custom checks a value whose type decodes itself (ByteSize, a token).
func (w *walker) custom(n *yaml.Node, t reflect.Type, path string) {
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return
	}
	if t == byteSizeType {
		w.add(n, path, ErrWrongValue, "%q is not a size (e.g. 10MiB, 512KiB or 4096)", n.Value)
		return
	}
	w.add(n, path, ErrWrongValue, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
}

// scalar checks a single value against a bool, number, string or duration.
func (w *walker) scalar(n *yaml.Node, t reflect.Type, path string) {
	if n.Decode(reflect.New(t).Interface()) == nil {
		return
	}
	switch {
	case t == durationType:
		w.add(n, path, ErrWrongValue, "%q is not a duration (use Go's form: 168h, 90m, 30s)", n.Value)
	case t.Kind() == reflect.Bool:
		w.add(n, path, ErrWrongValue, "%q is not true or false", n.Value)
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uintptr:
		w.add(n, path, ErrWrongValue, "%q is not a whole number%s", n.Value, numberRange(t))
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		w.add(n, path, ErrWrongValue, "%q is not a number", n.Value)
	default:
		w.add(n, path, ErrWrongValue, "%q is not a %s", n.Value, t.Kind())
	}
}

// numberRange says which whole numbers an unsigned field holds.
func numberRange(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return " (0 or more)"
	}
	return ""
}

func isMergeKey(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" && (n.Tag == "" || n.Tag == "!" || n.ShortTag() == "!!merge")
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// suggest names the field the user most likely meant: a name one or two
// edits away (one for short names), or one that starts the same; nothing
// when no name is close.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", -1
	lower := strings.ToLower(key)
	for name := range fields {
		d := editDistance(lower, name)
		limit := 2
		if len(key) <= 4 {
			limit = 1
		}
		prefix := len(lower) >= 3 && len(name) >= 3 && (strings.HasPrefix(name, lower) || strings.HasPrefix(lower, name))
		if d > limit && !prefix {
			continue
		}
		if prefix && d > limit {
			d = limit + 1 // a prefix ranks after every near miss
		}
		if bestD < 0 || d < bestD || d == bestD && name < best {
			best, bestD = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
