package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // reads pg_stat_statements for the statement count

	"github.com/hooktunnel/hooktunnel/test/pgtest"
)

// clusterSecretEnv carries the benchmark cluster's shared secret.
const clusterSecretEnv = "HOOKTUNNEL_BENCH_CLUSTER_SECRET"

// measureStores compares, in one run and against the app called
// directly: one edge on SQLite, one edge on PostgreSQL, and a webhook
// relayed by an edge without a session to the edge that holds it. It
// counts the PostgreSQL statements each webhook costs.
func measureStores(bin, dir, app, token string, duration time.Duration, only string) error {
	srv, err := pgtest.Launch()
	if err != nil {
		fmt.Printf("\nstores: skipped: %v\n", err)
		return nil
	}
	defer srv.Stop()
	policyFile := dir + "/policy-stores.yaml"
	if err := os.WriteFile(policyFile, []byte("routes:\n  - path: /\n    methods: [\"*\"]\n    journal: full\n"), 0o600); err != nil {
		return err
	}
	os.Setenv(clusterSecretEnv, "bench-cluster-secret-0123456789abcdef0123456789")
	fmt.Println("\nstores (journal: full; PostgreSQL on loopback, fsync on)")
	fmt.Printf("%-22s %-10s %10s %9s %9s   %s\n", "scenario", "path", "req/s", "p50", "p99", "÷ direct (req/s), PostgreSQL statements per webhook")
	for _, sc := range []scenario{{"1 KiB POST, 1 conn", 1 << 10, 1}, {"1 KiB POST, 64 conns", 1 << 10, 64}} {
		if !strings.Contains(sc.name, only) {
			continue
		}
		direct := load(directClient(), "http://"+app+"/", "", sc, duration)
		fmt.Printf("%-22s %-10s %10.0f %9s %9s\n", sc.name, "direct", direct.rps(), direct.pct(50), direct.pct(99))
		for _, path := range []string{"sqlite", "postgres", "relayed"} {
			res, statements, err := measureStore(bin, dir, app, token, policyFile, srv, path, sc, duration)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			extra := ""
			if statements >= 0 {
				extra = fmt.Sprintf(", %.1f statements", statements)
			}
			fmt.Printf("%-22s %-10s %10.0f %9s %9s   %.2f%s, edges' CPU %s per webhook\n", sc.name, path, res.rps(), res.pct(50), res.pct(99), res.rps()/direct.rps(), extra, res.edgeCPU.Round(time.Microsecond))
			if res.errors > 0 {
				fmt.Printf("%-22s %-10s %d errors\n", "", "", res.errors)
			}
		}
	}
	return nil
}

