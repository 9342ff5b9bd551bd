package store

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"modernc.org/sqlite"
)

// Large request bodies are kept in files beside the SQLite database, one
// per message, named by its id, instead of in its row. A body in a row is
// written twice: into the write-ahead log at commit, and from there into
// the database at the checkpoint, page by page; a body in a file is
// written once. The row says so with bodyInFile in its body_truncated
// column; its body column is NULL.
//
// A crash never leaves a row without its body: a body's file is written
// and fsynced (and the directory's entry with it) before the transaction
// that records its row commits; if that transaction fails, the files it
// wrote are removed. A crash can leave a file without a row (written,
// not committed; or a row deleted, its file not yet removed): opening the
// store removes every file whose row does not say it has one (sweep).
// Retention, the size cap and DeleteMessage remove a row's file after the
// delete commits.
//
// PostgreSQL keeps every body in its row (TOAST stores a large one out of
// line, once).

// bodyFileMin is the size from which a body goes to a file: below it, a
// body costs less in its row than a file's create, fsync and unlink.
const bodyFileMin = 64 << 10

// bodyInFile is the bit of the body_truncated column that says the
// row's request body is in its body file (bodyWhole or bodyTruncated in
// the other bits: a truncated body's kept part can be large too).
const bodyInFile = 4

// bodyFiles is the directory of body files of one SQLite store.
type bodyFiles struct {
	dir string
	// bytes is the size of the files, counted by the size cap: the
	// sweep sums them at open, writes add, removals subtract.
	bytes atomic.Int64
}

// bodyDir is where the body files of the database at dbPath go: beside
// it, named as SQLite names its -wal and -shm files.
func bodyDir(dbPath string) string { return dbPath + "-bodies" }

func (f *bodyFiles) path(id string) string { return filepath.Join(f.dir, id) }

// fileable says whether m's body goes to a file: a large one, under an id
// that is a safe file name (ids are the store's own, but a caller may set
// one; any other keeps its body in the row).
func fileable(m *Message) bool {
	return len(m.Body) >= bodyFileMin && validFileID(m.ID)
}

// validFileID reports whether id is a message id as NewMessageID makes it.
func validFileID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// write writes the bodies of ms that go to files, fsyncs them and the
// directory, and marks those messages inFile so their rows say so. It
// returns the ids written, for undo if the transaction fails.
func (f *bodyFiles) write(ms []*Message) ([]string, error) {
	var ids []string
	for _, m := range ms {
		m.inFile = false
		if !fileable(m) {
			continue
		}
		if err := f.writeOne(m.ID, m.Body); err != nil {
			f.remove(ids)
			return nil, err
		}
		ids = append(ids, m.ID)
		m.inFile = true
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if err := syncDir(f.dir); err != nil {
		f.remove(ids)
		return nil, err
	}
	return ids, nil
}

func (f *bodyFiles) writeOne(id string, body []byte) error {
	file, err := os.OpenFile(f.path(id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("body file: %w", err)
	}
	_, err = file.Write(body)
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.path(id))
		return fmt.Errorf("body file: %w", err)
	}
	f.bytes.Add(int64(len(body)))
	return nil
}

// undo removes the files written for a transaction that did not commit
// and clears the messages' marks.
func (f *bodyFiles) undo(ms []*Message, ids []string) {
	for _, m := range ms {
		m.inFile = false
	}
	f.remove(ids)
}

// remove removes the body files of ids; a missing one is no error (a
// sweep or an earlier removal got it).
func (f *bodyFiles) remove(ids []string) {
	for _, id := range ids {
		p := f.path(id)
		if st, err := os.Stat(p); err == nil {
			if os.Remove(p) == nil {
				f.bytes.Add(-st.Size())
			}
		}
	}
}

// load reads the body files of the messages whose rows say they have one.
// A file that is gone means its message was deleted since its row was
// read: fs.ErrNotExist.
func (f *bodyFiles) load(m *Message) error {
	if !m.inFile {
		return nil
	}
	body, err := os.ReadFile(f.path(m.ID))
	if err != nil {
		return fmt.Errorf("body file: %w", err)
	}
	m.Body, m.inFile = body, false
	return nil
}

// sweep removes the files no row claims, and counts the size of the
// others. It runs when the store opens, before any write.
func (f *bodyFiles) sweep(ctx context.Context, db *sql.DB) error {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return fmt.Errorf("body files: %w", err)
	}
	var total int64
	for _, e := range entries {
		name := e.Name()
		var state int
		err := db.QueryRowContext(ctx, "SELECT body_truncated FROM messages WHERE id = ?", name).Scan(&state)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("body files: %w", err)
		}
		if err == nil && state&bodyInFile != 0 && e.Type().IsRegular() {
			if info, err := e.Info(); err == nil {
				total += info.Size()
			}
			continue
		}
		if err := os.RemoveAll(f.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("body files: %w", err)
		}
	}
	f.bytes.Store(total)
	return nil
}

// syncDir fsyncs a directory, making the entries created in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("body files: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("body files: %w", err)
	}
	return nil
}

// bodyFileSearch is the SQL function with which Filter.Text searches the
// bodies in files, as `CAST(body AS TEXT) LIKE '%text%'` searches those
// in rows: the bytes up to the first NUL, ASCII letters folded. It takes
// the directory, the message's id and the text; it reads the file only
// for a row whose other search terms did not match.
const bodyFileSearch = "hooktunnel_body_file_has"

// registerBodyFileSearch registers bodyFileSearch with the driver, once
// per process: the driver's functions are its own, global.
var registerBodyFileSearch = sync.OnceValue(func() error {
	return sqlite.RegisterScalarFunction(bodyFileSearch, 3, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		dir, _ := args[0].(string)
		id, _ := args[1].(string)
		text, _ := args[2].(string)
		if !validFileID(id) {
			return int64(0), nil
		}
		body, err := os.ReadFile(filepath.Join(dir, id))
		if errors.Is(err, fs.ErrNotExist) {
			return int64(0), nil // deleted since the row was read
		} else if err != nil {
			return nil, err
		}
		if i := bytes.IndexByte(body, 0); i >= 0 {
			body = body[:i]
		}
		if containsFold(body, text) {
			return int64(1), nil
		}
		return int64(0), nil
	})
})

// containsFold reports whether text occurs in b, ASCII letters folded
// (as SQLite's LIKE folds them).
func containsFold(b []byte, text string) bool {
	n := len(text)
	for i := 0; i+n <= len(b); i++ {
		j := 0
		for j < n && asciiLower(b[i+j]) == asciiLower(text[j]) {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func asciiLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
