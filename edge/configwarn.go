package edge

import (
	"maps"
	"slices"

	"github.com/hooktunnel/hooktunnel/policy"
)

// Warnings compiles c and lists what is legal in it but surely not meant
// (a route that can never match, a filter on unsigned bodies), each named
// by its field ("tunnels.github.routes[1]"); `edge --check` prints them
// at their lines of the file (policy.LocateWarnings).
func (c Config) Warnings() ([]*policy.FieldError, error) {
	comp, err := c.Compile()
	if err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(comp.tunnels))
	var out []*policy.FieldError
	for _, name := range names {
		for _, w := range comp.tunnels[name].Warnings() {
			out = append(out, &policy.FieldError{Field: "tunnels." + name + "." + w.Field, Err: w.Err})
		}
	}
	return out, nil
}
