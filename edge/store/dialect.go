package store

import (
	"context"
	"database/sql"
	"strings"
	"unicode/utf8"
)

// The journal's and queue's SQL is written once, in SQLite's dialect, and
// run on PostgreSQL through rebound, which turns its placeholders into
// PostgreSQL's. Where the two databases differ (a text search over a
// body, SQLite's index hints, the queue's claims) each backend has its own
// statement; dialect tells the shared code which one it runs on.
type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// sqlConn is what *sql.DB, *sql.Tx and *sql.Conn have in common.
type sqlConn interface {
	execer
	querier
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// rebound runs SQLite-dialect statements on a PostgreSQL connection or
// transaction: rebind turns ? and ?N into $n, and string arguments are
// made storable in a PostgreSQL text column, which holds neither a NUL
// byte nor invalid UTF-8 (SQLite holds both: a request path with %00 or
// %ff must not make the journal refuse the message).
type rebound struct{ c sqlConn }

func (r rebound) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return r.c.ExecContext(ctx, rebind(query), pgArgs(args)...)
}

func (r rebound) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return r.c.QueryContext(ctx, rebind(query), pgArgs(args)...)
}

func (r rebound) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return r.c.QueryRowContext(ctx, rebind(query), pgArgs(args)...)
}

// pgArgs replaces, in string arguments, each NUL byte and each byte of
// invalid UTF-8 by U+FFFD.
func pgArgs(args []any) []any {
	for i, a := range args {
		if s, ok := a.(string); ok && !pgTextOK(s) {
			out := make([]any, len(args))
			copy(out, args)
			for j := i; j < len(out); j++ {
				if s, ok := out[j].(string); ok {
					out[j] = pgText(s)
				}
			}
			return out
		}
	}
	return args
}

func pgTextOK(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

func pgText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