// measureStore runs one path: edges, an agent, the load, and the count of
// statements PostgreSQL ran meanwhile (-1 for SQLite).
func measureStore(bin, dir, app, token, policyFile string, srv *pgtest.Server, path string, sc scenario, duration time.Duration) (result, float64, error) {
	var edges []*edgeProcess
	defer func() {
		for _, e := range edges {
			e.stop()
		}
	}()
	dbURL := ""
	switch path {
	case "sqlite":
		e, err := startEdge(bin, dir, token)
		if err != nil {
			return result{}, 0, err
		}
		edges = append(edges, e)
	case "postgres":
		var err error
		if dbURL, _, err = srv.CreateDatabase(); err != nil {
			return result{}, 0, err
		}
		e, err := startEdgeOn(bin, dir, token, "127.0.0.1", "store: "+dbURL+"\n", nil)
		if err != nil {
			return result{}, 0, err
		}
		edges = append(edges, e)
	case "relayed":
		// Three edges: the agent holds sessions to two; the third relays.
		var err error
		if dbURL, _, err = srv.CreateDatabase(); err != nil {
			return result{}, 0, err
		}
		yaml := "store: " + dbURL + "\ncluster:\n  secret: env:" + clusterSecretEnv + "\n"
		for i := 1; i <= 3; i++ {
			host := fmt.Sprintf("127.0.0.%d", i)
			e, err := startEdgeOn(bin, dir, token, host, yaml, func(port string) []string {
				return []string{"--advertise", "http://" + host + ":" + port}
			})
			if err != nil {
				return result{}, 0, err
			}
			edges = append(edges, e)
		}
	}
	agent, err := startProcess(bin, "agent", app, "--edge", "http://"+edges[0].host+":"+edges[0].port, "--token", token, "--name", "bench", "--policy", policyFile, "--inspect", "off", "--log-level", "error")
	if err != nil {
		return result{}, 0, err
	}
	defer agent.stop()
	if err := waitFor(func() bool { return strings.Contains(agent.out.String(), "is online") }, 30*time.Second); err != nil {
		return result{}, 0, fmt.Errorf("agent did not come online: %s", agent.out.String())
	}
	target := edges[0]
	if path == "relayed" {
		if target, err = edgeWithoutSessions(edges); err != nil {
			return result{}, 0, err
		}
	}
	before, err := statements(dbURL)
	if err != nil {
		return result{}, 0, err
	}
	pids := []int{}
	for _, e := range edges {
		pids = append(pids, e.cmd.Process.Pid)
	}
	cpu0 := cpuTimes(pids...)
	res := load(edgeClientOn(target.host, target.port), "http://bench.localhost:"+target.port+"/", "bench.localhost:"+target.port, sc, duration)
	// The journal writes behind the answers: let it finish before counting.
	settle(dbURL)
	cpu1 := cpuTimes(pids...)
	var edgeCPU time.Duration
	for i := range pids {
		edgeCPU += cpu1[i] - cpu0[i]
	}
	if n := len(res.latencies); n > 0 {
		res.edgeCPU = edgeCPU / time.Duration(n)
	}
	after, err := statements(dbURL)
	if err != nil {
		return result{}, 0, err
	}
	if dbURL == "" || len(res.latencies) == 0 {
		return res, -1, nil
	}
	return res, float64(after-before) / float64(len(res.latencies)+sc.conns), nil
}

// edgeWithoutSessions waits until the agent holds its two sessions and
// returns the edge that holds none.
func edgeWithoutSessions(edges []*edgeProcess) (*edgeProcess, error) {
	var found *edgeProcess
	err := waitFor(func() bool {
		resp, err := http.Get("http://" + edges[0].host + ":" + edges[0].adminPort + "/api/v1/cluster")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var c struct {
			Edges []struct {
				Advertise string            `json:"advertise"`
				Live      bool              `json:"live"`
				Sessions  []json.RawMessage `json:"sessions"`
			} `json:"edges"`
		}
		if json.NewDecoder(resp.Body).Decode(&c) != nil {
			return false
		}
		held := 0
		found = nil
		for _, ce := range c.Edges {
			held += len(ce.Sessions)
			if len(ce.Sessions) == 0 {
				for _, e := range edges {
					if ce.Advertise == "http://"+e.host+":"+e.port {
						found = e
					}
				}
			}
		}
		return held == 2 && found != nil
	}, 30*time.Second)
	if err != nil {
		return nil, fmt.Errorf("the agent did not hold two sessions of three edges")
	}
	return found, nil
}

// settle waits until the journal has written what the load sent: the
// statement count stops moving for a moment (at most 10 s).
func settle(dbURL string) {
	if dbURL == "" {
		time.Sleep(500 * time.Millisecond)
		return
	}
	last, _ := statements(dbURL)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(300 * time.Millisecond)
		n, err := statements(dbURL)
		if err != nil || n-last <= 3 { // a heartbeat's renewal, no journal writes
			return
		}
		last = n
	}
}

// statements is how many statements PostgreSQL has run in the database
// of dbURL; 0 for no database.
func statements(dbURL string) (int64, error) {
	if dbURL == "" {
		return 0, nil
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return 0, fmt.Errorf("pg_stat_statements: %w", err)
	}
	var n int64
	err = db.QueryRowContext(ctx, `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND query NOT LIKE '%pg_stat_statements%'`).Scan(&n)
	return n, err
}
