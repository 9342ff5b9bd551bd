package edge

import (
	"sort"
)

// Warnings compiles c and lists what is legal in it but surely not meant
// (a route that can never match, a filter on unsigned bodies), each named
// by its field ("tunnels.github.routes[1]: …"); `edge --check` prints
// them.
func (c Config) Warnings() ([]string, error) {
	comp, err := c.Compile()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(comp.tunnels))
	for name := range comp.tunnels {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []string
	for _, name := range names {
		for _, w := range comp.tunnels[name].Warnings() {
			out = append(out, "tunnels."+name+"."+w)
		}
	}
	return out, nil
}
