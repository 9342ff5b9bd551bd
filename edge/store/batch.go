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
// INSERTs of many rows, their attempts in a few more (batchInserts): each
// statement run through database/sql and the driver costs about as much
// as storing a row.
func (s *SQLite) RecordAll(ctx context.Context, ms []*Message) error {
	for _, m := range ms {
		if err := normalize(m); err != nil {
			return fmt.Errorf("store: record: %w", err)
		}
	}
	var attempts int
	for _, m := range ms {
		attempts += len(m.Attempts)
	}
	// Prepared before the transaction: the writer has one connection,
	// which the transaction holds.
	msgStmts, err := s.inserts.prepare(ctx, s.w, &s.inserts.messages, len(ms))
	if err != nil {
		return fmt.Errorf("store: record %d messages: %w", len(ms), err)
	}
	attStmts, err := s.inserts.prepare(ctx, s.w, &s.inserts.attempts, attempts)
	if err != nil {
		return fmt.Errorf("store: record %d messages: %w", len(ms), err)
	}
	err = s.writeWithBodies(ctx, ms, func(tx *sql.Tx) error {
		args := make([]any, 0, min(len(ms), maxInsertRows)*messageColumns)
		i := 0
		for _, st := range msgStmts {
			args = args[:0]
			for _, m := range ms[i : i+st.rows] {
				if args, err = appendMessageArgs(args, m, nil); err != nil {
					return err
				}
			}
			if _, err := tx.StmtContext(ctx, st.stmt).ExecContext(ctx, args...); err != nil {
				return err
			}
			i += st.rows
		}
		// The attempts, in order, chunk by chunk.
		mi, ai := 0, 0
		for _, st := range attStmts {
			args = args[:0]
			for len(args) < st.rows*attemptColumns {
				for ai == len(ms[mi].Attempts) {
					mi, ai = mi+1, 0
				}
				args = attemptArgs(args, ms[mi].ID, ms[mi].Attempts[ai])
				ai++
			}
			if _, err := tx.StmtContext(ctx, st.stmt).ExecContext(ctx, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: record %d messages: %w", len(ms), err)
	}
	return nil
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

// sizedStmt is a statement of batchInserts and the rows it inserts.
type sizedStmt struct {
	stmt *sql.Stmt
	rows int
}

// prepare returns the statements of set that insert n rows, largest
// first, preparing those not prepared yet on w.
func (b *batchInserts) prepare(ctx context.Context, w *sql.DB, set *[insertSizes]*sql.Stmt, n int) ([]sizedStmt, error) {
	var out []sizedStmt
	b.mu.Lock()
	defer b.mu.Unlock()
	for n > 0 {
		k := min(bits.Len(uint(n))-1, insertSizes-1)
		if set[k] == nil {
			st, err := w.PrepareContext(ctx, insertQuery(set == &b.messages, 1<<k))
			if err != nil {
				return nil, err
			}
			set[k] = st
		}
		out = append(out, sizedStmt{set[k], 1 << k})
		n -= 1 << k
	}
	return out, nil
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
