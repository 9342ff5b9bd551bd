package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

var _ Registry = (*Postgres)(nil)

// edgeForgotten is how long a lapsed edge stays in the registry, so the
// admin's view of the cluster shows an edge that died before dropping it.
const edgeForgotten = time.Hour

// sessionRow is a session as Renew hands it to PostgreSQL: one JSON array
// of them, so the whole set is written by one statement whatever its size.
type sessionRow struct {
	ID       string   `json:"id"`
	Agent    string   `json:"agent"`
	Tunnels  []string `json:"tunnels"`
	Since    int64    `json:"since"`
	Until    int64    `json:"until"`
	Declared []byte   `json:"declared"` // base64 in JSON; null when none
}

const (
	renewEdgeQuery = `INSERT INTO cluster_edges (id, advertise, started, renewed, until)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET advertise = EXCLUDED.advertise,
			started = EXCLUDED.started, renewed = EXCLUDED.renewed, until = EXCLUDED.until`
	// Sessions the edge no longer holds.
	renewDropQuery = `DELETE FROM cluster_sessions WHERE edge = $1 AND id <> ALL($2::text[])`
	// The rest, new or renewed. A session id another edge held (an agent
	// that moved) becomes this edge's.
	renewSessionsQuery = `INSERT INTO cluster_sessions (id, edge, agent, tunnels, since, until, declared)
		SELECT s.id, $1, s.agent,
			ARRAY(SELECT jsonb_array_elements_text(coalesce(s.tunnels, '[]'))),
			s.since, s.until, decode(s.declared, 'base64')
		FROM jsonb_to_recordset($2::jsonb) AS s(id text, agent text, tunnels jsonb, since bigint, until bigint, declared text)
		ORDER BY s.id
		ON CONFLICT (id) DO UPDATE SET edge = EXCLUDED.edge, agent = EXCLUDED.agent,
			tunnels = EXCLUDED.tunnels, since = EXCLUDED.since, until = EXCLUDED.until,
			declared = EXCLUDED.declared`
	// Edges lapsed long ago, and (by the foreign key) their sessions.
	forgetEdgesQuery = `DELETE FROM cluster_edges WHERE until < $1 AND id <> $2`
)

// Renew writes edge's lease and replaces the sessions it holds with
// sessions (their Edge is edge.ID, whatever they say), in one
// transaction. It also forgets edges lapsed for an hour, measured from
// edge.Renewed, so the registry stays bounded without a sweeper.
func (s *Postgres) Renew(ctx context.Context, edge EdgeLease, sessions []SessionLease) error {
	ids := make([]string, len(sessions))
	rows := make([]sessionRow, len(sessions))
	for i, ss := range sessions {
		ids[i] = ss.ID
		if ss.Tunnels == nil {
			ss.Tunnels = []string{}
		}
		rows[i] = sessionRow{ID: ss.ID, Agent: ss.Agent, Tunnels: ss.Tunnels,
			Since: unixNano(ss.Since), Until: unixNano(ss.Until), Declared: ss.Declared}
	}
	set, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("store: renew: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: renew: %w", err)
	}
	defer tx.Rollback()
	steps := []struct {
		query string
		args  []any
	}{
		{renewEdgeQuery, []any{edge.ID, edge.Advertise, unixNano(edge.Started), unixNano(edge.Renewed), unixNano(edge.Until)}},
		{renewDropQuery, []any{edge.ID, ids}},
		{renewSessionsQuery, []any{edge.ID, string(set)}},
		{forgetEdgesQuery, []any{unixNano(edge.Renewed.Add(-edgeForgotten)), edge.ID}},
	}
	for _, st := range steps {
		if _, err := tx.ExecContext(ctx, st.query, st.args...); err != nil {
			return fmt.Errorf("store: renew: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: renew: %w", err)
	}
	return nil
}

// Leave removes edgeID's lease and, by the foreign key, its sessions.
func (s *Postgres) Leave(ctx context.Context, edgeID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM cluster_edges WHERE id = $1`, edgeID); err != nil {
		return fmt.Errorf("store: leave: %w", err)
	}
	return nil
}

// Cluster lists the edges whose lease ended less than an hour before now
// (lapsed ones too), by id, and the sessions whose lease and whose edge's
// lease hold at now, by edge and id: a lapsed edge's sessions are gone at
// once, whatever their own leases say.
func (s *Postgres) Cluster(ctx context.Context, now time.Time) ([]EdgeLease, []SessionLease, error) {
	edges, err := s.clusterEdges(ctx, now)
	if err != nil {
		return nil, nil, fmt.Errorf("store: cluster: %w", err)
	}
	sessions, err := s.clusterSessions(ctx, now)
	if err != nil {
		return nil, nil, fmt.Errorf("store: cluster: %w", err)
	}
	return edges, sessions, nil
}

func (s *Postgres) clusterEdges(ctx context.Context, now time.Time) ([]EdgeLease, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, advertise, started, renewed, until
		FROM cluster_edges WHERE until > $1 ORDER BY id`, unixNano(now.Add(-edgeForgotten)))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var edges []EdgeLease
	for rows.Next() {
		var e EdgeLease
		var started, renewed, until int64
		if err := rows.Scan(&e.ID, &e.Advertise, &started, &renewed, &until); err != nil {
			return nil, err
		}
		e.Started, e.Renewed, e.Until = fromUnixNano(started), fromUnixNano(renewed), fromUnixNano(until)
		edges = append(edges, e)
	}
	return edges, rows.Err()
}

func (s *Postgres) clusterSessions(ctx context.Context, now time.Time) ([]SessionLease, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT s.id, s.edge, s.agent, array_to_json(s.tunnels)::text,
			s.since, s.until, s.declared
		FROM cluster_sessions s JOIN cluster_edges e ON e.id = s.edge
		WHERE s.until > $1 AND e.until > $1
		ORDER BY s.edge, s.id`, unixNano(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var sessions []SessionLease
	for rows.Next() {
		var ss SessionLease
		var tunnels string
		var since, until int64
		if err := rows.Scan(&ss.ID, &ss.Edge, &ss.Agent, &tunnels, &since, &until, &ss.Declared); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(tunnels), &ss.Tunnels); err != nil {
			return nil, fmt.Errorf("session %s: tunnels: %w", ss.ID, err)
		}
		ss.Since, ss.Until = fromUnixNano(since), fromUnixNano(until)
		sessions = append(sessions, ss)
	}
	return sessions, rows.Err()
}
