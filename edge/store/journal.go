package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Listing limits (docs/api.md).
const (
	defaultListLimit = 50
	maxListLimit     = 500
)

// listColumns are what a listing reads: everything but the bodies. These
// sit last in the row (see the migration), so a listing never follows a
// large body's overflow pages; a small one stays in the row and is skipped.
const listColumns = `id, received_at, tunnel, route, source_ip, method, path, query,
	body_size, body_truncated, decision, reason, detail, provider, event,
	secret_ref, delivery_id, client_cert, replay_of, status, duration_ns, queue,
	headers, response_headers`

// fullColumns add the bodies and the edge; scanFull reads them. The edge
// sits after the bodies in SQLite's rows (an added column goes last), so
// SQLite's listings do not read it: an SQLite store is one edge's, whose
// messages all have the edge "". PostgreSQL keeps large values out of the
// row (TOAST), and its listings read the edge too (listColumnsFor).
const fullColumns = listColumns + `, body, response_body, edge`

// listColumnsFor is what a listing reads on d.
func listColumnsFor(d dialect) string {
	if d == dialectPostgres {
		return listColumns + `, edge`
	}
	return listColumns
}

// scanListed reads a row of listColumnsFor(d) into m. A listing carries
// no bodies: nothing is to be read from a body file.
func scanListed(sc scanner, d dialect, m *Message) error {
	defer func() { m.inFile = false }()
	if d == dialectPostgres {
		return scanMessage(sc, m, &m.Edge)
	}
	return scanMessage(sc, m)
}

// scanFull reads a row of fullColumns into m.
func scanFull(sc scanner, m *Message) error {
	return scanMessage(sc, m, &m.Body, &m.ResponseBody, &m.Edge)
}

// Record implements Journal. It fills in m.ID (from m.ReceivedAt) when
// empty, and raises m.BodySize to len(m.Body) if it was less.
func (s *SQLite) Record(ctx context.Context, m *Message) error {
	if err := normalize(m); err != nil {
		return fmt.Errorf("store: record: %w", err)
	}
	err := s.writeWithBodies(ctx, []*Message{m}, func(tx *sql.Tx) error {
		if err := insertMessage(ctx, tx, m, nil); err != nil {
			return err
		}
		return insertAttempts(ctx, tx, m.ID, m.Attempts)
	})
	if err != nil {
		return fmt.Errorf("store: record %s: %w", m.ID, err)
	}
	return nil
}

// Message implements Journal.
func (s *SQLite) Message(ctx context.Context, id string) (*Message, error) {
	// One read transaction: the message and its attempts from one snapshot.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: message %s: %w", id, err)
	}
	defer tx.Rollback()
	m, err := readMessage(ctx, tx, id)
	if err == nil {
		err = s.files.load(m)
	}
	if errors.Is(err, fs.ErrNotExist) {
		err = ErrNotFound // deleted since its row was read
	}
	if err != nil {
		return nil, fmt.Errorf("store: message %s: %w", id, err)
	}
	return m, nil
}

// readMessage reads message id with its attempts, in the caller's read
// transaction; ErrNotFound if there is none.
func readMessage(ctx context.Context, c sqlConn, id string) (*Message, error) {
	var m Message
	row := c.QueryRowContext(ctx, "SELECT "+fullColumns+" FROM messages WHERE id = ?", id)
	if err := scanFull(row, &m); errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	var err error
	if m.Attempts, err = readAttempts(ctx, c, id); err != nil {
		return nil, err
	}
	return &m, nil
}

// Messages implements Journal. Since is inclusive and Until exclusive, so
// adjacent ranges never list a message twice.
func (s *SQLite) Messages(ctx context.Context, f Filter) (Page, error) {
	f.bodyDir = s.files.dir
	return listMessages(ctx, s.db, dialectSQLite, f)
}

