package edge

import (
	"errors"
	"strings"
	"testing"
)

const agentsFile = `# The edge of example.com
domain: hooks.example.com           # tunnels are <name>.hooks.example.com

# One entry per agent token.
agents:
  - name: flexdeploy
    token_sha256: e65877fcaaa9303bb4b757cd8597a63a8d93f7c70d407a15f9843208a392af32
    tunnels: [flexdeploy]
    may_declare_routes: false       # routes come from this file only
  # Bob's laptop, until March
  - name: laptop
    token_sha256: 090c1c042e2620cc813ebd1d0a2780e408866652516de1cb0d34fd4cc6699750
    tunnels: [laptop, "ci-*"]
      # an odd comment inside
    may_declare_routes: true
  - name: ci                        # routes declared by the agent
    token_sha256: f5a45c5c08837e00f6c2c5f6af9f84fe6da85a788b31a01953c2dc4fed1a5867
    tunnels: [ci]

tunnels:
  flexdeploy:
    routes:
      - path: /hook
`

func TestRemoveAgentKeepsTheRestOfTheFile(t *testing.T) {
	t.Parallel()
	drop := func(s string, cut ...string) string {
		for _, c := range cut {
			if !strings.Contains(s, c) {
				t.Fatalf("test text %q not in the file", c)
			}
			s = strings.Replace(s, c, "", 1)
		}
		return s
	}
	tests := []struct{ name, file, agent, want string }{
		{"the first entry", agentsFile, "flexdeploy", drop(agentsFile, `  - name: flexdeploy
    token_sha256: e65877fcaaa9303bb4b757cd8597a63a8d93f7c70d407a15f9843208a392af32
    tunnels: [flexdeploy]
    may_declare_routes: false       # routes come from this file only
`)},
		{"an entry with its comments", agentsFile, "laptop", drop(agentsFile, `  # Bob's laptop, until March
  - name: laptop
    token_sha256: 090c1c042e2620cc813ebd1d0a2780e408866652516de1cb0d34fd4cc6699750
    tunnels: [laptop, "ci-*"]
      # an odd comment inside
    may_declare_routes: true
`)},
		{"the last entry, the blank line kept", agentsFile, "ci", drop(agentsFile, `  - name: ci                        # routes declared by the agent
    token_sha256: f5a45c5c08837e00f6c2c5f6af9f84fe6da85a788b31a01953c2dc4fed1a5867
    tunnels: [ci]
`)},
		{"dashes at the key's indentation", "agents:\n- name: a\n  tunnels: [a]\n- name: b\n  tunnels: [b]\ntunnels: {}\n", "a",
			"agents:\n- name: b\n  tunnels: [b]\ntunnels: {}\n"},
		{"a comment at the dash's column inside an entry", "agents:\n  - name: a\n  # note\n    tunnels: [a]\n  - name: b\n", "a",
			"agents:\n  - name: b\n"},
		{"the only entry", "domain: x\nagents:   # tokens\n  - name: a\n    tunnels: [a]\n\ntunnels: {}\n", "a",
			"domain: x\nagents: []   # tokens\n\ntunnels: {}\n"},
		{"the only entry, at the end", "agents:\n  - name: a\n", "a", "agents: []\n"},
		{"a flow list is written again", "domain: x # the domain\nagents: [{name: a, tunnels: [a]}, {name: b, tunnels: [b]}]\n", "a",
			"domain: x # the domain\nagents: [{name: b, tunnels: [b]}]\n"},
		{"a dash on its own line is written again", "agents:\n  -\n    name: a\n  - name: b\n", "a",
			"agents:\n  - name: b\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := RemoveAgent([]byte(tc.file), tc.agent)
			if err != nil || string(got) != tc.want {
				t.Errorf("RemoveAgent(%q): %v\n%s\nwant:\n%s", tc.agent, err, got, tc.want)
			}
		})
	}
}

func TestRemoveAgentRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, agent string
		is                error
	}{
		{"an unknown name", agentsFile, "nobody", ErrNoSuchAgent},
		{"no agents", "domain: x\n", "a", ErrNoSuchAgent},
		{"a tunnel of that name is not an agent", agentsFile, "tunnels", ErrNoSuchAgent},
		{"not YAML", "agents: [\n", "a", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := RemoveAgent([]byte(tc.file), tc.agent)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Errorf("RemoveAgent(%q) = %v, want %v", tc.agent, err, tc.is)
			}
		})
	}
}

func TestConfigAgentsReadsOnlyTheAgents(t *testing.T) {
	t.Parallel()
	// The rest need not be valid: secrets unset, unknown keys.
	agents, err := ConfigAgents([]byte(agentsFile + "unknown_key: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range agents {
		names = append(names, a.Name)
	}
	if strings.Join(names, ",") != "flexdeploy,laptop,ci" || !agents[1].MayDeclareRoutes || strings.Join(agents[1].Tunnels, ",") != "laptop,ci-*" {
		t.Errorf("agents = %+v", agents)
	}
}

// FuzzRemoveAgent: whatever the file, removing an agent fails or leaves a
// file without it and with every other entry.
func FuzzRemoveAgent(f *testing.F) {
	f.Add(agentsFile, "laptop")
	f.Add("agents:\n- name: a\n  # x\n- name: b\n", "a")
	f.Add("agents: [{name: a}]\n", "a")
	f.Fuzz(func(t *testing.T, file, name string) {
		before, err := ConfigAgents([]byte(file))
		if err != nil {
			return
		}
		out, err := RemoveAgent([]byte(file), name)
		if err != nil {
			return
		}
		after, err := ConfigAgents(out)
		if err != nil {
			t.Fatalf("the result does not parse: %v\n%s", err, out)
		}
		if len(after) != len(before)-1 {
			t.Fatalf("%d agents before, %d after:\n%s", len(before), len(after), out)
		}
	})
}
