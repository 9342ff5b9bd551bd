package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// newDatabasePageSize is the page size of a database the edge creates.
// A journal row carries its request body up to 64 KiB, so a 4 KiB page
// (SQLite's default) holds one or two rows of a 1 KiB webhook: each batch
// splits and rewrites many pages, in the WAL and again at the checkpoint.
// BenchmarkRecordAll, interleaved: 4 KiB 24–28 µs per message, 16 KiB
// 20–22 µs, 32 KiB 19–21 µs; 16 KiB keeps a one-message commit's WAL
// write (a queued webhook's, fsynced before its 202) small.
const newDatabasePageSize = 16 << 10

// createSQLite creates the database at path with newDatabasePageSize pages
// when it does not exist yet. The page size is fixed once the first page
// is written, and in WAL mode even VACUUM cannot change it: it is set
// before the WAL, which the open's pragmas (applied in name order, so
// journal_mode before page_size) would make first. An existing database
// keeps its page size.
func createSQLite(ctx context.Context, path string) error {
	switch st, err := os.Stat(path); {
	case err == nil && st.Size() > 0:
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, pragma := range []string{fmt.Sprintf("PRAGMA page_size = %d", newDatabasePageSize), "PRAGMA journal_mode = WAL"} {
		if _, err := conn.ExecContext(ctx, pragma); err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
	}
	return nil
}