// listMessages is Messages on c, a connection speaking d.
func listMessages(ctx context.Context, c querier, d dialect, f Filter) (Page, error) {
	page := Page{Messages: []Message{}} // "messages": [] rather than null
	where, args, err := f.where(d)
	if errors.Is(err, errEmptyResult) {
		return page, nil
	} else if err != nil {
		return Page{}, fmt.Errorf("store: messages: %w", err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)

	// One row more than asked tells whether there is a next page.
	rows, err := c.QueryContext(ctx, "SELECT "+listColumnsFor(d)+" FROM messages"+where+
		" ORDER BY id DESC LIMIT ?", append(args, limit+1)...)
	if err != nil {
		return Page{}, fmt.Errorf("store: messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if len(page.Messages) == limit {
			page.Next = page.Messages[limit-1].ID
			break
		}
		var m Message
		if err := scanListed(rows, d, &m); err != nil {
			return Page{}, fmt.Errorf("store: messages: %w", err)
		}
		page.Messages = append(page.Messages, m)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("store: messages: %w", err)
	}
	return page, nil
}

// write runs fn in a writer transaction (BEGIN IMMEDIATE on the single
// writer connection) and commits it.
func (s *SQLite) write(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// writeDurably is write with the commit on disk before it returns
// (synchronous = FULL; the journal's other writes are NORMAL, durable at
// the next checkpoint): for a queued webhook, committed before its 202,
// and for deletes whose body files are removed after the commit — at
// NORMAL a power cut could undo the delete and bring back a row whose
// file is gone.
func (s *SQLite) writeDurably(ctx context.Context, fn func(*sql.Tx) error) error {
	// The writer has one connection: take it for the pragma, the
	// transaction and the pragma's reset, so no other write slips in
	// between with the stricter setting, or this one with the looser.
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = FULL"); err != nil {
		return err
	}
	// Even if ctx has ended. A failed reset only leaves the connection
	// slower: it must not turn a committed write into an error (whose
	// caller would undo what the commit keeps, such as its body file).
	defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous = NORMAL")

	tx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE: see SQLite.w
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// writeWithBodies is write for transactions that insert ms: their large
// bodies are written to files first (bodyfiles.go), and removed again if
// the transaction does not commit.
func (s *SQLite) writeWithBodies(ctx context.Context, ms []*Message, fn func(*sql.Tx) error) error {
	ids, err := s.files.write(ms)
	if err != nil {
		return err
	}
	err = s.write(ctx, fn)
	if err != nil {
		s.files.undo(ms, ids)
		return err
	}
	for _, m := range ms {
		m.inFile = false
	}
	return nil
}

// normalize checks a message about to be stored and fills in its id.
func normalize(m *Message) error {
	if m.ReceivedAt.IsZero() {
		return errors.New("received_at is not set")
	}
	if m.ID == "" {
		m.ID = NewMessageID(m.ReceivedAt)
	}
	// BodySize is what arrived; what is kept can only be less.
	m.BodySize = max(m.BodySize, int64(len(m.Body)))
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertMessage inserts m; nextAttempt is the queue's next_attempt_at
// (nil: not queued).
func insertMessage(ctx context.Context, ex execer, m *Message, nextAttempt any) error {
	args, err := messageArgs(m, nextAttempt)
	if err != nil {
		return err
	}
	_, err = ex.ExecContext(ctx, insertMessageQuery, args...)
	return err
}

// insertMessageQuery stores a message; messageArgs are its arguments.
const insertMessageQuery = insertMessagesHead + messageRow

// insertMessagesHead and messageRow make an INSERT of one message or,
// with more rows, of a batch (insertMessagesQuery); messageColumns is the
// number of arguments of a row.
const (
	insertMessagesHead = `INSERT INTO messages (
		id, received_at, tunnel, route, source_ip, method, path, query,
		body_size, body_truncated, decision, reason, detail, provider, event, secret_ref,
		delivery_id, client_cert, replay_of, status, duration_ns, queue,
		next_attempt_at, headers, response_headers, body, response_body, attempts, edge
	) VALUES `
	messageRow     = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	messageColumns = 29
)

func messageArgs(m *Message, nextAttempt any) ([]any, error) {
	return appendMessageArgs(make([]any, 0, messageColumns), m, nextAttempt)
}

// appendMessageArgs appends m's row of insertMessageQuery to args.
func appendMessageArgs(args []any, m *Message, nextAttempt any) ([]any, error) {
	header, err := encodeHeader(m.Header)
	if err != nil {
		return nil, err
	}
	respHeader, err := encodeHeader(m.ResponseHeader)
	if err != nil {
		return nil, err
	}
	state, body := bodyState(m), m.Body
	if m.inFile {
		state, body = state|bodyInFile, nil
	}
	return append(args, m.ID, m.ReceivedAt.UnixNano(), m.Tunnel, m.Route, m.SourceIP, m.Method, m.Path, m.Query,
		m.BodySize, state, m.Decision, m.Reason, m.Detail, m.Provider, m.Event, m.SecretRef,
		m.DeliveryID, m.ClientCert, m.ReplayOf, m.Status, int64(m.Duration), m.Queue,
		nextAttempt, header, respHeader, body, m.ResponseBody, len(m.Attempts), m.Edge), nil
}

// The body_truncated column says what became of the body: kept whole (or
// not kept, by the journal level), truncated, or dropped because the
// edge's budget for bodies waiting to be written was full. It sits with
// the small columns, where a listing reads it without touching the bodies
// at the end of the row.
const (
	bodyWhole          = 0
	bodyTruncated      = 1
	bodyDroppedBacklog = 2
)

func bodyState(m *Message) int {
	switch {
	case m.BodyDropped != "":
		return bodyDroppedBacklog
	case m.BodyTruncated:
		return bodyTruncated
	}
	return bodyWhole
}

type scanner interface{ Scan(dest ...any) error }

// scanMessage reads listColumns into m, then extra (the bodies, for
// fullColumns).
func scanMessage(sc scanner, m *Message, extra ...any) error {
	var received, dur, state int64
	var header, respHeader sql.NullString
	dest := append([]any{&m.ID, &received, &m.Tunnel, &m.Route, &m.SourceIP,
		&m.Method, &m.Path, &m.Query, &m.BodySize, &state, &m.Decision,
		&m.Reason, &m.Detail, &m.Provider, &m.Event, &m.SecretRef, &m.DeliveryID,
		&m.ClientCert, &m.ReplayOf, &m.Status, &dur, &m.Queue,
		&header, &respHeader}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	m.ReceivedAt, m.Duration = fromUnixNano(received), time.Duration(dur)
	m.inFile, state = state&bodyInFile != 0, state&^bodyInFile
	m.BodyTruncated, m.BodyDropped = state == bodyTruncated, ""
	if state == bodyDroppedBacklog {
		m.BodyDropped = "journal_backlog"
	}
	var err error
	if m.Header, err = decodeHeader(header); err != nil {
		return fmt.Errorf("message %s: header: %w", m.ID, err)
	}
	if m.ResponseHeader, err = decodeHeader(respHeader); err != nil {
		return fmt.Errorf("message %s: response header: %w", m.ID, err)
	}
	return nil
}

// encodeHeader stores a header as JSON, nil as NULL. HTML escaping is off
// so that a search for "<" or "&" finds what was sent.
func encodeHeader(h http.Header) (any, error) {
	if h == nil {
		return nil, nil
	}
	return string(appendHeaderJSON(make([]byte, 0, 512), h)), nil
}

func jsonText(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func decodeHeader(s sql.NullString) (http.Header, error) {
	if !s.Valid {
		return nil, nil
	}
	var h http.Header
	err := json.Unmarshal([]byte(s.String), &h)
	return h, err
}

// unixNano stores a time; the zero time (whose UnixNano is undefined) is 0.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// errEmptyResult is where's way of saying no message can match.
var errEmptyResult = errors.New("store: filter matches nothing")

// idHintSlack widens the id range derived from a time range (see where).
const idHintSlack = time.Minute

// where turns f into a WHERE clause for a listing on d.
//
// A time range is also given to SQLite as an id range: an id's timestamp is
// its message's received_at to the millisecond, or at most maxIDStepBack
// later (ids come from NewMessageID(ReceivedAt)), so "received_at >= since"
// implies
// "id >= idFloor(since)", and the listing walks the primary key from the
// first id in range instead of scanning past every newer message. The
// range is widened by idHintSlack in case a caller made the id from a
// slightly different clock reading; received_at stays the actual test, with
// a unary + so that SQLite does not pick its index and then sort.
func (f Filter) where(d dialect) (string, []any, error) {
	var conds []string
	var args []any
	add := func(cond string, a ...any) {
		conds = append(conds, cond)
		args = append(args, a...)
	}
	switch {
	case f.Tunnels != nil && f.Tunnel != "":
		if !slices.Contains(f.Tunnels, f.Tunnel) {
			return "", nil, errEmptyResult
		}
		add("tunnel = ?", f.Tunnel)
	case f.Tunnels != nil && len(f.Tunnels) == 0:
		return "", nil, errEmptyResult
	case len(f.Tunnels) == 1:
		add("tunnel = ?", f.Tunnels[0])
	case f.Tunnels != nil:
		add("tunnel IN (?"+strings.Repeat(", ?", len(f.Tunnels)-1)+")", anySlice(f.Tunnels)...)
	case f.Tunnel != "":
		add("tunnel = ?", f.Tunnel)
	}
	if f.Route != "" {
		add("route = ?", f.Route)
	}
	// The conditions of SQLite's partial indexes messages_decision and
	// messages_status_class are repeated for the values they hold: SQLite
	// uses a partial index only for a query whose WHERE has its condition.
	switch {
	case f.Decision == "":
	case f.Decision != "forwarded" && d == dialectSQLite:
		add("decision = ? AND decision <> 'forwarded'", f.Decision)
	default:
		add("decision = ?", f.Decision)
	}
	if f.StatusClass != 0 {
		if f.StatusClass < 1 || f.StatusClass > 5 {
			return "", nil, fmt.Errorf("status class %d is not 1 to 5", f.StatusClass)
		}
		if f.StatusClass != 2 && d == dialectSQLite {
			add("status / 100 = ? AND status / 100 <> 2", f.StatusClass)
		} else {
			add("status / 100 = ?", f.StatusClass) // the expression of messages_status_class
		}
	}
	if !f.Since.IsZero() {
		add("+received_at >= ? AND id >= ?", f.Since.UnixNano(), idFloor(f.Since.Add(-idHintSlack)))
	}
	if !f.Until.IsZero() {
		add("+received_at < ? AND id < ?", f.Until.UnixNano(), idFloor(f.Until.Add(idHintSlack)))
	}
	if f.Text != "" {
		// Headers are stored as JSON, where a quote or a backslash in a value
		// is escaped: search for the text as JSON writes it.
		inJSON, err := jsonText(f.Text)
		if err != nil {
			return "", nil, err
		}
		inJSON = inJSON[1 : len(inJSON)-1]
		like := "%" + escapeLike(f.Text) + "%"
		if d == dialectPostgres {
			add(pgTextSearch, like, like, like, "%"+escapeLike(inJSON)+"%", "%"+escapeLike(byteaEscape(f.Text))+"%")
		} else {
			// The body last: OR stops at the first term that matches, and
			// only the body's term reads the overflow pages of a large one.
			// A BLOB matches LIKE only cast to text (which ends at a NUL byte).
			add(`(path LIKE ? ESCAPE '\' OR event LIKE ? ESCAPE '\' OR delivery_id LIKE ? ESCAPE '\'
			OR headers LIKE ? ESCAPE '\' OR CAST(body AS TEXT) LIKE ? ESCAPE '\'
			OR (body_truncated & 4 <> 0 AND `+bodyFileSearch+`(?, id, ?)))`,
				like, like, like, "%"+escapeLike(inJSON)+"%", like, f.bodyDir, f.Text)
		}
	}
	if f.Before != "" {
		add("id < ?", f.Before)
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// escapeLike makes s match itself in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// purgeByAgeQuery selects a batch of messages older than a cutoff along
// the primary key: ids sort by the time they were made for, so an id bound
// (widened by idHintSlack) finds them, and received_at decides exactly.
const purgeByAgeQuery = `SELECT rowid FROM messages
	WHERE id < ? AND received_at < ? AND queue <> 'pending' ORDER BY id LIMIT ?`

// purgeBatch bounds each purge transaction, so writers (Record, Enqueue)
// wait at most one batch for the single writer connection.
const purgeBatch = 1000

// Purge implements Journal. Readers are never blocked (WAL); writers wait at
// most one batch. Freed pages go to SQLite's freelist and are reused by new
// messages; the file itself does not shrink (that would take a VACUUM,
// which blocks everyone), and the size cap counts only pages in use.
func (s *SQLite) Purge(ctx context.Context, cutoff time.Time, maxBytes int64) (int, error) {
	total := 0
	for !cutoff.IsZero() {
		n, err := s.purgeBatch(ctx, purgeByAgeQuery, idFloor(cutoff.Add(idHintSlack)), cutoff.UnixNano(), purgeBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("store: purge: %w", err)
		}
		if n < purgeBatch {
			break
		}
	}
	for maxBytes > 0 {
		var used int64
		err := s.db.QueryRowContext(ctx, `SELECT (c.page_count - f.freelist_count) * s.page_size
			FROM pragma_page_count() c, pragma_freelist_count() f, pragma_page_size() s`).Scan(&used)
		if err != nil {
			return total, fmt.Errorf("store: purge: database size: %w", err)
		}
		used += s.files.bytes.Load()
		if used <= maxBytes {
			break
		}
		n, err := s.purgeOldest(ctx, used-maxBytes)
		total += n
		if err != nil {
			return total, fmt.Errorf("store: purge: %w", err)
		}
		if n == 0 {
			break // only pending messages left: they stay, over the cap or not
		}
	}
	return total, nil
}

// purgeBatch deletes the messages whose rowids query selects (given args
// and then the batch size), in one writer transaction.
func (s *SQLite) purgeBatch(ctx context.Context, query string, args ...any) (int, error) {
	var n int
	var files []string
	err := s.writeDurably(ctx, func(tx *sql.Tx) error {
		var err error
		n, files, err = deleteReturningFiles(ctx, tx, "DELETE FROM messages WHERE rowid IN ("+query+")", args...)
		return err
	})
	if err != nil {
		return 0, err
	}
	s.files.remove(files) // after the commit (see DeleteMessage)
	return n, nil
}

// purgeOldest deletes the oldest non-pending messages, about excess bytes'
// worth and at most purgeBatch of them. It estimates a message's share of
// the files (the database's and a body file, whose size it takes from
// body_size: 4 is bodyInFile) from its stored lengths (length() of a blob does not read it)
// plus a guess at the row and index overhead, so one large body is not
// followed by a thousand small messages it would have been enough to drop.
func (s *SQLite) purgeOldest(ctx context.Context, excess int64) (int, error) {
	const overhead = 256
	rows, err := s.db.QueryContext(ctx, `SELECT id, coalesce(length(body), 0)
		+ CASE WHEN body_truncated & 4 <> 0 THEN body_size ELSE 0 END
		+ coalesce(length(response_body), 0) + coalesce(length(headers), 0)
		+ coalesce(length(response_headers), 0)
		FROM messages WHERE queue <> 'pending' ORDER BY id LIMIT ?`, purgeBatch)
	if err != nil {
		return 0, err
	}
	var last string
	var freed int64
	for freed < excess && rows.Next() {
		var size int64
		if err := rows.Scan(&last, &size); err != nil {
			rows.Close()
			return 0, err
		}
		freed += size + overhead
	}
	rows.Close()
	if err := rows.Err(); err != nil || last == "" {
		return 0, err
	}
	return s.purgeBatch(ctx, `SELECT rowid FROM messages
		WHERE id <= ? AND queue <> 'pending' ORDER BY id LIMIT ?`, last, purgeBatch)
}
