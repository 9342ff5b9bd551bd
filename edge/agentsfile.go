package edge

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrNoSuchAgent is a revocation of a name the config file's agents: do
// not hold.
var ErrNoSuchAgent = errors.New("edge: no agent of that name in the config")

// ConfigAgents reads the agents: of an edge config file, and nothing else:
// listing them needs neither the secrets the rest refers to nor a valid
// rest.
func ConfigAgents(data []byte) ([]AgentConfig, error) {
	var file struct {
		Agents []AgentConfig `yaml:"agents"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("edge: reading agents: %w", err)
	}
	return file.Agents, nil
}

// RemoveAgent returns the config file without the agents: entry named
// name. Everything else stays as it was written — comments, blank lines,
// alignment — when the entry is a block of lines; otherwise the document
// is written again from its parsed form, comments kept. Either way the
// result is checked to hold exactly the same values but that entry.
func RemoveAgent(data []byte, name string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("edge: reading the config: %w", err)
	}
	key, seq, index := findAgent(&doc, name)
	if index < 0 {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchAgent, name)
	}
	var want any
	if err := doc.Decode(&want); err != nil {
		return nil, fmt.Errorf("edge: reading the config: %w", err)
	}
	top, ok := want.(map[string]any)
	agents, ok2 := top["agents"].([]any)
	if !ok || !ok2 || index >= len(agents) {
		return nil, errors.New("edge: the config's agents: are not a list of entries: edit the file by hand")
	}
	top["agents"] = append(agents[:index:index], agents[index+1:]...)

	if out, ok := spliceOut(data, key, seq, index); ok && sameValues(out, want) {
		return out, nil
	}
	seq.Content = append(seq.Content[:index:index], seq.Content[index+1:]...)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("edge: writing the config: %w", err)
	}
	if !sameValues(b.Bytes(), want) {
		return nil, errors.New("edge: removing the agent would change more of the config than its entry: edit the file by hand")
	}
	return b.Bytes(), nil
}

// findAgent finds the agents: key, its list and the index of the entry
// named name (-1 when there is none).
func findAgent(doc *yaml.Node, name string) (key, seq *yaml.Node, index int) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, -1
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "agents" || root.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		key, seq = root.Content[i], root.Content[i+1]
		for j, item := range seq.Content {
			if item.Kind != yaml.MappingNode {
				continue
			}
			for k := 0; k+1 < len(item.Content); k += 2 {
				if item.Content[k].Value == "name" && item.Content[k+1].Value == name {
					return key, seq, j
				}
			}
		}
	}
	return nil, nil, -1
}

// spliceOut cuts the entry's lines out of the text: from its "- " line
// (and the comments just above it, at its indentation or deeper) to the
// last line indented deeper than its dash. It reports false when the
// entry is not written that way (a flow list, a dash on a line of its own).
func spliceOut(data []byte, key, seq *yaml.Node, index int) ([]byte, bool) {
	if seq.Style&yaml.FlowStyle != 0 {
		return nil, false
	}
	lines := strings.SplitAfter(string(data), "\n")
	item := seq.Content[index]
	first := item.Line - 1
	if first < 0 || first >= len(lines) || item.Column < 2 || item.Column-1 > len(lines[first]) {
		return nil, false
	}
	prefix := lines[first][:item.Column-1]
	if strings.TrimSpace(prefix) != "-" {
		return nil, false
	}
	dash := strings.Index(prefix, "-")
	start := first
	for start-1 > key.Line-1 && isComment(lines[start-1]) && indent(lines[start-1]) >= dash {
		start--
	}
	end := first + 1
	for end < len(lines) && continues(lines, end, dash) {
		end++
	}
	for end > first+1 && strings.TrimSpace(lines[end-1]) == "" {
		end--
	}
	if len(seq.Content) == 1 {
		// The last entry gone: "agents: []", not an empty key.
		kl, col := key.Line-1, key.Column-1+len(key.Value)
		if kl >= start || col >= len(lines[kl]) || lines[kl][col] != ':' {
			return nil, false
		}
		lines[kl] = lines[kl][:col+1] + " []" + lines[kl][col+1:]
	}
	out := strings.Join(lines[:start], "") + strings.Join(lines[end:], "")
	return []byte(out), true
}

// continues reports whether line i still belongs to an entry whose dash
// is at column dash: blank, indented deeper, or a comment followed by a
// line indented deeper.
func continues(lines []string, i, dash int) bool {
	l := lines[i]
	if strings.TrimSpace(l) == "" || indent(l) > dash {
		return true
	}
	if !isComment(l) {
		return false
	}
	for _, next := range lines[i+1:] {
		if strings.TrimSpace(next) == "" || isComment(next) {
			continue
		}
		return indent(next) > dash
	}
	return false
}

func isComment(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "#") }

func indent(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

// sameValues reports whether text parses to the values want.
func sameValues(text []byte, want any) bool {
	var got any
	if yaml.Unmarshal(text, &got) != nil {
		return false
	}
	return reflect.DeepEqual(got, want)
}
