package iplist

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FileName is the file in the data directory that `ips update` writes.
const FileName = "iplists.json"

// fileVersion is the schema of snapshot.json and iplists.json.
const fileVersion = 1

// snapshotJSON is the embedded snapshot. A string, so nothing can modify it.
//
//go:embed snapshot.json
var snapshotJSON string

// document is the on-disk form shared by the snapshot and the data file, so
// a fetched file can be read, diffed and reviewed like the snapshot.
type document struct {
	Version int            `json:"version"`
	Comment string         `json:"comment,omitempty"`
	Lists   []documentList `json:"lists"`
}

type documentList struct {
	Name    string    `json:"name"`
	Source  string    `json:"source"`
	Format  string    `json:"format"`
	Fetched time.Time `json:"fetched"`
	Note    string    `json:"note,omitempty"`
	CIDRs   []string  `json:"cidrs"`
}

// Snapshot returns the lists embedded in the binary.
func Snapshot() (Lists, error) {
	ls, err := decode([]byte(snapshotJSON), true)
	if err != nil {
		return Lists{}, fmt.Errorf("embedded snapshot: %w", err)
	}
	return ls, nil
}

// Load returns the embedded snapshot, with each list replaced by the one in
// <dataDir>/iplists.json when that one is newer. A missing file (or an empty
// dataDir) means the snapshot alone; an unreadable or corrupt file is an
// error naming the file, never a silent fallback, because the operator
// refreshed it for a reason.
func Load(dataDir string) (Lists, error) {
	ls, err := Snapshot()
	if err != nil || dataDir == "" {
		return ls, err
	}
	path := filepath.Join(dataDir, FileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ls, nil
	}
	if err != nil {
		return Lists{}, fmt.Errorf("reading %s: %w", path, err)
	}
	fetched, err := decode(data, false)
	if err != nil {
		return Lists{}, fmt.Errorf("%s: %w (fix it, or remove it to use the embedded snapshot)", path, err)
	}
	for _, name := range fetched.Names() {
		l, _ := fetched.Get(name)
		// Newer wins, so a binary shipping a fresher snapshot is not held
		// back by an old refresh, and a refresh beats an old binary.
		if s, ok := ls.Get(name); !ok || l.Fetched.After(s.Fetched) {
			ls = ls.With(l)
		}
	}
	return ls, nil
}

// Save writes the lists of ls that did not come from the snapshot to
// <dataDir>/iplists.json, atomically: a reader (an edge starting up) sees
// the old file or the new one, never half of one.
func Save(dataDir string, ls Lists) error {
	doc := document{
		Version: fileVersion,
		Comment: "Written by `hooktunnel ips update`; lists here override the embedded snapshot when newer.",
		Lists:   []documentList{},
	}
	for _, l := range ls.fetched() {
		dl := documentList{
			Name: l.Name, Source: l.Source, Format: l.Format,
			Fetched: l.Fetched.UTC().Truncate(time.Second), Note: l.Note,
		}
		for _, p := range l.Prefixes {
			dl.CIDRs = append(dl.CIDRs, p.String())
		}
		doc.Lists = append(doc.Lists, dl)
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", FileName, err)
	}
	return writeAtomic(filepath.Join(dataDir, FileName), append(data, '\n'))
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	// Sync before rename: after a crash the new name must not point at
	// blocks that never reached the disk.
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename itself durable; not every OS supports it
		d.Close()
	}
	return nil
}

// decode validates a document completely: every list named, dated, and made
// of CIDRs that ParseEntry accepts.
func decode(data []byte, fromSnapshot bool) (Lists, error) {
	var doc document
	if err := json.Unmarshal(data, &doc); err != nil {
		return Lists{}, fmt.Errorf("not a list document: %w", err)
	}
	if doc.Version != fileVersion {
		return Lists{}, fmt.Errorf("version %d, want %d", doc.Version, fileVersion)
	}
	var ls Lists
	for i, dl := range doc.Lists {
		at := fmt.Sprintf("lists[%d]", i)
		if !validName(dl.Name) {
			return Lists{}, fmt.Errorf("%s.name %q: use lowercase letters, digits and '-'", at, clip(dl.Name))
		}
		at = fmt.Sprintf("lists[%d] (%s)", i, dl.Name)
		if _, dup := ls.Get(dl.Name); dup {
			return Lists{}, fmt.Errorf("%s: listed twice", at)
		}
		if dl.Fetched.IsZero() {
			return Lists{}, fmt.Errorf("%s.fetched: missing", at)
		}
		ps, err := normalize(dl.CIDRs, at+".cidrs")
		if errors.Is(err, ErrEmpty) {
			return Lists{}, fmt.Errorf("%s.cidrs: %w", at, err)
		}
		if err != nil {
			return Lists{}, err
		}
		ls = ls.With(List{
			Name: dl.Name, Source: dl.Source, Format: dl.Format, Fetched: dl.Fetched,
			Note: dl.Note, Prefixes: ps, FromSnapshot: fromSnapshot,
		})
	}
	return ls, nil
}

// validName matches what allow_ips can name without quoting surprises.
func validName(s string) bool {
	if s == "" || len(s) > 64 || strings.Trim(s, "-") != s {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}
