// Package iplist holds the named provider address lists that a route's
// allow_ips may name ("github", "stripe"): an embedded snapshot of what the
// providers published, overridden per list by a fresher copy that
// `hooktunnel ips update` fetched into the data directory.
//
// The package parses and stores; it never touches the network. Fetching is
// the command's job, so that what the edge trusts is always a file a person
// can read and diff.
package iplist

import (
	"errors"
	"maps"
	"net/netip"
	"slices"
	"time"
)

// Sentinel errors, wrapped with the detail of what was wrong.
var (
	// ErrEmpty: a source parsed cleanly but listed no address. Replacing a
	// list with nothing would turn "only GitHub" into "nobody" silently, so
	// it is an error and the previous data stays.
	ErrEmpty = errors.New("iplist: source lists no addresses")
	// ErrBadEntry: an entry is not a usable address or CIDR.
	ErrBadEntry = errors.New("iplist: bad address entry")
	// ErrFormat: the document does not have the shape its format promises.
	ErrFormat = errors.New("iplist: unexpected document shape")
	// ErrUnknownList: no source of that name is registered.
	ErrUnknownList = errors.New("iplist: unknown list")
)

// List is one named provider list. Treat it as immutable.
type List struct {
	Name   string
	Source string // URL the addresses were read from
	Format string // parser that read them (see Sources)
	// Fetched is when the data was read from Source: the day the snapshot
	// was taken for embedded lists, the moment of `ips update` otherwise.
	Fetched time.Time
	// Note says where snapshot data came from, for audits; empty for
	// fetched lists.
	Note     string
	Prefixes []netip.Prefix // masked, sorted, deduplicated, never empty
	// FromSnapshot reports that the list is the embedded copy, not one
	// from the data directory.
	FromSnapshot bool
}

// Count is the number of prefixes in the list.
func (l List) Count() int { return len(l.Prefixes) }

// Diff reports how many prefixes next has that l lacks, and the reverse.
func (l List) Diff(next List) (added, removed int) {
	old := make(map[netip.Prefix]bool, len(l.Prefixes))
	for _, p := range l.Prefixes {
		old[p] = true
	}
	for _, p := range next.Prefixes {
		if old[p] {
			delete(old, p)
			continue
		}
		added++
	}
	return added, len(old)
}

// Lists is a set of named lists. The zero value is empty; methods never
// modify the receiver.
type Lists struct {
	byName map[string]List
}

// Get returns the list called name.
func (ls Lists) Get(name string) (List, bool) {
	l, ok := ls.byName[name]
	return l, ok
}

// Names returns the list names, sorted.
func (ls Lists) Names() []string {
	return slices.Sorted(maps.Keys(ls.byName))
}

// With returns a copy of ls in which l replaces any list of the same name.
func (ls Lists) With(l List) Lists {
	next := make(map[string]List, len(ls.byName)+1)
	maps.Copy(next, ls.byName)
	next[l.Name] = l
	return Lists{byName: next}
}

// Prefixes is the form policy.Env.IPLists takes. Each slice is a copy, so
// the caller may keep it while ls is replaced.
func (ls Lists) Prefixes() map[string][]netip.Prefix {
	out := make(map[string][]netip.Prefix, len(ls.byName))
	for name, l := range ls.byName {
		out[name] = slices.Clone(l.Prefixes)
	}
	return out
}

// fetched returns the lists that did not come from the snapshot: what Save
// writes.
func (ls Lists) fetched() []List {
	var out []List
	for _, name := range ls.Names() {
		if l := ls.byName[name]; !l.FromSnapshot {
			out = append(out, l)
		}
	}
	return out
}
