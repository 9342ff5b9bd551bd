package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/bits"
	"strings"
	"sync"

	sqlite3 "modernc.org/sqlite/lib"
)

// RecordAll stores several new messages in one transaction: the edge's
// journal writer batches what arrived while the previous write ran, so a
// busy edge pays one commit for many webhooks. The messages go in a few
// INSERTs of many rows, their attempts in a few more (insertRows): each
// statement run through database/sql and the driver costs about as much
// as storing a row.
func (s *SQLite) RecordAll(ctx context.Context, ms []*Message) error {
	for _, m := range ms {
		if err := normalize(m); err != nil {
			return fmt.Errorf("store: record: %w", err)
		}
	}
	// Prepared before the transaction: the writer has one connection,
	// which the transaction holds.
	if err := s.inserts.prepare(ctx, s.w, len(ms), countAttempts(ms)); err != nil {
		return fmt.Errorf("store: record %d messages: %w", len(ms), err)
	}
	err := s.writeWithBodies(ctx, ms, func(tx *sql.Tx) error {
		return insertRows(ms, func(messages bool, rows int, args []any) error {
			_, err := tx.StmtContext(ctx, s.inserts.stmt(messages, rows)).ExecContext(ctx, args...)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("store: record %d messages: %w", len(ms), err)
	}
	return nil
}

// insertRows runs the INSERTs of a batch, on both backends: ms in chunks
// of insertChunk rows, then their attempts, in order, the same way; exec
// runs one INSERT of rows messages (or attempts) with its arguments.
func insertRows(ms []*Message, exec func(messages bool, rows int, args []any) error) error {
	args := make([]any, 0, min(len(ms), maxInsertRows)*max(messageColumns, attemptColumns))
	var err error
	for i := 0; i < len(ms); {
		rows := insertChunk(len(ms) - i)
		args = args[:0]
		for _, m := range ms[i : i+rows] {
			if args, err = appendMessageArgs(args, m, nil); err != nil {
				return err
			}
		}
		if err := exec(true, rows, args); err != nil {
			return err
		}
		i += rows
	}
	mi, ai := 0, 0
	for left := countAttempts(ms); left > 0; {
		rows := insertChunk(left)
		args = args[:0]
		for len(args) < rows*attemptColumns {
			for ai == len(ms[mi].Attempts) {
				mi, ai = mi+1, 0
			}
			args = attemptArgs(args, ms[mi].ID, ms[mi].Attempts[ai])
			ai++
		}
		if err := exec(false, rows, args); err != nil {
			return err
		}
		left -= rows
	}
	return nil
}

func countAttempts(ms []*Message) int {
	n := 0
	for _, m := range ms {
		n += len(m.Attempts)
	}
	return n
}

// insertChunk is the rows the next INSERT of a batch of n takes: the
// largest power of two in n, at most maxInsertRows.
func insertChunk(n int) int {
	return 1 << min(bits.Len(uint(n))-1, insertSizes-1)
}

// maxInsertRows is the most rows one INSERT of a batch holds: a power of
// two whose arguments SQLite takes in one statement (the compile-time
// check below), and the journal writer's largest batch (edge.maxBatch).
const maxInsertRows = 256

// SQLite refuses a statement of more than SQLITE_MAX_VARIABLE_NUMBER
// arguments: this constant does not compile if a batch's would be.
const _ = uint(sqlite3.SQLITE_MAX_VARIABLE_NUMBER - maxInsertRows*max(messageColumns, attemptColumns))

// batchInserts are the multi-row INSERTs of RecordAll, prepared once on
// the writer's connection and kept: a batch of n rows runs the ones of
// the powers of two n is the sum of (n = 200: 128, 64 and 8 rows), so
// there are at most log2(maxInsertRows)+1 of each, and a batch of up to
// maxInsertRows runs as many statements as n has bits set.
type batchInserts struct {
	mu       sync.Mutex
	messages [insertSizes]*sql.Stmt // messages[k] inserts 1<<k messages
	attempts [insertSizes]*sql.Stmt
}

const insertSizes = 9 // 1<<8 == maxInsertRows

// prepare prepares on w the statements a batch of messages messages and
// attempts attempts runs (insertRows), those not prepared yet.
func (b *batchInserts) prepare(ctx context.Context, w *sql.DB, messages, attempts int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, batch := range []struct {
		set *[insertSizes]*sql.Stmt
		n   int
	}{{&b.messages, messages}, {&b.attempts, attempts}} {
		for n := batch.n; n > 0; n -= insertChunk(n) {
			k := bits.Len(uint(insertChunk(n))) - 1
			if batch.set[k] != nil {
				continue
			}
			st, err := w.PrepareContext(ctx, insertQuery(batch.set == &b.messages, 1<<k))
			if err != nil {
				return err
			}
			batch.set[k] = st
		}
	}
	return nil
}

// stmt is the prepared INSERT of rows messages (or attempts).
func (b *batchInserts) stmt(messages bool, rows int) *sql.Stmt {
	set := &b.attempts
	if messages {
		set = &b.messages
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return set[bits.Len(uint(rows))-1]
}

// insertQuery is an INSERT of rows messages, or of rows attempts.
func insertQuery(messages bool, rows int) string {
	head, row, tail := insertAttemptsHead, attemptRow, insertAttemptsTail
	if messages {
		head, row, tail = insertMessagesHead, messageRow, ""
	}
	return head + row + strings.Repeat(", "+row, rows-1) + tail
}

// close closes the prepared statements.
func (b *batchInserts) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, set := range []*[insertSizes]*sql.Stmt{&b.messages, &b.attempts} {
		for k, st := range set {
			if st != nil {
				st.Close()
				set[k] = nil
			}
		}
	}
}
